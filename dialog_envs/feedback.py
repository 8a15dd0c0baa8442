"""The feedback log: ratings of agent turns by a person (or a simulated rater), one JSON record per line.

Every record is appended with a single ``write`` followed by ``flush`` and ``fsync``: a session
that is interrupted (Ctrl-C, a crash, a killed process) loses at most the turn being rated, never
earlier records. Should a crash ever leave a torn last line, the next :class:`FeedbackLog` that
opens the file cuts it off before appending, and :func:`read_feedback_log` skips it.

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
"""

from __future__ import annotations

import json
import os
from os import PathLike
from pathlib import Path
from typing import Any

from dialog_envs.errors import DataFormatError

SCHEMA_ID = "dialog_envs.feedback/1"
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
