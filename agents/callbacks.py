"""Hooks into the token-level agent's training loop.

A :class:`Callback` sees every training rollout, every update's logged numbers and every
validation evaluation of :meth:`dialog_envs.agents.token_pg.TokenPGAgent.learn`. Pass callbacks to
the agent's constructor (for every ``learn`` call) or to one ``learn`` call. They observe; what
they change in the agent is their own business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dialog_envs.agents.rollout import Rollout


class Callback:
    """Override the hooks you need; each does nothing by default."""

    def on_rollout(self, agent: Any, rollout: Rollout) -> None:
        """After an RL rollout is collected, before the update that learns from it."""

    def on_update(self, agent: Any, stats: dict[str, float]) -> None:
        """After an RL update (``agent.update`` already counts it), with what it logs."""

    def on_eval(self, agent: Any, metrics: dict[str, float]) -> None:
        """After a validation evaluation during training, with its metrics."""
