"""Agents that act in the dialog_envs environments: the token-level policy-gradient agent, SB3
baselines, and the protocol and registry that let any agent into the benchmark.

``agents.make(name, env_id, ...)`` builds an agent by name; ``agents.register(name, factory)``
adds one (see :mod:`agents.registry`).
"""

from agents.registry import make, register

__all__ = ["make", "register"]
