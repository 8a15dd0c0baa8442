"""The peers of the throughput benchmark, doing the same work as the token-level agent.

* :func:`sb3_ppo_per_token`: Stable-Baselines3 PPO stepping DialogueBLEU-v0 one token at a time
  through a ``DummyVecEnv``, with the same GPT-2 as its features extractor (the RL4LMs design: every
  step re-encodes the whole observation, no KV cache).
* :func:`trl_grpo`: TRL's ``GRPOTrainer`` with the same model (and the same LoRA configuration when
  the agent uses one), the env's contexts as prompts, the env's references and the same reward
  function (:func:`dialog_envs.metrics.text.reward_function`), and the same number of completions
  per step. TRL is optional (``pip install dialog-envs[compare]``).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dialog_envs.agents.device import autocast

ENV_ID = "dialog_envs/DialogueBLEU-v0"


def trl_available() -> bool:
    """True when TRL (and its ``datasets`` dependency) can be imported."""
    try:
        import datasets  # noqa: F401
        import trl  # noqa: F401
    except ImportError:
        return False
    return True


def sb3_ppo_per_token(
    make_model: Callable[[], Any],
    env_kwargs: dict[str, Any],
    num_envs: int,
    n_steps: int,
    repeats: int,
    bf16: bool,
    device: torch.device,
) -> list[tuple[int, float]]:
    """SB3 PPO on ``num_envs`` single envs, token by token; returns ``(tokens, seconds)`` per repeat
    (each repeat is one PPO update: ``n_steps`` steps of every env, then 2 epochs of minibatches)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from stable_baselines3.common.vec_env import DummyVecEnv

    class GPT2Features(BaseFeaturesExtractor):
        """The GPT-2 body over the whole (left-padded) observation; the last position's hidden state."""

        def __init__(self, observation_space: gym.spaces.Dict, model: Any) -> None:
            super().__init__(observation_space, features_dim=model.config.n_embd)
            self.body = model.transformer

        def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
            ids = observations["input_ids"].long()
            mask = observations["attention_mask"].long()
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            with autocast(ids.device, bf16):
                hidden = self.body(input_ids=ids, attention_mask=mask, position_ids=positions).last_hidden_state
            return hidden[:, -1].float()

    envs = DummyVecEnv([lambda: gym.make(ENV_ID, **env_kwargs) for _ in range(num_envs)])
    model = PPO(
        "MultiInputPolicy",
        envs,
        n_steps=n_steps,
        batch_size=min(256, n_steps * num_envs),
        n_epochs=2,
        learning_rate=3e-4,
        policy_kwargs=dict(features_extractor_class=GPT2Features, features_extractor_kwargs={"model": make_model()}, net_arch=[]),
        device=device,
        seed=0,
        verbose=0,
    )
    tokens = n_steps * num_envs
    results = []
    for repeat in range(repeats + 1):  # the first update warms up
        started = time.perf_counter()
        model.learn(total_timesteps=tokens, reset_num_timesteps=False)
        if repeat:
            results.append((tokens, time.perf_counter() - started))
    envs.close()
    return results


def trl_grpo(
    make_model: Callable[[], Any],
    tokenizer: Any,
    env: Any,
    num_completions: int,
    group_size: int,
    max_new_tokens: int,
    repeats: int,
    bf16: bool,
    device: torch.device,
    reward: str = "bleu",
    peft_config: Any = None,
) -> list[tuple[int, float]]:
    """TRL GRPOTrainer steps; returns ``(completion tokens, seconds)`` per measured step.
    ``peft_config`` (a peft ``LoraConfig``) trains LoRA adapters instead of every weight."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    from dialog_envs.metrics.text import reward_function

    window = env.max_context_tokens
    rng = np.random.default_rng(0)
    picks = rng.choice(len(env.examples), size=min(len(env.examples), 512), replace=False)
    prompts = [tokenizer.decode(env.data.context_ids[i][-window:], skip_special_tokens=False) for i in picks]
    references = [env.examples[i].reference for i in picks]
    dataset = Dataset.from_dict({"prompt": prompts, "reference": references})

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.started = 0.0
            self.seconds: list[float] = []
            self.lengths: list[float] = []

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.seconds.append(time.perf_counter() - self.started)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
            if logs and "completions/mean_length" in logs:
                self.lengths.append(float(logs["completions/mean_length"]))

    padding_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as folder:
        config = GRPOConfig(
            output_dir=folder,
            per_device_train_batch_size=num_completions,
            num_generations=group_size,
            max_completion_length=max_new_tokens,
            max_steps=repeats + 1,
            learning_rate=3e-4,
            beta=0.0,
            temperature=1.0,
            use_cpu=device.type == "cpu",
            bf16=bf16,
            gradient_checkpointing=False,
            report_to="none",
            save_strategy="no",
            logging_steps=1,
            disable_tqdm=True,
            seed=0,
        )
        trainer = GRPOTrainer(
            model=make_model(),
            reward_funcs=reward_function(reward),
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[timer],
            peft_config=peft_config,
        )
        trainer.remove_callback(PrinterCallback)  # its per-step log lines would fill the report's stdout
        trainer.train()
    tokenizer.padding_side = padding_side
    steps = list(zip(timer.lengths, timer.seconds))[1:]  # the first step warms up
    return [(int(round(length * num_completions)), seconds) for length, seconds in steps]
