"""The audit's fuzz, small: random actions keep every env's observations in its space with finite
rewards, and a seeded run is identical in two separate processes (``python -m benchmarks.fuzz
--episodes 10000`` is the full run)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import dialog_envs
from benchmarks.fuzz import fuzz_env


@pytest.mark.parametrize("env_id", dialog_envs.env_ids())
def test_random_actions_keep_observations_in_space(env_id: str) -> None:
    fuzz_env(env_id, episodes=20, seed=3)


def test_seeded_runs_are_identical_across_processes() -> None:
    command = [sys.executable, "-m", "benchmarks.fuzz", "--episodes", "5", "--digest"]
    outputs = [
        subprocess.run(command, capture_output=True, text=True, timeout=300, check=True,
                       env={**os.environ, "PYTHONHASHSEED": str(hash_seed)}).stdout
        for hash_seed in (1, 2)
    ]
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == len(dialog_envs.env_ids())
