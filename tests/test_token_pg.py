"""The token-level agent: cached log-probs equal a full recomputation, every loss learns a toy task,
seeded runs repeat, the tagger and warm start work on NER, checkpoints resume."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import yaml
import torch

import tests.toy_envs  # noqa: F401  (registers tests/TargetToken-v0 and tests/ChattyUser-v0)
from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.policies import padded_width
from dialog_envs.agents.rollout import SamplingConfig, collect_rollout
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.envs.ner import WORD_SHAPES
from dialog_envs.errors import DialogEnvsError

QUIET = dict(progress=False, bf16="off", device="cpu")


@pytest.mark.parametrize(
    ("env_id", "model_config"),
    [
        ("tests/ChattyUser-v0", {}),
        ("tests/ChattyUser-v0", {"model_type": "llama"}),  # rotary positions through the cache
        ("dialog_envs/DialogueBLEU-v0", {}),
        ("dialog_envs/NER-v0", {}),
    ],
    ids=["chatty-gpt2", "chatty-llama", "dialogue-bleu", "ner"],
)
def test_cached_log_probs_equal_full_recomputation(env_id: str, model_config: dict) -> None:
    config = TokenPGConfig(num_envs=6, algorithm="ppo", temperature=0.7, model_config=model_config, **QUIET)
    agent = TokenPGAgent(env_id, config)
    rollout = collect_rollout(agent.policy, agent.envs, list(range(6)), agent.sampling, agent.device)
    assert rollout.valid.sum() > 6  # several steps per episode
    with torch.no_grad():  # the rollout left the policy in eval mode: no dropout in either pass
        log_probs, values, _ = agent._evaluate_steps(rollout)
    valid = rollout.valid
    assert torch.allclose(log_probs[valid], rollout.log_probs[valid], atol=1e-5)
    assert torch.allclose(values[valid], rollout.values[valid], atol=1e-5)


def test_packed_widths_are_few_and_padded_by_at_most_an_eighth() -> None:
    widths = range(1, 4097)
    padded = [padded_width(width) for width in widths]
    assert all(width <= rounded <= width * 1.125 for width, rounded in zip(widths, padded))
    assert len({padded_width(width) for width in range(257, 513)}) == 8  # eight shapes per octave


def test_other_architectures_build_from_a_config_and_reload(tmp_path: Path) -> None:
    config = TokenPGConfig(num_envs=2, model_config={"model_type": "llama", "num_hidden_layers": 1}, **QUIET)
    agent = TokenPGAgent("dialog_envs/DialogueBLEU-v0", config)
    backbone = agent.policy.backbone
    assert type(backbone).__name__ == "LlamaForCausalLM"
    assert (backbone.config.num_hidden_layers, backbone.config.hidden_size, backbone.config.intermediate_size) == (1, 128, 512)
    agent.save(tmp_path / "checkpoint")
    loaded = TokenPGAgent.from_checkpoint(tmp_path / "checkpoint").policy.backbone.state_dict()
    assert all(torch.equal(tensor, loaded[name]) for name, tensor in backbone.state_dict().items())
    with pytest.raises(DialogEnvsError, match="model_config.model_type 'nope': expected a causal LM"):
        TokenPGAgent("dialog_envs/DialogueBLEU-v0", TokenPGConfig(num_envs=2, model_config={"model_type": "nope"}, **QUIET))
    with pytest.raises(DialogEnvsError, match="not a valid llama model: .*hidden size"):
        TokenPGAgent("dialog_envs/DialogueBLEU-v0", TokenPGConfig(num_envs=2, model_config={"model_type": "llama", "hidden_size": 130}, **QUIET))


@pytest.mark.parametrize(
    "settings",
    [
        dict(algorithm="reinforce", baseline="moving_average"),
        dict(algorithm="reinforce", baseline="value"),
        dict(algorithm="ppo", kl_coef=0.01),
        dict(algorithm="grpo"),
        dict(algorithm="rloo"),
    ],
    ids=["reinforce-ma", "reinforce-value", "ppo-kl", "grpo", "rloo"],
)
def test_every_loss_learns_the_target_token_task(settings: dict) -> None:
    config = TokenPGConfig(
        num_envs=32, updates=100, learning_rate=3e-3, eval_every=0, model_config={"n_layer": 1, "n_embd": 32, "n_head": 2},
        **settings, **QUIET,
    )
    agent = TokenPGAgent("tests/TargetToken-v0", config)
    before = agent.evaluate("train", episodes=64, greedy=False)["return"]
    agent.learn()
    after = agent.evaluate("train", episodes=64, greedy=True)["return"]
    assert before < 0.2
    assert after >= 0.9, f"{settings}: greedy success {after} after training (random {before})"


def test_per_turn_discount_uses_end_of_turn() -> None:
    config = TokenPGConfig(num_envs=4, gamma=0.5, **QUIET)
    agent = TokenPGAgent("tests/ChattyUser-v0", config)
    rollout = collect_rollout(agent.policy, agent.envs, [0, 1, 2, 3], SamplingConfig(), agent.device)
    turns = (rollout.turn_ends & rollout.valid).sum(dim=1)
    assert (turns == 3).all()


def test_same_seed_same_learning_curve() -> None:
    def curve() -> list[float]:
        config = TokenPGConfig(num_envs=8, updates=4, eval_every=2, eval_episodes=8, seed=3, **QUIET)
        return [m["return"] for m in TokenPGAgent("dialog_envs/DialogueBLEU-v0", config).learn()]

    assert curve() == curve()


def test_learning_rate_schedules_of_warm_start_and_rl(tmp_path) -> None:
    config = TokenPGConfig(
        num_envs=4, warm_start_updates=4, warm_start_learning_rate=1e-3, warm_start_lr_schedule="linear",
        updates=4, learning_rate=1e-4, warmup_updates=2, lr_schedule="cosine", eval_every=0, **QUIET,
    )
    TokenPGAgent("tests/TargetToken-v0", config, out_dir=tmp_path).learn()
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv", encoding="utf-8")))
    rates = {phase: [float(r["value"]) for r in rows if r["phase"] == phase and r["name"] == "learning_rate"]
             for phase in ("warm_start", "train")}
    assert rates["warm_start"] == pytest.approx([1e-3, 7.5e-4, 5e-4, 2.5e-4], rel=1e-5)  # the CSV keeps 6 digits
    assert rates["train"] == pytest.approx([5e-5, 1e-4, 5e-5 * (1 + math.cos(math.pi * 2 / 4)), 5e-5 * (1 + math.cos(math.pi * 3 / 4))], rel=1e-5)
    with pytest.raises(DialogEnvsError, match="warm_start_lr_schedule"):
        TokenPGConfig(warm_start_lr_schedule="step")


def test_warm_start_then_rl_on_ner_learns_tags() -> None:
    config = TokenPGConfig(
        num_envs=16, warm_start_updates=40, updates=5, eval_every=5, eval_episodes=32, **QUIET
    )
    agent = TokenPGAgent("dialog_envs/NER-v0", config)
    assert agent.policy.kind == "tagger"
    before = agent.evaluate()["token_accuracy"]
    history = agent.learn()
    assert history[-1]["token_accuracy"] > max(0.8, before + 0.2)


def test_the_word_shape_embedding_starts_at_zero_and_is_trained() -> None:
    agent = TokenPGAgent("dialog_envs/NER-v0", TokenPGConfig(num_envs=4, warm_start_updates=3, updates=1, eval_every=0, **QUIET))
    policy = agent.policy.eval()
    assert policy.word_shape is not None and policy.word_shape.num_embeddings == len(WORD_SHAPES)
    obs, _ = agent.envs.reset(seed=0)
    ids, mask, shapes = (torch.as_tensor(obs[key]) for key in ("input_ids", "attention_mask", "word_shape"))
    with torch.no_grad():
        assert torch.equal(policy.encode(ids, mask), policy.encode(ids, mask, shapes))  # a pretrained encoder starts unchanged
    agent.learn()
    assert policy.word_shape.weight[1:].abs().sum() > 0  # the warm start trains it
    with torch.no_grad():
        assert not torch.allclose(policy.encode(ids, mask), policy.encode(ids, mask, shapes))
    off = TokenPGAgent("dialog_envs/NER-v0", TokenPGConfig(num_envs=4, word_shape_features=False, **QUIET))
    assert off.policy.word_shape is None


def test_the_tagger_encodes_only_up_to_the_last_real_token() -> None:
    agent = TokenPGAgent("dialog_envs/NER-v0", TokenPGConfig(num_envs=8, **QUIET), env_kwargs={"max_length": 96})
    policy = agent.policy.eval()
    obs, _ = agent.envs.reset(seed=0)
    ids, mask = torch.as_tensor(obs["input_ids"]), torch.as_tensor(obs["attention_mask"])
    longest = int(mask.sum(dim=1).max())
    with torch.no_grad():
        cut = policy.encode(ids, mask)
        full = policy.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    assert longest <= cut.shape[1] < ids.shape[1] == 96
    real = mask[:, : cut.shape[1]].bool()
    torch.testing.assert_close(cut[real], full[:, : cut.shape[1]][real], rtol=1e-4, atol=1e-5)
    # a step recorded after its row's episode ended may point past the cut (into the next sentence)
    none = torch.full((8,), policy.num_labels)
    past = torch.stack([torch.ones(8, dtype=torch.long), torch.full((8,), 95)], dim=1)
    with torch.no_grad():
        logits, _ = policy.head_outputs(cut, past, torch.stack([none, none], dim=1))
        first, _ = policy.head_outputs(cut, past[:, 0], none)
    torch.testing.assert_close(logits[:, 0], first)


def test_walk_covers_every_example_once() -> None:
    agent = TokenPGAgent("dialog_envs/NER-v0", TokenPGConfig(num_envs=7, **QUIET))
    returns, _, infos = agent.play("test", episodes=None)
    assert len(infos) == 300
    words = [tuple(info["words"]) for info in infos]
    env = agent.split_envs("test")
    expected = [s.words for s in env.call("get_wrapper_attr", "corpus")[0].sentences]
    assert words == expected


def test_save_and_load_round_trip(tmp_path) -> None:
    config = TokenPGConfig(num_envs=4, updates=2, eval_every=0, **QUIET)
    agent = TokenPGAgent("dialog_envs/DialogueBLEU-v0", config)
    agent.learn()
    agent.save(tmp_path / "ckpt")
    loaded = TokenPGAgent.from_checkpoint(tmp_path / "ckpt")
    assert loaded.update == 2
    for (name, a), (_, b) in zip(agent.policy.state_dict().items(), loaded.policy.state_dict().items()):
        assert torch.equal(a, b), name
    seeds = [11, 12, 13, 14]
    greedy = SamplingConfig(greedy=True)
    first = collect_rollout(agent.policy, agent.envs, seeds, greedy, agent.device)
    second = collect_rollout(loaded.policy, loaded.envs, seeds, greedy, loaded.device)
    assert torch.equal(first.actions * first.valid, second.actions * second.valid)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_init_from_starts_rl_from_a_trained_policy_which_is_the_kl_reference(tmp_path: Path) -> None:
    trained = TokenPGAgent("dialog_envs/DialogueBLEU-v0", TokenPGConfig(num_envs=4, warm_start_updates=3, updates=1, eval_every=0, **QUIET))
    trained.learn()
    trained.save(tmp_path / "trained")
    config = TokenPGConfig(num_envs=4, updates=1, eval_every=0, kl_coef=0.1, init_from=str(tmp_path / "trained"), **QUIET)
    agent = TokenPGAgent("dialog_envs/DialogueBLEU-v0", config)
    assert same_weights(agent.policy, trained.policy) and same_weights(agent.reference, trained.policy)
    agent.learn()
    assert not same_weights(agent.policy, trained.policy) and same_weights(agent.reference, trained.policy)
    with pytest.raises(DialogEnvsError, match="is not a checkpoint"):
        TokenPGAgent("dialog_envs/DialogueBLEU-v0", TokenPGConfig(init_from=str(tmp_path / "none"), **QUIET))


def test_a_resumed_run_keeps_the_warm_started_policy_as_its_kl_reference(tmp_path: Path) -> None:
    config = TokenPGConfig(num_envs=4, warm_start_updates=3, updates=2, eval_every=0, kl_coef=0.1, **QUIET)
    agent = TokenPGAgent("dialog_envs/DialogueBLEU-v0", config, out_dir=tmp_path)
    agent.learn()
    initial = TokenPGAgent.from_checkpoint(tmp_path / "checkpoints" / "initial")
    resumed = TokenPGAgent.from_checkpoint(tmp_path / "checkpoints" / "last")
    assert same_weights(resumed.reference, initial.policy) and same_weights(resumed.reference, agent.reference)
    assert not same_weights(resumed.reference, resumed.policy)


def test_bad_config_is_a_clear_error() -> None:
    with pytest.raises(DialogEnvsError, match="group_size >= 2 dividing num_envs"):
        TokenPGConfig(algorithm="grpo", num_envs=6, group_size=4)
    with pytest.raises(DialogEnvsError, match="unknown field"):
        TokenPGConfig.from_dict({"learning_rat": 1.0})
    with pytest.raises(DialogEnvsError, match="algorithm"):
        TokenPGConfig(algorithm="a2c")


@pytest.mark.parametrize(("values", "message"), [
    ({"eval_episodes": None}, r"eval_episodes=None; expected int$"),
    ({"num_envs": True}, r"num_envs=True; expected int$"),
    ({"learning_rate": "1e-3"}, r"learning_rate='1e-3'; expected float \(YAML reads 1e-3 as text"),
    ({"kl_target": "high"}, r"kl_target='high'; expected float or null$"),
    ({"model_config": [1]}, r"model_config=\[1\]; expected dict$"),
    ({"bf16": "yes"}, r"bf16='yes'; expected one of auto, on, off$"),
])
def test_config_values_of_the_wrong_type_are_one_clear_line(values: dict, message: str) -> None:
    with pytest.raises(DialogEnvsError, match=message):
        TokenPGConfig.from_dict(values)
    assert TokenPGConfig.from_dict({"learning_rate": 1, "kl_target": 0.05, "model": None}).learning_rate == 1
    assert TokenPGConfig.from_dict(yaml.safe_load("bf16: off")).bf16 == "off"  # YAML's boolean reading of off


def test_lora_policy_uses_its_disabled_adapter_as_the_kl_reference() -> None:
    pytest.importorskip("peft")
    config = TokenPGConfig(num_envs=4, updates=2, eval_every=0, lora_rank=4, kl_coef=0.1, learning_rate=1e-2, **QUIET)
    agent = TokenPGAgent("dialog_envs/DialogueBLEU-v0", config, {"reward": "chrf"})
    assert agent.reference is None  # no second copy of the model
    trainable = [name for name, p in agent.policy.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable if name.startswith("model."))
    agent.learn()
    rollout = collect_rollout(agent.policy, agent.envs, [1, 2, 3, 4], agent.sampling, agent.device)
    with torch.no_grad(), agent._reference_policy() as reference:
        reference_logits, _ = reference(rollout.policy_inputs)
    with torch.no_grad():
        policy_logits, _ = agent.policy(rollout.policy_inputs)
    assert not torch.allclose(reference_logits, policy_logits)  # the adapter moved the policy away from the reference


def test_lora_checkpoint_round_trip(tmp_path) -> None:
    pytest.importorskip("peft")
    config = TokenPGConfig(num_envs=2, updates=1, eval_every=0, lora_rank=4, learning_rate=1e-2, **QUIET)
    agent = TokenPGAgent("dialog_envs/DialogueBLEU-v0", config, {"reward": "chrf"})
    agent.learn()
    agent.save(tmp_path / "ckpt")
    loaded = TokenPGAgent.from_checkpoint(tmp_path / "ckpt")
    for (name, a), (_, b) in zip(agent.policy.state_dict().items(), loaded.policy.state_dict().items()):
        assert torch.equal(a, b), name


def test_models_that_transform_their_logits_are_refused() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    from dialog_envs.agents.policies import CausalLMPolicy

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50))
    model.config.final_logit_softcapping = 30.0
    with pytest.raises(DialogEnvsError, match="final_logit_softcapping=30.0"):
        CausalLMPolicy(model, pad_token_id=0, num_actions=50)
