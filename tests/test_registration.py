"""Every registered id: it makes, passes gymnasium's checker in every render mode, and its
observations stay in the observation space under random actions. Later envs are covered by
adding them to ENV_SPECS."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dialog_envs
from dialog_envs.cli import main

IDS = dialog_envs.env_ids()


def test_every_id_is_registered_in_the_namespace() -> None:
    assert IDS and all(env_id.startswith("dialog_envs/") for env_id in IDS)
    for env_id in IDS:
        assert env_id in gym.registry


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("render_mode", [None, "ansi"])
def test_check_env(env_id: str, render_mode: str | None) -> None:
    env = gym.make(env_id, render_mode=render_mode)
    check_env(env.unwrapped, skip_render_check=False)
    if render_mode == "ansi":
        env.reset(seed=0)
        assert isinstance(env.render(), str)


@pytest.mark.parametrize("env_id", IDS)
def test_random_actions_keep_observations_in_space(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    env.action_space.seed(0)
    for episode in range(200):
        obs, info = env.reset(seed=episode)
        assert env.observation_space.contains(obs)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs)
            assert np.isfinite(reward)
            done = terminated or truncated


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_trajectory(env_id: str) -> None:
    def trajectory(seed: int) -> list:
        env = gym.make(env_id)
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        steps = [obs]
        for _ in range(3):
            done = False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
                steps.append((obs, reward))
                done = terminated or truncated
            steps.append(env.reset()[0])
        return steps

    first, second = trajectory(7), trajectory(7)
    assert len(first) == len(second)
    assert plain(first) == plain(second)


def plain(value: object) -> object:
    """Arrays, dicts and tuples as plain lists, so that trajectories compare with ``==``."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def test_module_form_works_without_prior_import() -> None:
    code = "import gymnasium as gym; env = gym.make('dialog_envs:dialog_envs/NER-v0'); env.reset(seed=0); print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr


def test_cli_list_prints_every_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == IDS
    assert all(len(line.split()) > 3 for line in lines)
