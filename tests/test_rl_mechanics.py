"""What keeps RL close to a good start: the policy before RL competes for the best checkpoint, the KL
to the reference (a reward penalty or a k3 loss term, fixed or adaptive, against a frozen copy or
the disabled LoRA adapter), and the figures every update logs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

import tests.toy_envs  # noqa: F401  (registers tests/TargetToken-v0 and tests/ChattyUser-v0)
from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.losses import k3_kl
from dialog_envs.agents.policies import masked_logits
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.errors import DialogEnvsError

QUIET = dict(progress=False, bf16="off", device="cpu")
TINY = {"n_layer": 1, "n_embd": 32, "n_head": 2}


def metric_rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "metrics.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# -- the policy before RL competes in best-on-validation ------------------------------------------


def test_warm_start_policy_stays_best_when_rl_hurts(tmp_path: Path) -> None:
    config = TokenPGConfig(
        num_envs=16, warm_start_updates=15, warm_start_learning_rate=1e-2, updates=3, learning_rate=1.0,
        eval_every=1, eval_episodes=16, model_config=TINY, **QUIET,
    )
    agent = TokenPGAgent("tests/TargetToken-v0", config, out_dir=tmp_path)
    history = agent.learn()
    assert [point["update"] for point in history] == [0, 1, 2, 3]
    assert history[0]["return"] >= 0.9  # the warm start solved the task
    assert max(point["return"] for point in history[1:]) < history[0]["return"]  # RL at lr 1.0 wrecked it
    best = json.loads((tmp_path / "checkpoints" / "best" / "state.json").read_text())
    assert best["update"] == 0 and best["best_metric"] == history[0]["return"]
    agent.load(tmp_path / "checkpoints" / "best")
    assert agent.update == 0 and agent.evaluate("validation", episodes=16)["return"] == history[0]["return"]
    validation = [row for row in metric_rows(tmp_path) if row["phase"] == "validation" and row["name"] == "return"]
    assert [int(row["update"]) for row in validation] == [0, 1, 2, 3]


def test_initial_policy_is_evaluated_without_warm_start() -> None:
    config = TokenPGConfig(num_envs=4, updates=2, eval_every=2, eval_episodes=4, model_config=TINY, **QUIET)
    agent = TokenPGAgent("tests/TargetToken-v0", config)
    assert agent.learn(updates=0) == []  # warm start only (none here): no evaluation yet
    assert [point["update"] for point in agent.learn()] == [0, 2]
    assert [point["update"] for point in agent.learn(updates=4)] == [0, 2, 4]  # update 0 is evaluated once


# -- the k3 estimator ----------------------------------------------------------------------------------


def test_k3_equals_its_definition_and_estimates_the_kl() -> None:
    generator = torch.Generator().manual_seed(0)
    probabilities = torch.rand(3, 5, 7, generator=generator).softmax(-1)
    reference = torch.rand(3, 5, 7, generator=generator).softmax(-1)
    actions = torch.multinomial(probabilities.view(-1, 7), 1, generator=generator).view(3, 5)
    valid = torch.ones(3, 5, dtype=torch.bool)
    valid[2, 3:] = False
    p = probabilities.gather(-1, actions[..., None])[..., 0]
    q = reference.gather(-1, actions[..., None])[..., 0]
    direct = [(q[b, t] / p[b, t] - 1 - torch.log(q[b, t] / p[b, t])).item() for b in range(3) for t in range(5) if valid[b, t]]
    estimate = k3_kl(p.log(), q.log(), valid)
    assert estimate.item() == pytest.approx(sum(direct) / len(direct), rel=1e-6)

    # unbiased: over many samples from p, the mean is KL(p || ref)
    p_one, ref_one = probabilities[0, 0], reference[0, 0]
    samples = torch.multinomial(p_one, 200_000, replacement=True, generator=generator)
    monte_carlo = k3_kl(p_one.log()[samples], ref_one.log()[samples], torch.ones_like(samples, dtype=torch.bool))
    exact = (p_one * (p_one.log() - ref_one.log())).sum()
    assert monte_carlo.item() == pytest.approx(exact.item(), rel=0.02)


def test_k3_padding_with_impossible_actions_adds_nothing() -> None:
    log_probs = torch.tensor([[-1.0, float("-inf")]])
    reference = torch.tensor([[-2.0, float("-inf")]])
    value = k3_kl(log_probs, reference, torch.tensor([[True, False]]))
    assert value.item() == pytest.approx(torch.tensor(-1.0).exp().item() - 1 + 1)


def test_k3_loss_gradient_pulls_the_policy_to_the_reference() -> None:
    generator = torch.Generator().manual_seed(1)
    reference = torch.randn(4, 9, generator=generator).log_softmax(-1)
    logits = torch.randn(4, 9, generator=generator).requires_grad_(True)
    optimizer = torch.optim.SGD([logits], lr=0.5)

    def exact_kl() -> float:
        log_p = logits.detach().log_softmax(-1)
        return (log_p.exp() * (log_p - reference)).sum(-1).mean().item()

    start = exact_kl()
    for _ in range(200):
        log_p = logits.log_softmax(-1)
        actions = torch.multinomial(log_p.detach().exp(), 16, replacement=True, generator=generator)
        sampled = log_p.gather(1, actions)
        loss = k3_kl(sampled, reference.gather(1, actions), torch.ones_like(actions, dtype=torch.bool))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert exact_kl() < 0.1 * start


# -- the KL inside the agent -------------------------------------------------------------------------


def exact_kl_to_reference(agent: TokenPGAgent, rollout) -> float:
    """Mean over the rollout's valid steps of the full-distribution KL(pi || pi_ref)."""
    with torch.no_grad():
        logits, _ = agent.policy(rollout.policy_inputs)
        with agent._reference_policy() as reference:
            reference_logits, _ = reference(rollout.policy_inputs)
    log_p = masked_logits(logits, rollout.action_masks, agent.config.temperature).log_softmax(-1)
    log_q = masked_logits(reference_logits, rollout.action_masks, agent.config.temperature).log_softmax(-1)
    per_step = (log_p.exp() * (log_p - log_q)).sum(-1)
    return (per_step[rollout.valid]).mean().item()


