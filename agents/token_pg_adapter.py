"""The token-level policy-gradient agent (:class:`dialog_envs.agents.token_pg.TokenPGAgent`) as an ``Agent``.

Budget mapping: the benchmark's budget is in **env steps** (one step = one token written, one tag
or one label chosen). :meth:`TokenPGAdapter.learn` runs whole RL updates, one at a time, until the
env steps taken reach the budget. One update is one rollout of ``num_envs`` episodes, so it costs
``num_envs x episode length`` steps (e.g. 8 x ~10 words on NER-v0, 8 x 1 on Sentiment-v0, 8 x up to
32 tokens on DialogueBLEU-v0) and the budget is overshot by less than one update. Steps of the
supervised warm start (``warm_start_updates``) are env steps too and count against the budget of
the first ``learn`` call. The steps are counted by :class:`CountingVectorEnv`, which wraps the
agent's training envs and mirrors the rollout's own accounting (steps of active episodes only).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.device import autocast
from dialog_envs.agents.episodes import EpisodeLog
from dialog_envs.agents.policies import masked_logits
from dialog_envs.agents.protocol import CurvePoint, Observations
from dialog_envs.agents.rollout import sample_actions
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.errors import DialogEnvsError

ADAPTER_DEFAULTS: dict[str, Any] = {"eval_every": 0, "progress": False, "num_envs": 8}
"""Overrides of :class:`~dialog_envs.agents.config.TokenPGConfig` in the benchmark: no validation passes during
training (the benchmark evaluates on the test split itself), no inner progress bar, 8 envs."""


class CountingVectorEnv(gym.vector.VectorWrapper):
    """Counts the env steps of active episodes and records each episode's return.

    Rollouts reset every env together and step them until all episodes ended, stepping finished
    envs idly; only steps of unfinished episodes are counted, as :class:`dialog_envs.agents.rollout.Rollout`
    counts them. ``counting = False`` pauses it (evaluation on the training split).
    """

    def __init__(self, env: gym.vector.VectorEnv) -> None:
        super().__init__(env)
        self.steps = 0
        self.episodes = EpisodeLog()
        self.counting = True
        self._active = np.zeros(self.num_envs, dtype=bool)
        self._returns = np.zeros(self.num_envs)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Forwarded to the wrapped env (the warm start calls ``expert_action`` through it)."""
        return self.env.call(name, *args, **kwargs)

    def reset(self, *, seed: Any = None, options: Any = None) -> tuple[Any, dict[str, Any]]:
        self._active[:] = True
        self._returns[:] = 0.0
        return super().reset(seed=seed, options=options)

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        obs, rewards, terminated, truncated, infos = super().step(actions)
        if self.counting:
            self.steps += int(self._active.sum())
            self._returns += np.where(self._active, rewards, 0.0)
            for row in np.flatnonzero(self._active & (terminated | truncated)):
                self.episodes.record(self.steps, self._returns[row])
        self._active &= ~(terminated | truncated)
        return obs, rewards, terminated, truncated, infos


class TokenPGAdapter:
    """Builds a :class:`TokenPGAgent` and gives it the ``Agent`` protocol.

    Args:
        env_id: a registered id.
        env_kwargs: the env's constructor arguments.
        seed: the config's ``seed``.
        curve_points: points in the learning curve that :meth:`learn` returns.
        **config: fields of :class:`~dialog_envs.agents.config.TokenPGConfig` (over :data:`ADAPTER_DEFAULTS`),
            e.g. ``algorithm="ppo"``, ``model_config={"n_layer": 1}``.
    """

    name = "token-pg"

    def __init__(self, env_id: str, *, env_kwargs: dict[str, Any] | None = None, seed: int = 0, curve_points: int = 10, **config: Any) -> None:
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.curve_points = curve_points
        settings = TokenPGConfig.from_dict({**ADAPTER_DEFAULTS, **config, "seed": seed}, source="token-pg config")
        self.agent = TokenPGAgent(env_id, settings, self.env_kwargs, out_dir=None)
        self._wrap_envs()

    def _wrap_envs(self) -> None:
        self.counter = CountingVectorEnv(self.agent.envs)
        self.agent.envs = self.counter

    @property
    def env_steps(self) -> int:
        """Env steps taken while learning (warm start included)."""
        return self.counter.steps

    def config(self) -> dict[str, Any]:
        return asdict(self.agent.config)

    def learn(self, budget: int) -> list[CurvePoint]:
        """Whole RL updates until ``budget`` more env steps are taken (at least one update)."""
        if budget <= 0:
            raise DialogEnvsError(f"budget must be > 0 env steps, got {budget}")
        start = self.counter.steps
        target = start + budget
        while True:
            self.agent.learn(updates=self.agent.update + 1)
            if self.counter.steps >= target:
                break
        return self.counter.episodes.curve(start, target, self.curve_points)

    def evaluate(self, split: str = "test", episodes: int = 32) -> dict[str, float]:
        """The agent's own greedy, KV-cached evaluation (same seeds as :func:`dialog_envs.agents.episodes.run_episodes`)."""
        self.counter.counting = False
        try:
            return self.agent.evaluate(split, episodes, greedy=True)
        finally:
            self.counter.counting = True

    @torch.no_grad()
    def act(self, observations: Observations, action_masks: np.ndarray | None = None, deterministic: bool = True) -> np.ndarray:
        """Actions from the policy on whole observations, without a KV cache (slower than the
        agent's own rollouts, same distribution). A tagger's previous label is read from
        ``previous_tags[word_index - 1]`` when the env has them, else "none" (exact for one-step
        envs such as Sentiment-v0)."""
        agent = self.agent
        policy, device = agent.policy, agent.device
        policy.eval()
        ids = torch.as_tensor(np.asarray(observations["input_ids"]), device=device)
        mask = torch.as_tensor(np.asarray(observations["attention_mask"]), device=device)
        with autocast(device, agent.bf16):
            if policy.kind == "causal_lm":
                positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
                logits, _, _ = policy.forward_tokens(ids, mask, positions, keep=1)
                logits = logits[:, -1]
            else:
                logits, _ = policy.head_outputs(policy.encode(ids, mask), *self._tagger_inputs(observations, len(ids)))
        allowed = None if action_masks is None else torch.as_tensor(np.asarray(action_masks, dtype=bool), device=device)
        scaled = masked_logits(logits, allowed, agent.config.temperature)
        actions = scaled.argmax(dim=-1) if deterministic else sample_actions(scaled, agent.sampling)
        return actions.cpu().numpy().astype(np.int64)

    def _tagger_inputs(self, observations: Observations, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.agent.device
        none = self.agent.policy.num_labels
        if "token_index" in observations:
            positions = torch.as_tensor(np.asarray(observations["token_index"])[:, 0], device=device)
        else:
            positions = torch.zeros(batch, dtype=torch.long, device=device)
        previous = np.full(batch, none, dtype=np.int64)
        if "previous_tags" in observations and "word_index" in observations:
            word = np.asarray(observations["word_index"])[:, 0]
            tags = np.asarray(observations["previous_tags"])
            has_previous = word > 0
            previous[has_previous] = tags[has_previous, word[has_previous] - 1]
        return positions, torch.as_tensor(previous, device=device)

    def save(self, folder: str | os.PathLike[str]) -> None:
        self.agent.save(folder)

    def load(self, folder: str | os.PathLike[str]) -> None:
        steps = self.counter.steps
        self.agent.close()
        self.agent = TokenPGAgent.load(folder, env_id=self.env_id, progress=False, eval_every=0)
        self._wrap_envs()
        self.counter.steps = steps

    def close(self) -> None:
        self.agent.close()
