"""The feedback log: ratings of agent turns by a person (or a simulated rater), one JSON record per line.

Every record is appended with a single ``write`` followed by ``flush`` and ``fsync``: a session
that is interrupted (Ctrl-C, a crash, a killed process) loses at most the turn being rated, never
earlier records. Should a crash ever leave a torn last line (the start of a record), the next
:class:`FeedbackLog` that opens the file cuts it off before appending, and :func:`read_feedback_log`
skips it. A file that is not a feedback log is never changed: opening it is an error.

Record schema (``"schema": "dialog_envs.feedback/1"``), one JSON object per line:

| key | type | meaning |
|---|---|---|
| ``schema`` | str | ``"dialog_envs.feedback/1"`` |
| ``event`` | str | ``"turn"`` (a rated exchange), ``"preference"`` (the better of two replies) or ``"end"`` (the session ended) |
| ``session`` | str | id of the session (random hex unless given) |
| ``time`` | str | UTC time, ISO 8601 |
| ``agent`` | str | the agent's name |
| ``turn`` | int | 1-based agent turn (``"turn"``, ``"preference"``) / number of rated turns (``"end"``) |
| ``user_text`` | str | what the user said before the agent's reply (``"turn"``, ``"preference"``) |
| ``agent_text`` | str | the agent's reply (``"turn"``) |
| ``rating`` | int | 1-5 (``"turn"``) |
| ``reward`` | float | the turn's reward, equal to the rating (``"turn"``) |
| ``reply_a``, ``reply_b`` | str | the two candidate replies shown (``"preference"``) |
| ``preferred`` | str | ``"a"`` or ``"b"``: the reply the rater chose (``"preference"``) |
| ``reason`` | str | why the session ended: ``"user_quit"``, ``"end_of_input"``, ``"turn_limit"`` (``"end"``) |
"""

from __future__ import annotations

import enum
import json
import os
import uuid
from datetime import datetime, timezone
from os import PathLike
from pathlib import Path
from typing import Any

from dialog_envs.errors import DataFormatError

SCHEMA_ID = "dialog_envs.feedback/1"
TURN_KEYS = {"schema": str, "event": str, "session": str, "time": str, "agent": str, "turn": int,
             "user_text": str, "agent_text": str, "rating": int, "reward": (int, float)}
PREFERENCE_KEYS = {"schema": str, "event": str, "session": str, "time": str, "agent": str, "turn": int,
                   "user_text": str, "reply_a": str, "reply_b": str, "preferred": str}
END_KEYS = {"schema": str, "event": str, "session": str, "time": str, "agent": str, "turn": int, "reason": str}
KEYS_OF_EVENT = {"turn": TURN_KEYS, "preference": PREFERENCE_KEYS, "end": END_KEYS}


def new_session_id() -> str:
    """A random id for a rating session (12 hex digits), unique enough for one log."""
    return uuid.uuid4().hex[:12]


def feedback_record(event: str, *, session: str, agent: str, **fields: Any) -> dict[str, Any]:
    """A record of ``event`` stamped with the schema id and the current UTC time; ``fields`` are
    the event's own keys (see the table above). Every writer of feedback logs builds its records here."""
    return {"schema": SCHEMA_ID, "event": event, "session": session,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "agent": agent, **fields}


RECORD_START = f'{{"schema": "{SCHEMA_ID}"'.encode()
"""How every record this module writes begins: a torn last line is repaired only when it begins so."""


