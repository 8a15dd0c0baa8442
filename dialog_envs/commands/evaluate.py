"""``dialog-envs evaluate``: a checkpoint on a held-out split, compared with the policy before RL."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dialog_envs.registration import check_env_id

HELP = "Evaluate a checkpoint on a split and compare it with the policy before RL (the 'initial' checkpoint)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a checkpoint folder (e.g. RUN/checkpoints/best)")
    parser.add_argument("--env", default=None, help="environment id (default: the one it was trained on)")
    parser.add_argument("--split", default="test", help="train, validation or test (default test)")
    parser.add_argument(
        "--baseline", type=Path, default=None,
        help="checkpoint to compare with (default: the run's checkpoints/initial, the policy before RL)",
    )
    parser.add_argument("--episodes", type=int, default=None, help="episodes (default: every example of the split when the env can walk it)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument(
        "--allow-module-env-id", action="store_true",
        help="trust a checkpoint whose env id has a 'module:' prefix (gym.make imports that module; refused by default)",
    )


def run(args: argparse.Namespace) -> int:
    from dialog_envs.agents.evaluation import compare_checkpoints

    env_id = None if args.env is None else check_env_id(args.env)
    before, after, summary = compare_checkpoints(
        args.checkpoint, args.baseline, env_id, args.split, args.episodes, args.allow_module_env_id
    )
    print(summary)
    if args.json is not None:
        payload = {"after": after.as_dict(), "before": None if before is None else before.as_dict()}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0
