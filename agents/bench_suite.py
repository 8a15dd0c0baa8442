"""The benchmark suite format: envs x agents x seeds, each cell run under one protocol.

A suite is a YAML mapping (read with ``yaml.safe_load``) of :data:`SUITE_VERSION`::

    version: 1                 # required: the format's version
    name: dailydialog          # names the default output folder runs/<name> (default: the file's stem)
    protocol: budget           # or sft_then_rl; an agent may override it
    envs:                      # ids, mappings {id, kwargs}, or "all"
      - id: DialogueBLEU-v0
        kwargs: {data_path: ../shared/data/dailydialog}
    agents:                    # names, or mappings {name, label, config, protocol, budget, env_kwargs}
      - random
      - name: token-pg
        label: grpo-bleu
        protocol: sft_then_rl
        config: {algorithm: grpo, num_envs: 32}
    seeds: [0, 1, 2]
    budget: 5000               # env steps of training per cell (protocol budget)
    eval_episodes: 32          # episodes per evaluation; null walks every example of the split
    eval_splits: [test]        # splits every policy is evaluated on
    metrics: [bleu, chrf]      # columns of results.md (default: every metric)

The protocols (see :mod:`dialog_envs.agents.bench_protocols`):

* ``budget``: build the agent, evaluate it, train it for ``budget`` env steps, evaluate again;
* ``sft_then_rl`` (``token-pg`` only): the supervised warm start, then RL with validation early
  stopping; the warm-start policy and the checkpoint chosen on validation are evaluated.

Every error is one :class:`DialogEnvsError` line that names the file and the field.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dialog_envs.data.splits import check_split
from dialog_envs.errors import DialogEnvsError
from dialog_envs.registration import check_env_id, env_ids

SUITE_VERSION = 1
"""Version of the suite format; a suite file says ``version: 1``."""
PROTOCOLS = ("budget", "sft_then_rl")
"""How a cell is trained and evaluated (see the module docstring)."""
SFT_THEN_RL_AGENT = "token-pg"
"""The agent that has a supervised warm start to compare RL against."""


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
    """Keywords for the agent's factory (``TokenPGConfig`` fields for ``sft_then_rl``)."""
    label: str | None = None
    """Name in tables and plots (default: ``name``); two entries of one agent need different labels."""
    budget: int | None = None
    """This agent's budget in env steps, instead of the suite's."""
    protocol: str | None = None
    """This agent's protocol, instead of the suite's."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Env arguments of this agent's cells, over each env's own (e.g. another reward)."""

    @property
    def display(self) -> str:
        return self.label or self.name


