"""The feedback log repairs only a torn record it wrote itself and never changes another file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dialog_envs.commands.rate import run_rating_session
from dialog_envs.errors import DataFormatError
from dialog_envs.feedback import FeedbackLog, read_feedback_log

RECORD = {"schema": "dialog_envs.feedback/1", "event": "end", "session": "a", "time": "t", "agent": "x",
          "turn": 0, "reason": "user_quit"}


def test_a_file_that_is_not_a_feedback_log_is_left_untouched(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"line one\nline two")
    with pytest.raises(DataFormatError, match="is not a feedback log") as caught:
        FeedbackLog(notes)
    assert caught.value.path == str(notes)
    assert notes.read_bytes() == b"line one\nline two"
    plain_json = tmp_path / "data.jsonl"
    plain_json.write_bytes(b'{"a": 1}\n{"b": 2}')
    with pytest.raises(DataFormatError, match="is not a feedback log"):
        FeedbackLog(plain_json)
    assert plain_json.read_bytes() == b'{"a": 1}\n{"b": 2}'


def test_a_complete_record_without_its_newline_is_kept(tmp_path: Path) -> None:
    log = tmp_path / "f.jsonl"
    log.write_text(json.dumps(RECORD))  # complete, but no newline at the end
    assert [r["session"] for r in read_feedback_log(log)] == ["a"]
    with FeedbackLog(log) as feedback:
        feedback.append({**RECORD, "session": "b"})
    assert [r["session"] for r in read_feedback_log(log)] == ["a", "b"]
    assert log.read_text().count("\n") == 2


def test_only_a_torn_record_of_this_log_is_cut(tmp_path: Path) -> None:
    log = tmp_path / "f.jsonl"
    log.write_text(json.dumps(RECORD) + "\n" + '{"schema": "dialog_envs.feed')
    with FeedbackLog(log) as feedback:
        feedback.append({**RECORD, "session": "b"})
    assert [r["session"] for r in read_feedback_log(log)] == ["a", "b"]
    foreign = tmp_path / "g.jsonl"
    original = json.dumps(RECORD) + "\n" + "someone else's text"
    foreign.write_text(original)
    with pytest.raises(DataFormatError, match="last line is not a feedback record") as caught:
        FeedbackLog(foreign)
    assert caught.value.line == 2
    assert foreign.read_text() == original


def test_a_folder_as_log_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="is a folder"):
        run_rating_session(object(), io.StringIO(""), io.StringIO(), tmp_path)


@pytest.mark.parametrize("kind", ["folder", "notes"])
def test_cli_rate_refuses_bad_log_in_one_line(tmp_path: Path, kind: str) -> None:
    target = tmp_path
    if kind == "notes":
        target = tmp_path / "notes.txt"
        target.write_bytes(b"line one\nline two")
    result = subprocess.run(
        [sys.executable, "-m", "dialog_envs.cli", "rate", "--log", str(target)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and str(target) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    if kind == "notes":
        assert target.read_bytes() == b"line one\nline two"
