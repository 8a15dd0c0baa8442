"""``dialog-envs rate``: a person rates each agent turn; the JSONL log survives interruptions."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dialog_envs.cli import main
from dialog_envs.commands.rate import run_rating_session
from dialog_envs.feedback import FeedbackLog, read_feedback_log
from dialog_envs.errors import DataFormatError

ROOT = Path(__file__).resolve().parents[1]


class EchoAgent:
    def reset(self) -> None:
        self.turns = 0

    def reply(self, user_text: str) -> str:
        self.turns += 1
        return f"you said: {user_text}"


class BrokenAgent(EchoAgent):
    def reply(self, user_text: str) -> str:
        if self.turns >= 1:
            raise RuntimeError("agent crashed")
        return super().reply(user_text)


def test_ratings_are_rewards_and_every_exchange_is_logged(tmp_path: Path) -> None:
    log = tmp_path / "feedback.jsonl"
    stdin = io.StringIO("hello\n4\nwhere is my order?\nseven\n9\n2\n:q\n")
    stdout = io.StringIO()
    metrics = run_rating_session(EchoAgent(), stdin, stdout, log, agent_name="echo", session="s1")
    assert metrics["ratings"] == [4, 2] and metrics["mean_rating"] == 3.0 and metrics["ended_by"] == "user_quit"
    assert "please type a whole number from 1 to 5" in stdout.getvalue()
    records = read_feedback_log(log)
    assert [r["event"] for r in records] == ["turn", "turn", "end"]
    assert records[0]["user_text"] == "hello" and records[0]["agent_text"] == "you said: hello"
    assert [r.get("reward") for r in records[:2]] == [4.0, 2.0]
    assert records[1]["user_text"] == "where is my order?" and records[2]["reason"] == "user_quit"
    assert all(r["session"] == "s1" and r["agent"] == "echo" for r in records)
    # a second session appends
    run_rating_session(EchoAgent(), io.StringIO("hi\n5\n"), io.StringIO(), log, agent_name="echo", session="s2")
    records = read_feedback_log(log)
    assert [r["session"] for r in records] == ["s1"] * 3 + ["s2"] * 2
    assert records[-1]["reason"] == "end_of_input"


def test_turn_limit_ends_the_session(tmp_path: Path) -> None:
    log = tmp_path / "f.jsonl"
    metrics = run_rating_session(EchoAgent(), io.StringIO("a\n3\nb\n3\nc\n"), io.StringIO(), log, max_turns=2)
    assert metrics["ratings"] == [3, 3] and metrics["ended_by"] == "turn_limit"


def test_an_exception_mid_session_leaves_a_valid_log(tmp_path: Path) -> None:
    log = tmp_path / "f.jsonl"
    with pytest.raises(RuntimeError, match="agent crashed"):
        run_rating_session(BrokenAgent(), io.StringIO("hi\n5\nmore\n4\n"), io.StringIO(), log, session="x")
    lines = log.read_text().splitlines()
    assert all(json.loads(line) for line in lines)
    records = read_feedback_log(log)
    assert [r["event"] for r in records] == ["turn", "end"] and records[-1]["reason"] == "interrupted"


def test_a_killed_session_never_corrupts_the_log(tmp_path: Path) -> None:
    log = tmp_path / "f.jsonl"
    code = (
        "import sys\n"
        "from dialog_envs.commands.rate import run_rating_session\n"
        "from tests.test_simuser_rate import EchoAgent\n"
        f"run_rating_session(EchoAgent(), sys.stdin, sys.stdout, {str(log)!r}, session='k')\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stdin is not None
    process.stdin.write("hello\n")
    for turn in range(1, 4):
        process.stdin.write(f"{turn % 5 + 1}\nnext {turn}\n")
        process.stdin.flush()
    deadline = time.time() + 60
    while time.time() < deadline and (not log.exists() or log.read_text().count("\n") < 3):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    lines = log.read_text().splitlines()
    assert len(lines) >= 3 and log.read_bytes().endswith(b"\n")
    assert [json.loads(line)["turn"] for line in lines[:3]] == [1, 2, 3]
    assert all(r["event"] == "turn" for r in read_feedback_log(log))  # killed: no end record, nothing torn


def test_a_torn_last_line_is_skipped_and_cut_off_before_appending(tmp_path: Path) -> None:
    log = tmp_path / "f.jsonl"
    run_rating_session(EchoAgent(), io.StringIO("hi\n5\n"), io.StringIO(), log, session="a")
    with open(log, "ab") as handle:
        handle.write(b'{"schema": "dialog_envs.feedback/1", "event": "tu')  # a crash in mid-write
    assert len(read_feedback_log(log)) == 2
    with FeedbackLog(log) as feedback:
        feedback.append({"schema": "dialog_envs.feedback/1", "event": "end", "session": "b", "time": "t",
                         "agent": "x", "turn": 0, "reason": "user_quit"})
    assert [json.loads(line)["session"] for line in log.read_text().splitlines()] == ["a", "a", "b"]


def test_reading_a_bad_log_names_the_line_and_field(tmp_path: Path) -> None:
    log = tmp_path / "f.jsonl"
    good = {"schema": "dialog_envs.feedback/1", "event": "turn", "session": "s", "time": "t", "agent": "a",
            "turn": 1, "user_text": "u", "agent_text": "y", "rating": 3, "reward": 3.0}
    log.write_text(json.dumps(good) + "\n" + json.dumps({**good, "rating": 9}) + "\n")
    with pytest.raises(DataFormatError, match="1 to 5") as caught:
        read_feedback_log(log)
    assert caught.value.line == 2 and caught.value.field == "rating"
    log.write_text(json.dumps({k: v for k, v in good.items() if k != "agent_text"}) + "\n")
    with pytest.raises(DataFormatError) as caught:
        read_feedback_log(log)
    assert caught.value.field == "agent_text"
    log.write_text("not json\n")
    with pytest.raises(DataFormatError, match="not a JSON record"):
        read_feedback_log(log)


def test_preference_records_are_read_and_checked(tmp_path: Path) -> None:
    log = tmp_path / "f.jsonl"
    chosen = {"schema": "dialog_envs.feedback/1", "event": "preference", "session": "s", "time": "t", "agent": "a",
              "turn": 1, "user_text": "u", "reply_a": "first", "reply_b": "second", "preferred": "b"}
    with FeedbackLog(log) as feedback:
        feedback.append(chosen)
    assert read_feedback_log(log) == [chosen]
    log.write_text(json.dumps({**chosen, "preferred": "c"}) + "\n")
    with pytest.raises(DataFormatError, match="'a' or 'b'") as caught:
        read_feedback_log(log)
    assert caught.value.field == "preferred"
    log.write_text(json.dumps({**chosen, "event": ["turn"]}) + "\n")
    with pytest.raises(DataFormatError, match="'preference'") as caught:
        read_feedback_log(log)
    assert caught.value.field == "event"


def test_cli_rate_with_the_reference_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "f.jsonl"
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hi, I have a question about my order.\n5\n\n"))
    assert main(["rate", "--log", str(log), "--session", "cli"]) == 0
    records = read_feedback_log(log)
    assert records[0]["agent"] == "reference" and "order number" in records[0]["agent_text"]
    assert "1 turns rated, mean rating 5.00" in capsys.readouterr().out
    assert main(["rate", "--agent", "no_such_module:Agent", "--log", str(log)]) == 2
