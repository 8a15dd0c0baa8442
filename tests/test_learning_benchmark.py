"""The learning-quality benchmark runner (benchmarks/learning.py) on the bundled NER corpus, tiny budgets."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import yaml

from benchmarks import learning
from dialog_envs.errors import DialogEnvsError

SUITE = {
    "name": "tiny_ner",
    "env": "dialog_envs/NER-v0",
    "env_kwargs": {"reward": "dense_f1"},
    "seeds": [0],
    "test_episodes": None,
    "metrics": ["token_micro_f1", "entity_f1"],
    "runs": [
        {"name": "token-pg", "agent": "token-pg",
         "config": {"num_envs": 8, "warm_start_updates": 3, "updates": 2, "eval_every": 1, "eval_episodes": 8,
                    "eval_metric": "entity_f1_corpus", "progress": False}},
        {"name": "expert", "agent": "expert", "budget": 0},
        {"name": "random", "agent": "random", "budget": 0},
    ],
}


def run_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suite: dict, *extra: str) -> dict:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    out = tmp_path / "results.json"
    monkeypatch.setattr(sys, "argv", ["learning", str(path), "--out", str(out), *extra])
    learning.main()
    return json.loads(out.read_text())


def test_suite_reports_sft_rl_and_baselines_on_the_whole_test_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = run_suite(tmp_path, monkeypatch, SUITE)
    test_env = gym.make("dialog_envs/NER-v0", split="test").unwrapped
    sentences = test_env.split_size
    words = sum(len(sentence.tags) for sentence in test_env.corpus.sentences)
    token_pg = results["runs"]["token-pg"]["0"]
    for stage in ("sft", "rl"):
        report = token_pg[stage]
        assert report["episodes"] == sentences
        assert report["token_report"]["micro avg"]["support"] == words  # every test word, once
        assert 0.0 <= report["entity"]["f1"] <= 1.0
    assert [point["update"] for point in token_pg["validation_history"]] == [1, 2]
    expert = results["runs"]["expert"]["0"]["after"]
    assert expert["entity"]["f1"] == 1.0 and expert["episodes"] == sentences
    assert results["runs"]["random"]["0"]["after"]["entity"]["f1"] < 0.5
    summary = (tmp_path / "results.md").read_text()
    assert "| token-pg | sft | 1 |" in summary and "| expert | after | 1 | 1.0000 | 1.0000 |" in summary
    assert (tmp_path / "results_curves.png").stat().st_size > 0
    # a second invocation skips the runs already in the file
    again = run_suite(tmp_path, monkeypatch, SUITE, "--only", "random")
    assert again["runs"]["random"] == results["runs"]["random"]


def test_bad_suites_name_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "env": "dialog_envs/NER-v0", "runs": [{"name": "ppo", "agent": "ppo"}]}))
    with pytest.raises(DialogEnvsError, match=r"bad.yaml: runs\[0\] \(ppo\): a baseline needs a budget"):
        learning.load_suite(path)
    path.write_text("name: x\nruns: []\n")
    with pytest.raises(DialogEnvsError, match="missing field 'env'"):
        learning.load_suite(path)


def test_a_failed_rl_stage_keeps_the_sft_result_and_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = {**SUITE["runs"][0], "config": {**SUITE["runs"][0]["config"], "eval_metric": "no_such_metric"}}
    suite = {**SUITE, "runs": [failing]}
    results = run_suite(tmp_path, monkeypatch, suite)
    record = results["runs"]["token-pg"]["0"]
    assert "no_such_metric" in record["rl_error"] and "rl" not in record
    assert record["sft"]["episodes"] > 0 and Path(record["run_folder"], "checkpoints", "initial").is_dir()
    shutil.rmtree(record["run_folder"])
    assert "| token-pg | rl | 0 | failed | failed | |" in (tmp_path / "results.md").read_text()
    fixed = {**suite, "runs": [SUITE["runs"][0]]}
    again = run_suite(tmp_path, monkeypatch, fixed)["runs"]["token-pg"]["0"]
    assert "rl" in again and "rl_error" not in again
