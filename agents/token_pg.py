"""The token-level policy-gradient agent: transformer policies trained against any env of the suite.

Read top to bottom, one training run is:

1. build the vector envs (``gym.make_vec``) and a policy around their tokenizer;
2. optionally, a supervised warm start: maximum likelihood on the envs' expert actions;
3. repeat: collect a batched rollout (KV cache, one forward per step for all envs), turn rewards
   into advantages (REINFORCE with a baseline, PPO with GAE, or group-relative GRPO/RLOO), with a
   per-token KL penalty against a frozen reference when asked, and take Adam steps;
4. every ``eval_every`` updates, evaluate greedily on the validation split, keep the best
   checkpoint, stop early when the metric stops improving; write the last checkpoint regularly.

The seed's update is REINFORCE: ``theta <- theta + lr * sum_t grad log pi(a_t|s_t) * (R - b)``.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Iterator
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
from dialog_envs.agents.advantages import discounted_returns, generalized_advantages, group_advantages, whiten
from dialog_envs.agents.checkpoint import load_weights, read_state, recover, save_checkpoint
from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.device import autocast, resolve_device, use_bf16
from dialog_envs.agents.episodes import EVAL_SEED_BASE
from dialog_envs.agents.policies import CausalLMPolicy, TaggerPolicy, build_causal_lm, build_encoder, masked_logits
from dialog_envs.agents.pretrained import resolve_model
from dialog_envs.agents.rollout import Rollout, SamplingConfig, collect_rollout
from dialog_envs.agents.run_logging import RunLogger
from dialog_envs.envs.batched import episode_metrics
from dialog_envs.errors import DialogEnvsError


def make_envs(env_id: str, num_envs: int, env_kwargs: dict[str, Any], split: str) -> gym.vector.VectorEnv:
    """``num_envs`` copies of the env on ``split`` through Gymnasium's vector API."""
    kwargs = {**env_kwargs, "split": split}
    try:
        return gym.make_vec(env_id, num_envs=num_envs, **kwargs)
    except gym.error.Error as error:
        raise DialogEnvsError(f"cannot make {env_id!r}: {error}") from None


def env_attribute(envs: gym.vector.VectorEnv, name: str) -> Any:
    """An attribute of the (first) env: the vector env's own, or a sub-env's (``get_attr`` would
    call it if it is callable, as a tokenizer is)."""
    if hasattr(envs, name):
        return getattr(envs, name)
    return envs.call("get_wrapper_attr", name)[0]


