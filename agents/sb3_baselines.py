"""Stable-Baselines3 baselines on every env of the suite: PPO, A2C, DQN and sb3-contrib's MaskablePPO.

One function per algorithm (:func:`ppo`, :func:`a2c`, :func:`dqn`, :func:`maskable_ppo`; registry
names ``ppo``, ``a2c``, ``dqn``, ``maskable-ppo``) builds an :class:`SB3Agent`: SB3's
``MultiInputPolicy`` with :class:`~dialog_envs.agents.features.TokenFeaturesExtractor` reading the token
observations, on ``n_envs`` training-split envs (``DummyVecEnv`` + ``Monitor``).

Defaults are deliberately tiny (32-wide embeddings, one 64-unit hidden layer, short rollouts) so
that a few hundred steps run in seconds on a CPU; they are baselines, not tuned results. The
defaults, per algorithm (:data:`ALGORITHM_DEFAULTS`) and per env (:data:`ENV_DEFAULTS`), are
listed in ``docs/sb3.md``; every keyword that SB3's constructor takes can override them.

MaskablePPO needs ``action_masks()`` on the env: NER-v0 has one (no ``I-X`` after ``O``); envs
without masks get an all-allowed mask through sb3-contrib's ``ActionMasker``.
"""

from __future__ import annotations

import importlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from dialog_envs.agents.episodes import EpisodeLog
from dialog_envs.agents.features import PretrainedFeaturesExtractor, TokenFeaturesExtractor
from dialog_envs.agents.pretrained import resolve_model
from dialog_envs.agents.protocol import BaseAgent, CurvePoint, Observations
from dialog_envs.errors import DialogEnvsError

ALGORITHMS: dict[str, tuple[str, str]] = {
    "ppo": ("stable_baselines3", "PPO"),
    "a2c": ("stable_baselines3", "A2C"),
    "dqn": ("stable_baselines3", "DQN"),
    "maskable-ppo": ("sb3_contrib", "MaskablePPO"),
}
"""Registry name -> (module, class) of the SB3 algorithm."""

ALGORITHM_DEFAULTS: dict[str, dict[str, Any]] = {
    "ppo": {"n_steps": 128, "batch_size": 64, "n_epochs": 4, "learning_rate": 3e-4, "ent_coef": 0.01},
    "maskable-ppo": {"n_steps": 128, "batch_size": 64, "n_epochs": 4, "learning_rate": 3e-4, "ent_coef": 0.01},
    "a2c": {"n_steps": 8, "learning_rate": 7e-4, "ent_coef": 0.01},
    "dqn": {
        "buffer_size": 5_000, "learning_starts": 100, "batch_size": 32, "train_freq": 4,
        "target_update_interval": 250, "exploration_fraction": 0.3, "exploration_final_eps": 0.05,
        "learning_rate": 5e-4,
    },
}
"""Constructor keywords per algorithm: short rollouts and small buffers so tests take seconds."""

ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    "NER-v0": {"gamma": 0.9},
    "DialogueBLEU-v0": {"gamma": 1.0},
    "Sentiment-v0": {"gamma": 0.99},
}
"""Per-env keywords, by the id without its namespace. NER's token reward is immediate (a short
horizon helps), DialogueBLEU's BLEU comes only at the end of a reply of <= 32 tokens (no discount),
Sentiment is one step long (gamma does not matter)."""

EXTRACTOR_DEFAULTS: dict[str, Any] = {"encoder": "mean", "embed_dim": 32, "features_dim": 64}
NET_ARCH_DEFAULT: list[int] = [64]


def env_name(env_id: str) -> str:
    """``"dialog_envs/NER-v0"`` -> ``"NER-v0"``."""
    return env_id.split("/")[-1]


def algorithm_class(algorithm: str) -> type[BaseAlgorithm]:
    """The SB3 class of a registry name; a clear error when sb3-contrib is missing."""
    if algorithm not in ALGORITHMS:
        raise DialogEnvsError(f"unknown SB3 algorithm {algorithm!r}; available: {', '.join(ALGORITHMS)}")
    module_name, class_name = ALGORITHMS[algorithm]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise DialogEnvsError(
            f"{algorithm} needs the {module_name} package: pip install 'dialog-envs[sb3-contrib]'"
        ) from None
    return getattr(module, class_name)


def _all_allowed(env: gym.Env[Any, Any]) -> np.ndarray:
    return np.ones(env.action_space.n, dtype=bool)


def mask_wrapper(env: gym.Env[Any, Any]) -> gym.Env[Any, Any]:
    """``env`` itself when it has ``action_masks()``, else wrapped in an all-allowed ``ActionMasker``."""
    if callable(getattr(env.unwrapped, "action_masks", None)):
        return env
    from sb3_contrib.common.wrappers import ActionMasker

    return ActionMasker(env, _all_allowed)


