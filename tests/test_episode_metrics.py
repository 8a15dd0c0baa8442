"""Envs score their finished episodes themselves (``episode_metrics``); agents only ask."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import dialog_envs  # noqa: F401  (registers the ids)
from dialog_envs.envs.batched import episode_metrics, mean_float_metrics
from dialog_envs.metrics.classification import macro_f1
from dialog_envs.metrics.ner import entity_scores


def finished_episodes(env: gym.Env, episodes: int, seed: int = 0) -> list[dict]:
    """The last infos of ``episodes`` episodes played with random valid actions."""
    infos = []
    rng = np.random.default_rng(seed)
    for episode in range(episodes):
        _, info = env.reset(seed=seed + episode)
        done = False
        while not done:
            mask = info.get("action_mask")
            action = int(rng.choice(np.flatnonzero(mask))) if mask is not None else int(env.action_space.sample())
            _, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        infos.append(info)
    return infos


def test_ner_adds_corpus_entity_f1_and_token_micro_f1() -> None:
    env = gym.make("dialog_envs/NER-v0")
    infos = finished_episodes(env, 6)
    metrics = episode_metrics(env, infos)
    gold = [list(info["gold_tags"]) for info in infos]
    predicted = [list(info["predicted_tags"]) for info in infos]
    assert metrics["entity_f1_corpus"] == pytest.approx(entity_scores(gold, predicted).f1)
    assert metrics["entity_f1"] == pytest.approx(np.mean([info["entity_f1"] for info in infos]))
    assert 0.0 <= metrics["token_micro_f1"] <= 1.0


def test_sentiment_adds_macro_f1_and_the_vector_env_asks_its_template() -> None:
    single = gym.make("dialog_envs/Sentiment-v0")
    infos = finished_episodes(single, 8)
    truth = [int(info["label_index"]) for info in infos]
    predicted = [int(info["predicted_index"]) if info["predicted_index"] >= 0 else None for info in infos]
    expected = macro_f1(truth, predicted)
    assert episode_metrics(single, infos)["macro_f1"] == pytest.approx(expected)
    native = gym.make_vec("dialog_envs/Sentiment-v0", num_envs=2)
    sync = gym.make_vec("dialog_envs/Sentiment-v0", num_envs=2, vectorization_mode="sync")
    assert episode_metrics(native, infos) == episode_metrics(sync, infos) == episode_metrics(single, infos)


def test_any_other_env_gets_the_mean_of_its_float_infos() -> None:
    env = gym.make("CartPole-v1")
    infos = [{"score": 1.0, "name": "a"}, {"score": 3.0}, {"other": 2.0}]
    assert episode_metrics(env, infos) == mean_float_metrics(infos) == {"other": 2.0, "score": 2.0}
