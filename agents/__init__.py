"""Agents that act in the dialog_envs environments: the token-level policy-gradient agent, SB3
baselines, and the protocol and registry that let any agent into the benchmark.

``dialog_envs.agents.make(name, env_id, ...)`` builds an agent by name; ``dialog_envs.agents.register(name, factory)``
adds one (see :mod:`dialog_envs.agents.registry`).
"""

from dialog_envs.agents.registry import make, register

__all__ = ["make", "register"]