def training_envs(env_id: str, env_kwargs: dict[str, Any], n_envs: int, seed: int, masks: bool = False) -> DummyVecEnv:
    """``n_envs`` envs of the training split, each in a ``Monitor`` (episode returns for the
    curve), seeded ``seed, seed + 1, ...``; with ``masks`` each has ``action_masks()``."""

    def build() -> gym.Env[Any, Any]:
        try:
            env = gym.make(env_id, **{**env_kwargs, "split": "train"})
        except (gym.error.Error, TypeError) as error:
            raise DialogEnvsError(f"cannot make {env_id!r} with {env_kwargs}: {error}") from None
        return Monitor(mask_wrapper(env) if masks else env)

    envs = DummyVecEnv([build] * n_envs)
    envs.seed(seed)
    return envs


class _EpisodeCallback(BaseCallback):
    """Records every finished training episode (``Monitor``'s ``info["episode"]``)."""

    def __init__(self, log: EpisodeLog) -> None:
        super().__init__()
        self.log = log

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            episode = info.get("episode")
            if episode is not None:
                self.log.record(self.num_timesteps, float(episode["r"]))
        return True


class SB3Agent(BaseAgent):
    """An SB3 algorithm with ``MultiInputPolicy`` and the token features extractor, as an ``Agent``.

    Args:
        env_id: a registered id.
        algorithm: ``"ppo"``, ``"a2c"``, ``"dqn"`` or ``"maskable-ppo"``.
        env_kwargs: the env's constructor arguments (``split`` is set by the agent).
        seed: seeds SB3 (weights, sampling) and the training envs.
        n_envs: training envs stepped together (``DummyVecEnv``).
        encoder, embed_dim, features_dim, n_layers, n_heads: the features extractor (see :mod:`dialog_envs.agents.features`).
        pretrained: a pretrained encoder (``"minilm"``, or a Hugging Face encoder's name or path) whose
            frozen, mean-pooled, layer-normalised states are the features instead
            (:class:`~dialog_envs.agents.features.PretrainedFeaturesExtractor`); the env then uses its
            tokenizer unless ``env_kwargs`` names one. The token extractor's options are then unused.
        normalize_features: layer-normalise the pretrained features (``False`` feeds the raw mean).
        net_arch: hidden layers of the policy/value (or Q) heads after the extractor.
        device: torch device; ``"cpu"`` by default (tiny nets are faster there).
        curve_points: points in the learning curve that :meth:`learn` returns.
        **algorithm_kwargs: any keyword of the SB3 class (``n_steps``, ``learning_rate``, ``gamma``...),
            over :data:`ALGORITHM_DEFAULTS` and :data:`ENV_DEFAULTS`.
    """

    def __init__(
        self,
        env_id: str,
        *,
        algorithm: str = "ppo",
        env_kwargs: dict[str, Any] | None = None,
        seed: int = 0,
        n_envs: int = 1,
        encoder: str = EXTRACTOR_DEFAULTS["encoder"],
        embed_dim: int = EXTRACTOR_DEFAULTS["embed_dim"],
        features_dim: int = EXTRACTOR_DEFAULTS["features_dim"],
        n_layers: int = 1,
        n_heads: int = 2,
        pretrained: str | None = None,
        normalize_features: bool = True,
        net_arch: list[int] | None = None,
        device: str = "cpu",
        curve_points: int = 10,
        **algorithm_kwargs: Any,
    ) -> None:
        if pretrained is not None and "tokenizer" not in (env_kwargs or {}):
            env_kwargs = {**(env_kwargs or {}), "tokenizer": resolve_model(pretrained)[0]}
        super().__init__(env_id, env_kwargs=env_kwargs, seed=seed)
        self.name = self.algorithm = algorithm
        self.algorithm_class = algorithm_class(algorithm)
        self.device = device
        self.curve_points = curve_points
        self.maskable = algorithm == "maskable-ppo"
        self.extractor_kwargs: dict[str, Any] = {"encoder": encoder, "embed_dim": embed_dim, "features_dim": features_dim}
        if encoder == "transformer":
            self.extractor_kwargs.update(n_layers=n_layers, n_heads=n_heads)
        extractor: type[TokenFeaturesExtractor | PretrainedFeaturesExtractor] = TokenFeaturesExtractor
        if pretrained is not None:
            extractor, self.extractor_kwargs = PretrainedFeaturesExtractor, {"model": pretrained, "normalize": normalize_features}
        self.net_arch = list(NET_ARCH_DEFAULT if net_arch is None else net_arch)
        self.algorithm_kwargs = {
            **ALGORITHM_DEFAULTS.get(algorithm, {}),
            **ENV_DEFAULTS.get(env_name(env_id), {}),
            **algorithm_kwargs,
        }
        self.n_envs = n_envs
        self.vec_env = training_envs(env_id, self.env_kwargs, n_envs, seed, masks=self.maskable)
        self._spaces = (self.vec_env.observation_space, self.vec_env.action_space)
        policy_kwargs = {
            "features_extractor_class": extractor,
            "features_extractor_kwargs": self.extractor_kwargs,
            "net_arch": self.net_arch,
        }
        try:
            self.model = self.algorithm_class(
                "MultiInputPolicy", self.vec_env, seed=seed, device=device, verbose=0,
                policy_kwargs=policy_kwargs, **self.algorithm_kwargs,
            )
        except TypeError as error:
            raise DialogEnvsError(f"{algorithm}: bad configuration {self.algorithm_kwargs}: {error}") from None
        self.episodes = EpisodeLog()

    def settings(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "sb3_class": f"{self.algorithm_class.__module__}.{self.algorithm_class.__name__}",
            "seed": self.seed,
            "n_envs": self.n_envs,
            "device": self.device,
            "net_arch": self.net_arch,
            **self.extractor_kwargs,
            **self.algorithm_kwargs,
        }

    def learn(self, budget: int) -> list[CurvePoint]:
        """``model.learn(budget)`` (SB3 rounds up to whole rollouts); the curve of this call."""
        if budget <= 0:
            raise DialogEnvsError(f"budget must be > 0 env steps, got {budget}")
        start = self.model.num_timesteps
        self.model.learn(total_timesteps=budget, reset_num_timesteps=False, callback=_EpisodeCallback(self.episodes))
        self.env_steps = int(self.model.num_timesteps)
        return self.episodes.curve(start, start + budget, self.curve_points)

    def act(self, observations: Observations, action_masks: np.ndarray | None = None, deterministic: bool = True) -> np.ndarray:
        if self.maskable:
            actions, _ = self.model.predict(observations, deterministic=deterministic, action_masks=action_masks)
        else:  # the other algorithms cannot use masks (NER's mask is advice: any tag may be taken)
            actions, _ = self.model.predict(observations, deterministic=deterministic)
        return np.asarray(actions, dtype=np.int64).reshape(-1)

    def save(self, folder: str | os.PathLike[str]) -> None:
        super().save(folder)
        self.model.save(Path(folder) / "model.zip")

    def load(self, folder: str | os.PathLike[str], allow_pickle: bool = False) -> None:
        """Load a folder written by :meth:`save` into this agent (built with the same env and settings).

        SB3 stores objects such as the policy class, the spaces and the schedules as cloudpickle,
        which runs code when read. Those entries are not read: this agent's own objects stand in
        for them (SB3's ``custom_objects``), so a crafted ``model.zip`` cannot run code. A file
        with a pickled entry this agent has no stand-in for is refused unless ``allow_pickle``.

        Raises:
            DialogEnvsError: ``model.zip`` is missing or not an SB3 archive, or holds a pickled
                entry without a stand-in (and ``allow_pickle`` is False).
        """
        super().load(folder)
        path = Path(folder) / "model.zip"
        if not path.exists():
            raise DialogEnvsError(f"{path} is missing; expected a folder written by SB3Agent.save()")
        custom_objects = {} if allow_pickle else self._stand_ins(path)
        try:
            self.model = self.algorithm_class.load(path, env=self.vec_env, device=self.device, custom_objects=custom_objects)
        except (ValueError, KeyError, RuntimeError, zipfile.BadZipFile) as error:
            raise DialogEnvsError(f"{path}: cannot load the SB3 model ({error})") from None

    def _stand_ins(self, path: Path) -> dict[str, Any]:
        """This agent's own object for every pickled entry of ``model.zip``'s ``data``."""
        try:
            with zipfile.ZipFile(path) as archive:
                data = json.loads(archive.read("data").decode("utf-8"))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
            raise DialogEnvsError(f"{path}: not an SB3 model archive ({error})") from None
        if not isinstance(data, dict):
            raise DialogEnvsError(f"{path}: entry 'data' is not a JSON object; expected an SB3 model archive")
        pickled = [key for key, value in data.items() if isinstance(value, dict) and ":serialized:" in value]
        missing = [key for key in pickled if not hasattr(self.model, key)]
        if missing:
            raise DialogEnvsError(
                f"{path}: entry 'data' field {missing[0]!r} is a pickled object, which would run code when read; "
                "expected a model saved by this agent (pass allow_pickle=True only for a file you trust)"
            )
        return {key: getattr(self.model, key) for key in pickled}

    def close(self) -> None:
        self.vec_env.close()


def ppo(env_id: str, **kwargs: Any) -> SB3Agent:
    """SB3 PPO (registry name ``ppo``)."""
    return SB3Agent(env_id, algorithm="ppo", **kwargs)


def a2c(env_id: str, **kwargs: Any) -> SB3Agent:
    """SB3 A2C (registry name ``a2c``)."""
    return SB3Agent(env_id, algorithm="a2c", **kwargs)


def dqn(env_id: str, **kwargs: Any) -> SB3Agent:
    """SB3 DQN (registry name ``dqn``)."""
    return SB3Agent(env_id, algorithm="dqn", **kwargs)


def maskable_ppo(env_id: str, **kwargs: Any) -> SB3Agent:
    """sb3-contrib MaskablePPO with the env's action masks (registry name ``maskable-ppo``)."""
    return SB3Agent(env_id, algorithm="maskable-ppo", **kwargs)

