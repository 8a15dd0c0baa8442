"""Errors raised on bad input.

Every reader in the project reports a problem in a file the same way: which file, which line
(when there is one), which field, and what was expected. The CLI prints these as one line
instead of a traceback.
"""

from __future__ import annotations

from os import PathLike


class DialogEnvsError(Exception):
    """Base class of the errors this package raises on purpose (bad input, bad arguments)."""


class DataFormatError(DialogEnvsError, ValueError):
    """A data file does not have the expected format.

    Args:
        path: the file that is wrong.
        message: what is wrong and what was expected.
        line: 1-based line number, when the problem sits on one line.
        field: the name of the field or column that is wrong, when there is one.
    """

    def __init__(
        self,
        path: str | PathLike[str],
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        where = self.path if line is None else f"{self.path}:{line}"
        if field is not None:
            where += f": field {field!r}"
        super().__init__(f"{where}: {message}")


def read_text_lines(path: str | PathLike[str]) -> list[str]:
    """Read a UTF-8 text file as lines without their line endings.

    Raises:
        DataFormatError: the file is empty or holds bytes that are not UTF-8 (the error names
            the line of the first bad byte).
    """
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataFormatError(
            path, f"byte {raw[error.start]:#04x} is not valid UTF-8; expected UTF-8 text", line=line
        ) from None
    if not text.strip():
        raise DataFormatError(path, "the file is empty; expected at least one record")
    return text.splitlines()
