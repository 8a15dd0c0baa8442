"""The benchmark harness behind ``dialog-envs bench``: every agent x env x seed, trained and evaluated.

A :class:`Suite` says what to run (from the command line, a YAML file read with
``yaml.safe_load``, or :func:`quick_suite`). :func:`run_suite` then, for every run:

1. builds the agent with :func:`dialog_envs.agents.registry.make` (seeded);
2. evaluates it on the test split (``eval_episodes`` seeded episodes, the same for every agent);
3. trains it with ``agent.learn(budget)`` (budget in env steps, see ``docs/benchmarking.md``);
4. evaluates it again and writes the run's record to ``OUT/runs/<name>.json`` (atomically).

A run whose file already exists (same env, kwargs, agent, config, seed, budget and evaluation) is
skipped, so an interrupted benchmark resumes where it stopped. At the end it writes
``OUT/results.json`` (schema: ``agents/results.schema.json``, version :data:`SCHEMA_VERSION`),
``OUT/results.md`` and ``OUT/curves/<env>.png`` (see :mod:`dialog_envs.agents.bench_report`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch
import yaml
from tqdm.auto import tqdm

from dialog_envs.agents.registry import make, resolve
from dialog_envs.registration import check_env_id
from dialog_envs.data.splits import check_split
from dialog_envs.errors import DialogEnvsError
from dialog_envs.registration import env_ids

SCHEMA_VERSION = 1
"""Version of the ``results.json`` and run-file layout; bumped on any incompatible change."""
RESULTS_SCHEMA = Path(__file__).with_name("results.schema.json")
"""The JSON Schema of ``results.json``."""
PACKAGES: tuple[str, ...] = (
    "dialog-envs", "gymnasium", "numpy", "torch", "transformers", "tokenizers",
    "stable-baselines3", "sb3-contrib", "sacrebleu",
)


@dataclass(frozen=True)
class EnvEntry:
    """One environment of a suite."""

    id: str
    """A registered id (a bare ``"NER-v0"`` gets the namespace)."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Constructor arguments (``split`` is chosen by the harness and the agents)."""


@dataclass(frozen=True)
class AgentEntry:
    """One agent of a suite."""

    name: str
    """Registry name, entry-point name or ``"module.path:ClassName"``."""
    config: dict[str, Any] = field(default_factory=dict)
    """Keywords for the agent's factory (e.g. ``n_steps: 64`` for ``ppo``)."""
    label: str | None = None
    """Name in tables and plots (default: ``name``); two entries of one agent need different labels."""
    budget: int | None = None
    """This agent's budget in env steps, instead of the suite's."""

    @property
    def display(self) -> str:
        return self.label or self.name


