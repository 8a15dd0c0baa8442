"""Evaluating any agent through its ``act`` method, and learning curves from training episodes.

Evaluation is shared so that every agent of a benchmark is scored on **the same episodes**: the
``i``-th evaluation episode of a split is reset with seed ``EVAL_SEED_BASE - i``, the convention of
:meth:`dialog_envs.agents.token_pg.TokenPGAgent.run_episodes`, so the token-level agent's own (faster, KV-cached)
evaluation and this one draw the same examples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

import dialog_envs  # noqa: F401  (registers the env ids)
from dialog_envs.agents.rollout import row_info
from dialog_envs.envs.batched import episode_metrics
from dialog_envs.errors import DialogEnvsError

EVAL_SEED_BASE = 2**31 - 1
"""Episode ``i`` of an evaluation is reset with seed ``EVAL_SEED_BASE - i``."""

ActFunction = Callable[[dict[str, np.ndarray], "np.ndarray | None", gym.vector.VectorEnv], np.ndarray]
"""``(observations, action_masks or None, envs) -> actions``: one action per env of the batch."""


def make_vec_env(env_id: str, env_kwargs: dict[str, Any] | None, split: str, num_envs: int) -> gym.vector.VectorEnv:
    """``num_envs`` synchronous copies of ``env_id`` on ``split``; a bad id or argument is a
    :class:`DialogEnvsError` naming the env."""
    kwargs = {**(env_kwargs or {}), "split": split}
    try:
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs)
    except (gym.error.Error, TypeError) as error:
        raise DialogEnvsError(f"cannot make {env_id!r} with {kwargs}: {error}") from None


def action_masks_of(infos: dict[str, Any]) -> np.ndarray | None:
    """The batch's action masks from a vector env's ``infos`` (all-True rows where an env gave none)."""
    if "action_mask" not in infos:
        return None
    masks = np.stack([np.asarray(mask, dtype=bool) for mask in infos["action_mask"]])
    present = np.asarray(infos.get("_action_mask", np.ones(len(masks), dtype=bool)), dtype=bool)
    return np.where(present[:, None], masks, True)


def play_episodes(
    act: ActFunction,
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    split: str = "test",
    episodes: int | None = 32,
    num_envs: int = 16,
    max_steps: int = 10_000,
) -> tuple[list[float], list[int], list[dict[str, Any]], dict[str, float]]:
    """Play episodes of ``split`` with ``act``; each episode's return, length and last-step info,
    and the env's :func:`~dialog_envs.envs.batched.episode_metrics` of them all.

    ``episodes`` seeded episodes (seed ``EVAL_SEED_BASE - i``), or with ``episodes=None`` every
    example of the split once, in order (the env must have a ``split_size`` and accept
    ``reset(options={"index": "seed"})``, as NER-v0 and Sentiment-v0 do): what test reports need.
    """
    walk = episodes is None
    if walk:
        probe = make_vec_env(env_id, env_kwargs, split, 1)
        try:
            episodes = int(probe.call("get_wrapper_attr", "split_size")[0])
        except AttributeError:
            raise DialogEnvsError(f"{env_id} cannot walk its {split} split (no split_size); give a number of episodes") from None
        finally:
            probe.close()
    if episodes <= 0:
        raise DialogEnvsError(f"episodes must be > 0, got {episodes}")
    width = min(num_envs, episodes)
    envs = make_vec_env(env_id, env_kwargs, split, width)
    returns: list[float] = []
    lengths: list[int] = []
    infos_at_end: list[dict[str, Any]] = []
    try:
        for start in range(0, episodes, width):
            if walk:  # the last batch repeats the last example to fill every env; the extras are dropped
                obs, infos = envs.reset(seed=[min(index, episodes - 1) for index in range(start, start + width)],
                                        options={"index": "seed"})
            else:
                obs, infos = envs.reset(seed=[EVAL_SEED_BASE - index for index in range(start, start + width)])
            active = np.ones(width, dtype=bool)
            episode_return = np.zeros(width)
            episode_length = np.zeros(width, dtype=np.int64)
            final: list[dict[str, Any]] = [{} for _ in range(width)]
            for _ in range(max_steps):
                actions = np.asarray(act(obs, action_masks_of(infos), envs)).reshape(width)
                obs, rewards, terminated, truncated, infos = envs.step(actions)
                episode_return += np.where(active, rewards, 0.0)
                episode_length += active
                done = terminated | truncated
                for row in np.flatnonzero(active & done):
                    final[row] = row_info(infos, row)
                active &= ~done
                if not active.any():
                    break
            keep = min(width, episodes - start)
            returns.extend(episode_return[:keep].tolist())
            lengths.extend(episode_length[:keep].tolist())
            infos_at_end.extend(final[:keep])
        metrics = episode_metrics(envs, infos_at_end)
    finally:
        envs.close()
    return returns, lengths, infos_at_end, metrics


def run_episodes(
    act: ActFunction,
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    split: str = "test",
    episodes: int = 32,
    num_envs: int = 16,
    max_steps: int = 10_000,
) -> dict[str, float]:
    """Play ``episodes`` seeded episodes of ``split`` with ``act``; mean return, mean episode length
    and the env's episode metrics (``entity_f1``, ``bleu``, ``correct``, corpus-level scores...)."""
    returns, lengths, _, metrics = play_episodes(act, env_id, env_kwargs, split, episodes, num_envs, max_steps)
    return {"return": float(np.mean(returns)), "episode_length": float(np.mean(lengths)), **metrics}


@dataclass
class EpisodeLog:
    """Training episodes as ``(env steps when it ended, return)``, turned into a learning curve."""

    ends: list[int] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)

    def record(self, env_steps: int, episode_return: float) -> None:
        self.ends.append(int(env_steps))
        self.returns.append(float(episode_return))

    def curve(self, start: int, stop: int, points: int = 10) -> list[dict[str, float]]:
        """Mean training return of the episodes that ended in each of ``points`` equal windows of
        ``(start, stop]`` env steps (episodes after ``stop`` go to the last window); windows without
        an episode are left out. Each point: ``env_steps`` (window end), ``episodes``, ``return``."""
        if stop <= start or not self.ends:
            return []
        edges = np.linspace(start, stop, points + 1)
        ends = np.asarray(self.ends)
        returns = np.asarray(self.returns)
        window = np.clip(np.searchsorted(edges, ends, side="left") - 1, 0, points - 1)
        chosen = ends > start
        curve = []
        for index in range(points):
            selected = chosen & (window == index)
            if selected.any():
                curve.append(
                    {"env_steps": int(round(edges[index + 1])), "episodes": int(selected.sum()), "return": float(returns[selected].mean())}
                )
        return curve
