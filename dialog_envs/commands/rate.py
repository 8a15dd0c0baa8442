"""``dialog-envs rate``: a person plays the *user* against an agent and rates each agent turn 1-5.

The person types the user's utterances; after every agent reply they give a rating from 1 to 5,
which is that turn's reward (the "human feedback" of RLHF). Every rated exchange is appended at
once to a JSONL feedback log, one record per line, written with a single ``write`` followed by
``flush`` and ``fsync``: a session that is interrupted (Ctrl-C, a crash, a killed process) loses
at most the turn being rated, never earlier records. Should a crash ever leave a torn last line,
the next :class:`FeedbackLog` that opens the file cuts it off before appending, and
:func:`read_feedback_log` skips it.

Record schema (``"schema": "dialog_envs.feedback/1"``), one JSON object per line:

| key | type | meaning |
|---|---|---|
| ``schema`` | str | ``"dialog_envs.feedback/1"`` |
| ``event`` | str | ``"turn"`` (a rated exchange) or ``"end"`` (the session ended) |
| ``session`` | str | id of the session (random hex unless given) |
| ``time`` | str | UTC time, ISO 8601 |
| ``agent`` | str | the agent's name |
| ``turn`` | int | 1-based agent turn (``"turn"`` records) / number of rated turns (``"end"``) |
| ``user_text`` | str | what the user said before the agent's reply (``"turn"``) |
| ``agent_text`` | str | the agent's reply (``"turn"``) |
| ``rating`` | int | 1-5 (``"turn"``) |
| ``reward`` | float | the turn's reward, equal to the rating (``"turn"``) |
| ``reason`` | str | why the session ended: ``"user_quit"``, ``"end_of_input"``, ``"turn_limit"`` (``"end"``) |

Agents: ``reference`` (the rule-based reference agent of :mod:`agents.simuser_reference`, in the
bundled domain or the ``--data-path`` domain), or ``module:Class`` for any class whose instances
have ``reset()`` and ``reply(user_text) -> str`` (built with no arguments).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import uuid
from datetime import datetime, timezone
from os import PathLike
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from dialog_envs.errors import DataFormatError, DialogEnvsError
from dialog_envs.simuser.conversation import Conversation, UserReply

HELP = "Be the user: talk to an agent and rate each reply 1-5; ratings are appended to a JSONL feedback log."
SCHEMA_ID = "dialog_envs.feedback/1"
QUIT_WORDS = {":q", ":quit", "quit", "exit"}
TURN_KEYS = {"schema": str, "event": str, "session": str, "time": str, "agent": str, "turn": int,
             "user_text": str, "agent_text": str, "rating": int, "reward": (int, float)}
END_KEYS = {"schema": str, "event": str, "session": str, "time": str, "agent": str, "turn": int, "reason": str}


class FeedbackLog:
    """An append-only JSONL log; every record is durable once :meth:`append` returns."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._repair_torn_tail()

    def _repair_torn_tail(self) -> None:
        """Cut off a last line without its newline (left by a crash in the middle of a write)."""
        size = os.fstat(self._fd).st_size
        if size == 0:
            return
        with open(self.path, "rb") as handle:
            data = handle.read()
        if data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        os.truncate(self.path, keep)
        os.fsync(self._fd)

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line, then flush it to disk."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        written = os.write(self._fd, line)
        while written < len(line):  # a short write (rare): finish the line
            written += os.write(self._fd, line[written:])
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FeedbackLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_feedback_log(path: str | PathLike[str]) -> list[dict[str, Any]]:
    """Every record of a feedback log, checked against the schema above.

    A torn last line (no newline at the end of the file) is skipped.

    Raises:
        DataFormatError: a complete line is not JSON or misses a key / has a wrong type (names the
            file, line and field).
    """
    path = Path(path)
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete = lines[:-1]  # the part after the last newline is empty or torn
    records = []
    for number, raw in enumerate(complete, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DataFormatError(path, f"not a JSON record ({error})", line=number) from None
        if not isinstance(record, dict):
            raise DataFormatError(path, "expected a JSON object", line=number)
        keys = TURN_KEYS if record.get("event") == "turn" else END_KEYS
        if record.get("event") not in ("turn", "end"):
            raise DataFormatError(path, "expected 'turn' or 'end'", line=number, field="event")
        for key, kind in keys.items():
            if key not in record:
                raise DataFormatError(path, "missing key", line=number, field=key)
            if not isinstance(record[key], kind) or isinstance(record[key], bool):
                raise DataFormatError(path, f"expected {getattr(kind, '__name__', 'a number')}", line=number, field=key)
        if record["event"] == "turn" and not 1 <= record["rating"] <= 5:
            raise DataFormatError(path, "expected a rating from 1 to 5", line=number, field="rating")
        records.append(record)
    return records


class HumanUser:
    """A person at a terminal as the user of a :class:`~dialog_envs.simuser.conversation.Conversation`.

    The person types utterances on ``stdin`` and rates each agent reply 1-5; each rating is the
    turn's reward and is appended to ``log`` with the exchange.
    """

    def __init__(self, stdin: TextIO, stdout: TextIO, log: FeedbackLog, *, agent_name: str,
                 session: str | None = None) -> None:
        self.stdin, self.stdout, self.log = stdin, stdout, log
        self.agent_name = agent_name
        self.session = session or uuid.uuid4().hex[:12]
        self.turn = 0
        self.last_user_text = ""
        self.ratings: list[int] = []
        self.reason = "running"

    def _say(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def _ask(self, prompt: str) -> str | None:
        print(prompt, end="", file=self.stdout, flush=True)
        line = self.stdin.readline()
        return None if not line else line.rstrip("\n")

    def _record(self, event: str, **fields: Any) -> None:
        self.log.append({"schema": SCHEMA_ID, "event": event, "session": self.session,
                         "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                         "agent": self.agent_name, **fields})

    def reset(self, rng: np.random.Generator) -> str:
        self.turn, self.ratings, self.reason = 0, [], "running"
        self._say("You are the user. Say what you want; rate every reply from 1 (bad) to 5 (great). "
                  "An empty line or :q ends the conversation.")
        text = self._ask("you> ")
        if text is None or text.strip() in QUIT_WORDS or not text.strip():
            self.reason = "end_of_input" if text is None else "user_quit"
            text = ""
        self.last_user_text = text
        return text

    def respond(self, agent_text: str, *, last_turn: bool = False) -> UserReply:
        self._say(f"agent: {agent_text}")
        rating = None
        while rating is None:
            answer = self._ask("rating 1-5> ")
            if answer is None:
                self.reason = "end_of_input"
                return UserReply(text="", reward=0.0, finished=True, success=False, info={"rated": False})
            if answer.strip() in {"1", "2", "3", "4", "5"}:
                rating = int(answer.strip())
            else:
                self._say("please type a whole number from 1 to 5")
        self.turn += 1
        self.ratings.append(rating)
        self._record("turn", turn=self.turn, user_text=self.last_user_text, agent_text=agent_text,
                     rating=rating, reward=float(rating))
        finished = False
        text = ""
        if last_turn:
            self.reason = "turn_limit"
        else:
            answer = self._ask("you> ")
            if answer is None or not answer.strip() or answer.strip() in QUIT_WORDS:
                self.reason = "end_of_input" if answer is None else "user_quit"
                finished = True
            else:
                text = answer
        self.last_user_text = text
        return UserReply(text=text, reward=float(rating), finished=finished, success=False,
                         info={"rated": True, "rating": rating})

    def metrics(self) -> dict[str, Any]:
        return {"success": False, "ratings": list(self.ratings),
                "mean_rating": float(np.mean(self.ratings)) if self.ratings else 0.0, "ended_by": self.reason}

    def finish(self) -> None:
        """Append the session's ``"end"`` record."""
        self._record("end", turn=self.turn, reason=self.reason)


def run_rating_session(agent: Any, stdin: TextIO, stdout: TextIO, log_path: str | PathLike[str], *,
                       agent_name: str = "agent", max_turns: int = 20, session: str | None = None) -> dict[str, Any]:
    """One conversation of a person (the user) with ``agent``; returns the user's metrics.

    ``agent`` has ``reset()`` and ``reply(user_text) -> str``. The log is appended to as the
    conversation goes; an exception or interruption leaves every finished record intact.
    """
    with FeedbackLog(log_path) as log:
        user = HumanUser(stdin, stdout, log, agent_name=agent_name, session=session)
        conversation = Conversation(user, max_turns=max_turns)
        try:
            user_text = conversation.reset(np.random.default_rng())
            agent.reset()
            if user.reason == "running":
                while True:
                    step = conversation.step(agent.reply(user_text))
                    user_text = step.user_text
                    if step.terminated or step.truncated:
                        break
        finally:
            if user.reason == "running":
                user.reason = "interrupted"
            user.finish()
    return user.metrics()


def build_agent(spec: str, data_path: str | None) -> Any:
    """``"reference"`` or ``"module:Class"`` (see the module docstring)."""
    if spec == "reference":
        from agents.simuser_reference import ReferenceAgent
        from dialog_envs.envs.simuser import load_domain

        schema, _ = load_domain(data_path, goals="sample")
        return ReferenceAgent(schema)
    module_name, _, class_name = spec.partition(":")
    if not class_name:
        raise DialogEnvsError(f"agent {spec!r} is neither 'reference' nor 'module:Class'")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise DialogEnvsError(f"cannot load agent {spec!r}: {error}") from None
    agent = cls()
    for method in ("reset", "reply"):
        if not callable(getattr(agent, method, None)):
            raise DialogEnvsError(f"agent {spec!r} has no {method}() method; expected reset() and reply(text)")
    return agent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", default="reference", help="'reference' (default) or module:Class")
    parser.add_argument("--data-path", default=None, help="MultiWOZ-style folder for the reference agent's domain")
    parser.add_argument("--log", default="feedback.jsonl", help="JSONL feedback log to append to (default feedback.jsonl)")
    parser.add_argument("--max-turns", type=int, default=20, help="agent turns per conversation (default 20)")
    parser.add_argument("--session", default=None, help="session id written to every record (default random)")


def run(args: argparse.Namespace) -> int:
    agent = build_agent(args.agent, args.data_path)
    metrics = run_rating_session(agent, sys.stdin, sys.stdout, args.log, agent_name=args.agent,
                                 max_turns=args.max_turns, session=args.session)
    print(f"{len(metrics['ratings'])} turns rated, mean rating {metrics['mean_rating']:.2f}; log: {args.log}")
    return 0