@dataclass
class Suite:
    """What a benchmark runs: every agent on every env with every seed."""

    envs: list[EnvEntry]
    agents: list[AgentEntry]
    seeds: list[int] = field(default_factory=lambda: [0])
    budget: int = 5000
    """Training budget per run, in env steps (agent actions in the training split's envs)."""
    eval_episodes: int = 32
    """Episodes of each evaluation (before and after training)."""
    eval_split: str = "test"
    curve_points: int = 10
    """Points of each learning curve (the budget cut into equal windows)."""
    torch_threads: int | None = None
    """``torch.set_num_threads`` for the whole benchmark (1 is fastest for tiny CPU models on a busy
    machine); None leaves torch's default."""

    def check(self) -> None:
        """Raise :class:`DialogEnvsError` on anything that would fail later (before any run starts)."""
        if not self.envs:
            raise DialogEnvsError(f"the suite has no envs; available: {', '.join(env_ids())}")
        if not self.agents:
            from dialog_envs.agents.registry import available

            raise DialogEnvsError(f"the suite has no agents; available: {', '.join(available())}")
        if not self.seeds:
            raise DialogEnvsError("the suite has no seeds; give at least one, e.g. --seeds 0")
        for name, value in (("budget", self.budget), ("eval_episodes", self.eval_episodes), ("curve_points", self.curve_points)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise DialogEnvsError(f"{name} must be an integer > 0, got {value!r}")
        for seed in self.seeds:
            if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
                raise DialogEnvsError(f"seeds must be integers >= 0, got {seed!r}")
        for agent in self.agents:
            if agent.budget is not None and (not isinstance(agent.budget, int) or agent.budget <= 0):
                raise DialogEnvsError(f"agent {agent.display!r}: budget must be an integer > 0, got {agent.budget!r}")
            resolve(agent.name)  # unknown names fail here, listing what is available
        labels = [agent.display for agent in self.agents]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise DialogEnvsError(f"agent label(s) {', '.join(duplicates)} appear twice; give each entry its own label")
        if self.torch_threads is not None and self.torch_threads <= 0:
            raise DialogEnvsError(f"torch_threads must be > 0, got {self.torch_threads}")
        check_split(self.eval_split)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SUITE_KEYS = {f.name for f in dataclasses.fields(Suite)}


def env_entries(value: Any, source: str) -> list[EnvEntry]:
    if value == "all" or value == ["all"]:
        return [EnvEntry(env_id) for env_id in env_ids()]
    if not isinstance(value, list):
        raise DialogEnvsError(f"{source}: 'envs' must be a list (or 'all'), got {type(value).__name__}")
    entries = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            entries.append(EnvEntry(check_env_id(item)))
        elif isinstance(item, dict) and isinstance(item.get("id"), str) and set(item) <= {"id", "kwargs"}:
            kwargs = item.get("kwargs") or {}
            if not isinstance(kwargs, dict):
                raise DialogEnvsError(f"{source}: envs[{index}].kwargs must be a mapping, got {kwargs!r}")
            entries.append(EnvEntry(check_env_id(item["id"]), dict(kwargs)))
        else:
            raise DialogEnvsError(f"{source}: envs[{index}] must be an id or a mapping with 'id' and optional 'kwargs', got {item!r}")
    return entries


def agent_entries(value: Any, source: str) -> list[AgentEntry]:
    if not isinstance(value, list):
        raise DialogEnvsError(f"{source}: 'agents' must be a list, got {type(value).__name__}")
    entries = []
    allowed = {"name", "config", "label", "budget"}
    for index, item in enumerate(value):
        if isinstance(item, str):
            entries.append(AgentEntry(item))
        elif isinstance(item, dict) and isinstance(item.get("name"), str) and set(item) <= allowed:
            config = item.get("config") or {}
            if not isinstance(config, dict):
                raise DialogEnvsError(f"{source}: agents[{index}].config must be a mapping, got {config!r}")
            entries.append(AgentEntry(item["name"], dict(config), item.get("label"), item.get("budget")))
        else:
            raise DialogEnvsError(
                f"{source}: agents[{index}] must be a name or a mapping with 'name' and optional "
                f"{', '.join(sorted(allowed - {'name'}))}, got {item!r}"
            )
    return entries


def suite_from_dict(values: Any, source: str = "suite") -> Suite:
    """A :class:`Suite` from a mapping such as a YAML file's (checked; errors name ``source``)."""
    if not isinstance(values, dict):
        raise DialogEnvsError(f"{source}: expected a mapping with keys {', '.join(sorted(SUITE_KEYS))}, got {type(values).__name__}")
    unknown = sorted(set(values) - SUITE_KEYS)
    if unknown:
        raise DialogEnvsError(f"{source}: unknown key(s) {', '.join(map(str, unknown))}; known keys: {', '.join(sorted(SUITE_KEYS))}")
    for required in ("envs", "agents"):
        if required not in values:
            raise DialogEnvsError(f"{source}: missing key {required!r}")
    settings = {k: v for k, v in values.items() if k not in ("envs", "agents")}
    if "seeds" in settings and not isinstance(settings["seeds"], list):
        settings["seeds"] = [settings["seeds"]]
    try:
        suite = Suite(env_entries(values["envs"], source), agent_entries(values["agents"], source), **settings)
        suite.check()
    except DialogEnvsError as error:
        message = str(error)
        raise DialogEnvsError(message if message.startswith(f"{source}:") else f"{source}: {message}") from None
    return suite


def load_suite(path: str | os.PathLike[str]) -> Suite:
    """Read a YAML suite with ``yaml.safe_load`` (see ``benchmarks/*.yaml``)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise DialogEnvsError(f"{path}: cannot read the suite ({error.strerror})") from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DialogEnvsError(f"{path}: not valid YAML: {error}".replace("\n", " ")) from None
    return suite_from_dict(values, str(path))


QUICK_TOKEN_PG: dict[str, Any] = {
    "num_envs": 4,
    "model_config": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64},
}
"""A one-layer, 32-wide policy (the keys fit both the default GPT-2 and the default BERT config)."""


def quick_suite() -> Suite:
    """``--quick``: every registered env with random, SB3 PPO and token-pg, one seed, 2048 env steps."""
    return Suite(
        envs=[EnvEntry(env_id) for env_id in env_ids()],
        agents=[AgentEntry("random"), AgentEntry("ppo"), AgentEntry("token-pg", dict(QUICK_TOKEN_PG))],
        seeds=[0],
        budget=2048,
        eval_episodes=16,
        torch_threads=1,
    )


# -- runs -------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
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


def run_key(env: EnvEntry, agent: AgentEntry, seed: int, suite: Suite) -> str:
    """A hash of everything that defines one run's result (its resume identity)."""
    identity = {
        "schema_version": SCHEMA_VERSION,
        "env": {"id": env.id, "kwargs": env.kwargs},
        "agent": {"name": agent.name, "config": agent.config},
        "seed": seed,
        "budget": agent.budget or suite.budget,
        "eval": {"split": suite.eval_split, "episodes": suite.eval_episodes},
        "curve_points": suite.curve_points,
    }
    return hashlib.sha256(json.dumps(_jsonable(identity), sort_keys=True).encode()).hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.split("/")[-1]).strip("-") or "x"


