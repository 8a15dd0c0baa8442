"""Finding a split's file when ``data_path`` names a folder.

Every environment takes ``data_path`` (a file, or a folder holding one file per split) and
``split``. Splits are called ``"train"``, ``"validation"`` and ``"test"``; common spellings on disk
(``valid``, ``dev``, ``val``) are accepted for ``"validation"``.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from dialog_envs.errors import DialogEnvsError

SPLITS = ("train", "validation", "test")
SPLIT_ALIASES: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test",),
}


def check_split(split: str) -> str:
    """Return ``split`` if it is one of :data:`SPLITS`, else raise a clear error."""
    if split not in SPLITS:
        raise DialogEnvsError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def find_split_file(data_path: str | PathLike[str], split: str, patterns: tuple[str, ...]) -> Path:
    """The file of ``split`` under ``data_path``.

    Args:
        data_path: a file (returned as is, whatever the split) or a folder.
        split: one of :data:`SPLITS`.
        patterns: file-name patterns with ``{split}`` in them, tried in order for every alias of
            the split, e.g. ``("{split}.txt", "{split}/dialogues_{split}.txt")``.

    Raises:
        DialogEnvsError: the path does not exist, or no file of the split is in the folder (the
            message lists the names that were tried).
    """
    path = Path(data_path)
    if path.is_file():
        return path
    if not path.exists():
        raise DialogEnvsError(f"data_path {str(path)!r} does not exist; expected a file or a folder")
    check_split(split)
    tried = []
    for alias in SPLIT_ALIASES[split]:
        for pattern in patterns:
            candidate = path / pattern.format(split=alias)
            if candidate.is_file():
                return candidate
            tried.append(candidate.name if candidate.parent == path else str(candidate.relative_to(path)))
    raise DialogEnvsError(
        f"no file for split {split!r} in folder {str(path)!r}; expected one of: {', '.join(tried)}"
    )
