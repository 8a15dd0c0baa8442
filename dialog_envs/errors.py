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


def read_text_lines(path: str | PathLike[str], encoding: str = "utf-8") -> list[str]:
    """Read a text file (UTF-8 unless told otherwise) as lines without their line endings.

    Raises:
        DataFormatError: the file is empty or holds bytes that are not valid in the encoding (the
            error names the line of the first bad byte).
    """
    with open(path, "rb") as handle:
        raw = handle.read()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        name = "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        raise DataFormatError(
            path, f"byte {raw[error.start]:#04x} is not valid {name}; expected {name} text", line=line
        ) from None
    if not text.strip():
        raise DataFormatError(path, "the file is empty; expected at least one record")
    return text.splitlines()
