"""The throughput benchmark runs end to end at a tiny size and writes valid JSON and markdown; its
limits (FLOPs per token, rollout bound) follow the documented formulas; benchmarks write under runs/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from benchmarks import limits, reward_speed, simuser_reference, throughput, throughput_report
from benchmarks.limits import ModelShape


def test_smoke_run_writes_valid_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "throughput.json"
    code = throughput.main([
        "--quick", "--num-envs", "4", "--max-new-tokens", "3", "--repeats", "1",
        "--rows", "reference,rollout,generate,reinforce,grpo,ppo_kl,env", "--bf16", "off", "--out", str(out),
    ])
    assert code == 0
    results = json.loads(out.read_text())
    tiny = results["models"]["tiny"]
    assert tiny["setup"]["num_envs"] == 4 and tiny["setup"]["vector_env"] == "DialogueBLEUVectorEnv"
    assert results["complete"] and results["device"]["type"] == "cpu" and results["versions"]["torch"]
    for peak in ("matmul_fp32", "matmul_bf16"):
        assert results["machine"][peak]["flops_per_s"] > 0
    assert results["machine"]["memory"]["bytes_per_s"] > 0
    for name in ("reference_kv_cache_sampling", "reference_forward_backward", "agent_rollout", "hf_generate",
                 "agent_train_reinforce", "agent_train_ppo_kl", "agent_train_grpo"):
        rate = tiny["parts"][name]["tokens_per_s"]
        assert 0 < rate["min"] <= rate["median"] <= rate["max"], name
        assert tiny["parts"][name]["memory"]["rss_peak_mb"] > 0
    for name in ("agent_train_reinforce", "agent_train_ppo_kl", "agent_train_grpo"):
        for stage in ("rollout", "update", "end_to_end"):
            assert 0 < tiny["parts"][name]["mfu"][stage]["median"] < 1, (name, stage)
    rollout = tiny["parts"]["agent_rollout"]
    assert 0 < rollout["mfu"]["median"] < 1 and 0 < rollout["share_of_bound"]["median"] < 1
    for name in ("env_single", "env_native_vector", "env_sync_vector"):
        assert results["env_only"][name]["steps_per_s"]["median"] > 0
    assert {t["target"] for t in results["targets"]} and all("goal" in t for t in results["targets"])
    table = out.with_suffix(".md").read_text()
    assert "| agent: train end-to-end, GRPO |" in table and "| target |" in table
    assert "ceiling" not in table.lower() and "ceiling" not in json.dumps(results).lower()
    assert "agent: train end-to-end" in capsys.readouterr().out


def test_profile_writes_a_table_of_top_ops(tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    threads = torch.get_num_threads()
    try:
        code = throughput.main(["--quick", "--num-envs", "4", "--max-new-tokens", "2", "--rows", "none", "--profile",
                                "--torch-threads", "1", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    assert json.loads(out.read_text())["device"]["torch_threads"] == 1
    text = out.with_suffix(".profile.txt").read_text()
    assert "one GRPO update of tiny" in text and "Top ops by self_cpu_time_total" in text and "aten::" in text
    assert json.loads(out.read_text())["profile"]["tokens"] > 0


def test_unknown_model_or_row_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert throughput.main(["--models", "tiny,gpt5", "--out", "unused.json"]) == 2
    assert "--models: unknown gpt5" in capsys.readouterr().err
    assert throughput.main(["--rows", "speed", "--out", "unused.json"]) == 2
    assert "--rows: unknown speed" in capsys.readouterr().err


def test_trl_missing_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throughput.peers, "trl_available", lambda: False)
    parts = {"peer_trl_grpo": {"skipped": "TRL is not installed: pip install 'dialog-envs[compare]'"}}
    results = {
        "models": {"tiny": {
            "parts": parts, "shape": {"matrix_parameters": 1, "vocab": 1, "weight_bytes": 4},
            "setup": {"label": "x", "model_parameters": 1, "trainable_parameters": 1, "num_envs": 1, "group_size": 1,
                      "max_context_tokens": 1, "max_new_tokens": 1, "bf16_autocast": False, "peak_flops_per_s": 1.0},
        }},
        "device": {"type": "cpu", "cpu": "x", "torch_threads": 1},
        "machine": {"matmul_fp32": {"flops_per_s": 1.0}, "matmul_bf16": {"flops_per_s": 1.0},
                    "memory": {"bytes_per_s": 1.0, "read_bytes_per_s": 1.0, "copy_bytes_per_s": 1.0}},
    }
    found = {t["target"]: t for t in throughput_report.targets(results)}
    assert found["tiny: agent GRPO end-to-end / TRL GRPOTrainer"]["met"] is None
    results["targets"] = list(found.values())
    assert "not run: TRL is not installed" in throughput_report.markdown(results)


# -- limits ---------------------------------------------------------------------------------------


def _gpt2(layers: int = 2, width: int = 32, vocab: int = 50) -> GPT2LMHeadModel:
    return GPT2LMHeadModel(GPT2Config(n_layer=layers, n_embd=width, n_head=2, vocab_size=vocab, n_positions=64))


def test_model_shape_counts_the_blocks_matrices_and_the_output_layer() -> None:
    shape = ModelShape.of(_gpt2())
    assert shape.matrix_parameters == 2 * 12 * 32 * 32  # attention 4 d^2 and MLP 8 d^2 per layer
    assert (shape.layers, shape.hidden, shape.kv_width, shape.vocab, shape.lora) == (2, 32, 32, 50, False)
    assert shape.weight_bytes == 4 * (shape.matrix_parameters + 50 * 32)


def test_flops_follow_the_documented_formulas() -> None:
    shape = ModelShape(matrix_parameters=1000, adapter_parameters=0, layers=2, hidden=8, kv_width=8, vocab=10, weight_bytes=0, lora=False)
    assert shape.forward_flops(tokens=3, attended=6, logits=1) == 2 * 1000 * 3 + 4 * 2 * 8 * 6 + 2 * 8 * 10
    assert shape.training_flops(3, 6, 1) == 3 * shape.forward_flops(3, 6, 1)
    lora = ModelShape(**{**shape.to_dict(), "adapter_parameters": 50, "lora": True})
    assert lora.training_flops(3, 6, 1) == 2 * shape.forward_flops(3, 6, 1) + 6 * 50 * 3
    # one row, context 2, reply 3: prefill of 2 tokens (attending 1 + 2), then 2 fed tokens (3 + 4)
    rollout = limits.rollout_flops(shape, [2], [3])
    assert rollout["prefill"] == shape.forward_flops(2, 3, 1)
    assert rollout["decode"] == shape.forward_flops(2, 7, 2)
    assert limits.training_pass_flops(shape, [2], [3]) == shape.training_flops(4, 10, 3)


def test_rollout_bound_takes_the_slower_of_compute_and_memory_per_step() -> None:
    shape = ModelShape(matrix_parameters=1000, adapter_parameters=0, layers=1, hidden=4, kv_width=4, vocab=10, weight_bytes=4000, lora=False)
    compute_bound = limits.rollout_bound_seconds(shape, [4, 4], [3, 2], flops_per_s=1e3, bytes_per_s=1e12, cache_bytes=4)
    memory_bound = limits.rollout_bound_seconds(shape, [4, 4], [3, 2], flops_per_s=1e12, bytes_per_s=1e3, cache_bytes=4)
    assert compute_bound["total_s"] == pytest.approx(compute_bound["prefill_s"] + compute_bound["decode_compute_s"])
    # step 1 reads the weights and both rows' caches (5 positions each); step 2 only row 0's (6)
    read = 4000 + 2 * 1 * 4 * 5 * 4 * 2 + 4000 + 2 * 1 * 4 * 6 * 4
    assert memory_bound["decode_memory_s"] == pytest.approx(read / 1e3)
    assert memory_bound["total_s"] == pytest.approx(memory_bound["prefill_s"] + memory_bound["decode_memory_s"])


def test_machine_limits_are_positive_rates() -> None:
    device = torch.device("cpu")
    peak = limits.matmul_peak(device, torch.float32, repeats=1, max_size=512)
    assert peak["flops_per_s"] > 0 and peak["size"] == 512
    memory = limits.memory_bandwidth(device, megabytes=8, repeats=1)
    assert memory["bytes_per_s"] == max(memory["read_bytes_per_s"], memory["copy_bytes_per_s"]) > 0


# -- where results go -----------------------------------------------------------------------------


def test_every_benchmark_writes_under_runs_by_default() -> None:
    from dialog_envs.agents.bench_suite import quick_suite
    from dialog_envs.agents.benchmark import default_out

    parser = throughput.argparse.ArgumentParser()
    throughput.add_arguments(parser)
    defaults = {
        "throughput": parser.parse_args([]).out,
        "reward_speed": reward_speed.DEFAULT_OUT,
        "simuser_reference": simuser_reference.DEFAULT_OUT,
        "dialog-envs bench": default_out(quick_suite()),
    }
    for name, path in defaults.items():
        assert Path(path).parts[0] == "runs", (name, path)
