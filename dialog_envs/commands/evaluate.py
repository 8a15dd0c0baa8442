"""``dialog-envs evaluate``: a checkpoint on a held-out split, compared with the policy before RL."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dialog_envs.commands.env_args import check_env_id

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


def run(args: argparse.Namespace) -> int:
    from agents.evaluation import comparison_table, evaluate_agent
    from agents.token_pg import TokenPGAgent

    env_id = None if args.env is None else check_env_id(args.env)
    overrides = {"progress": False}
    after_agent = TokenPGAgent.load(args.checkpoint, env_id=env_id, **overrides)
    after = evaluate_agent(after_agent, args.split, args.episodes)
    baseline = args.baseline or args.checkpoint.parent / "initial"
    before = None
    if (baseline / "state.json").exists():
        before = evaluate_agent(TokenPGAgent.load(baseline, env_id=after_agent.env_id, **overrides), args.split, args.episodes)
    print(f"{after_agent.env_id}, split {args.split}, {after.episodes} episodes, greedy")
    if before is not None:
        print(f"before = {baseline}, after = {args.checkpoint}\n")
        print(comparison_table(before, after))
    else:
        print(json.dumps(after.metrics, indent=2))
    for label, report in (("before", before), ("after", after)):
        if report is not None and report.token_report is not None:
            scores = report.entity_scores
            print(f"\ntoken-level report ({label})\n{report.token_report}")
            print(f"entity-level ({label}): precision {scores.precision:.4f}  recall {scores.recall:.4f}  F1 {scores.f1:.4f}")
    if args.json is not None:
        payload = {"after": after.as_dict(), "before": None if before is None else before.as_dict()}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0