class TokenPGAgent:
    """Trains a transformer policy on one env id with token-level policy gradients.

    Args:
        env_id: a registered id, e.g. ``"dialog_envs/DialogueBLEU-v0"``.
        config: the :class:`~dialog_envs.agents.config.TokenPGConfig`.
        env_kwargs: constructor arguments of the env (``data_path``, ``reward``, ...).
        out_dir: where logs and checkpoints go (``None``: nothing is written).
    """

    name = "token-pg"

    def __init__(
        self,
        env_id: str,
        config: TokenPGConfig | None = None,
        env_kwargs: dict[str, Any] | None = None,
        out_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.config = config = config or TokenPGConfig()
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.device = resolve_device(config.device)
        self.bf16 = use_bf16(config.bf16, self.device)
        torch.manual_seed(config.seed)

        self.model_path, self.gguf_file = (None, None) if config.model is None else resolve_model(config.model, config.gguf_file)
        if self.model_path is not None and "tokenizer" not in self.env_kwargs:
            self.env_kwargs["tokenizer"] = _model_tokenizer(self.model_path, self.gguf_file)
        self.envs = make_envs(env_id, config.num_envs, self.env_kwargs, "train")
        self.tokenizer = env_attribute(self.envs, "tokenizer")
        self.num_actions = int(self.envs.single_action_space.n)
        self.policy = self._build_policy().to(self.device)
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
        self.baseline = 0.0
        self.kl_coef = config.kl_coef
        self.best_metric = -math.inf
        self.evals_without_improvement = 0
        self.history: list[dict[str, float]] = []
        self._eval_envs: dict[str, gym.vector.VectorEnv] = {}

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
                self._maybe_lora(model), self.tokenizer.pad_token_id, self.num_actions, value_head
            )
        else:
            encoder = build_encoder(self.tokenizer, self.model_path, config.model_config, window)
            policy = TaggerPolicy(self._maybe_lora(encoder), self.num_actions, value_head)
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
        """The frozen reference of the KL penalty; with LoRA the policy itself, adapter disabled."""
        if self.config.kl_coef <= 0 or self.config.lora_rank > 0:
            return None
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

    def learn(self, updates: int | None = None) -> list[dict[str, float]]:
        """Warm start (if configured and not done yet), then RL until ``updates`` updates in total.

        Returns the evaluation history (one dict per evaluation).
        """
        config = self.config
        total = updates if updates is not None else config.updates
        logger = RunLogger(self.out_dir, resume_update=self.update) if self._writes else None
        if self.warm_start_done < config.warm_start_updates:
            self._warm_start(logger)
        if self._writes and self.update == 0:
            self.save(self.out_dir / "checkpoints" / "initial")  # the policy before RL, for before/after reports
        progress = tqdm(total=total, initial=self.update, desc="RL", disable=not config.progress or self.rank > 0, dynamic_ncols=True)
        stopped_early = False
        while self.update < total and not stopped_early:
            started = time.perf_counter()
            rollout = collect_rollout(
                self.policy, self.envs, self._rollout_seeds(), self.sampling, self.device,
                config.max_episode_steps, self.bf16,
            )
            stats = self._update_policy(rollout, total)
            self.update += 1
            stats["tokens_per_second"] = rollout.num_steps / (time.perf_counter() - started)
            progress.update(1)
            progress.set_postfix(reward=f"{stats['return']:.3g}", tok_s=f"{stats['tokens_per_second']:.0f}")
            if logger is not None:
                logger.log(self.update, "train", stats)
            if config.eval_every and (self.update % config.eval_every == 0 or self.update == total):
                stopped_early = self._evaluate_and_keep_best(logger)
            if self._writes and (self.update % config.save_every == 0 or self.update == total or stopped_early):
                self.save(self.out_dir / "checkpoints" / "last")
        progress.close()
        if logger is not None:
            logger.close()
        return self.history

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
            rollout = collect_rollout(
                self.policy, self.envs, self._warm_start_seeds(), self.sampling, self.device,
                config.max_episode_steps, self.bf16, expert=True,
            )
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
        """One update from one rollout; returns what is worth logging."""
        config = self.config
        valid = rollout.valid
        n_valid = valid.sum().clamp(min=1)
        stats: dict[str, float] = {"return": rollout.returns.mean().item(), "episode_steps": rollout.num_steps / valid.shape[0]}
        rewards = rollout.rewards
        if config.kl_coef > 0:
            with torch.no_grad(), self._reference_policy() as reference, autocast(self.device, self.bf16):
                reference_logits, _ = reference(rollout.policy_inputs)
            reference_log_probs = masked_logits(reference_logits, rollout.action_masks, config.temperature).log_softmax(-1)
            reference_log_probs = reference_log_probs.gather(-1, rollout.actions[..., None])[..., 0]
            kl = (rollout.log_probs - reference_log_probs) * valid
            rewards = rewards - self.kl_coef * kl
            stats["kl"] = (kl.sum() / n_valid).item()
            stats["kl_coef"] = self.kl_coef
            self._adapt_kl(stats["kl"])
        self._set_learning_rate(config.learning_rate, config.lr_schedule, config.warmup_updates, self.update, total)
        # No dropout in RL updates: the recomputed log-probs must be those the actions were sampled
        # from (PPO's ratio starts at exactly 1), as in TRL. The warm start keeps dropout.
        self.policy.eval()

        if config.algorithm == "ppo":
            advantages, returns = generalized_advantages(
                rewards, rollout.values, valid, rollout.turn_ends, config.gamma, config.gae_lambda
            )
            if config.whiten_advantages:
                advantages = whiten(advantages, valid)
            for _ in range(config.ppo_epochs):
                log_probs, values, entropy = self._evaluate_steps(rollout)
                ratio = (log_probs - rollout.log_probs).exp()
                clipped = ratio.clamp(1 - config.clip_range, 1 + config.clip_range)
                policy_loss = (torch.max(-advantages * ratio, -advantages * clipped) * valid).sum() / n_valid
                value_loss = (((values - returns) ** 2) * valid).sum() / n_valid
                entropy_mean = (entropy * valid).sum() / n_valid
                loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy_mean
                self._gradient_step(loss)
            stats.update(value_loss=value_loss.item(), clip_fraction=(((ratio - 1).abs() > config.clip_range) * valid).sum().item() / n_valid.item())
        else:
            log_probs, values, entropy = self._evaluate_steps(rollout)
            value_loss = torch.zeros((), device=self.device)
            if config.algorithm in ("grpo", "rloo"):
                episode_returns = (rewards * valid).sum(dim=1)
                advantages = group_advantages(episode_returns, config.group_size, config.algorithm)[:, None].expand_as(rewards)
            else:  # REINFORCE: G_t - b
                returns = discounted_returns(rewards, valid, rollout.turn_ends, config.gamma)
                if config.baseline == "value":
                    advantages = returns - rollout.values
                    value_loss = (((values - returns) ** 2) * valid).sum() / n_valid
                else:
                    advantages = returns - self.baseline
                    mean_return = ((returns * valid).sum() / n_valid).item()
                    self.baseline = config.baseline_decay * self.baseline + (1 - config.baseline_decay) * mean_return
                if config.whiten_advantages:
                    advantages = whiten(advantages, valid)
            policy_loss = -(log_probs * advantages.detach() * valid).sum() / n_valid
            entropy_mean = (entropy * valid).sum() / n_valid
            loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy_mean
            self._gradient_step(loss)
            stats["value_loss"] = value_loss.item()
        stats.update(policy_loss=policy_loss.item(), entropy=entropy_mean.item(), learning_rate=self.optimizer.param_groups[0]["lr"])
        stats.update({f"env/{key}": value for key, value in episode_metrics(self.envs, rollout.final_info).items()})
        return stats

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

    # -- evaluation -------------------------------------------------------------------------------

    @torch.no_grad()
    def run_episodes(
        self, split: str = "validation", episodes: int | None = None, greedy: bool = True, walk: bool = False
    ) -> tuple[list[float], list[dict[str, Any]]]:
        """Play episodes of ``split`` with the current policy; returns their returns and last infos.

        By default ``episodes`` (``eval_episodes``) episodes with fixed seeds. With ``walk=True``,
        every example of the split once, in order (the env must accept
        ``reset(options={"index": "seed"})`` and have a ``split_size``), as test-set reports need.
        """
        config = self.config
        envs = self._split_envs(split)
        if walk:
            episodes = int(env_attribute(envs, "split_size"))
            seed_of = lambda index: index  # noqa: E731  (the seed is the example's index)
            options = {"index": "seed"}
        else:
            episodes = episodes or config.eval_episodes
            seed_of = lambda index: EVAL_SEED_BASE - index  # noqa: E731  (far from the training seeds)
            options = None
        sampling = SamplingConfig(config.temperature, config.top_k, config.top_p, greedy=greedy)
        returns: list[float] = []
        infos: list[dict[str, Any]] = []
        for start in range(0, episodes, config.num_envs):
            # the last batch repeats the last example to fill every env; the extras are dropped
            seeds = [seed_of(min(index, episodes - 1)) for index in range(start, start + config.num_envs)]
            rollout = collect_rollout(
                self.policy, envs, seeds, sampling, self.device, config.max_episode_steps, self.bf16,
                reset_options=options,
            )
            keep = min(config.num_envs, episodes - start)
            returns.extend(rollout.returns[:keep].tolist())
            infos.extend(rollout.final_info[:keep])
        return returns, infos

    def evaluate(self, split: str = "validation", episodes: int | None = None, greedy: bool = True) -> dict[str, float]:
        """Mean return and the env's episode metrics over seeded episodes."""
        returns, infos = self.run_episodes(split, episodes, greedy)
        return {"return": float(np.mean(returns)), **episode_metrics(self._split_envs(split), infos)}

    @torch.no_grad()
    def expert_nll(self, split: str = "test", episodes: int | None = None) -> float:
        """Mean negative log-likelihood per token of the env's expert actions (reference replies,
        gold tags) under the policy at temperature 1, over the evaluation's seeded episodes.
        ``exp`` of it is the references' perplexity, where reward hacking shows."""
        config = self.config
        envs = self._split_envs(split)
        episodes = episodes or config.eval_episodes
        total, count = 0.0, 0
        for start in range(0, episodes, config.num_envs):
            seeds = [EVAL_SEED_BASE - min(index, episodes - 1) for index in range(start, start + config.num_envs)]
            rollout = collect_rollout(
                self.policy, envs, seeds, self.sampling, self.device, config.max_episode_steps, self.bf16, expert=True
            )
            log_probs, _, _ = self._evaluate_steps(rollout, temperature=1.0)
            keep = rollout.valid[: min(config.num_envs, episodes - start)]
            total -= float((log_probs[: len(keep)] * keep).sum())
            count += int(keep.sum())
        return total / max(count, 1)

    def _split_envs(self, split: str) -> gym.vector.VectorEnv:
        if split == "train":
            return self.envs
        if split not in self._eval_envs:
            self._eval_envs[split] = make_envs(self.env_id, self.config.num_envs, self.env_kwargs, split)
        return self._eval_envs[split]

    def _evaluate_and_keep_best(self, logger: RunLogger | None) -> bool:
        """Evaluate on validation; save ``best`` on improvement; True when it is time to stop."""
        metrics = self.evaluate("validation")
        metrics["update"] = self.update
        self.history.append(metrics)
        if logger is not None:
            logger.log(self.update, "validation", metrics)
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

    # -- acting, saving, loading ------------------------------------------------------------------

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
            "baseline": self.baseline,
            "kl_coef": self.kl_coef,
            "best_metric": self.best_metric if math.isfinite(self.best_metric) else None,
            "evals_without_improvement": self.evals_without_improvement,
            "history": self.history,
            "torch_rng_state": torch.get_rng_state().tolist(),
        }
        save_checkpoint(folder, self.policy, self.policy.backbone, self.tokenizer, self.optimizer, state)

    @classmethod
    def load(
        cls,
        folder: str | os.PathLike[str],
        env_id: str | None = None,
        out_dir: str | os.PathLike[str] | None = None,
        **config_overrides: Any,
    ) -> TokenPGAgent:
        """Rebuild an agent from a checkpoint: same env (unless ``env_id`` is given), tokenizer,
        policy weights, optimizer state and counters, so that :meth:`learn` continues the run."""
        folder = Path(folder)
        recover(folder)
        state = read_state(folder)
        # The backbone comes from model/; a LoRA policy is wrapped again and policy.safetensors then
        # restores its base weights and adapter exactly.
        values = {**state["config"], **config_overrides, "model": str(folder / "model"), "gguf_file": None}
        config = TokenPGConfig.from_dict(values, source=str(folder / "state.json"))
        env_kwargs = {**state["env_kwargs"], "tokenizer": str(folder / "tokenizer")}
        agent = cls(env_id or state["env_id"], config, env_kwargs, out_dir)
        load_weights(folder, agent.policy, agent.optimizer)
        agent.update = state["update"]
        agent.warm_start_done = state["warm_start_done"]
        agent.baseline = state["baseline"]
        agent.kl_coef = state["kl_coef"]
        agent.best_metric = state["best_metric"] if state["best_metric"] is not None else -math.inf
        agent.evals_without_improvement = state["evals_without_improvement"]
        agent.history = state["history"]
        torch.set_rng_state(torch.tensor(state["torch_rng_state"], dtype=torch.uint8))
        return agent

    def close(self) -> None:
        self.envs.close()
        for envs in self._eval_envs.values():
            envs.close()


def _model_tokenizer(model: str, gguf_file: str | None) -> Any:
    """The tokenizer that ships with a pretrained model (so env ids match the model's vocabulary)."""
    from transformers import AutoTokenizer

    from dialog_envs.tokenization import load_tokenizer

    try:
        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        return load_tokenizer(AutoTokenizer.from_pretrained(model, **kwargs))
    except (OSError, ValueError) as error:
        raise DialogEnvsError(f"could not load the tokenizer of model {model!r} ({error})") from None

