"""``dialog-envs train`` and ``evaluate``: a run killed with SIGKILL resumes from its last checkpoint
with nothing lost or corrupted, and evaluation compares before and after."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dialog_envs.agents.checkpoint import read_state
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.cli import main
from dialog_envs.data.generated_ner import generated_ner_split

TINY = [
    "--set", "num_envs=4", "--set", "eval_every=0", "--set", "save_every=1", "--set", "progress=false",
    "--set", "model_config={n_layer: 1, n_embd: 32, n_head: 2}", "--set", "bf16=off",
]


def train_command(out: Path, updates: int) -> list[str]:
    return [sys.executable, "-m", "dialog_envs.cli", "train", "--env", "dialog_envs/NER-v0", "--out", str(out),
            "--set", f"updates={updates}", *TINY]


def test_sigkill_then_resume_continues_from_the_last_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(train_command(out, 400), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    state_file = out / "checkpoints" / "last" / "state.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if state_file.exists() and read_state(state_file.parent)["update"] >= 5:
            break
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail(f"no checkpoint within 120 s: {process.communicate()[1].decode()[-2000:]}")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # whatever the kill interrupted, a complete checkpoint is there (possibly the retired one)
    killed_at = TokenPGAgent.from_checkpoint(out / "checkpoints" / "last").update
    assert 5 <= killed_at < 400

    result = subprocess.run(train_command(out, killed_at + 3), capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resuming {out} at update {killed_at}" in result.stdout
    assert read_state(out / "checkpoints" / "last")["update"] == killed_at + 3
    rows = list(csv.reader((out / "metrics.csv").read_text().splitlines()))
    assert rows[0] == ["update", "phase", "name", "value", "seconds"]
    assert all(len(row) == 5 for row in rows)
    returns = [int(row[0]) for row in rows[1:] if row[1] == "train" and row[2] == "return"]
    assert returns == list(range(1, killed_at + 4))  # each update logged once, none lost

    uninterrupted = tmp_path / "uninterrupted"
    result = subprocess.run(train_command(uninterrupted, killed_at + 3), capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    resumed_weights = load_file(out / "checkpoints" / "last" / "policy.safetensors")
    straight_weights = load_file(uninterrupted / "checkpoints" / "last" / "policy.safetensors")
    assert resumed_weights.keys() == straight_weights.keys()
    assert all(torch.equal(resumed_weights[name], straight_weights[name]) for name in resumed_weights)


def test_evaluate_compares_before_and_after(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    args = ["train", "--env", "NER-v0", "--out", str(out), "--set", "updates=2", "--set", "warm_start_updates=3", *TINY[:-2]]
    args += ["--set", "eval_every=1", "--set", "eval_episodes=8"]
    assert main(args) == 0
    for name in ("initial", "best", "last"):
        assert (out / "checkpoints" / name / "policy.safetensors").exists()
    assert main(["evaluate", "--checkpoint", str(out / "checkpoints" / "best"), "--split", "validation",
                 "--json", str(tmp_path / "eval.json")]) == 0
    text = capsys.readouterr().out
    assert "| metric | before | after | change |" in text
    assert "(the policy before RL; after its warm start, if any)" in text and "(the checkpoint best on validation)" in text
    assert "token-level report (after)" in text and "micro avg" in text
    results = json.loads((tmp_path / "eval.json").read_text())
    assert results["after"]["episodes"] == 300  # the whole validation split, walked in order
    words = sum(len(sentence.words) for sentence in generated_ner_split("validation"))
    report = results["after"]["token_report"]
    assert sum(row["support"] for tag, row in report.items() if "avg" not in tag) == words
    assert report["micro avg"]["support"] == words


def test_bad_config_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("learning_rate: [1, 2\n")
    assert main(["train", "--env", "NER-v0", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    assert "cannot read the config" in capsys.readouterr().err
    config.write_text("learnig_rate: 0.1\n")
    assert main(["train", "--env", "NER-v0", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    assert "unknown field(s) learnig_rate" in capsys.readouterr().err


def test_help_config_lists_every_field_with_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    from dialog_envs.agents.config import TokenPGConfig

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help-config"])  # --env and --out are not needed
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    for field in dataclasses.fields(TokenPGConfig):
        assert f"\n  {field.name}: " in out, field.name
        assert " ".join(field.metadata["help"].split()) in flat, field.name
    assert "ppo_minibatches: int = 1" in out
