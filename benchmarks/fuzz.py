"""Fuzz every registered env with random actions: observations stay in the observation space,
rewards are finite, episodes end, and a seeded run gives the same trajectories in every process.

    python -m benchmarks.fuzz --episodes 10000            # the audit's run, per env
    python -m benchmarks.fuzz --episodes 50 --digest      # print one digest per env (compare across processes)

Actions are drawn uniformly from the action space (mask or not: the envs accept every action),
from ``numpy.random.default_rng(seed)``; episode ``i`` resets with seed ``seed + i``.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time

import gymnasium as gym
import numpy as np

import dialog_envs

MAX_STEPS = 10_000
"""An episode that runs longer than this is a failure (every env ends far earlier)."""


def fuzz_env(env_id: str, episodes: int, seed: int = 0) -> str:
    """Play ``episodes`` random episodes of ``env_id``; the hex digest of every observation,
    reward and end flag. Raises AssertionError on an observation outside the space, a reward that
    is not finite, or an episode that does not end."""
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    digest = hashlib.sha256()
    space = env.observation_space
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        assert space.contains(obs), f"{env_id}: reset observation outside {space} (episode {episode})"
        for _ in range(MAX_STEPS):
            action = int(rng.integers(env.action_space.n))
            obs, reward, terminated, truncated, _ = env.step(action)
            assert space.contains(obs), f"{env_id}: observation outside the space (episode {episode})"
            assert math.isfinite(reward), f"{env_id}: reward {reward} is not finite (episode {episode})"
            for key in sorted(obs):
                digest.update(np.ascontiguousarray(obs[key]).tobytes())
            digest.update(np.float64(reward).tobytes() + bytes([terminated, truncated]))
            if terminated or truncated:
                break
        else:
            raise AssertionError(f"{env_id}: episode {episode} did not end in {MAX_STEPS} steps")
    env.close()
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10_000, help="episodes per env (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env", action="append", default=None, help="env id (default: every registered one)")
    parser.add_argument("--digest", action="store_true", help="print 'env_id digest' lines only")
    args = parser.parse_args(argv)
    for env_id in args.env or dialog_envs.env_ids():
        started = time.perf_counter()
        digest = fuzz_env(env_id, args.episodes, args.seed)
        if args.digest:
            print(env_id, digest)
        else:
            print(f"{env_id}: {args.episodes} episodes clean in {time.perf_counter() - started:.1f} s (digest {digest[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
