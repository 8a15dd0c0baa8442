"""The command line: play, eval-ner, and clear one-line errors instead of tracebacks."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest

import dialog_envs  # noqa: F401
from dialog_envs.cli import main
from dialog_envs.commands.play import play


def test_play_takes_tags_and_explains_bad_input() -> None:
    env = gym.make("dialog_envs/NER-v0", render_mode="ansi")
    env.reset(seed=0)
    n_words = len(env.unwrapped.sentence.words)
    typed = "PERSON\n" + "O\n" * n_words
    out = io.StringIO()
    assert play(env, episodes=1, seed=0, stdin=io.StringIO(typed), stdout=out) == 0
    text = out.getvalue()
    assert "not understood: 'PERSON' is not a tag" in text
    assert "episode 1 over: return" in text
    assert text.count("reward +") == n_words


def test_play_ends_cleanly_on_end_of_input() -> None:
    out = io.StringIO()
    env = gym.make("dialog_envs/NER-v0", render_mode="ansi")
    assert play(env, episodes=1, seed=0, stdin=io.StringIO(""), stdout=out) == 0
    assert out.getvalue().rstrip().endswith("bye")


def test_play_unknown_env_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["play", "NoSuch-v0"]) == 2
    assert "unknown environment 'NoSuch-v0'; available: dialog_envs/NER-v0" in capsys.readouterr().err


def write_conll(path: Path, sentences: list[list[tuple[str, str]]]) -> Path:
    path.write_text("\n\n".join("\n".join(f"{w} {t}" for w, t in s) for s in sentences) + "\n")
    return path


def test_eval_ner_prints_both_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = write_conll(tmp_path / "gold.txt", [[("EU", "B-ORG"), ("rejects", "O")], [("Peter", "B-PER"), ("Blackburn", "I-PER")]])
    predicted = write_conll(tmp_path / "pred.txt", [[("EU", "B-ORG"), ("rejects", "O")], [("Peter", "B-PER"), ("Blackburn", "O")]])
    assert main(["eval-ner", "--predictions", str(predicted), "--gold", str(gold), "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "micro avg" in out and "macro avg" in out and "weighted avg" in out
    assert "entity-level: precision 0.5000  recall 0.5000  F1 0.5000" in out
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["token_report"]["micro avg"]["f1-score"] == pytest.approx(0.75)


def test_eval_ner_mismatched_files(tmp_path: Path) -> None:
    gold = write_conll(tmp_path / "gold.txt", [[("EU", "B-ORG")]])
    predicted = write_conll(tmp_path / "pred.txt", [[("UN", "B-ORG")]])
    result = subprocess.run(
        [sys.executable, "-m", "dialog_envs.cli", "eval-ner", "--predictions", str(predicted), "--gold", str(gold)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "sentence 1 differs" in result.stderr


def test_module_class_agents_import_from_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dialog_envs.agents.registry import resolve

    (tmp_path / "my_cwd_agents.py").write_text("class Mine:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if entry not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "my_cwd_agents", raising=False)
    assert main(["list"]) == 0
    assert resolve("my_cwd_agents:Mine").__name__ == "Mine"


def test_usage_and_os_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "required: --env, --out" in err and "dialog-envs train --help" in err
    both = tmp_path / "both.txt"
    both.write_text("EU B-ORG B-ORG\n")
    assert main(["eval-ner", "--predictions", str(both), "--json", str(tmp_path / "no" / "dir" / "s.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No such file or directory" in err and "s.json" in err and "Traceback" not in err


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    from dialog_envs.cli import COMMANDS

    for words in [[], *([name] for name in COMMANDS), ["train", "--help-config"]]:
        with pytest.raises(SystemExit):
            main([*words, "--help"] if words != ["train", "--help-config"] else words)
        text = capsys.readouterr().out
        assert text and "``" not in text and ":class:" not in text and ":func:" not in text, words
