"""Conversations longer than the policy's context: KV-cached rollouts cut the context to its last
W // 2 tokens and re-prefill, and training recomputes every step with the context it was sampled with."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.rollout import collect_rollout
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.errors import DialogEnvsError

QUIET = dict(progress=False, bf16="off", device="cpu")
TINY = {"n_layer": 1, "n_embd": 32, "n_head": 2}
LONG_TALK = {"max_reply_tokens": 12, "max_turns": 6}  # six turns of a random policy: 150+ tokens


def simuser_agent(model_config: dict, env_kwargs: dict, **settings) -> TokenPGAgent:
    config = TokenPGConfig(num_envs=4, algorithm="ppo", max_episode_steps=80, model_config=model_config, **settings, **QUIET)
    return TokenPGAgent("dialog_envs/SimUser-v0", config, env_kwargs)


def check_training_sees_the_sampled_context(agent: TokenPGAgent) -> torch.Tensor:
    """Roll out, check that recomputed log-probs and values equal the sampled ones (PPO's first
    ratio is 1) and that one PPO update runs; the rollout's windows."""
    rollout = collect_rollout(agent.policy, agent.envs, [0, 1, 2, 3], agent.sampling, agent.device, agent.config.max_episode_steps)
    valid = rollout.valid
    assert valid.sum(dim=1).min() > 40  # long conversations
    with torch.no_grad():
        batch = agent._loss_batch(rollout, rollout.rewards, None)
    assert torch.allclose(batch.log_probs[valid], rollout.log_probs[valid], atol=1e-5)
    assert torch.allclose((batch.log_probs - batch.old_log_probs)[valid].exp(), torch.ones(int(valid.sum())), atol=1e-5)
    assert torch.allclose(batch.values[valid], rollout.values[valid], atol=1e-5)
    stats = agent._update_policy(rollout, total=1)
    assert np.isfinite(stats["pg_loss"]) and stats["approx_kl"] >= 0
    return rollout.policy_inputs


def test_conversations_longer_than_the_model_positions_slide_its_window() -> None:
    agent = simuser_agent({**TINY, "n_positions": 64}, LONG_TALK)
    assert agent.policy.context_window == 64
    inputs = check_training_sees_the_sampled_context(agent)
    mask, windows, positions = inputs["sequence_mask"], inputs["action_windows"], inputs["action_positions"]
    assert mask.shape[1] > 2 and mask.shape[2] <= 64  # several windows, none longer than the model's positions
    # each step saw at least the last W // 2 = 32 tokens (the whole talk when shorter) and at most W = 64
    assert (positions + 1 <= 64).all()
    first_window = windows == 0
    assert ((positions + 1 >= 32) | first_window).all()
    assert agent.act(agent.envs.reset(seed=[5, 6, 7, 8])[0]).shape == (4,)  # a 76-token first observation


def test_sliding_observations_are_followed_through_dropped_tokens() -> None:
    """The env's own window (96 tokens) slides; the session counts what fell off and keeps its context."""
    agent = simuser_agent(TINY, {**LONG_TALK, "max_length": 96})
    assert agent.policy.context_window == 256  # the default model's positions: twice the observation, at least 256
    inputs = check_training_sees_the_sampled_context(agent)
    assert inputs["sequence_mask"].sum(dim=2).max() > 96  # the policy remembers more than one observation holds


def test_an_append_wider_than_the_observation_is_a_clear_error() -> None:
    agent = simuser_agent(TINY, {**LONG_TALK, "max_length": 48}, max_context_tokens=40)  # the first user turn alone is longer
    assert agent.policy.context_window == 40  # the configured window, under the model's 256 positions
    with pytest.raises(DialogEnvsError, match=r"appended \d+ tokens in one step, more than its observation holds"):
        collect_rollout(agent.policy, agent.envs, [0, 1, 2, 3], agent.sampling, agent.device, 10)
    with pytest.raises(DialogEnvsError, match="max_context_tokens must be >= 2"):
        TokenPGConfig(max_context_tokens=1)