def kl_agent(lora: bool, **settings) -> TokenPGAgent:
    if lora:
        pytest.importorskip("peft")
    defaults = dict(
        num_envs=8, updates=100, eval_every=0, model_config={**TINY, "initializer_range": 0.2}, kl_coef=20.0,
        learning_rate=1e-2, lora_rank=4 if lora else 0, seed=2, **QUIET,
    )
    config = TokenPGConfig(**{**defaults, **settings})
    return TokenPGAgent("tests/ChattyUser-v0", config)


def move_away_from_reference(agent: TokenPGAgent, lora: bool) -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        for name, parameter in agent.policy.named_parameters():
            if lora and "lora_" in name:
                parameter.normal_(0.0, 1.0)
            elif not lora and parameter.requires_grad and name.startswith("model."):
                parameter.add_(0.2 * torch.randn_like(parameter))


@pytest.mark.parametrize("lora", [False, True], ids=["frozen-copy", "lora-disabled-adapter"])
@pytest.mark.parametrize("algorithm", ["reinforce", "ppo", "grpo", "rloo"])
def test_kl_loss_form_pulls_every_algorithm_back_to_its_reference(algorithm: str, lora: bool) -> None:
    agent = kl_agent(lora, algorithm=algorithm, kl_form="loss")
    if lora:
        assert agent.reference is None  # the policy itself, adapter disabled
    else:
        assert agent.reference is not None and not any(p.requires_grad for p in agent.reference.parameters())
    move_away_from_reference(agent, lora)
    probe = agent._collect([1000 + index for index in range(8)])
    before = exact_kl_to_reference(agent, probe)
    assert before > 0.05
    logged = []
    for update in range(8):
        logged.append(agent._update_policy(agent._collect(agent._rollout_seeds()), total=8))
        agent.update += 1
    after = exact_kl_to_reference(agent, probe)
    assert after < 0.85 * before, (before, after)
    assert all(stats["kl_loss"] >= 0 for stats in logged)
    assert logged[-1]["kl"] < logged[0]["kl"]