def run_path(out_dir: Path, env: EnvEntry, agent: AgentEntry, seed: int, suite: Suite) -> Path:
    return out_dir / "runs" / f"{_slug(env.id)}__{_slug(agent.display)}__seed{seed}__{run_key(env, agent, seed, suite)}.json"


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


def run_one(env: EnvEntry, agent_entry: AgentEntry, seed: int, suite: Suite) -> dict[str, Any]:
    """Build, evaluate, train and evaluate one agent on one env with one seed; the run's record."""
    budget = agent_entry.budget or suite.budget
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    torch.manual_seed(seed)
    agent = make(agent_entry.name, env.id, env_kwargs=env.kwargs, seed=seed, **agent_entry.config)
    build_seconds = time.perf_counter() - clock
    try:
        clock = time.perf_counter()
        before = agent.evaluate(suite.eval_split, suite.eval_episodes)
        eval_seconds = time.perf_counter() - clock
        steps_before = int(getattr(agent, "env_steps", 0) or 0)
        clock = time.perf_counter()
        curve = agent.learn(budget) or []
        train_seconds = time.perf_counter() - clock
        steps = int(getattr(agent, "env_steps", steps_before + budget) or 0) - steps_before
        clock = time.perf_counter()
        after = agent.evaluate(suite.eval_split, suite.eval_episodes)
        eval_seconds += time.perf_counter() - clock
        config = agent.config() if callable(getattr(agent, "config", None)) else agent_entry.config
    finally:
        if callable(getattr(agent, "close", None)):
            agent.close()
    return _jsonable(
        {
            "schema_version": SCHEMA_VERSION,
            "run_key": run_key(env, agent_entry, seed, suite),
            "env_id": env.id,
            "env_kwargs": env.kwargs,
            "agent": agent_entry.display,
            "agent_name": agent_entry.name,
            "agent_config": agent_entry.config,
            "agent_settings": config,
            "seed": seed,
            "budget": {"value": budget, "unit": "env_steps"},
            "train_env_steps": steps,
            "eval_split": suite.eval_split,
            "eval_episodes": suite.eval_episodes,
            "eval_before": before,
            "eval_after": after,
            "learning_curve": list(curve),
            "wall_seconds": {
                "build": build_seconds,
                "train": train_seconds,
                "eval": eval_seconds,
                "total": build_seconds + train_seconds + eval_seconds,
            },
            "steps_per_second": steps / train_seconds if train_seconds > 0 and steps > 0 else None,
            "started": started.isoformat(timespec="seconds"),
            "package_versions": package_versions(),
            "device": device_info(),
        }
    )


def _read_run(path: Path, key: str) -> dict[str, Any] | None:
    """A finished run's record, or None when the file is missing, unreadable or of another run."""
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("run_key") != key or record.get("schema_version") != SCHEMA_VERSION:
        return None
    return record


def _write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a temporary file renamed over the target)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    os.replace(staging, path)


def run_suite(suite: Suite, out_dir: str | os.PathLike[str], progress: bool = True) -> dict[str, Any]:
    """Run (or resume) every agent x env x seed of ``suite`` and write the three outputs to ``out_dir``.

    Returns the ``results.json`` data.
    """
    from dialog_envs.agents.bench_report import plot_curves, results_markdown, summarize

    suite.check()
    out = Path(out_dir)
    if suite.torch_threads is not None:
        torch.set_num_threads(suite.torch_threads)
    jobs = [(env, agent, seed) for env in suite.envs for agent in suite.agents for seed in suite.seeds]
    runs: list[dict[str, Any]] = []
    skipped = 0
    bar = tqdm(total=len(jobs), desc="bench", unit="run", disable=not progress, dynamic_ncols=True)
    for env, agent, seed in jobs:
        path = run_path(out, env, agent, seed, suite)
        bar.set_postfix_str(f"{_slug(env.id)} {agent.display} seed {seed}")
        record = _read_run(path, run_key(env, agent, seed, suite))
        if record is None:
            record = run_one(env, agent, seed, suite)
            _write_json(path, record)
        else:
            skipped += 1
        runs.append(record)
        bar.update(1)
    bar.close()
    results = {
        "schema_version": SCHEMA_VERSION,
        "generator": "dialog-envs bench",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "suite": _jsonable(suite.to_dict()),
        "package_versions": package_versions(),
        "device": device_info(),
        "runs_resumed": skipped,
        "runs": runs,
        "summary": summarize(runs),
    }
    _write_json(out / "results.json", results)
    (out / "results.md").write_text(results_markdown(results))
    plot_curves(results, out / "curves")
    return results

