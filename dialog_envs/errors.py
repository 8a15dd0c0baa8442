"""Errors raised on bad input.

Every reader in the project reports a problem in a file the same way: which file, which line
(when there is one), which field, and what was expected (the readers open files through
:mod:`dialog_envs.data.text_files`). The CLI prints these as one line
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

