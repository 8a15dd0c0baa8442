"""Returns and advantages at token level, for every loss the agent offers.

Shapes are ``(B, T)``: ``B`` episodes by ``T`` steps, ``valid`` marking the steps that belong to
an episode. ``turn_ends`` marks the steps that end an agent turn: the discount ``gamma`` applies
once per turn (per-turn credit assignment in multi-turn dialogue), not once per token.
"""

from __future__ import annotations

import torch


def step_discounts(turn_ends: torch.Tensor, gamma: float) -> torch.Tensor:
    """The discount between step ``t`` and ``t+1``: ``gamma`` after a turn ends, else 1."""
    return torch.where(turn_ends, torch.full_like(turn_ends, gamma, dtype=torch.float32), torch.ones_like(turn_ends, dtype=torch.float32))


def discounted_returns(rewards: torch.Tensor, valid: torch.Tensor, turn_ends: torch.Tensor, gamma: float) -> torch.Tensor:
    """``G_t = r_t + d_t * G_{t+1}`` within each episode (0 on padding)."""
    discounts = step_discounts(turn_ends, gamma)
    returns = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0], device=rewards.device)
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = (rewards[:, t] + discounts[:, t] * running) * valid[:, t]
        returns[:, t] = running
    return returns


def generalized_advantages(
    rewards: torch.Tensor,
    values: torch.Tensor,
    valid: torch.Tensor,
    turn_ends: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-level GAE: ``delta_t = r_t + d_t V_{t+1} - V_t``, ``A_t = delta_t + d_t lam A_{t+1}``.

    Returns ``(advantages, returns)`` with ``returns = advantages + values`` (the value targets).
    ``V`` after an episode's last step is 0.
    """
    discounts = step_discounts(turn_ends, gamma)
    values = values * valid
    advantages = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0], device=rewards.device)
    next_value = torch.zeros(rewards.shape[0], device=rewards.device)
    for t in range(rewards.shape[1] - 1, -1, -1):
        delta = rewards[:, t] + discounts[:, t] * next_value - values[:, t]
        running = (delta + discounts[:, t] * lam * running) * valid[:, t]
        advantages[:, t] = running
        next_value = values[:, t]
    return advantages, advantages + values


def group_advantages(episode_returns: torch.Tensor, group_size: int, kind: str) -> torch.Tensor:
    """One advantage per episode from the other samples of the same context.

    Consecutive ``group_size`` episodes share a context. ``"grpo"``: ``(R - mean) / (std + 1e-4)``
    over the group; ``"rloo"``: ``R - mean of the other members`` (leave-one-out).
    """
    groups = episode_returns.view(-1, group_size)
    mean = groups.mean(dim=1, keepdim=True)
    if kind == "grpo":
        advantages = (groups - mean) / (groups.std(dim=1, keepdim=True) + 1e-4)
    elif kind == "rloo":
        advantages = (groups - mean) * group_size / (group_size - 1)
    else:
        raise ValueError(f"unknown group baseline {kind!r}")
    return advantages.reshape(-1)


def whiten(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance over the valid steps."""
    selected = values[valid]
    if selected.numel() < 2:
        return values
    return (values - selected.mean()) / (selected.std() + 1e-8)