@dataclass
class Suite:
    """What a benchmark runs: every agent on every env with every seed."""

    envs: list[EnvEntry]
    agents: list[AgentEntry]
    name: str = "bench"
    """Names the default output folder ``runs/<name>`` and the report's title."""
    protocol: str = "budget"
    """The protocol of agents that do not name their own (:data:`PROTOCOLS`)."""
    seeds: list[int] = field(default_factory=lambda: [0])
    budget: int = 5000
    """Training budget per ``budget`` cell, in env steps (agent actions in the training split's envs)."""
    eval_episodes: int | None = 32
    """Episodes of each evaluation; None walks every example of the split (envs with ``split_size``)."""
    eval_splits: list[str] = field(default_factory=lambda: ["test"])
    """Splits each policy (before and after training) is evaluated on."""
    metrics: list[str] | None = None
    """Columns of ``results.md`` (every reported metric when None)."""
    torch_threads: int | None = None
    """``torch.set_num_threads`` for the whole benchmark (1 is fastest for tiny CPU models on a busy
    machine); None leaves torch's default."""

    def protocol_of(self, agent: AgentEntry) -> str:
        return agent.protocol or self.protocol

    def budget_of(self, agent: AgentEntry) -> int | None:
        """Env steps of training of the agent's cells; None under ``sft_then_rl`` (its config's
        ``warm_start_updates`` and ``updates`` set the training)."""
        return None if self.protocol_of(agent) == "sft_then_rl" else agent.budget or self.budget

    def check(self) -> None:
        """Raise :class:`DialogEnvsError` on anything that would fail later (before any run starts)."""
        from dialog_envs.agents.registry import available, resolve

        if not self.envs:
            raise DialogEnvsError(f"the suite has no envs; available: {', '.join(env_ids())}")
        if not self.agents:
            raise DialogEnvsError(f"the suite has no agents; available: {', '.join(available())}")
        if not self.seeds:
            raise DialogEnvsError("the suite has no seeds; give at least one, e.g. --seeds 0")
        if not _positive_int(self.budget):
            raise DialogEnvsError(f"budget must be an integer > 0, got {self.budget!r}")
        if self.eval_episodes is not None and not _positive_int(self.eval_episodes):
            raise DialogEnvsError(f"eval_episodes must be an integer > 0 or null (every example of the split), got {self.eval_episodes!r}")
        for seed in self.seeds:
            if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
                raise DialogEnvsError(f"seeds must be integers >= 0, got {seed!r}")
        _check_protocol("protocol", self.protocol)
        if not self.eval_splits:
            raise DialogEnvsError("eval_splits must name at least one split, e.g. [test]")
        for split in self.eval_splits:
            check_split(split)
        if self.metrics is not None and not all(isinstance(metric, str) for metric in self.metrics):
            raise DialogEnvsError(f"metrics must be a list of metric names, got {self.metrics!r}")
        for index, agent in enumerate(self.agents):
            where = f"agents[{index}] ({agent.display})"
            if agent.budget is not None and not _positive_int(agent.budget):
                raise DialogEnvsError(f"{where}: budget must be an integer > 0, got {agent.budget!r}")
            if agent.protocol is not None:
                _check_protocol(f"{where}: protocol", agent.protocol)
            resolve(agent.name)  # unknown names fail here, listing what is available
            if self.protocol_of(agent) == "sft_then_rl":
                _check_sft_then_rl(agent, where)
        labels = [agent.display for agent in self.agents]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise DialogEnvsError(f"agent label(s) {', '.join(duplicates)} appear twice; give each entry its own label")
        if self.torch_threads is not None and not _positive_int(self.torch_threads):
            raise DialogEnvsError(f"torch_threads must be an integer > 0, got {self.torch_threads!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"version": SUITE_VERSION, **dataclasses.asdict(self)}


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_protocol(where: str, value: Any) -> None:
    if value not in PROTOCOLS:
        raise DialogEnvsError(f"{where} must be one of {', '.join(PROTOCOLS)}, got {value!r}")


def _check_sft_then_rl(agent: AgentEntry, where: str) -> None:
    from dialog_envs.agents.config import TokenPGConfig

    if agent.name != SFT_THEN_RL_AGENT:
        raise DialogEnvsError(f"{where}: protocol sft_then_rl needs the {SFT_THEN_RL_AGENT} agent, got {agent.name!r}; use protocol budget")
    if agent.budget is not None:
        raise DialogEnvsError(f"{where}: protocol sft_then_rl takes no budget; set config warm_start_updates and updates")
    TokenPGConfig.from_dict(agent.config, source=f"{where}: config")


SUITE_KEYS = {f.name for f in dataclasses.fields(Suite)} | {"version"}
AGENT_KEYS = {"name", "config", "label", "budget", "protocol", "env_kwargs"}


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
            entries.append(EnvEntry(check_env_id(item["id"]), _mapping(item.get("kwargs"), f"{source}: envs[{index}].kwargs")))
        else:
            raise DialogEnvsError(f"{source}: envs[{index}] must be an id or a mapping with 'id' and optional 'kwargs', got {item!r}")
    return entries


def agent_entries(value: Any, source: str) -> list[AgentEntry]:
    if not isinstance(value, list):
        raise DialogEnvsError(f"{source}: 'agents' must be a list, got {type(value).__name__}")
    entries = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            entries.append(AgentEntry(item))
        elif isinstance(item, dict) and isinstance(item.get("name"), str) and set(item) <= AGENT_KEYS:
            entries.append(
                AgentEntry(
                    item["name"],
                    _mapping(item.get("config"), f"{source}: agents[{index}].config"),
                    item.get("label"),
                    item.get("budget"),
                    item.get("protocol"),
                    _mapping(item.get("env_kwargs"), f"{source}: agents[{index}].env_kwargs"),
                )
            )
        else:
            raise DialogEnvsError(
                f"{source}: agents[{index}] must be a name or a mapping with 'name' and optional "
                f"{', '.join(sorted(AGENT_KEYS - {'name'}))}, got {item!r}"
            )
    return entries


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DialogEnvsError(f"{where} must be a mapping, got {value!r}")
    return dict(value)


def suite_from_dict(values: Any, source: str = "suite", name: str = "bench") -> Suite:
    """A :class:`Suite` from a mapping such as a YAML file's (checked; errors name ``source``)."""
    if not isinstance(values, dict):
        raise DialogEnvsError(f"{source}: expected a mapping with keys {', '.join(sorted(SUITE_KEYS))}, got {type(values).__name__}")
    unknown = sorted(set(values) - SUITE_KEYS)
    if unknown:
        raise DialogEnvsError(f"{source}: unknown key(s) {', '.join(map(str, unknown))}; known keys: {', '.join(sorted(SUITE_KEYS))}")
    for required in ("version", "envs", "agents"):
        if required not in values:
            raise DialogEnvsError(f"{source}: missing key {required!r} (suite format version {SUITE_VERSION})")
    if values["version"] != SUITE_VERSION:
        raise DialogEnvsError(f"{source}: version must be {SUITE_VERSION} (the suite format this dialog-envs reads), got {values['version']!r}")
    settings = {k: v for k, v in values.items() if k not in ("version", "envs", "agents")}
    settings.setdefault("name", name)
    for key in ("seeds", "eval_splits", "metrics"):
        if key in settings and settings[key] is not None and not isinstance(settings[key], list):
            settings[key] = [settings[key]]
    try:
        suite = Suite(env_entries(values["envs"], source), agent_entries(values["agents"], source), **settings)
        suite.check()
    except DialogEnvsError as error:
        message = str(error)
        raise DialogEnvsError(message if message.startswith(f"{source}:") else f"{source}: {message}") from None
    return suite


def load_suite(path: str | os.PathLike[str]) -> Suite:
    """Read a YAML suite with ``yaml.safe_load`` (see ``benchmarks/suites/``); its name defaults
    to the file's stem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise DialogEnvsError(f"{path}: cannot read the suite ({error.strerror})") from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DialogEnvsError(f"{path}: not valid YAML: {error}".replace("\n", " ")) from None
    return suite_from_dict(values, str(path), name=Path(path).stem)


QUICK_TOKEN_PG: dict[str, Any] = {
    "num_envs": 4,
    "model_config": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64},
}
"""A one-layer, 32-wide policy (the keys fit both the default GPT-2 and the default BERT config)."""


QUICK_WARM_START: dict[str, Any] = {"warm_start_updates": 30, "warm_start_learning_rate": 0.003}
"""``--quick``'s token-pg starts with a short supervised warm start on the envs' expert actions, so
that its budget shows learning (from scratch, 2048 env steps of RL alone find no reward on the
reply envs)."""


def quick_suite() -> Suite:
    """``--quick``: every registered env with random, SB3 PPO and token-pg (with a short warm start),
    one seed, 2048 env steps."""
    return Suite(
        envs=[EnvEntry(env_id) for env_id in env_ids()],
        agents=[AgentEntry("random"), AgentEntry("ppo"), AgentEntry("token-pg", {**QUICK_TOKEN_PG, **QUICK_WARM_START})],
        name="quick",
        seeds=[0],
        budget=2048,
        eval_episodes=16,
        torch_threads=1,
    )
