"""Agents by name: built-in ones, ones registered at run time, installed plugins, ``module:Class``.

:func:`make` turns a name into an agent bound to one env. A name is looked up in order:

1. names given to :func:`register` in this process;
2. the built-in agents (:data:`BUILTIN_AGENTS`);
3. the entry points of the group ``dialog_envs.agents`` of every installed package, so a
   third-party package that declares, in its ``pyproject.toml``::

       [project.entry-points."dialog_envs.agents"]
       my-agent = "my_package.agents:MyAgent"

   shows up as ``my-agent`` once installed;
4. a ``"module.path:Name"`` string (``Name`` may be dotted: ``module:Outer.Inner``).

A factory (class or function) is called as ``factory(env_id, env_kwargs=..., seed=..., **config)``
and must return an object that satisfies :class:`dialog_envs.agents.protocol.Agent`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from dialog_envs.agents.protocol import Agent
from dialog_envs.registration import check_env_id
from dialog_envs.errors import DialogEnvsError

ENTRY_POINT_GROUP = "dialog_envs.agents"
"""The entry-point group third-party packages use to offer agents by name."""

AgentFactory = Callable[..., Agent]

BUILTIN_AGENTS: dict[str, str] = {
    "random": "dialog_envs.agents.protocol:RandomAgent",
    "expert": "dialog_envs.agents.protocol:ExpertAgent",
    "ppo": "dialog_envs.agents.sb3_baselines:ppo",
    "a2c": "dialog_envs.agents.sb3_baselines:a2c",
    "dqn": "dialog_envs.agents.sb3_baselines:dqn",
    "maskable-ppo": "dialog_envs.agents.sb3_baselines:maskable_ppo",
    "token-pg": "dialog_envs.agents.token_pg:TokenPGAgent.make",
    # The SimUser-v0 reference agent: at the token level it is "expert" (the env's expert_action()
    # is the reference agent's next token). A text-level adapter, when one exists, goes here as
    # "simuser-reference": "agents.<module>:<Class>".
}
"""Name -> ``"module:attribute"`` of the factory; imported only when used."""

PROTOCOL_METHODS: tuple[str, ...] = ("act", "learn", "evaluate", "save", "load")

_registered: dict[str, AgentFactory | str] = {}


def register(name: str, factory: AgentFactory | str, *, overwrite: bool = False) -> None:
    """Make ``factory`` (a callable, or a ``"module:Name"`` string) available as ``name``."""
    if not name or ":" in name:
        raise DialogEnvsError(f"agent name {name!r} must be non-empty and have no ':'")
    if not overwrite and (name in _registered or name in BUILTIN_AGENTS):
        raise DialogEnvsError(f"agent {name!r} is already registered; pass overwrite=True to replace it")
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise DialogEnvsError(f"factory of agent {name!r} must be callable or a 'module:Name' string, got {factory!r}")
    _registered[name] = factory


def unregister(name: str) -> None:
    """Forget a name given to :func:`register` (built-in and installed agents stay)."""
    _registered.pop(name, None)


def _entry_points() -> dict[str, EntryPoint]:
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> dict[str, str]:
    """Every agent name with where it comes from (``"registered"``, ``"built-in"`` or the
    installed distribution of an entry point), in lookup order."""
    found: dict[str, str] = {name: "registered" for name in _registered}
    for name in BUILTIN_AGENTS:
        found.setdefault(name, "built-in")
    for name, point in _entry_points().items():
        distribution = getattr(point.dist, "name", None) or "an installed package"
        found.setdefault(name, f"entry point of {distribution}")
    return found


def _import_path(path: str, name: str) -> AgentFactory:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise DialogEnvsError(f"agent {name!r}: {path!r} is not 'module.path:Name'")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise DialogEnvsError(f"agent {name!r}: cannot import module {module_name!r} ({error})") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise DialogEnvsError(f"agent {name!r}: module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise DialogEnvsError(f"agent {name!r}: {path!r} is not a class or function")
    return target


def resolve(name: str) -> AgentFactory:
    """The factory of an agent name (see the module docstring for the lookup order)."""
    if name in _registered:
        factory = _registered[name]
        return _import_path(factory, name) if isinstance(factory, str) else factory
    if name in BUILTIN_AGENTS:
        return _import_path(BUILTIN_AGENTS[name], name)
    points = _entry_points()
    if name in points:
        try:
            return points[name].load()
        except (ImportError, AttributeError) as error:
            raise DialogEnvsError(f"agent {name!r}: cannot load entry point {points[name].value!r} ({error})") from None
    if ":" in name:
        return _import_path(name, name)
    raise DialogEnvsError(
        f"unknown agent {name!r}; available: {', '.join(available())} (or 'module.path:ClassName')"
    )


def _check_config(name: str, factory: AgentFactory, config: dict[str, Any]) -> None:
    """A clear error for config keys the factory does not take (before calling it)."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # some builtins have no signature; let the call decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [p for p, v in parameters.items() if v.kind in (v.KEYWORD_ONLY, v.POSITIONAL_OR_KEYWORD)]
    unknown = sorted(set(config) - set(accepted))
    if unknown:
        settings = [p for p in accepted if p not in ("env_id", "env_kwargs", "seed")]
        takes = f"its settings are: {', '.join(settings)}" if settings else "it takes no settings"
        raise DialogEnvsError(f"agent {name!r} does not take {', '.join(unknown)}; {takes}")


def make(name: str, env_id: str, *, env_kwargs: dict[str, Any] | None = None, seed: int = 0, **config: Any) -> Agent:
    """Build agent ``name`` for ``env_id`` (a registered id; a bare ``"NER-v0"`` gets the namespace).

    ``config`` goes to the factory as keywords (e.g. ``n_steps=64`` for ``ppo``). Raises
    :class:`DialogEnvsError` for an unknown agent or env, bad config keys, or an object that lacks
    a method of the :class:`~dialog_envs.agents.protocol.Agent` protocol.
    """
    env_id = check_env_id(env_id)
    factory = resolve(name)
    _check_config(name, factory, {"env_kwargs": None, "seed": 0, **config})
    agent = factory(env_id, env_kwargs=dict(env_kwargs or {}), seed=seed, **config)
    missing = [method for method in PROTOCOL_METHODS if not callable(getattr(agent, method, None))]
    if missing:
        raise DialogEnvsError(
            f"agent {name!r} built a {type(agent).__name__} that lacks {', '.join(missing)}; an agent needs "
            f"{', '.join(PROTOCOL_METHODS)} (see dialog_envs.agents.protocol.Agent, or subclass dialog_envs.agents.protocol.BaseAgent)"
        )
    return agent