@pytest.mark.parametrize("lora", [False, True], ids=["frozen-copy", "lora"])
def test_the_reference_is_the_warm_started_policy(lora: bool) -> None:
    agent = kl_agent(lora, warm_start_updates=3, warm_start_learning_rate=1e-2)
    untrained = agent._frozen_copy()
    agent.learn(updates=0)  # the warm start only
    assert agent.reference is not None and not any(p.requires_grad for p in agent.reference.parameters())
    probe = agent._collect([1000 + index for index in range(8)])
    assert exact_kl_to_reference(agent, probe) == pytest.approx(0.0, abs=1e-6)
    agent.reference = untrained
    assert exact_kl_to_reference(agent, probe) > 1e-3  # the warm start moved the policy


@pytest.mark.parametrize("kl_form", ["reward", "loss"])
def test_adaptive_coefficient_follows_the_target_in_both_forms(kl_form: str) -> None:
    agent = kl_agent(False, algorithm="reinforce", kl_form=kl_form, kl_coef=0.1, kl_target=1e-6)
    move_away_from_reference(agent, False)
    coefficients = [agent.kl_coef]
    for _ in range(3):
        stats = agent._update_policy(agent._collect(agent._rollout_seeds()), total=3)
        assert stats["kl_coef"] == coefficients[-1]  # the update used the coefficient it logs
        coefficients.append(agent.kl_coef)
        agent.update += 1
    assert coefficients == pytest.approx([0.1 * 1.02**k for k in range(4)])  # KL above target: +2% per update


def test_kl_loss_form_leaves_the_rewards_alone() -> None:
    agent = kl_agent(False, algorithm="reinforce", kl_form="loss")
    move_away_from_reference(agent, False)
    seen = []
    agent._loss_batch = lambda rollout, rewards, rows, build=agent._loss_batch: (seen.append(rewards), build(rollout, rewards, rows))[1]  # type: ignore[method-assign]
    rollout = agent._collect(agent._rollout_seeds())
    agent._update_policy(rollout, total=1)
    assert torch.equal(seen[0], rollout.rewards)
    with pytest.raises(DialogEnvsError, match="kl_form"):
        TokenPGConfig(kl_form="penalty")


# -- what every update logs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (dict(algorithm="ppo", kl_coef=0.05, kl_form="loss"), {"kl", "kl_coef", "kl_loss", "approx_kl", "clipfrac"}),
        (dict(algorithm="grpo", kl_coef=0.05), {"kl", "kl_coef"}),
        (dict(algorithm="reinforce"), set()),
    ],
    ids=["ppo-kl-loss", "grpo-kl-reward", "reinforce-no-kl"],
)
def test_every_update_logs_kl_entropy_reply_length_and_ppo_figures(tmp_path: Path, settings: dict, expected: set) -> None:
    config = TokenPGConfig(num_envs=4, updates=2, eval_every=0, model_config=TINY, **settings, **QUIET)
    updates = []
    agent = TokenPGAgent("tests/ChattyUser-v0", config, out_dir=tmp_path)
    agent.learn()
    for row in metric_rows(tmp_path):
        if row["phase"] == "train":
            updates.append((int(row["update"]), row["name"]))
    always = {"return", "entropy", "reply_tokens", "pg_loss", "learning_rate", "tokens_per_second"}
    for update in (1, 2):
        names = {name for number, name in updates if number == update}
        assert always | expected <= names, sorted(always | expected - names)
    rollout = agent._collect(agent._rollout_seeds())
    stats = agent._update_policy(rollout, total=3)
    turns = (rollout.turn_ends & rollout.valid).sum().item()
    assert stats["reply_tokens"] == pytest.approx(rollout.valid.sum().item() / turns)
    stats["tokens_per_second"] = 1.0
    shown = TokenPGAgent._progress_figures(stats)
    assert {"reward", "entropy", "reply", "tok_s"} <= set(shown)
    assert ("kl" in shown) == ("kl" in expected) and ("clip" in shown) == ("clipfrac" in expected)
