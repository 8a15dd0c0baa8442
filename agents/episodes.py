"""Playing seeded evaluation episodes, the vector envs they run in, and learning curves.

Every agent of a benchmark is scored on **the same episodes**: the ``i``-th evaluation episode of a
split is reset with seed ``EVAL_SEED_BASE - i`` (or, when walking a split, with the example's
index). :func:`play_batches` is the one loop that does it; it asks a ``PlayBatch`` to play each
batch of seeds, which is either an agent's ``act`` stepping the envs (:func:`play_episodes`, any
agent) or the token-level agent's KV-cached rollouts (:meth:`dialog_envs.agents.token_pg.TokenPGAgent.play`).
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

PlayedBatch = tuple[list[float], list[int], list[dict[str, Any]]]
"""One batch of episodes: each episode's return, length (env steps) and last-step info."""

PlayBatch = Callable[[list[int], "dict[str, Any] | None"], PlayedBatch]
"""``(seeds, reset options) -> the batch played``: one episode per env, reset with these seeds."""


def make_vec_env(
    env_id: str, env_kwargs: dict[str, Any] | None, split: str, num_envs: int, vectorization_mode: str | None = None
) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` on ``split`` through ``gym.make_vec`` (the env's native
    vector env by default); a bad id or argument is a :class:`DialogEnvsError` naming the env."""
    kwargs = {**(env_kwargs or {}), "split": split}
    try:
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=vectorization_mode, **kwargs)
    except (gym.error.Error, TypeError) as error:
        raise DialogEnvsError(f"cannot make {env_id!r} with arguments {', '.join(kwargs)}: {error}") from None


def env_attribute(envs: gym.vector.VectorEnv, name: str) -> Any:
    """An attribute of the (first) env: the vector env's own, or a sub-env's (``get_attr`` would
    call it if it is callable, as a tokenizer is)."""
    if hasattr(envs, name):
        return getattr(envs, name)
    return envs.call("get_wrapper_attr", name)[0]


def split_size(envs: gym.vector.VectorEnv) -> int | None:
    """How many examples the envs' split holds, when the env can walk it (``split_size`` and
    ``reset(options={"index": "seed"})``, as NER-v0 has); else None."""
    try:
        return int(env_attribute(envs, "split_size"))
    except AttributeError:
        return None


def play_batches(
    envs: gym.vector.VectorEnv, play_batch: PlayBatch, episodes: int | None, walk_size: int | None = None
) -> PlayedBatch:
    """Play ``episodes`` seeded episodes (seed ``EVAL_SEED_BASE - i``), or with ``episodes=None``
    every example of the split once, in order (seed = the example's index; ``walk_size`` examples,
    by default the env's ``split_size``), ``envs.num_envs`` at a time. The last batch repeats the
    last episode's seed to fill every env; the extras are dropped."""
    walk = episodes is None
    if walk:
        episodes = walk_size if walk_size is not None else split_size(envs)
        if episodes is None:
            raise DialogEnvsError("the env cannot walk its split (no split_size); give a number of episodes")
    if episodes <= 0:
        raise DialogEnvsError(f"episodes must be > 0, got {episodes}")
    options = {"index": "seed"} if walk else None
    width = envs.num_envs
    returns: list[float] = []
    lengths: list[int] = []
    infos: list[dict[str, Any]] = []
    for start in range(0, episodes, width):
        indices = [min(index, episodes - 1) for index in range(start, start + width)]
        seeds = indices if walk else [EVAL_SEED_BASE - index for index in indices]
        batch_returns, batch_lengths, batch_infos = play_batch(seeds, options)
        keep = min(width, episodes - start)
        returns.extend(batch_returns[:keep])
        lengths.extend(batch_lengths[:keep])
        infos.extend(batch_infos[:keep])
    return returns, lengths, infos


def action_masks_of(infos: dict[str, Any]) -> np.ndarray | None:
    """The batch's action masks from a vector env's ``infos`` (all-True rows where an env gave none)."""
    if "action_mask" not in infos:
        return None
    masks = np.stack([np.asarray(mask, dtype=bool) for mask in infos["action_mask"]])
    present = np.asarray(infos.get("_action_mask", np.ones(len(masks), dtype=bool)), dtype=bool)
    return np.where(present[:, None], masks, True)


def act_in(envs: gym.vector.VectorEnv, act: ActFunction, max_steps: int) -> PlayBatch:
    """A :data:`PlayBatch` that steps ``envs`` with ``act`` until every episode has ended."""

    def play(seeds: list[int], options: dict[str, Any] | None) -> PlayedBatch:
        width = envs.num_envs
        obs, infos = envs.reset(seed=seeds, options=options)
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
        return episode_return.tolist(), episode_length.tolist(), final

    return play


def play_episodes(
    act: ActFunction,
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    split: str = "test",
    episodes: int | None = 32,
    num_envs: int = 16,
    max_steps: int = 10_000,
) -> tuple[list[float], list[int], list[dict[str, Any]], dict[str, float]]:
    """Play episodes of ``split`` with ``act`` (see :func:`play_batches` for which ones, ``None``
    walking the split); each episode's return, length and last-step info, and the env's episode
    metrics of them all."""
    if episodes is None:
        probe = make_vec_env(env_id, env_kwargs, split, 1, "sync")
        try:
            episodes = split_size(probe)
        finally:
            probe.close()
        if episodes is None:
            raise DialogEnvsError(f"{env_id} cannot walk its {split} split (no split_size); give a number of episodes")
        walk = True
    else:
        walk = False
    if episodes <= 0:
        raise DialogEnvsError(f"episodes must be > 0, got {episodes}")
    envs = make_vec_env(env_id, env_kwargs, split, min(num_envs, episodes), "sync")
    try:
        returns, lengths, infos = play_batches(envs, act_in(envs, act, max_steps), None if walk else episodes)
        metrics = episode_metrics(envs, infos)
    finally:
        envs.close()
    return returns, lengths, infos, metrics


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
