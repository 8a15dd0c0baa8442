"""One loss function per algorithm, each readable on its own (as in CleanRL).

Every function takes a :class:`LossBatch` (a rollout's episodes, or a minibatch of them, with the
log-probs, values and entropies the policy now gives their actions) and the config, and returns
the loss to minimise and what is worth logging, under CleanRL's names: ``pg_loss``, ``v_loss``,
``entropy`` and, for PPO, ``approx_kl`` and ``clipfrac``.

:data:`LOSSES` maps the config's ``algorithm`` to its function: adding an algorithm is one
function here and one literal in :data:`dialog_envs.agents.config.Algorithm`. The KL to the
reference policy is not part of these functions: as a reward penalty it is already in the batch's
rewards, and as a loss term (:func:`k3_kl`) the agent adds it to whichever loss is chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from dialog_envs.agents.advantages import discounted_returns, generalized_advantages, group_advantages, whiten
from dialog_envs.agents.config import TokenPGConfig


@dataclass
class MovingAverage:
    """An exponential moving average: REINFORCE's baseline of returns."""

    value: float = 0.0
    decay: float = 0.9

    def update(self, sample: float) -> None:
        self.value = self.decay * self.value + (1 - self.decay) * sample


@dataclass
class LossBatch:
    """Episodes of one rollout, ``B`` by ``T`` steps, as a loss needs them."""

    log_probs: torch.Tensor
    """``(B, T)`` log-probs of the actions under the policy being trained (with gradients)."""
    values: torch.Tensor | None
    """``(B, T)`` value estimates of the policy being trained, when it has a value head."""
    entropy: torch.Tensor
    """``(B, T)`` entropy of the policy being trained at every step."""
    old_log_probs: torch.Tensor
    """``(B, T)`` log-probs the actions were sampled with."""
    old_values: torch.Tensor | None
    """``(B, T)`` value estimates made during the rollout."""
    rewards: torch.Tensor
    """``(B, T)`` rewards, minus the KL penalty when there is one."""
    valid: torch.Tensor
    """``(B, T)`` bool: the step belongs to its episode."""
    turn_ends: torch.Tensor
    """``(B, T)`` bool: the step ended an agent turn (the discount applies after it)."""
    baseline: MovingAverage
    """REINFORCE's moving-average baseline (updated by :func:`reinforce_loss`)."""


LossResult = tuple[torch.Tensor, dict[str, torch.Tensor]]
"""The loss to minimise, and the scalars to log."""


def masked_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The mean over the valid steps."""
    return (values * valid).sum() / valid.sum().clamp(min=1)


def k3_kl(log_probs: torch.Tensor, reference_log_probs: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of ``KL(pi || pi_ref)`` from the sampled tokens, mean over the valid
    ones: ``(r - 1) - log r`` with ``r = pi_ref(a|s) / pi(a|s)`` (http://joschu.net/blog/kl-approx.html).

    Unbiased for actions drawn from ``pi`` and never negative; as a loss its gradient,
    ``(1 - r) grad log pi(a|s)``, lowers the probability of tokens the reference finds less likely
    and raises the others: it pulls the policy towards the reference (the KL term of GRPO).
    """
    log_ratio = torch.where(valid, reference_log_probs - log_probs, 0.0)  # padding may hold masked actions
    return masked_mean(log_ratio.exp() - 1 - log_ratio, valid)


def reinforce_loss(batch: LossBatch, config: TokenPGConfig) -> LossResult:
    """REINFORCE with a baseline: ``-log pi(a_t|s_t) * (G_t - b)``, with ``b`` a moving average of
    returns or, with ``baseline="value"``, the value head (trained towards ``G_t``)."""
    valid = batch.valid
    returns = discounted_returns(batch.rewards, valid, batch.turn_ends, config.gamma)
    if config.baseline == "value":
        advantages = returns - batch.old_values
        v_loss = masked_mean((batch.values - returns) ** 2, valid)
    else:
        advantages = returns - batch.baseline.value
        batch.baseline.update(masked_mean(returns, valid).item())
        v_loss = torch.zeros((), device=returns.device)
    if config.whiten_advantages:
        advantages = whiten(advantages, valid)
    pg_loss = -masked_mean(batch.log_probs * advantages.detach(), valid)
    entropy = masked_mean(batch.entropy, valid)
    loss = pg_loss + config.value_coef * v_loss - config.entropy_coef * entropy
    return loss, {"pg_loss": pg_loss, "v_loss": v_loss, "entropy": entropy}


def ppo_loss(batch: LossBatch, config: TokenPGConfig) -> LossResult:
    """PPO: the clipped surrogate on GAE advantages, a value loss and an entropy bonus."""
    valid = batch.valid
    advantages, returns = generalized_advantages(
        batch.rewards, batch.old_values, valid, batch.turn_ends, config.gamma, config.gae_lambda
    )
    if config.whiten_advantages:
        advantages = whiten(advantages, valid)
    logratio = batch.log_probs - batch.old_log_probs
    ratio = logratio.exp()
    with torch.no_grad():
        approx_kl = masked_mean((ratio - 1) - logratio, valid)  # http://joschu.net/blog/kl-approx.html
        clipfrac = masked_mean(((ratio - 1).abs() > config.clip_range).float(), valid)
    pg_loss1 = -advantages * ratio
    pg_loss2 = -advantages * ratio.clamp(1 - config.clip_range, 1 + config.clip_range)
    pg_loss = masked_mean(torch.max(pg_loss1, pg_loss2), valid)
    v_loss = masked_mean((batch.values - returns) ** 2, valid)
    entropy = masked_mean(batch.entropy, valid)
    loss = pg_loss + config.value_coef * v_loss - config.entropy_coef * entropy
    return loss, {"pg_loss": pg_loss, "v_loss": v_loss, "entropy": entropy, "approx_kl": approx_kl, "clipfrac": clipfrac}


def group_relative_loss(batch: LossBatch, config: TokenPGConfig, kind: str) -> LossResult:
    """``-log pi(a_t|s_t) * A`` with one advantage per episode, from the returns of the other
    samples of its context (see :func:`~dialog_envs.agents.advantages.group_advantages`)."""
    valid = batch.valid
    episode_returns = (batch.rewards * valid).sum(dim=1)
    advantages = group_advantages(episode_returns, config.group_size, kind)[:, None].expand_as(batch.rewards)
    pg_loss = -masked_mean(batch.log_probs * advantages.detach(), valid)
    entropy = masked_mean(batch.entropy, valid)
    v_loss = torch.zeros((), device=valid.device)
    loss = pg_loss + config.value_coef * v_loss - config.entropy_coef * entropy
    return loss, {"pg_loss": pg_loss, "v_loss": v_loss, "entropy": entropy}


def grpo_loss(batch: LossBatch, config: TokenPGConfig) -> LossResult:
    """GRPO: the episode's return normalised over its group, ``(R - mean) / (std + 1e-4)``."""
    return group_relative_loss(batch, config, "grpo")


def rloo_loss(batch: LossBatch, config: TokenPGConfig) -> LossResult:
    """RLOO: the episode's return minus the mean return of the other members of its group."""
    return group_relative_loss(batch, config, "rloo")


LOSSES: dict[str, Callable[[LossBatch, TokenPGConfig], LossResult]] = {
    "reinforce": reinforce_loss,
    "ppo": ppo_loss,
    "grpo": grpo_loss,
    "rloo": rloo_loss,
}
"""The config's ``algorithm`` -> its loss function."""
