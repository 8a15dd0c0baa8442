"""Batched rollouts through Gymnasium's vector API.

All ``num_envs`` episodes start together (``envs.reset(seed=[...])``) and are stepped in lockstep
with one batched forward per step; an env whose episode ended stays idle (its further steps are
not recorded) until every episode has ended. Starting every rollout with a reset is what makes
"reset the KV cache at episode boundaries" trivial: a session lives for one rollout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dialog_envs.agents.device import autocast
from dialog_envs.agents.policies import masked_logits


@dataclass
class SamplingConfig:
    """How actions are drawn from the policy's logits."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    greedy: bool = False


def sample_actions(logits: torch.Tensor, sampling: SamplingConfig) -> torch.Tensor:
    """Draw one action per row from already masked, temperature-scaled logits.

    Uses the exponential-race form of the Gumbel-max trick, ``argmax(p / E)`` with ``E ~ Exp(1)``,
    an exact categorical sample that is faster than ``torch.multinomial`` on CPU. Top-k and top-p
    only restrict where the sample may land.
    """
    if sampling.greedy:
        return logits.argmax(dim=-1)
    if sampling.top_k > 0 and sampling.top_k < logits.shape[-1]:
        kth = torch.topk(logits, sampling.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if sampling.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop_sorted = cumulative - sorted_logits.softmax(dim=-1) > sampling.top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probabilities = logits.softmax(dim=-1)
    race = torch.empty_like(probabilities).exponential_()
    return (probabilities / race).argmax(dim=-1)


@dataclass
class Rollout:
    """One batch of episodes, ``B`` envs by ``T`` steps (steps after an episode's end are padding)."""

    actions: torch.Tensor  # (B, T) long
    log_probs: torch.Tensor  # (B, T) under the sampling distribution (temperature and mask included)
    values: torch.Tensor | None  # (B, T) value estimates, when the policy has a value head
    rewards: torch.Tensor  # (B, T)
    valid: torch.Tensor  # (B, T) bool: the step belongs to the env's episode
    turn_ends: torch.Tensor  # (B, T) bool: the step ended an agent turn (discount applies after it)
    action_masks: torch.Tensor | None  # (B, T, A) bool, when the env gives masks
    policy_inputs: dict[str, torch.Tensor]  # what policy(inputs) needs to recompute the steps
    final_info: list[dict[str, Any]] = field(default_factory=list)  # each episode's last info

    @property
    def returns(self) -> torch.Tensor:
        """Undiscounted episode returns, ``(B,)``."""
        return (self.rewards * self.valid).sum(dim=1)

    @property
    def num_steps(self) -> int:
        return int(self.valid.sum())

    def select(self, rows: torch.Tensor) -> Rollout:
        """The episodes ``rows`` (a 1-D index tensor) of this rollout, as a rollout of their own."""
        pick = lambda tensor: None if tensor is None else tensor[rows.to(tensor.device)]  # noqa: E731
        return Rollout(
            actions=pick(self.actions),
            log_probs=pick(self.log_probs),
            values=pick(self.values),
            rewards=pick(self.rewards),
            valid=pick(self.valid),
            turn_ends=pick(self.turn_ends),
            action_masks=pick(self.action_masks),
            policy_inputs={key: pick(value) for key, value in self.policy_inputs.items()},
            final_info=[self.final_info[row] for row in rows.tolist()],
        )


def _action_mask(infos: dict[str, Any], device: torch.device) -> torch.Tensor | None:
    """The envs' action masks as a bool tensor (all-True rows where an env gave none)."""
    if "action_mask" not in infos:
        return None
    masks = infos["action_mask"]  # (N, A) from native vector envs, an object array of rows otherwise
    masks = np.stack(masks).astype(bool) if masks.dtype == object else masks.astype(bool)
    present = np.asarray(infos.get("_action_mask", np.ones(len(masks), dtype=bool)))
    return torch.as_tensor(np.where(present[:, None], masks, True), device=device)


def _dropped_tokens(infos: dict[str, Any]) -> np.ndarray | None:
    """How many of each env's oldest tokens its observation no longer holds, from
    ``info["dropped_tokens"]`` (envs whose observation window slides report it, e.g. SimUser-v0);
    None when the envs do not report it."""
    if "dropped_tokens" not in infos:
        return None
    dropped = np.asarray(infos["dropped_tokens"], dtype=np.int64)
    return np.where(np.asarray(infos.get("_dropped_tokens", np.ones(len(dropped), dtype=bool))), dropped, 0)


def collect_rollout(
    policy: Any,
    envs: gym.vector.VectorEnv,
    seeds: list[int],
    sampling: SamplingConfig,
    device: torch.device,
    max_steps: int = 512,
    bf16: bool = False,
    expert: bool = False,
    reset_options: dict[str, Any] | None = None,
) -> Rollout:
    """Run one episode in every env of ``envs`` with ``policy`` and record what training needs.

    With ``expert=True`` the actions are the envs' ``expert_action()`` (gold tags, reference
    tokens, a reference agent's reply) instead of samples: the data of the supervised warm start.
    The policy is then not run at all (``log_probs`` are left at 0): only the sequences are recorded.
    The policy is put in eval mode (no dropout while acting).
    """
    policy.eval()
    batch_size = envs.num_envs
    obs, infos = envs.reset(seed=seeds, options=reset_options)
    session = policy.new_session(batch_size, device)
    active = np.ones(batch_size, dtype=bool)
    records: dict[str, list[torch.Tensor]] = {k: [] for k in ("actions", "log_probs", "values", "rewards", "valid", "turn_ends", "masks")}
    final_info: list[dict[str, Any]] = [{} for _ in range(batch_size)]
    for _ in range(max_steps):
        with autocast(device, bf16):  # an expert rollout needs no forward pass: only the sequence
            logits, values = session.step(obs, active, act=not expert, dropped=_dropped_tokens(infos))
        action_mask = _action_mask(infos, device)
        if expert:
            actions = torch.as_tensor(np.asarray(envs.call("expert_action"), dtype=np.int64), device=device)
            log_probs = torch.zeros(batch_size, device=device)
        else:
            scaled = masked_logits(logits, action_mask, sampling.temperature)
            actions = sample_actions(scaled, sampling)
            log_probs = scaled.log_softmax(dim=-1).gather(1, actions[:, None])[:, 0]
        if hasattr(session, "record_actions"):
            session.record_actions(actions)
        obs, rewards, terminated, truncated, infos = envs.step(actions.cpu().numpy())
        done = terminated | truncated
        turn_end = np.asarray(infos.get("end_of_turn", np.zeros(batch_size)), dtype=bool) | done
        records["actions"].append(actions)
        records["log_probs"].append(log_probs)
        records["values"].append(values if values is not None else torch.zeros(0))
        records["rewards"].append(torch.as_tensor(rewards, dtype=torch.float32))
        records["valid"].append(torch.as_tensor(active.copy()))
        records["turn_ends"].append(torch.as_tensor(turn_end))
        records["masks"].append(action_mask)
        for row in np.flatnonzero(active & done):
            final_info[row] = row_info(infos, row)
        active &= ~done
        if not active.any():
            break
    has_values = records["values"][0].numel() > 0
    has_masks = records["masks"][0] is not None
    return Rollout(
        actions=torch.stack(records["actions"], 1),
        log_probs=torch.stack(records["log_probs"], 1),
        values=torch.stack(records["values"], 1).float() if has_values else None,
        rewards=torch.stack(records["rewards"], 1).to(device),
        valid=torch.stack(records["valid"], 1).to(device),
        turn_ends=torch.stack(records["turn_ends"], 1).to(device),
        action_masks=torch.stack(records["masks"], 1) if has_masks else None,
        policy_inputs=session.inputs(),
        final_info=final_info,
    )


def row_info(infos: dict[str, Any], row: int) -> dict[str, Any]:
    """Env ``row``'s info out of the vector env's batched infos (numbers become floats; nested
    infos, which Gymnasium batches as dicts of arrays, are taken apart the same way)."""
    found: dict[str, Any] = {}
    for key, value in infos.items():
        if key.startswith("_") or key == "action_mask":
            continue
        present = infos.get(f"_{key}")
        if present is not None and not present[row]:
            continue
        if isinstance(value, dict):
            found[key] = row_info(value, row)
            continue
        item = value[row]
        found[key] = float(item) if isinstance(item, (bool, np.bool_, int, float, np.integer, np.floating)) else item
    return found
