"""The token-level policy-gradient agent: transformer policies trained against any env of the suite.

Read top to bottom, one training run (:meth:`TokenPGAgent.learn`) is:

1. build the vector envs (with ``reward_model``, their reward is a learned reward model's:
   :mod:`dialog_envs.agents.reward_env`) and a policy around their tokenizer;
2. optionally, a supervised warm start: maximum likelihood on the envs' expert actions;
3. repeat: collect a batched rollout (:func:`~dialog_envs.agents.rollout.collect_rollout`: KV
   cache, one forward per step for all envs) and take Adam steps on the algorithm's loss
   (:data:`dialog_envs.agents.losses.LOSSES`: REINFORCE, PPO, GRPO or RLOO), with a KL to the
   reference policy when asked: a per-token reward penalty, or the k3 estimator added to the loss;
4. before the first RL update and every ``eval_every`` updates, evaluate greedily on the
   validation split, keep the best checkpoint (so the policy before RL competes with RL's), stop
   early when the metric stops improving; write the last checkpoint regularly.

:class:`~dialog_envs.agents.callbacks.Callback` objects see every rollout, update and evaluation.
The agent satisfies the benchmark's :class:`~dialog_envs.agents.protocol.Agent` protocol itself
(:meth:`TokenPGAgent.make` is its factory in :mod:`dialog_envs.agents.registry`).
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

import dialog_envs  # noqa: F401  (registers the env ids)
from dialog_envs.agents.callbacks import Callback
from dialog_envs.agents.checkpoint import checkpoint_env_id, load_weights, read_state, recover, save_checkpoint
from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.device import autocast, resolve_device, use_bf16
from dialog_envs.agents.episodes import EpisodeLog, PlayedBatch, env_attribute, make_vec_env, play_batches
from dialog_envs.agents.losses import LOSSES, LossBatch, MovingAverage, k3_kl
from dialog_envs.agents.policies import CausalLMPolicy, TaggerPolicy, build_causal_lm, build_encoder, masked_logits
from dialog_envs.agents.pretrained import model_tokenizer, resolve_model
from dialog_envs.agents.protocol import Observations
from dialog_envs.agents.reward_env import RewardModelVectorReward
from dialog_envs.agents.reward_model import RewardModel
from dialog_envs.agents.rollout import Rollout, SamplingConfig, collect_rollout, sample_actions
from dialog_envs.agents.run_logging import RunLogger
from dialog_envs.envs.batched import episode_metrics
from dialog_envs.errors import DialogEnvsError

HARNESS_DEFAULTS: dict[str, Any] = {"eval_every": 0, "progress": False, "num_envs": 8}
"""Config overrides of :meth:`TokenPGAgent.make` (the benchmark harness's agents): no validation
passes during training (the harness evaluates on the test split itself), no progress bar, 8 envs."""


class TokenPGAgent:
    """Trains a transformer policy on one env id with token-level policy gradients.

    Args:
        env_id: a registered id, e.g. ``"dialog_envs/DialogueBLEU-v0"``.
        config: the :class:`~dialog_envs.agents.config.TokenPGConfig`.
        env_kwargs: constructor arguments of the env (``data_path``, ``reward``, ...).
        out_dir: where logs and checkpoints go (``None``: nothing is written).
        callbacks: hooks called by every :meth:`learn`.
    """

    name = "token-pg"

    def __init__(
        self,
        env_id: str,
        config: TokenPGConfig | None = None,
        env_kwargs: dict[str, Any] | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.config = config = config or TokenPGConfig()
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.callbacks = list(callbacks)
        self.device = resolve_device(config.device)
        self.bf16 = use_bf16(config.bf16, self.device)
        torch.manual_seed(config.seed)

        model = config.model
        if config.init_from is not None:
            read_state(config.init_from)  # one clear line when it is not a checkpoint
            if config.model is None:  # the checkpoint's own backbone
                model = str(Path(config.init_from) / "model")
            self.env_kwargs.setdefault("tokenizer", str(Path(config.init_from) / "tokenizer"))
        self.model_path, self.gguf_file = (None, None) if model is None else resolve_model(model, config.gguf_file)
        if self.model_path is not None and "tokenizer" not in self.env_kwargs:
            self.env_kwargs["tokenizer"] = model_tokenizer(self.model_path, self.gguf_file)
        self.envs = make_vec_env(env_id, self.env_kwargs, "train", config.num_envs)
        if config.reward_model is not None:  # the training reward; validation and test keep the env's own
            self.envs = RewardModelVectorReward(self.envs, RewardModel.load(config.reward_model, self.device))
        self.tokenizer = env_attribute(self.envs, "tokenizer")
        self.num_actions = int(self.envs.single_action_space.n)
        self.policy = self._build_policy().to(self.device)
        if config.init_from is not None:
            load_weights(config.init_from, self.policy)
        self.reference = self._build_reference()
        # Data parallel (under torchrun): every rank steps its own envs with its own seeds; DDP
        # averages the gradients, so the ranks' weights stay identical.
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        self.trainable: torch.nn.Module = self.policy
        if dist.is_initialized() and dist.get_world_size() > 1:
            self.trainable = DistributedDataParallel(self.policy, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = torch.optim.AdamW(
            [p for p in self.policy.parameters() if p.requires_grad],
            lr=config.learning_rate,
            weight_decay=config.weight_decay,
        )
        self.sampling = SamplingConfig(config.temperature, config.top_k, config.top_p)
        self.update = 0  # RL updates done (warm-start updates are counted apart)
        self.warm_start_done = 0
        self.baseline = MovingAverage(0.0, config.baseline_decay)
        self.kl_coef = config.kl_coef
        self.best_metric = -math.inf
        self.evals_without_improvement = 0
        self.history: list[dict[str, float]] = []
        self.env_steps = 0
        """Env steps of the training rollouts (warm start included), over every :meth:`learn`."""
        self.episodes = EpisodeLog()
        """Every training episode's end (in env steps) and return: the learning curve's data."""
        self.curve_points = 10
        """Points of the learning curve ``learn(budget)`` returns."""
        self._eval_envs: dict[str, gym.vector.VectorEnv] = {}

    @classmethod
    def make(
        cls, env_id: str, *, env_kwargs: dict[str, Any] | None = None, seed: int = 0, curve_points: int = 10, **config: Any
    ) -> TokenPGAgent:
        """The agent as :func:`dialog_envs.agents.registry.make` builds it: ``config`` holds
        :class:`~dialog_envs.agents.config.TokenPGConfig` fields (over :data:`HARNESS_DEFAULTS`),
        e.g. ``algorithm="ppo"``, ``model_config={"n_layer": 1}``; nothing is written to disk."""
        settings = TokenPGConfig.from_dict({**HARNESS_DEFAULTS, **config, "seed": seed}, source="token-pg config")
        agent = cls(env_id, settings, env_kwargs, out_dir=None)
        agent.curve_points = curve_points
        return agent

    @property
    def _writes(self) -> bool:
        """Whether this process writes logs and checkpoints: it has a folder and is rank 0."""
        return self.out_dir is not None and self.rank == 0

    # -- building ---------------------------------------------------------------------------------

    def _build_policy(self) -> CausalLMPolicy | TaggerPolicy:
        config = self.config
        kind = config.policy
        if kind == "auto":
            kind = "causal_lm" if self.num_actions == len(self.tokenizer) else "tagger"
        value_head = config.algorithm == "ppo" or (config.algorithm == "reinforce" and config.baseline == "value")
        window = int(self.envs.single_observation_space["input_ids"].shape[0])
        if kind == "causal_lm":
            model = build_causal_lm(self.tokenizer, self.model_path, self.gguf_file, config.model_config, 2 * window)
            policy: CausalLMPolicy | TaggerPolicy = CausalLMPolicy(
                self._maybe_lora(model), self.tokenizer.pad_token_id, self.num_actions, value_head, config.max_context_tokens
            )
        else:
            encoder = build_encoder(self.tokenizer, self.model_path, config.model_config, window)
            shape_space = self.envs.single_observation_space.get("word_shape")
            word_shapes = int(shape_space.high.max()) + 1 if config.word_shape_features and shape_space is not None else 0
            policy = TaggerPolicy(self._maybe_lora(encoder), self.num_actions, value_head, word_shapes)
        if config.compile:
            policy.backbone.forward = torch.compile(policy.backbone.forward)
        return policy

    def _maybe_lora(self, model: Any) -> Any:
        if self.config.lora_rank <= 0:
            return model
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError:
            raise DialogEnvsError("lora_rank > 0 needs the peft package: pip install peft") from None
        lora = LoraConfig(r=self.config.lora_rank, lora_alpha=2 * self.config.lora_rank, target_modules="all-linear")
        return get_peft_model(model, lora)

    def _build_reference(self) -> CausalLMPolicy | TaggerPolicy | None:
        """The reference of the KL before any training: a frozen copy of the policy; None without a
        KL, or with LoRA (and no ``init_from``), where the policy with its adapter disabled is the
        reference (no copy)."""
        if self.config.kl_coef <= 0 or (self.config.lora_rank > 0 and self.config.init_from is None):
            return None
        return self._frozen_copy()

    def _frozen_copy(self) -> CausalLMPolicy | TaggerPolicy:
        reference = copy.deepcopy(self.policy).eval()
        reference.requires_grad_(False)
        return reference

    @contextmanager
    def _reference_policy(self) -> Iterator[CausalLMPolicy | TaggerPolicy]:
        if self.reference is not None:
            yield self.reference
        else:
            with self.policy.backbone.disable_adapter():
                yield self.policy

    # -- the training loop ------------------------------------------------------------------------

    def learn(
        self, budget: int | None = None, *, updates: int | None = None, callbacks: Sequence[Callback] = ()
    ) -> list[dict[str, float]]:
        """Warm start (if configured and not done yet), then RL updates. How long:

        * ``budget`` (the :class:`~dialog_envs.agents.protocol.Agent` protocol): whole RL updates,
          one at a time, until ``budget`` more env steps are taken (warm-start steps count too);
          returns the learning curve of this call (``curve_points`` points of mean training return).
        * else until ``updates`` RL updates in total (default: the config's ``updates``); returns the
          evaluation history (one dict per validation evaluation, over the whole run).
        """
        callbacks = [*self.callbacks, *callbacks]
        if budget is None:
            return self._train(updates if updates is not None else self.config.updates, callbacks)
        if updates is not None:
            raise DialogEnvsError("learn takes a budget of env steps or a number of updates, not both")
        if budget <= 0:
            raise DialogEnvsError(f"budget must be > 0 env steps, got {budget}")
        start = self.env_steps
        target = start + budget
        while True:
            self._train(self.update + 1, callbacks)
            if self.env_steps >= target:
                break
        return self.episodes.curve(start, target, self.curve_points)

    def _train(self, total: int, callbacks: list[Callback]) -> list[dict[str, float]]:
        """Warm start if not done, then RL updates until ``total``; the evaluation history."""
        config = self.config
        if config.eval_every:
            self.split_envs("validation")  # a validation split that cannot be built fails now, not after training
        logger = RunLogger(self.out_dir, resume_update=self.update, resume_warm_start=self.warm_start_done) if self._writes else None
        if self.warm_start_done < config.warm_start_updates:
            self._warm_start(logger)
            if config.kl_coef > 0:  # the KL is to the warm-started policy (with LoRA too: the warm start trained the adapter)
                self.reference = self._frozen_copy()
        if self._writes and self.update == 0:
            self.save(self.out_dir / "checkpoints" / "initial")  # the policy before RL, for before/after reports
        progress = tqdm(total=total, initial=self.update, desc="RL", disable=not config.progress or self.rank > 0, dynamic_ncols=True)
        stopped_early = False
        if config.eval_every and self.update == 0 and total > 0 and not self.history:
            # The policy before RL (warm-started or initial) competes for "best": RL is chosen only when it beats it.
            stopped_early = self._evaluate_and_keep_best(logger, callbacks)
        while self.update < total and not stopped_early:
            started = time.perf_counter()
            rollout = self._collect(self._rollout_seeds())
            for callback in callbacks:
                callback.on_rollout(self, rollout)
            stats = self._update_policy(rollout, total)
            self.update += 1
            stats["tokens_per_second"] = rollout.num_steps / (time.perf_counter() - started)
            progress.update(1)
            progress.set_postfix(self._progress_figures(stats))
            if logger is not None:
                logger.log(self.update, "train", stats)
            for callback in callbacks:
                callback.on_update(self, stats)
            if config.eval_every and (self.update % config.eval_every == 0 or self.update == total):
                stopped_early = self._evaluate_and_keep_best(logger, callbacks)
            if self._writes and (self.update % config.save_every == 0 or self.update == total or stopped_early):
                self.save(self.out_dir / "checkpoints" / "last")
        progress.close()
        if logger is not None:
            logger.close()
        return self.history

    @staticmethod
    def _progress_figures(stats: dict[str, float]) -> dict[str, str]:
        """What the progress bar shows of an update's stats."""
        shown = {"reward": "return", "kl": "kl", "entropy": "entropy", "reply": "reply_tokens", "clip": "clipfrac"}
        figures = {label: f"{stats[name]:.3g}" for label, name in shown.items() if name in stats}
        return {**figures, "tok_s": f"{stats['tokens_per_second']:.0f}"}

    def _collect(self, seeds: list[int], expert: bool = False) -> Rollout:
        """One training rollout (of the envs' expert actions with ``expert=True``), counted in
        :attr:`env_steps` and :attr:`episodes`."""
        rollout = collect_rollout(
            self.policy, self.envs, seeds, self.sampling, self.device, self.config.max_episode_steps, self.bf16, expert=expert
        )
        steps_after = (self.env_steps + rollout.valid.sum(dim=0).cumsum(dim=0)).tolist()  # once step t of every env is taken
        last_steps = (rollout.valid.sum(dim=1) - 1).clamp(min=0).tolist()
        for last_step, episode_return in zip(last_steps, rollout.returns.tolist()):
            self.episodes.record(steps_after[last_step], episode_return)
        self.env_steps += rollout.num_steps
        return rollout

    def _rollout_seeds(self) -> list[int]:
        """Fresh seeds per update; the members of a GRPO/RLOO group share one (same context)."""
        config = self.config
        base = config.seed * 1_000_003 + self.update * config.num_envs + self.rank * 100_000_019
        group = config.group_size if config.algorithm in ("grpo", "rloo") else 1
        return [base + index // group for index in range(config.num_envs)]

    def _warm_start(self, logger: RunLogger | None) -> None:
        """Maximum likelihood on expert actions (reference replies, gold tags, reference-agent turns)."""
        config = self.config
        progress = tqdm(
            total=config.warm_start_updates, initial=self.warm_start_done, desc="warm start",
            disable=not config.progress or self.rank > 0, dynamic_ncols=True,
        )
        while self.warm_start_done < config.warm_start_updates:
            rollout = self._collect(self._warm_start_seeds(), expert=True)
            self._set_learning_rate(
                config.warm_start_learning_rate, config.warm_start_lr_schedule, config.warm_start_warmup_updates,
                self.warm_start_done, config.warm_start_updates,
            )
            self.policy.train()
            log_probs, _, _ = self._evaluate_steps(rollout, temperature=1.0)  # plain maximum likelihood
            loss = -(log_probs * rollout.valid).sum() / rollout.valid.sum()
            self._gradient_step(loss)
            self.warm_start_done += 1
            progress.update(1)
            progress.set_postfix(nll=f"{loss.item():.3f}")
            if logger is not None:
                logger.log(self.warm_start_done, "warm_start", {"nll": loss.item(), "learning_rate": self.optimizer.param_groups[0]["lr"]})
            if self._writes and (self.warm_start_done % config.save_every == 0 or self.warm_start_done == config.warm_start_updates):
                self.save(self.out_dir / "checkpoints" / "last")  # a crash resumes the warm start from here
        progress.close()

    def _warm_start_seeds(self) -> list[int]:
        base = 10**9 + self.config.seed * 1_000_003 + self.warm_start_done * self.config.num_envs + self.rank * 100_000_019
        return list(range(base, base + self.config.num_envs))

    def _evaluate_steps(
        self, rollout: Rollout, temperature: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Recompute (with gradients) the log-probs, values and entropies of the rollout's actions,
        under the sampling temperature unless another one is given."""
        with autocast(self.device, self.bf16):
            logits, values = self.trainable(rollout.policy_inputs)
        scaled = masked_logits(logits, rollout.action_masks, temperature or self.config.temperature)
        log_all = scaled.log_softmax(dim=-1)
        log_probs = log_all.gather(-1, rollout.actions[..., None])[..., 0]
        probabilities = log_all.exp()
        entropy = -(probabilities * log_all.masked_fill(probabilities == 0, 0.0)).sum(-1)
        return log_probs, None if values is None else values.float(), entropy

    def _update_policy(self, rollout: Rollout, total: int) -> dict[str, float]:
        """One update from one rollout: the KL to the reference (a reward penalty, or a loss term
        added to the algorithm's loss), then gradient steps on the loss (PPO: ``ppo_epochs`` passes
        of ``ppo_minibatches`` steps); returns what is worth logging."""
        config = self.config
        valid = rollout.valid
        turns = (rollout.turn_ends & valid).sum().clamp(min=1)
        stats: dict[str, float] = {
            "return": rollout.returns.mean().item(),
            "episode_steps": rollout.num_steps / valid.shape[0],
            "reply_tokens": (valid.sum() / turns).item(),  # tokens (steps) per agent turn
        }
        rewards = rollout.rewards
        kl_coef, reference_log_probs = self.kl_coef, None
        if kl_coef > 0:
            reference_log_probs = self._reference_log_probs(rollout)
            kl = (rollout.log_probs - reference_log_probs) * valid
            if config.kl_form == "reward":
                rewards = rewards - kl_coef * kl
            stats["kl"] = (kl.sum() / valid.sum().clamp(min=1)).item()
            stats["kl_coef"] = kl_coef
            self._adapt_kl(stats["kl"])
        self._set_learning_rate(config.learning_rate, config.lr_schedule, config.warmup_updates, self.update, total)
        # No dropout in RL updates: the recomputed log-probs must be those the actions were sampled
        # from (PPO's ratio starts at exactly 1), as in TRL. The warm start keeps dropout.
        self.policy.eval()
        loss_function = LOSSES[config.algorithm]
        epochs, minibatches = (config.ppo_epochs, config.ppo_minibatches) if config.algorithm == "ppo" else (1, 1)
        clipfracs: list[float] = []
        for _ in range(epochs):
            for rows in self._minibatch_rows(rollout.valid.shape[0], minibatches):
                batch = self._loss_batch(rollout, rewards, rows)
                loss, logged = loss_function(batch, config)
                if reference_log_probs is not None and config.kl_form == "loss":
                    reference = reference_log_probs if rows is None else reference_log_probs[rows.to(reference_log_probs.device)]
                    logged["kl_loss"] = k3_kl(batch.log_probs, reference, batch.valid)
                    loss = loss + kl_coef * logged["kl_loss"]
                self._gradient_step(loss)
                if "clipfrac" in logged:
                    clipfracs.append(logged["clipfrac"].item())
        stats.update({name: value.item() for name, value in logged.items()})
        if clipfracs:
            stats["clipfrac"] = float(np.mean(clipfracs))
        stats["learning_rate"] = self.optimizer.param_groups[0]["lr"]
        stats.update({f"env/{key}": value for key, value in episode_metrics(self.envs, rollout.final_info).items()})
        return stats

    def _reference_log_probs(self, rollout: Rollout) -> torch.Tensor:
        """``log pi_ref(a|s)`` of the rollout's actions under the sampling temperature and masks."""
        with torch.no_grad(), self._reference_policy() as reference, autocast(self.device, self.bf16):
            reference_logits, _ = reference(rollout.policy_inputs)
        reference_log_probs = masked_logits(reference_logits, rollout.action_masks, self.config.temperature).log_softmax(-1)
        return reference_log_probs.gather(-1, rollout.actions[..., None])[..., 0]

    def _minibatch_rows(self, episodes: int, minibatches: int) -> list[torch.Tensor | None]:
        """The episodes of each minibatch, shuffled (``None``: the whole rollout, in order)."""
        if minibatches == 1:
            return [None]
        return list(torch.randperm(episodes).tensor_split(minibatches))

    def _loss_batch(self, rollout: Rollout, rewards: torch.Tensor, rows: torch.Tensor | None) -> LossBatch:
        """What the loss needs of the episodes ``rows`` (all when None), with the policy's
        log-probs, values and entropies recomputed with gradients."""
        if rows is not None:
            rollout, rewards = rollout.select(rows), rewards[rows.to(rewards.device)]
        log_probs, values, entropy = self._evaluate_steps(rollout)
        return LossBatch(
            log_probs=log_probs, values=values, entropy=entropy, old_log_probs=rollout.log_probs, old_values=rollout.values,
            rewards=rewards, valid=rollout.valid, turn_ends=rollout.turn_ends, baseline=self.baseline,
        )

    def _gradient_step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.max_grad_norm)
        self.optimizer.step()

    def _adapt_kl(self, kl: float) -> None:
        """Adaptive KL coefficient (Ziegler et al. 2019): nudge beta towards the target KL."""
        target = self.config.kl_target
        if target is None:
            return
        error = float(np.clip(kl / target - 1, -0.2, 0.2))
        self.kl_coef *= 1 + 0.1 * error

    def _set_learning_rate(self, base: float, schedule: str, warmup: int, step: int, total: int) -> None:
        """Set the optimizer's rate for update ``step`` of ``total``: a linear warm-up over the first
        ``warmup`` updates, then ``schedule`` (constant, linear or cosine decay to 0 at ``total``)."""
        if warmup and step < warmup:
            factor = (step + 1) / warmup
        elif schedule == "linear":
            factor = 1 - step / max(total, 1)
        elif schedule == "cosine":
            factor = 0.5 * (1 + math.cos(math.pi * step / max(total, 1)))
        else:
            factor = 1.0
        for group in self.optimizer.param_groups:
            group["lr"] = base * factor

    # -- evaluation and acting --------------------------------------------------------------------

    def split_envs(self, split: str) -> gym.vector.VectorEnv:
        """The agent's vector envs on ``split`` (the training envs for ``"train"``), built once."""
        if split == "train":
            return self.envs
        if split not in self._eval_envs:
            self._eval_envs[split] = make_vec_env(self.env_id, self.env_kwargs, split, self.config.num_envs)
        return self._eval_envs[split]

    @torch.no_grad()
    def play(self, split: str = "validation", episodes: int | None = 64, greedy: bool = True) -> PlayedBatch:
        """Play ``episodes`` seeded evaluation episodes of ``split`` with KV-cached rollouts, or with
        ``episodes=None`` every example of the split once (see
        :func:`~dialog_envs.agents.episodes.play_batches`); each episode's return, length and last info."""
        config = self.config
        envs = self.split_envs(split)
        sampling = SamplingConfig(config.temperature, config.top_k, config.top_p, greedy=greedy)

        def play_batch(seeds: list[int], options: dict[str, Any] | None) -> PlayedBatch:
            rollout = collect_rollout(
                self.policy, envs, seeds, sampling, self.device, config.max_episode_steps, self.bf16, reset_options=options
            )
            return rollout.returns.tolist(), rollout.valid.sum(dim=1).tolist(), rollout.final_info

        return play_batches(envs, play_batch, episodes)

    def evaluate(self, split: str = "validation", episodes: int | None = None, greedy: bool = True) -> dict[str, float]:
        """Mean return and the env's episode metrics over ``episodes`` (default ``eval_episodes``)
        seeded episodes, the same ones as :func:`dialog_envs.agents.episodes.run_episodes` plays."""
        returns, _, infos = self.play(split, episodes or self.config.eval_episodes, greedy)
        return {"return": float(np.mean(returns)), **episode_metrics(self.split_envs(split), infos)}

    @torch.no_grad()
    def expert_nll(self, split: str = "test", episodes: int | None = None) -> float:
        """Mean negative log-likelihood per token of the env's expert actions (reference replies,
        gold tags) under the policy at temperature 1, over the evaluation's seeded episodes.
        ``exp`` of it is the references' perplexity, where reward hacking shows."""
        config = self.config
        envs = self.split_envs(split)

        def nll_batch(seeds: list[int], options: dict[str, Any] | None) -> PlayedBatch:
            rollout = collect_rollout(self.policy, envs, seeds, self.sampling, self.device, config.max_episode_steps, self.bf16, expert=True)
            log_probs, _, _ = self._evaluate_steps(rollout, temperature=1.0)
            nll = -(log_probs * rollout.valid).sum(dim=1)
            return nll.tolist(), rollout.valid.sum(dim=1).tolist(), rollout.final_info

        nll, tokens, _ = play_batches(envs, nll_batch, episodes or config.eval_episodes)
        return sum(nll) / max(sum(tokens), 1)

    def _evaluate_and_keep_best(self, logger: RunLogger | None, callbacks: list[Callback]) -> bool:
        """Evaluate on validation; save ``best`` on improvement; True when it is time to stop."""
        metrics = self.evaluate("validation")
        metrics["update"] = self.update
        self.history.append(metrics)
        if logger is not None:
            logger.log(self.update, "validation", metrics)
        for callback in callbacks:
            callback.on_eval(self, metrics)
        name = self.config.eval_metric
        if name not in metrics:
            raise DialogEnvsError(f"eval_metric {name!r} is not among the evaluation metrics: {', '.join(metrics)}")
        if metrics[name] > self.best_metric:
            self.best_metric = metrics[name]
            self.evals_without_improvement = 0
            if self._writes:
                self.save(self.out_dir / "checkpoints" / "best")
            return False
        self.evals_without_improvement += 1
        return bool(self.config.patience) and self.evals_without_improvement >= self.config.patience

    def settings(self) -> dict[str, Any]:
        """Every field of the agent's :class:`~dialog_envs.agents.config.TokenPGConfig` (recorded in
        benchmark results)."""
        return self.config.to_dict()

    @torch.no_grad()
    def act(self, observations: Observations, action_masks: np.ndarray | None = None, deterministic: bool = True) -> np.ndarray:
        """Actions from the policy on whole observations, without a KV cache (slower than the
        agent's own rollouts, same distribution). A tagger's previous label is read from
        ``previous_tags[word_index - 1]`` when the env observes them, else "none" (exact for
        one-step envs such as Sentiment-v0)."""
        policy, device = self.policy, self.device
        policy.eval()
        ids = torch.as_tensor(np.asarray(observations["input_ids"]), device=device)
        mask = torch.as_tensor(np.asarray(observations["attention_mask"]), device=device)
        with autocast(device, self.bf16):
            if policy.kind == "causal_lm":
                if policy.context_window is not None:  # the last W tokens, at most the model's positions
                    ids, mask = ids[:, -policy.context_window :], mask[:, -policy.context_window :]
                positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
                logits, _, _ = policy.forward_tokens(ids, mask, positions, keep=1)
                logits = logits[:, -1]
            else:
                shapes = torch.as_tensor(np.asarray(observations["word_shape"]), device=device) if "word_shape" in observations else None
                logits, _ = policy.head_outputs(policy.encode(ids, mask, shapes), *self._tagger_inputs(observations, len(ids)))
        allowed = None if action_masks is None else torch.as_tensor(np.asarray(action_masks, dtype=bool), device=device)
        scaled = masked_logits(logits, allowed, self.config.temperature)
        actions = scaled.argmax(dim=-1) if deterministic else sample_actions(scaled, self.sampling)
        return actions.cpu().numpy().astype(np.int64)

    def _tagger_inputs(self, observations: Observations, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The tagger's position and previous label of every row, from the observations."""
        device = self.device
        none = self.policy.num_labels
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

    # -- saving and loading -----------------------------------------------------------------------

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write a checkpoint (atomically; see :mod:`dialog_envs.agents.checkpoint`)."""
        state = {
            "agent": self.name,
            "env_id": self.env_id,
            "env_kwargs": {k: v for k, v in self.env_kwargs.items() if isinstance(v, (str, int, float, bool, dict, list, type(None)))},
            "config": asdict(self.config),
            "policy_kind": self.policy.kind,
            "update": self.update,
            "warm_start_done": self.warm_start_done,
            "baseline": self.baseline.value,
            "kl_coef": self.kl_coef,
            "best_metric": self.best_metric if math.isfinite(self.best_metric) else None,
            "evals_without_improvement": self.evals_without_improvement,
            "history": self.history,
            "torch_rng_state": torch.get_rng_state().tolist(),
        }
        save_checkpoint(folder, self.policy, self.policy.backbone, self.tokenizer, self.optimizer, state)

    @classmethod
    def from_checkpoint(
        cls,
        folder: str | os.PathLike[str],
        env_id: str | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        allow_module_env_id: bool = False,
        **config_overrides: Any,
    ) -> TokenPGAgent:
        """Rebuild an agent from a checkpoint: same env (unless ``env_id`` is given), config (with
        ``config_overrides``), tokenizer, policy weights, optimizer state and counters, so that
        :meth:`learn` continues the run. The checkpoint's env id must be a registered one unless
        ``allow_module_env_id`` trusts a ``module:`` prefix (see :func:`checkpoint_env_id`)."""
        folder = Path(folder)
        recover(folder)
        state = read_state(folder)
        # The backbone comes from model/; a LoRA policy is wrapped again and policy.safetensors then
        # restores its base weights and adapter exactly.
        values = {**state["config"], **config_overrides, "model": str(folder / "model"), "gguf_file": None}
        config = TokenPGConfig.from_dict(values, source=str(folder / "state.json"))
        env_kwargs = {**state["env_kwargs"], "tokenizer": str(folder / "tokenizer")}
        agent = cls(env_id or checkpoint_env_id(state, folder, allow_module_env_id), config, env_kwargs, out_dir)
        agent._restore(folder, state)
        initial = folder.parent / "initial"
        if config.kl_coef > 0 and agent.warm_start_done and (initial / "state.json").exists():
            # the KL reference is the policy after the warm start, which the run saved as 'initial'
            agent.reference = agent._frozen_copy()
            load_weights(initial, agent.reference)
        return agent

    def load(self, folder: str | os.PathLike[str]) -> None:
        """Load a checkpoint's weights, optimizer state and counters into this agent (built with
        the same env and config), as the Agent protocol asks; :meth:`from_checkpoint` builds a new
        agent from one. The env steps taken so far stay this agent's own."""
        folder = Path(folder)
        recover(folder)
        self._restore(folder, read_state(folder))

    def _restore(self, folder: Path, state: dict[str, Any]) -> None:
        """Weights, optimizer state and counters from the checkpoint ``folder`` whose state is ``state``."""
        load_weights(folder, self.policy, self.optimizer)
        self.update = state["update"]
        self.warm_start_done = state["warm_start_done"]
        self.baseline.value = state["baseline"]
        self.kl_coef = state["kl_coef"]
        self.best_metric = state["best_metric"] if state["best_metric"] is not None else -math.inf
        self.evals_without_improvement = state["evals_without_improvement"]
        self.history = state["history"]
        torch.set_rng_state(torch.tensor(state["torch_rng_state"], dtype=torch.uint8))

    def close(self) -> None:
        self.envs.close()
        for envs in self._eval_envs.values():
            envs.close()

