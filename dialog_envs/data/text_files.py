"""Reading text and JSON files the same way in every reader.

* The bytes are decoded as UTF-8 (or the encoding asked for); bytes that do not decode are one
  :class:`~dialog_envs.errors.DataFormatError` naming the file and the line of the first bad byte.
* One leading byte-order mark (U+FEFF) is dropped: it marks the encoding, it is not text.
* Only ``"\\n"`` and ``"\\r\\n"`` end a line. ``str.splitlines`` also splits on U+2028, U+0085,
  form feeds and other separators that may stand inside an utterance or a JSON string.
* A path that is missing, a folder, or unreadable is one error naming it, not a traceback.
"""

from __future__ import annotations

import json
from os import PathLike
from typing import Any

from dialog_envs.errors import DataFormatError

BYTE_ORDER_MARK = "\ufeff"


def read_text(path: str | PathLike[str], encoding: str = "utf-8") -> str:
    """The text of a file, decoded, without a leading byte-order mark.

    Raises:
        DataFormatError: the file cannot be opened (missing, a folder, no permission) or holds
            bytes that are not valid in ``encoding``.
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except IsADirectoryError:
        raise DataFormatError(path, "is a folder; expected a text file") from None
    except OSError as error:
        raise DataFormatError(path, f"cannot be read ({error.strerror or error}); expected a readable text file") from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        name = "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        raise DataFormatError(
            path, f"byte {raw[error.start]:#04x} is not valid {name}; expected {name} text", line=line
        ) from None
    return text.removeprefix(BYTE_ORDER_MARK)


def split_lines(text: str) -> list[str]:
    """``text`` cut at ``"\\n"`` (a ``"\\r"`` before it goes too); no empty line after a final newline."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_text_lines(path: str | PathLike[str], encoding: str = "utf-8") -> list[str]:
    """The lines of a text file (see :func:`read_text` and :func:`split_lines`).

    Raises:
        DataFormatError: as :func:`read_text`, and for a file with no text at all.
    """
    text = read_text(path, encoding)
    if not text.strip():
        raise DataFormatError(path, "the file is empty; expected at least one record")
    return split_lines(text)


def parse_json(path: str | PathLike[str], text: str, line: int | None = None, expected: str = "a JSON document") -> Any:
    """``json.loads(text)`` with every failure as one error naming the file, what was ``expected``
    and the line (``line``, where the text starts, for one record of a JSONL file)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = error.lineno if line is None else line
        raise DataFormatError(path, f"not valid JSON ({error.msg} at column {error.colno}); expected {expected}", line=where) from None
    except RecursionError:
        raise DataFormatError(path, f"JSON nested too deeply to read; expected {expected}", line=line) from None


def read_json(path: str | PathLike[str], expected: str = "a JSON document") -> Any:
    """A whole UTF-8 JSON file (see :func:`read_text` and :func:`parse_json`)."""
    return parse_json(path, read_text(path), expected=expected)
