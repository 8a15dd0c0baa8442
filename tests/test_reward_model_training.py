"""Reward models learned from feedback logs: they learn the rules behind the ratings and the
preferences, stop early, save and load without running anything, and refuse bad logs in one line."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from dialog_envs.agents.reward_model import RewardModel
from dialog_envs.agents.reward_model_training import read_feedback_data, split_by_session, train_reward_model
from dialog_envs.cli import main
from dialog_envs.errors import DialogEnvsError
from tests.feedback_logs import record, tiny_config, write_log

HELD_OUT_ANSWERS = ["the parcel is at the depot", "we refunded you yesterday", "your shoes are back in stock"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RewardModel, Path]:
    """A tiny encoder trained on a log of both kinds of record: (log, model, checkpoint)."""
    folder = tmp_path_factory.mktemp("reward_model")
    log = write_log(folder / "feedback.jsonl", sessions=16)
    result = train_reward_model(log, tiny_config(max_epochs=12, patience=0), folder / "checkpoint")
    return log, result.model, folder / "checkpoint"


def test_the_model_ranks_held_out_replies_by_the_rules_of_the_log(trained: tuple[Path, RewardModel, Path]) -> None:
    _, model, _ = trained
    users = ["where is my parcel"] * len(HELD_OUT_ANSWERS)
    thanked = model.score(users, [f"thanks, {answer}" for answer in HELD_OUT_ANSWERS])
    plain = model.score(users, HELD_OUT_ANSWERS)
    assert (thanked > plain).all(), (thanked, plain)
    assert thanked.mean() - plain.mean() > 1.0  # on the rating scale: 5 against 1
    longer = model.score(users[:2], ["i am reading your order history to find the parcel", "please wait while i ask the courier about it"])
    shorter = model.score(users[:2], ["sure", "nope"])
    assert (longer > shorter).all(), (longer, shorter)


def test_validation_metrics_and_s_base(trained: tuple[Path, RewardModel, Path]) -> None:
    log, model, folder = trained
    state = RewardModel.load(folder)
    train, _ = split_by_session(read_feedback_data(log), 0.2, 0)
    assert state.s_base == pytest.approx(float(np.mean(model.score(*train.pairs()))))
    metrics = json.loads((folder / "reward_model.json").read_text())["validation"]
    assert metrics["pairwise_accuracy"] >= 0.8 and metrics["pearson"] > 0.5 and metrics["rmse"] < 1.5


def test_the_split_keeps_sessions_whole_and_is_seeded(tmp_path: Path) -> None:
    data = read_feedback_data(write_log(tmp_path / "log.jsonl", sessions=10))
    train, validation = split_by_session(data, 0.2, seed=0)
    sessions = lambda part: {r.session for r in [*part.turns, *part.preferences]}  # noqa: E731
    assert not sessions(train) & sessions(validation) and len(sessions(validation)) == 2
    assert len(train) + len(validation) == len(data)
    again, _ = split_by_session(data, 0.2, seed=0)
    other, _ = split_by_session(data, 0.2, seed=1)
    assert sessions(again) == sessions(train) and sessions(other) != sessions(train)


def test_early_stopping_stops_after_patience_epochs_without_improvement(tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl", sessions=5)
    result = train_reward_model(log, tiny_config(learning_rate=0.0, max_epochs=20, patience=2))  # nothing can improve
    assert (result.best_epoch, result.epochs) == (1, 3)


@pytest.mark.parametrize("kind", ["turns", "preferences"])
def test_a_log_of_one_kind_trains_on_its_loss_only(kind: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl", sessions=5, turns=kind == "turns", preferences=kind == "preferences")
    result = train_reward_model(log, tiny_config(max_epochs=1))
    assert ("rmse" in result.validation) == (kind == "turns")
    assert ("pairwise_accuracy" in result.validation) == (kind == "preferences")


@pytest.mark.parametrize("architecture", ["encoder", "causal_lm"])
def test_checkpoint_round_trip_gives_identical_scores(architecture: str, tmp_path: Path) -> None:
    log = write_log(tmp_path / "log.jsonl", sessions=5)
    result = train_reward_model(log, tiny_config(architecture=architecture, max_epochs=1), tmp_path / "checkpoint")
    loaded = RewardModel.load(tmp_path / "checkpoint")
    users, replies = read_feedback_data(log).pairs()
    assert loaded.architecture == architecture and loaded.s_base == result.model.s_base
    np.testing.assert_array_equal(loaded.score(users, replies), result.model.score(users, replies))


class _Marker:
    """Unpickling this would create ``path``: the proof that a pickle ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.path,))


@pytest.mark.parametrize("planted", ["evil.pkl", "model/pytorch_model.bin", "tokenizer/tokenization_evil.py", "auto_map"])
def test_a_checkpoint_with_a_pickle_or_code_is_refused(planted: str, trained: tuple[Path, RewardModel, Path], tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint"
    shutil.copytree(trained[2], folder)
    marker = tmp_path / "ran"
    if planted == "auto_map":
        config = folder / "model" / "config.json"
        config.write_text(config.read_text().replace("{", '{"auto_map": {"AutoModel": "evil.Model"},', 1))
        expected = "remote code"
    else:
        (folder / planted).write_bytes(pickle.dumps(_Marker(marker)))
        expected = "refusing"
    with pytest.raises(DialogEnvsError, match=expected):
        RewardModel.load(folder)
    assert not marker.exists()


def test_corrupt_weights_are_one_clear_error(trained: tuple[Path, RewardModel, Path], tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint"
    shutil.copytree(trained[2], folder)
    (folder / "reward_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(DialogEnvsError, match="cannot load the reward model's weights"):
        RewardModel.load(folder)


def _bad_logs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    ends = tmp_path / "ends.jsonl"
    end = record("end", "s0", 0, "", reason="user_quit")
    del end["user_text"]
    ends.write_text(json.dumps(end) + "\n")
    wrong = tmp_path / "notes.txt"
    wrong.write_text("these are my notes\n")
    return {
        "empty": (empty, "no 'turn' or 'preference' records"),
        "no ratings": (ends, "no 'turn' or 'preference' records"),
        "one session": (write_log(tmp_path / "one.jsonl", sessions=1), "1 session(s), so the validation split is empty"),
        "not a log": (wrong, "notes.txt:1: not a JSON record"),
        "missing": (tmp_path / "missing.jsonl", "cannot be read"),
        "folder": (tmp_path, "cannot be read"),
    }


@pytest.mark.parametrize("case", ["empty", "no ratings", "one session", "not a log", "missing", "folder"])
def test_bad_logs_are_one_line_errors_on_the_command_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log, expected = _bad_logs(tmp_path)[case]
    assert main(["reward-model", "train", "--log", str(log), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and expected in error, error
    assert not (tmp_path / "out").exists()


def test_train_and_score_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_log(tmp_path / "log.jsonl", sessions=5)
    out = tmp_path / "checkpoint"
    settings = ["--set", "model_config={hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64}",
                "--set", "max_epochs=2", "--set", "device=cpu", "--set", "vocab_size=300"]
    assert main(["reward-model", "train", "--log", str(log), "--out", str(out), *settings]) == 0
    assert "pairwise_accuracy" in capsys.readouterr().out
    assert main(["reward-model", "score", "--model", str(out), "--user", "hi", "--reply", "thanks, here it is"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["reward"] == pytest.approx(shown["score"] - shown["s_base"], abs=1e-5)
    assert main(["reward-model", "score", "--model", str(out), "--log", str(log)]) == 0
    assert "spearman" in capsys.readouterr().out
    assert main(["reward-model", "score", "--model", str(out), "--user", "hi"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
