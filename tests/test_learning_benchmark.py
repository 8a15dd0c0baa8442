"""The sft_then_rl protocol of ``dialog-envs bench`` on the bundled NER corpus, tiny budgets: the
warm-start (SFT) policy and the RL checkpoint chosen on validation, against budget baselines, on
held-out splits; resume and the retry of a failed RL stage."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium as gym
import pytest
import yaml

from dialog_envs.agents.bench_suite import QUICK_TOKEN_PG
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.cli import main
from dialog_envs.errors import DialogEnvsError

from tests.test_bench import check_png, validate

TOKEN_PG = {
    "name": "token-pg",
    "protocol": "sft_then_rl",
    "config": {"num_envs": 8, "warm_start_updates": 3, "updates": 2, "eval_every": 1, "eval_episodes": 8,
               "eval_metric": "entity_f1_corpus", "model_config": QUICK_TOKEN_PG["model_config"]},
}
SUITE = {
    "version": 1,
    "name": "tiny_ner",
    "envs": [{"id": "dialog_envs/NER-v0", "kwargs": {"reward": "dense_f1"}}],
    "seeds": [0],
    "budget": 64,
    "eval_episodes": None,
    "metrics": ["token_micro_f1", "entity_f1_corpus"],
    "agents": [TOKEN_PG, "expert", "random"],
}


def bench(tmp_path: Path, suite: dict, *extra: str) -> dict:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    out = tmp_path / "out"
    assert main(["bench", "--suite", str(path), "--out", str(out), "--no-progress", *extra]) == 0
    results = json.loads((out / "results.json").read_text())
    validate(results)
    return results


def cells(results: dict) -> dict[str, dict]:
    return {run["agent"]: run for run in results["runs"]}


def test_sft_then_rl_against_baselines_on_the_whole_test_split(tmp_path: Path) -> None:
    results = bench(tmp_path, SUITE)
    test_env = gym.make("dialog_envs/NER-v0", split="test").unwrapped
    sentences = test_env.split_size
    words = sum(len(sentence.tags) for sentence in test_env.corpus.sentences)
    token_pg = cells(results)["token-pg"]
    assert token_pg["protocol"] == "sft_then_rl" and token_pg["budget"] is None and token_pg["error"] is None
    for stage in ("before", "after"):
        report = token_pg["details"]["test"][stage]
        assert report["episodes"] == sentences
        assert report["token_report"]["micro avg"]["support"] == words  # every test word, once
        assert 0.0 <= report["entity"]["f1"] <= 1.0
        metrics = token_pg["evaluations"]["test"][stage]
        assert metrics["entity_f1_corpus"] == pytest.approx(report["entity"]["f1"])
        assert metrics["entity_precision_corpus"] == pytest.approx(report["entity"]["precision"])
    history = token_pg["validation_history"]
    assert [point["update"] for point in history] == [0, 1, 2]  # the warm-start policy competes too
    best = max(history, key=lambda point: point["entity_f1_corpus"])  # the first of equals, as the agent keeps
    assert token_pg["chosen_update"] == best["update"]
    assert token_pg["wall_seconds"]["warm_start"] > 0 and token_pg["wall_seconds"]["train"] > 0
    assert not (tmp_path / "out" / "work").exists() or not any((tmp_path / "out" / "work").iterdir())
    expert = cells(results)["expert"]
    assert expert["protocol"] == "budget" and expert["evaluations"]["test"]["after"]["entity_f1_corpus"] == 1.0
    assert cells(results)["random"]["evaluations"]["test"]["after"]["entity_f1_corpus"] < 0.5
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "| token-pg | sft | 1 |" in markdown and "| token-pg | rl | 1 |" in markdown
    assert "| expert | after | 1 | 1.0000 | 1.0000 |" in markdown
    check_png(tmp_path / "out" / "curves" / "NER-v0_validation.png")


def test_a_finished_cell_is_skipped_on_the_next_run(tmp_path: Path) -> None:
    suite = {**SUITE, "eval_episodes": 8, "agents": [TOKEN_PG, "random"]}
    first = bench(tmp_path, suite)
    files = {path.name: path.read_text() for path in (tmp_path / "out" / "runs").glob("*.json")}
    assert len(files) == 2 and first["runs_resumed"] == 0
    again = bench(tmp_path, {**suite, "seeds": [0, 1]}, "--only", "random")
    assert again["runs_resumed"] == 1 and [run["seed"] for run in again["runs"]] == [0, 1]
    assert cells(first)["random"] == again["runs"][0]
    assert all((tmp_path / "out" / "runs" / name).read_text() == text for name, text in files.items())


def test_validation_and_test_before_and_after_with_mean_and_standard_error(tmp_path: Path) -> None:
    """What the agent targets measure: training wall time and before/after on validation and test."""
    suite = {**SUITE, "seeds": [0, 1], "eval_episodes": 8, "eval_splits": ["validation", "test"], "agents": [TOKEN_PG]}
    results = bench(tmp_path, suite)
    assert len(results["runs"]) == 2
    for run in results["runs"]:
        assert set(run["evaluations"]) == {"validation", "test"}
        assert all(set(stages) == {"before", "after"} for stages in run["evaluations"].values())
    row = results["summary"][0]
    values = [run["evaluations"]["validation"]["after"]["entity_f1_corpus"] - run["evaluations"]["validation"]["before"]["entity_f1_corpus"]
              for run in results["runs"]]
    change = row["evaluations"]["validation"]["change"]["entity_f1_corpus"]
    assert change["n"] == 2 and change["mean"] == pytest.approx(sum(values) / 2)
    assert change["se"] == pytest.approx(abs(values[0] - values[1]) / 2)
    assert row["train_seconds"]["n"] == 2 and row["train_seconds"]["mean"] > 0
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "### validation split" in markdown and "### test split" in markdown


def test_a_failed_rl_stage_keeps_the_sft_result_and_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    learn = TokenPGAgent.learn

    def rl_fails(self, *args, **kwargs):
        if not args and kwargs.get("updates") != 0:  # the RL stage; the warm start is learn(updates=0)
            raise DialogEnvsError("the RL stage broke")
        return learn(self, *args, **kwargs)

    suite = {**SUITE, "eval_episodes": 8, "agents": [TOKEN_PG]}
    monkeypatch.setattr(TokenPGAgent, "learn", rl_fails)
    record = bench(tmp_path, suite)["runs"][0]
    assert record["error"] == "the RL stage broke" and "after" not in record["evaluations"]["test"]
    assert record["evaluations"]["test"]["before"]["return"] is not None
    assert Path(record["work_folder"], "checkpoints", "initial").is_dir()
    assert "| token-pg | rl | 0 | failed | failed | | |" in (tmp_path / "out" / "results.md").read_text()
    monkeypatch.setattr(TokenPGAgent, "learn", learn)
    again = bench(tmp_path, suite)
    assert again["runs_resumed"] == 0 and again["runs"][0]["error"] is None and "after" in again["runs"][0]["evaluations"]["test"]


def test_rl_updates_are_kept_with_their_kl_and_drawn_as_a_reward_kl_frontier(tmp_path: Path) -> None:
    with_kl = {**TOKEN_PG, "label": "kl-0.1", "config": {**TOKEN_PG["config"], "kl_coef": 0.1, "updates": 3}}
    suite = {**SUITE, "eval_episodes": 8, "eval_splits": ["test"], "agents": [with_kl, TOKEN_PG]}
    results = bench(tmp_path, suite)
    stats = cells(results)["kl-0.1"]["update_stats"]
    assert [point["update"] for point in stats] == [1, 2, 3]
    assert all(math.isfinite(point["kl"]) and point["kl_coef"] > 0 and "return" in point for point in stats)
    assert stats[0]["env_steps"] < stats[1]["env_steps"] < stats[2]["env_steps"]
    assert all("kl" not in point for point in cells(results)["token-pg"]["update_stats"])  # no reference kept
    check_png(tmp_path / "out" / "curves" / "NER-v0_reward_kl.png")
    assert "curves/NER-v0_reward_kl.png" in results["curve_files"]


def test_frontier_points_average_windows_of_updates_over_seeds() -> None:
    from dialog_envs.agents.bench_report import FRONTIER_POINTS, frontier_points

    runs = [{"update_stats": [{"update": u, "env_steps": u, "kl": 0.01 * u + seed, "return": float(u)} for u in range(1, 41)]}
            for seed in (0, 1)]
    kls, rewards = frontier_points(runs)
    assert len(kls) == len(rewards) == FRONTIER_POINTS  # 40 updates in windows of 2
    assert rewards[0] == pytest.approx(1.5) and kls[0] == pytest.approx(0.5 + 0.015)
    assert frontier_points([{"update_stats": [{"update": 1, "env_steps": 8, "return": 1.0}]}]) == ([], [])
