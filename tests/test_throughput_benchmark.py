"""The throughput benchmark runs end to end at a tiny size and writes valid JSON and markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import throughput


def test_smoke_run_writes_valid_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "throughput.json"
    code = throughput.main([
        "--quick", "--num-envs", "4", "--max-new-tokens", "3", "--repeats", "1",
        "--reward-batch", "0", "--peers", "none", "--bf16", "off", "--out", str(out),
    ])
    assert code == 0
    results = json.loads(out.read_text())
    assert results["setup"]["num_envs"] == 4 and results["setup"]["vector_env"] == "DialogueBLEUVectorEnv"
    assert results["device"]["type"] == "cpu" and results["versions"]["torch"]
    for name in ("ceiling_kv_cache_sampling", "ceiling_forward_backward", "agent_rollout",
                 "agent_train_reinforce", "agent_train_ppo_kl", "agent_train_grpo"):
        rate = results["parts"][name]["tokens_per_s"]
        assert 0 < rate["min"] <= rate["median"] <= rate["max"], name
        assert results["parts"][name]["memory"]["rss_peak_mb"] > 0
    for name in ("env_single", "env_native_vector", "env_sync_vector"):
        assert results["parts"][name]["steps_per_s"]["median"] > 0
    assert {t["target"] for t in results["targets"]} and all("goal" in t for t in results["targets"])
    table = out.with_suffix(".md").read_text()
    assert "| agent: train end-to-end, GRPO |" in table and "| target |" in table
    assert "agent: train end-to-end" in capsys.readouterr().out


def test_trl_missing_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throughput.peers, "trl_available", lambda: False)
    parts = {"peer_trl_grpo": {"skipped": "TRL is not installed: pip install 'dialog-envs[compare]'"}}
    found = {t["target"]: t for t in throughput.targets(parts)}
    assert found["agent GRPO end-to-end / TRL GRPOTrainer"]["met"] is None
    results = {"parts": parts, "setup": {"model_config": {}, "vocab_size": 1, "model_parameters": 1, "num_envs": 1,
               "max_context_tokens": 1, "max_new_tokens": 1, "bf16_autocast": False},
               "device": {"type": "cpu", "cpu": "x", "torch_threads": 1}, "targets": list(found.values())}
    assert "not run: TRL is not installed" in throughput.markdown(results)
