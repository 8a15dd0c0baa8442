"""The ``Agent`` protocol every agent of the benchmark satisfies, a base class, and two simple agents.

An agent is bound to one environment id (and its constructor arguments) when it is made. It

- ``act``\\ s on a *batch* of observations (the arrays of a Gymnasium vector env) and returns one
  action per row, respecting the action masks when it is given them;
- ``learn``\\ s for a budget of **env steps** (agent actions in the training split's envs) and
  returns its learning curve;
- ``evaluate``\\ s itself on a split (the benchmark uses ``"test"``) and returns mean metrics;
- can ``save`` itself to a folder and ``load`` that folder back into an agent built the same way.

The protocol is structural (``typing.Protocol``): an agent need not inherit from anything. The
built-in agents satisfy it: :class:`RandomAgent`, :class:`ExpertAgent`,
:class:`dialog_envs.agents.sb3_baselines.SB3Agent` and
:class:`dialog_envs.agents.token_pg.TokenPGAgent`. :class:`BaseAgent` gives a user's own agent
everything but ``act`` (see ``docs/benchmarking.md`` for a complete example).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from dialog_envs.agents.episodes import run_episodes
from dialog_envs.errors import DialogEnvsError

Observations = dict[str, np.ndarray]
"""A batch of observations: each field has a leading batch dimension."""
CurvePoint = dict[str, float]
"""One point of a learning curve: ``{"env_steps": ..., "episodes": ..., "return": ...}``."""


@runtime_checkable
class Agent(Protocol):
    """What the benchmark needs from an agent. Construction: ``Factory(env_id, *, env_kwargs=None,
    seed=0, **config)`` (see :func:`dialog_envs.agents.registry.make`)."""

    env_id: str

    def act(self, observations: Observations, action_masks: np.ndarray | None = None, deterministic: bool = True) -> np.ndarray:
        """One action per row of the batch (``int64`` array of shape ``(batch,)``). ``action_masks``
        is ``(batch, num_actions)`` bool when the env gives masks (True: allowed)."""
        ...

    def learn(self, budget: int) -> list[CurvePoint] | None:
        """Train for ``budget`` more env steps (at least; algorithms may round up to whole rollouts)
        and return the learning curve of this call (may be empty or ``None`` for agents that do not
        learn)."""
        ...

    def evaluate(self, split: str = "test", episodes: int = 32) -> dict[str, float]:
        """Mean ``return`` (and the env's final-info numbers) over ``episodes`` seeded episodes of
        ``split`` (episode ``i`` reset with seed ``dialog_envs.agents.episodes.EVAL_SEED_BASE - i``)."""
        ...

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write everything needed to rebuild the trained agent into ``folder``."""
        ...

    def load(self, folder: str | os.PathLike[str]) -> None:
        """Restore what :meth:`save` wrote into this agent (built with the same env and config)."""
        ...


class BaseAgent:
    """A convenient base for agents: spaces, act-based evaluation, no-op learning, JSON save/load.

    Subclasses implement :meth:`act`, and :meth:`learn` when they learn (add to ``self.env_steps``
    and return a curve). ``self.observation_space`` and ``self.action_space`` are the env's single
    spaces (the env is built once, on first use).
    """

    name = "base"

    def __init__(self, env_id: str, *, env_kwargs: dict[str, Any] | None = None, seed: int = 0) -> None:
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.seed = int(seed)
        self.env_steps = 0
        """Env steps taken while learning, over every :meth:`learn` call."""
        self.rng = np.random.default_rng(self.seed)
        self._spaces: tuple[gym.Space[Any], gym.Space[Any]] | None = None

    # -- spaces -------------------------------------------------------------------------------------

    def _load_spaces(self) -> tuple[gym.Space[Any], gym.Space[Any]]:
        if self._spaces is None:
            try:
                env = gym.make(self.env_id, **{**self.env_kwargs, "split": "train"})
            except (gym.error.Error, TypeError) as error:
                raise DialogEnvsError(f"cannot make {self.env_id!r} with {self.env_kwargs}: {error}") from None
            self._spaces = (env.observation_space, env.action_space)
            env.close()
        return self._spaces

    @property
    def observation_space(self) -> gym.Space[Any]:
        return self._load_spaces()[0]

    @property
    def action_space(self) -> gym.Space[Any]:
        return self._load_spaces()[1]

    # -- the protocol -------------------------------------------------------------------------------

    def act(self, observations: Observations, action_masks: np.ndarray | None = None, deterministic: bool = True) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement act()")

    def learn(self, budget: int) -> list[CurvePoint]:
        """Nothing to learn: returns an empty curve."""
        return []

    def evaluate(self, split: str = "test", episodes: int = 32) -> dict[str, float]:
        return run_episodes(lambda obs, masks, envs: self.act(obs, masks, True), self.env_id, self.env_kwargs, split, episodes)

    def settings(self) -> dict[str, Any]:
        """The settings that define this agent (recorded in benchmark results)."""
        return {"seed": self.seed}

    def save(self, folder: str | os.PathLike[str]) -> None:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        state = {"agent": type(self).__name__, "env_id": self.env_id, "config": self.settings(), "env_steps": self.env_steps}
        (path / "agent.json").write_text(json.dumps(state, indent=2))

    def load(self, folder: str | os.PathLike[str]) -> None:
        path = Path(folder) / "agent.json"
        try:
            state = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise DialogEnvsError(f"{path}: cannot read the saved agent ({error})") from None
        self.env_steps = int(state.get("env_steps", 0))


class RandomAgent(BaseAgent):
    """Uniformly random actions among the allowed ones (all actions when the env gives no mask)."""

    name = "random"

    def evaluate(self, split: str = "test", episodes: int = 32) -> dict[str, float]:
        """Evaluated with a generator re-seeded from ``seed``, so every evaluation is the same."""
        self.rng = np.random.default_rng(self.seed)
        return super().evaluate(split, episodes)

    def act(self, observations: Observations, action_masks: np.ndarray | None = None, deterministic: bool = True) -> np.ndarray:
        space = self.action_space
        if not isinstance(space, gym.spaces.Discrete):
            raise DialogEnvsError(f"RandomAgent needs a Discrete action space, {self.env_id} has {space}")
        batch = len(next(iter(observations.values())))
        if action_masks is None:
            return self.rng.integers(space.n, size=batch) + space.start
        actions = np.empty(batch, dtype=np.int64)
        for row, mask in enumerate(np.asarray(action_masks, dtype=bool)):
            allowed = np.flatnonzero(mask)
            actions[row] = self.rng.choice(allowed) if len(allowed) else self.rng.integers(space.n)
        return actions + space.start


class ExpertAgent(BaseAgent):
    """The env's own reference: every step takes ``env.unwrapped.expert_action()`` (the gold tag, the
    next token of the reference reply, the reference agent's next token in multi-turn envs).

    A ceiling for the benchmark. It reads the env's hidden state, not the observation, so it can
    only act inside :meth:`evaluate`; :meth:`act` on bare observations is an error.

    Hook for ``dialog_envs/SimUser-v0``: that env's ``expert_action()`` is its rule-based reference
    agent's next token, so ``expert`` *is* the SimUser reference agent at the token level; a
    text-level adapter can be registered under its own name with :func:`dialog_envs.agents.registry.register`.
    """

    name = "expert"

    def act(self, observations: Observations, action_masks: np.ndarray | None = None, deterministic: bool = True) -> np.ndarray:
        raise DialogEnvsError("the expert agent reads the env's hidden state; use evaluate(), not act() on observations")

    def evaluate(self, split: str = "test", episodes: int = 32) -> dict[str, float]:
        return run_episodes(expert_actions, self.env_id, self.env_kwargs, split, episodes)


def expert_actions(observations: Observations, action_masks: np.ndarray | None, envs: gym.vector.VectorEnv) -> np.ndarray:
    """The envs' own expert actions (``expert_action()``): the :class:`ExpertAgent`'s act function for
    :func:`dialog_envs.agents.episodes.play_episodes`, which gives it the envs."""
    try:
        return np.asarray(envs.call("expert_action"), dtype=np.int64)
    except AttributeError:
        raise DialogEnvsError(f"{envs.spec.id if envs.spec else 'the env'} has no expert_action() method, so it has no expert agent") from None
