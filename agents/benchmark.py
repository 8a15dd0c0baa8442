"""The benchmark runner behind ``dialog-envs bench``: every env x agent x seed of a suite.

:func:`run_suite` goes through the cells of a :class:`~dialog_envs.agents.bench_suite.Suite` and
runs each under its protocol (:mod:`dialog_envs.agents.bench_protocols`). Each finished cell is
written at once to ``OUT/runs/<env>__<agent>__seed<N>__<key>.json`` (atomically), where ``key``
hashes everything that defines the cell's result; a rerun reads a finished cell back instead of
running it, so an interrupted benchmark resumes where it stopped. A cell whose training failed is
recorded with its ``error`` and run again next time. At the end it writes ``OUT/results.json``
(schema: ``agents/results.schema.json``, version :data:`SCHEMA_VERSION`), ``OUT/results.md`` and
``OUT/curves/*.png`` (see :mod:`dialog_envs.agents.bench_report`).

The suite types are defined in :mod:`dialog_envs.agents.bench_suite` and importable from here.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import subprocess
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from dialog_envs.agents.bench_protocols import run_budget, run_sft_then_rl
from dialog_envs.agents.bench_report import write_json, write_reports
from dialog_envs.agents.bench_suite import QUICK_TOKEN_PG, AgentEntry, EnvEntry, Suite, load_suite, quick_suite, suite_from_dict

__all__ = [
    "QUICK_TOKEN_PG", "RESULTS_SCHEMA", "SCHEMA_VERSION", "AgentEntry", "EnvEntry", "Suite",
    "default_out", "load_suite", "quick_suite", "run_suite", "suite_from_dict",
]

SCHEMA_VERSION = 2
"""Version of the ``results.json`` and cell-file layout; bumped on any incompatible change."""
RESULTS_SCHEMA = Path(__file__).with_name("results.schema.json")
"""The JSON Schema of ``results.json``."""
PACKAGES: tuple[str, ...] = (
    "dialog-envs", "gymnasium", "numpy", "torch", "transformers", "tokenizers",
    "stable-baselines3", "sb3-contrib", "sacrebleu",
)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: numpy numbers become numbers, NaN and infinities ``None``,
    other objects their ``str``."""
    plain = json.loads(json.dumps(value, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    return _finite(plain)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def cell_env_kwargs(env: EnvEntry, agent: AgentEntry) -> dict[str, Any]:
    """The env arguments of a cell: the env's, then the agent's over them."""
    return {**env.kwargs, **agent.env_kwargs}


def run_key(env: EnvEntry, agent: AgentEntry, seed: int, suite: Suite) -> str:
    """A hash of everything that defines one cell's result (its resume identity)."""
    identity = {
        "schema_version": SCHEMA_VERSION,
        "protocol": suite.protocol_of(agent),
        "env": {"id": env.id, "kwargs": cell_env_kwargs(env, agent)},
        "agent": {"name": agent.name, "config": agent.config},
        "seed": seed,
        "budget": suite.budget_of(agent),
        "eval": {"splits": suite.eval_splits, "episodes": suite.eval_episodes},
    }
    return hashlib.sha256(json.dumps(jsonable(identity), sort_keys=True).encode()).hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.split("/")[-1]).strip("-") or "x"


def cell_stem(env: EnvEntry, agent: AgentEntry, seed: int, suite: Suite) -> str:
    return f"{_slug(env.id)}__{_slug(agent.display)}__seed{seed}__{run_key(env, agent, seed, suite)}"


def package_versions() -> dict[str, str | None]:
    """Versions of the packages that shape the results (None: not installed) and of Python."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def device_info() -> dict[str, Any]:
    """Where the benchmark ran: accelerator, CPU and torch threads."""
    cuda = torch.cuda.is_available()
    return {
        "accelerator": torch.cuda.get_device_name(0) if cuda else None,
        "cuda": cuda,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


def source_commit() -> dict[str, Any]:
    """The git commit of the code that ran (None outside a checkout) and whether it had
    uncommitted changes."""
    folder = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def run_cell(env: EnvEntry, agent: AgentEntry, seed: int, suite: Suite, out: Path) -> dict[str, Any]:
    """Run one cell under its protocol; the cell's record."""
    protocol = suite.protocol_of(agent)
    budget = suite.budget_of(agent)
    env_kwargs = cell_env_kwargs(env, agent)
    started = datetime.now(timezone.utc)
    if protocol == "sft_then_rl":
        work = out / "work" / cell_stem(env, agent, seed, suite)
        part = run_sft_then_rl(env.id, env_kwargs, agent, seed, suite.eval_splits, suite.eval_episodes, work)
    else:
        part = run_budget(env.id, env_kwargs, agent, seed, int(budget or 0), suite.eval_splits, suite.eval_episodes)
    return jsonable(
        {
            "schema_version": SCHEMA_VERSION,
            "run_key": run_key(env, agent, seed, suite),
            "protocol": protocol,
            "env_id": env.id,
            "env_kwargs": env_kwargs,
            "agent": agent.display,
            "agent_name": agent.name,
            "agent_config": agent.config,
            "seed": seed,
            "budget": None if budget is None else {"value": budget, "unit": "env_steps"},
            "eval_episodes": suite.eval_episodes,
            **part,
            "started": started.isoformat(timespec="seconds"),
            "package_versions": package_versions(),
            "device": device_info(),
        }
    )


def read_cell(path: Path, key: str) -> dict[str, Any] | None:
    """A finished cell's record, or None when the file is missing, unreadable, of another cell,
    or records a failure (to be retried)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("run_key") != key or record.get("schema_version") != SCHEMA_VERSION or record.get("error"):
        return None
    return record


def default_out(suite: Suite) -> Path:
    """Where a suite's results go when no folder is given: ``runs/<suite name>``."""
    return Path("runs") / _slug(suite.name)


def run_suite(
    suite: Suite, out_dir: str | os.PathLike[str], progress: bool = True, command: str | None = None
) -> dict[str, Any]:
    """Run (or resume) every env x agent x seed of ``suite`` and write the reports to ``out_dir``.

    ``command`` is recorded as the results' provenance. Returns the ``results.json`` data.
    """
    suite.check()
    out = Path(out_dir)
    if suite.torch_threads is not None:
        torch.set_num_threads(suite.torch_threads)
    cells = [(env, agent, seed) for env in suite.envs for agent in suite.agents for seed in suite.seeds]
    runs: list[dict[str, Any]] = []
    resumed = 0
    bar = tqdm(total=len(cells), desc=f"bench {suite.name}", unit="cell", disable=not progress, dynamic_ncols=True)
    for env, agent, seed in cells:
        path = out / "runs" / f"{cell_stem(env, agent, seed, suite)}.json"
        bar.set_postfix_str(f"{_slug(env.id)} {agent.display} seed {seed}")
        record = read_cell(path, run_key(env, agent, seed, suite))
        if record is None:
            record = run_cell(env, agent, seed, suite, out)
            write_json(path, record)
            if record["error"]:
                tqdm.write(f"{agent.display} on {env.id} seed {seed} failed: {record['error']} (retried on the next run)")
        else:
            resumed += 1
        runs.append(record)
        bar.update(1)
    bar.close()
    results = {
        "schema_version": SCHEMA_VERSION,
        "generator": "dialog-envs bench",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "provenance": {"command": command, **source_commit(), "converted": False, "note": None},
        "suite": jsonable(suite.to_dict()),
        "package_versions": package_versions(),
        "device": device_info(),
        "runs_resumed": resumed,
        "runs": runs,
    }
    return write_reports(results, out)
