"""The loss functions: every algorithm of the config has one, and one update through them gives
exactly the losses and weights of the single-function update they replaced (kept below as the
reference), for REINFORCE (both baselines), PPO with one minibatch, GRPO and RLOO."""

from __future__ import annotations

import typing

import pytest
import torch

import tests.toy_envs  # noqa: F401  (registers tests/ChattyUser-v0)
from dialog_envs.agents.advantages import discounted_returns, generalized_advantages, group_advantages, whiten
from dialog_envs.agents.config import Algorithm, TokenPGConfig
from dialog_envs.agents.losses import LOSSES
from dialog_envs.agents.policies import masked_logits
from dialog_envs.agents.device import autocast
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.errors import DialogEnvsError

QUIET = dict(progress=False, bf16="off", device="cpu", eval_every=0)


def reference_update(agent: TokenPGAgent, rollout, total: int) -> dict[str, float]:
    """The update as one function over every algorithm: the behaviour the loss functions keep."""
    config = agent.config
    valid = rollout.valid
    n_valid = valid.sum().clamp(min=1)
    stats: dict[str, float] = {}
    rewards = rollout.rewards
    if config.kl_coef > 0:
        with torch.no_grad(), agent._reference_policy() as reference, autocast(agent.device, agent.bf16):
            reference_logits, _ = reference(rollout.policy_inputs)
        reference_log_probs = masked_logits(reference_logits, rollout.action_masks, config.temperature).log_softmax(-1)
        reference_log_probs = reference_log_probs.gather(-1, rollout.actions[..., None])[..., 0]
        kl = (rollout.log_probs - reference_log_probs) * valid
        rewards = rewards - agent.kl_coef * kl
        stats["kl"] = (kl.sum() / n_valid).item()
    agent._set_learning_rate(config.learning_rate, config.lr_schedule, config.warmup_updates, agent.update, total)
    agent.policy.eval()
    if config.algorithm == "ppo":
        advantages, returns = generalized_advantages(rewards, rollout.values, valid, rollout.turn_ends, config.gamma, config.gae_lambda)
        if config.whiten_advantages:
            advantages = whiten(advantages, valid)
        for _ in range(config.ppo_epochs):
            log_probs, values, entropy = agent._evaluate_steps(rollout)
            ratio = (log_probs - rollout.log_probs).exp()
            clipped = ratio.clamp(1 - config.clip_range, 1 + config.clip_range)
            policy_loss = (torch.max(-advantages * ratio, -advantages * clipped) * valid).sum() / n_valid
            value_loss = (((values - returns) ** 2) * valid).sum() / n_valid
            entropy_mean = (entropy * valid).sum() / n_valid
            loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy_mean
            agent._gradient_step(loss)
    else:
        log_probs, values, entropy = agent._evaluate_steps(rollout)
        value_loss = torch.zeros((), device=agent.device)
        if config.algorithm in ("grpo", "rloo"):
            episode_returns = (rewards * valid).sum(dim=1)
            advantages = group_advantages(episode_returns, config.group_size, config.algorithm)[:, None].expand_as(rewards)
        else:
            returns = discounted_returns(rewards, valid, rollout.turn_ends, config.gamma)
            if config.baseline == "value":
                advantages = returns - rollout.values
                value_loss = (((values - returns) ** 2) * valid).sum() / n_valid
            else:
                advantages = returns - agent.baseline.value
                mean_return = ((returns * valid).sum() / n_valid).item()
                agent.baseline.value = config.baseline_decay * agent.baseline.value + (1 - config.baseline_decay) * mean_return
            if config.whiten_advantages:
                advantages = whiten(advantages, valid)
        policy_loss = -(log_probs * advantages.detach() * valid).sum() / n_valid
        entropy_mean = (entropy * valid).sum() / n_valid
        loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy_mean
        agent._gradient_step(loss)
    return {**stats, "pg_loss": policy_loss.item(), "v_loss": value_loss.item(), "entropy": entropy_mean.item()}


def test_every_algorithm_has_one_loss() -> None:
    assert set(LOSSES) == set(typing.get_args(Algorithm))


@pytest.mark.parametrize(
    "settings",
    [
        dict(algorithm="reinforce"),
        dict(algorithm="reinforce", baseline="value", entropy_coef=0.01),
        dict(algorithm="ppo", kl_coef=0.05, entropy_coef=0.01),
        dict(algorithm="grpo", kl_coef=0.05),
        dict(algorithm="rloo"),
    ],
    ids=["reinforce-ma", "reinforce-value", "ppo-kl", "grpo-kl", "rloo"],
)
def test_updates_equal_the_reference_update(settings: dict) -> None:
    config = TokenPGConfig(num_envs=8, seed=5, model_config={"n_layer": 1, "n_embd": 32, "n_head": 2}, **settings, **QUIET)
    new, old = TokenPGAgent("tests/ChattyUser-v0", config), TokenPGAgent("tests/ChattyUser-v0", config)
    for update in range(2):  # the second update starts from a moved baseline, optimizer state and KL
        rollout = new._collect(new._rollout_seeds())
        expected = reference_update(old, rollout, total=10)
        stats = new._update_policy(rollout, total=10)
        for name, value in expected.items():
            assert stats[name] == value, (update, name)
        new.update += 1
        old.update += 1
    assert new.baseline.value == old.baseline.value
    for (name, a), (_, b) in zip(new.policy.state_dict().items(), old.policy.state_dict().items()):
        assert torch.equal(a, b), name


def test_ppo_minibatches_log_approx_kl_and_clipfrac() -> None:
    config = TokenPGConfig(
        num_envs=8, algorithm="ppo", ppo_epochs=2, ppo_minibatches=4, learning_rate=1e-2,
        model_config={"n_layer": 1, "n_embd": 32, "n_head": 2}, **QUIET,
    )
    agent = TokenPGAgent("tests/ChattyUser-v0", config)
    steps = []
    agent._gradient_step = lambda loss, step=agent._gradient_step: (steps.append(loss.item()), step(loss))  # type: ignore[method-assign]
    stats = agent._update_policy(agent._collect(agent._rollout_seeds()), total=1)
    assert len(steps) == 2 * 4
    assert stats["approx_kl"] > 0 and 0 <= stats["clipfrac"] <= 1
    assert {"pg_loss", "v_loss", "entropy"} <= set(stats)
    with pytest.raises(DialogEnvsError, match="ppo_minibatches"):
        TokenPGConfig(num_envs=4, ppo_minibatches=8)
