"""``dialog-envs bench``: train and evaluate every agent x env x seed and write the results.

The suite comes from ``--suite FILE.yaml`` (see ``benchmarks/suites/``), from ``--quick`` (every env
with random, SB3 PPO and token-pg, one seed, a tiny budget: a smoke test that takes about a minute
on a CPU), or from the options alone; options given next to a suite replace its values. Outputs go
to ``--out DIR`` (default ``runs/<suite name>``): ``runs/*.json`` (one per cell; finished cells are
skipped when the command is run again), ``results.json``, ``results.md`` and ``curves/*.png``. See
``docs/benchmarking.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import yaml

from dialog_envs.commands.env_args import parse_env_kwargs
from dialog_envs.errors import DialogEnvsError

HELP = "Benchmark agents on environments: train, evaluate, and write results.json/.md and curves."
DEFAULT_AGENTS = ("random", "ppo", "token-pg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="output folder (created; reused to resume); default runs/<suite name>")
    parser.add_argument("--suite", type=Path, default=None, metavar="FILE", help="a YAML suite, e.g. benchmarks/suites/baselines.yaml")
    parser.add_argument("--only", nargs="+", default=None, metavar="LABEL", help="run only these agents of the suite (by label)")
    parser.add_argument("--quick", action="store_true", help="every env with random, ppo and token-pg, one seed, 2048 env steps")
    parser.add_argument("--envs", nargs="+", default=None, metavar="ID", help="env ids, or 'all' (default: all)")
    parser.add_argument(
        "--agents", nargs="+", default=None, metavar="NAME",
        help=f"agent names (see --list-agents) or module.path:ClassName (default: {' '.join(DEFAULT_AGENTS)})",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=None, metavar="N", help="seeds (default: 0)")
    parser.add_argument("--budget", type=int, default=None, help="training budget per run in env steps (default: 5000)")
    parser.add_argument("--eval-episodes", type=int, default=None, help="episodes per evaluation (default: 32)")
    parser.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads for the run (1 suits tiny CPU models)")
    parser.add_argument(
        "-k", "--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
        help="constructor argument of every env; VALUE is read as YAML",
    )
    parser.add_argument(
        "-c", "--agent-config", action="append", default=[], metavar="AGENT.KEY=VALUE",
        help="setting of one agent, e.g. ppo.n_steps=64; VALUE is read as YAML",
    )
    parser.add_argument("--list-agents", action="store_true", help="print the available agent names and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _agent_settings(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``["ppo.n_steps=64"]`` -> ``{"ppo": {"n_steps": 64}}``."""
    settings: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        target, separator, value = pair.partition("=")
        agent, dot, key = target.rpartition(".")
        if not separator or not dot or not agent or not key:
            raise DialogEnvsError(f"agent setting {pair!r} is not AGENT.KEY=VALUE (e.g. ppo.n_steps=64)")
        try:
            settings.setdefault(agent, {})[key] = yaml.safe_load(value) if value else None
        except yaml.YAMLError as error:
            raise DialogEnvsError(f"agent setting {pair!r}: value is not valid YAML ({error})") from None
    return settings


def build_suite(args: argparse.Namespace) -> Any:
    """The suite the arguments describe (checked)."""
    from dialog_envs.agents.bench_suite import AgentEntry, EnvEntry, Suite, env_entries, load_suite, quick_suite

    if args.suite is not None and args.quick:
        raise DialogEnvsError("give --suite or --quick, not both")
    if args.suite is not None:
        suite = load_suite(args.suite)
    elif args.quick:
        suite = quick_suite()
    else:
        suite = Suite(envs=[], agents=[AgentEntry(name) for name in DEFAULT_AGENTS])
        args.envs = args.envs or ["all"]
    if args.envs is not None:
        suite.envs = env_entries("all" if args.envs == ["all"] else list(args.envs), "--envs")
    if args.agents is not None:
        suite.agents = [AgentEntry(name) for name in args.agents]
    if args.only is not None:
        labels = [agent.display for agent in suite.agents]
        unknown = sorted(set(args.only) - set(labels))
        if unknown:
            raise DialogEnvsError(f"--only names agent(s) {', '.join(unknown)} that the suite lacks; its agents: {', '.join(labels)}")
        suite.agents = [agent for agent in suite.agents if agent.display in args.only]
    extra_kwargs = parse_env_kwargs(args.env_kwarg)
    if extra_kwargs:
        suite.envs = [EnvEntry(env.id, {**env.kwargs, **extra_kwargs}) for env in suite.envs]
    settings = _agent_settings(args.agent_config)
    labels = {agent.display for agent in suite.agents} | {agent.name for agent in suite.agents}
    unknown = sorted(set(settings) - labels)
    if unknown:
        raise DialogEnvsError(f"--agent-config names agent(s) {', '.join(unknown)} that the suite lacks; its agents: {', '.join(sorted(labels))}")
    suite.agents = [
        dataclasses.replace(agent, config={**agent.config, **settings.get(agent.display, settings.get(agent.name, {}))})
        for agent in suite.agents
    ]
    for option, field_name in (("seeds", "seeds"), ("budget", "budget"), ("eval_episodes", "eval_episodes"), ("torch_threads", "torch_threads")):
        value = getattr(args, option)
        if value is not None:
            setattr(suite, field_name, value)
    suite.check()
    return suite


def results_tables(markdown: str) -> str:
    """The env and split headings and the result tables of ``results.md``: what the terminal shows."""
    table = False
    lines = []
    for line in markdown.splitlines():
        if line.startswith("## dialog_envs/") or line.startswith("### "):
            table = True
            lines += ["", line]
        elif table and line.startswith("|"):
            lines.append(line)
    return "\n".join(lines).strip() + "\n"


def run(args: argparse.Namespace) -> int:
    from dialog_envs.agents.benchmark import default_out, run_suite
    from dialog_envs.agents.registry import available

    if args.list_agents:
        for name, origin in available().items():
            print(f"{name:<16} {origin}")
        return 0
    suite = build_suite(args)
    out = args.out or default_out(suite)
    results = run_suite(suite, out, progress=not args.no_progress, command=getattr(args, "command_line", None))
    failed = sum(1 for run in results["runs"] if run.get("error"))
    print(results_tables((out / "results.md").read_text()))
    print(f"{len(results['runs'])} cells ({results['runs_resumed']} read back from {out / 'runs'}, {failed} failed)")
    for name in ("results.json", "results.md", "curves"):
        print(f"wrote {out / name}")
    return 0