class FeedbackLog:
    """An append-only JSONL log; every record is durable once :meth:`append` returns.

    Opening an existing file checks that it is a feedback log first (every complete line a record
    of the schema above) and never changes a file that is not one.

    Raises:
        DataFormatError: ``path`` is a folder, or an existing file that is not a feedback log.
    """

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise DataFormatError(self.path, "is a folder; expected a feedback log file (JSONL)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tail = _check_feedback_log(self.path) if self.path.exists() else _Tail.NONE
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if tail is _Tail.TORN:
            self._cut_torn_tail()
        elif tail is _Tail.COMPLETE:
            self._write(b"\n")

    def _cut_torn_tail(self) -> None:
        """Cut off a last record without its newline (left by a crash in the middle of a write)."""
        data = self.path.read_bytes()
        os.truncate(self.path, data.rfind(b"\n") + 1)
        os.fsync(self._fd)

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line, then flush it to disk."""
        self._write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))

    def _write(self, data: bytes) -> None:
        written = os.write(self._fd, data)
        while written < len(data):  # a short write (rare): finish it
            written += os.write(self._fd, data[written:])
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FeedbackLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Tail(enum.Enum):
    """What follows the last newline of a feedback log."""

    NONE = "nothing"
    COMPLETE = "a whole record without its newline"
    TORN = "the start of a record cut short by a crash"


def _check_feedback_log(path: Path) -> _Tail:
    """Check that ``path`` holds feedback records; what its last line (after the last newline) is.

    Raises:
        DataFormatError: a complete line is not a feedback record, or the last line is neither a
            record nor the start of one this module writes.
    """
    data = path.read_bytes()
    complete, _, tail = data.rpartition(b"\n")
    try:
        for number, raw in enumerate(complete.split(b"\n") if complete else [], start=1):
            if raw.strip():
                _parse_record(path, number, raw)
    except DataFormatError as error:
        raise DataFormatError(
            path, f"is not a feedback log, so it is left as it is (line {error.line}: {error.message}); "
            "expected a new file or one written by dialog-envs rate"
        ) from None
    if not tail.strip():
        return _Tail.NONE
    try:
        _parse_record(path, data.count(b"\n") + 1, tail)
        return _Tail.COMPLETE
    except DataFormatError:
        if RECORD_START.startswith(tail[: len(RECORD_START)]):
            return _Tail.TORN
    raise DataFormatError(
        path, "is not a feedback log, so it is left as it is (its last line is not a feedback record); "
        "expected a new file or one written by dialog-envs rate", line=data.count(b"\n") + 1
    )


def read_feedback_log(path: str | PathLike[str]) -> list[dict[str, Any]]:
    """Every record of a feedback log, checked against the schema above.

    A torn last line (the start of a record, cut short by a crash) is skipped; a whole record
    that only lacks its newline is read.

    Raises:
        DataFormatError: a complete line is not JSON or misses a key / has a wrong type (names the
            file, line and field).
    """
    path = Path(path)
    lines = _read_bytes(path).split(b"\n")
    records = [_parse_record(path, number, raw) for number, raw in enumerate(lines[:-1], start=1) if raw.strip()]
    if lines[-1].strip():
        try:
            records.append(_parse_record(path, len(lines), lines[-1]))
        except DataFormatError:
            pass  # torn by a crash
    return records


def _parse_record(path: Path, number: int, raw: bytes) -> dict[str, Any]:
    """Line ``number`` of the log as a record checked against the schema."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise DataFormatError(path, f"not a JSON record ({error})", line=number) from None
    if not isinstance(record, dict):
        raise DataFormatError(path, "expected a JSON object", line=number)
    event = record.get("event")
    keys = KEYS_OF_EVENT.get(event) if isinstance(event, str) else None
    if keys is None:
        raise DataFormatError(path, f"expected one of {', '.join(map(repr, KEYS_OF_EVENT))}", line=number, field="event")
    for key, kind in keys.items():
        if key not in record:
            raise DataFormatError(path, "missing key", line=number, field=key)
        if not isinstance(record[key], kind) or isinstance(record[key], bool):
            raise DataFormatError(path, f"expected {getattr(kind, '__name__', 'a number')}", line=number, field=key)
    if record["schema"] != SCHEMA_ID:
        raise DataFormatError(path, f"expected {SCHEMA_ID!r}", line=number, field="schema")
    if record["event"] == "turn" and not 1 <= record["rating"] <= 5:
        raise DataFormatError(path, "expected a rating from 1 to 5", line=number, field="rating")
    if record["event"] == "preference" and record["preferred"] not in ("a", "b"):
        raise DataFormatError(path, "expected 'a' or 'b'", line=number, field="preferred")
    return record


def _read_bytes(path: Path) -> bytes:
    """The bytes of a log file, with a missing file or a folder as one error naming it."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataFormatError(path, f"cannot be read ({error.strerror or error}); expected a feedback log file") from None
