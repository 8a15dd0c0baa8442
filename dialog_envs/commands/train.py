"""``dialog-envs train``: train an agent on an environment, resuming a crashed run in the same folder."""

from __future__ import annotations

import argparse
import dataclasses
import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dialog_envs.commands.env_args import parse_env_kwargs
from dialog_envs.registration import check_env_id
from dialog_envs.errors import DialogEnvsError

HELP = "Train the token-level policy-gradient agent on an environment (resumes from OUT if it holds a run)."
AGENTS = ("token-pg",)


def config_help() -> str:
    """Every :class:`~dialog_envs.agents.config.TokenPGConfig` field with its type, default and the
    help text of its metadata."""
    from dialog_envs.agents.config import TokenPGConfig

    lines = ["TokenPGConfig fields (set them in --config FILE.yaml or with --set FIELD=VALUE):", ""]
    for field in dataclasses.fields(TokenPGConfig):
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        lines.append(f"  {field.name}: {field.type} = {default!r}")
        lines += textwrap.wrap(field.metadata["help"], width=96, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


class ConfigHelpAction(argparse.Action):
    """``--help-config``: print :func:`config_help` and exit, as ``--help`` does."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: str | None = None) -> None:
        print(config_help())
        parser.exit()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--help-config", action=ConfigHelpAction, help="list every TokenPGConfig field with its help, then exit")
    parser.add_argument("--env", required=True, help="environment id, e.g. dialog_envs/NER-v0")
    parser.add_argument("--agent", default="token-pg", help=f"agent name (default token-pg); one of: {', '.join(AGENTS)}")
    parser.add_argument("--config", type=Path, default=None, help="YAML file of TokenPGConfig fields")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
        help="override one config field (VALUE read as YAML), e.g. --set algorithm=ppo",
    )
    parser.add_argument("-k", "--env-kwarg", action="append", default=[], metavar="KEY=VALUE", help="env constructor argument")
    parser.add_argument("--out", required=True, type=Path, help="run folder: logs, checkpoints/{initial,best,last}")
    parser.add_argument(
        "--report-split", default="test",
        help="after training, compare the best checkpoint with the policy before RL on this split ('none' skips it)",
    )


def run(args: argparse.Namespace) -> int:
    from dialog_envs.agents.config import TokenPGConfig
    from dialog_envs.agents.device import init_distributed
    from dialog_envs.agents.run_logging import refuse_links_leaving
    from dialog_envs.agents.token_pg import TokenPGAgent

    init_distributed()  # data parallel when started as: torchrun --nproc_per_node N -m dialog_envs.cli train ...

    if args.agent not in AGENTS:
        raise DialogEnvsError(f"unknown agent {args.agent!r}; available: {', '.join(AGENTS)}")
    env_id = check_env_id(args.env)
    values = TokenPGConfig.from_yaml(args.config).to_dict() if args.config else {}
    values.update(parse_env_kwargs(args.overrides))
    config = TokenPGConfig.from_dict(values, source="--config/--set")
    if args.out.is_dir():
        refuse_links_leaving(args.out)
    last = args.out / "checkpoints" / "last"
    if (last / "state.json").exists() or (last.parent / ".last-old").exists():
        agent = TokenPGAgent.from_checkpoint(last, env_id=env_id, out_dir=args.out, **values)
        print(f"resuming {args.out} at update {agent.update} of {config.updates}")
    else:
        agent = TokenPGAgent(env_id, config, parse_env_kwargs(args.env_kwarg), out_dir=args.out)
    history = agent.learn()
    agent.close()
    if agent.rank > 0:
        return 0
    if history:
        print("last validation:", json.dumps({k: round(v, 4) for k, v in history[-1].items()}))
    best = args.out / "checkpoints" / "best"
    if args.report_split != "none" and (best / "state.json").exists():
        from dialog_envs.agents.evaluation import compare_checkpoints

        print()
        print(compare_checkpoints(best, split=args.report_split)[2])
    print(f"\ncheckpoints in {args.out / 'checkpoints'}; metrics in {args.out / 'metrics.csv'}")
    return 0
