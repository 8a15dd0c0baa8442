"""Where a split's records come from, whatever form ``data_path`` takes.

Every environment takes ``data_path`` and ``split``. Splits are called ``"train"``,
``"validation"`` and ``"test"`` (the names ``datasets`` uses); common spellings on disk
(``valid``, ``dev``, ``val``, ``testa``; ``testb`` for test) are accepted too. ``data_path`` is
one of:

* a **mapping** of split name to file, e.g. ``{"train": "a.conll", "validation": "b.conll",
  "test": "c.conll"}`` (a ``datasets.DatasetDict`` is such a mapping, with datasets as values);
* a **folder** holding one file per split, found by the reader's file-name patterns;
* **one file** (or one ``datasets.Dataset``) holding every split, cut by :func:`split_indices`:
  the same seeded rule for every environment.

:func:`resolve_split` turns any of these into a :class:`SplitSource`; :func:`take_split` cuts the
split out of a whole source.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from dialog_envs.errors import DialogEnvsError

SPLITS = ("train", "validation", "test")
SPLIT_ALIASES: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "validation": ("validation", "valid", "dev", "val", "testa"),
    "test": ("test", "testb"),
}

SPLIT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)
"""Train / validation / test shares of a corpus that comes as one file."""
SPLIT_SEED = 0
"""Seed of the single-file split; fixed so that published numbers refer to the same test set."""

Record = TypeVar("Record")


def check_split(split: str) -> str:
    """Return ``split`` if it is one of :data:`SPLITS`, else raise a clear error."""
    if split not in SPLITS:
        raise DialogEnvsError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def split_indices(
    keys: Sequence[str],
    split: str,
    *,
    strata: Sequence[str] | None = None,
    fractions: Sequence[float] = SPLIT_FRACTIONS,
    seed: int = SPLIT_SEED,
) -> list[int]:
    """The positions of ``split``'s records in a corpus that comes whole: the one split rule.

    Records with the same ``key`` (the sentence, the dialogue's turns) form one group, so a
    duplicate cannot sit in train and in test. Groups are taken per stratum (the label of a
    group's first record; one stratum when ``strata`` is None), strata in sorted order; within a
    stratum the groups are shuffled with ``numpy.random.default_rng(seed)`` (one generator for
    the whole corpus), the first ``round(n * fractions[0])`` go to train, the next
    ``round(n * fractions[1])`` to validation, the rest to test. The positions come back in file
    order. The three splits are disjoint and together hold every record.

    Raises:
        DialogEnvsError: an unknown split, or fractions that are not three non-negative numbers
            summing to 1.
    """
    check_split(split)
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise DialogEnvsError(
            f"split fractions {tuple(fractions)!r} are invalid; expected three non-negative numbers "
            f"(train, validation, test) summing to 1"
        )
    groups: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    by_stratum: dict[str, list[list[int]]] = {}
    for members in groups.values():
        stratum = "" if strata is None else strata[members[0]]
        by_stratum.setdefault(stratum, []).append(members)
    rng = np.random.default_rng(seed)
    wanted = SPLITS.index(split)
    chosen: list[int] = []
    for stratum in sorted(by_stratum):
        stratum_groups = by_stratum[stratum]
        order = rng.permutation(len(stratum_groups))
        n_train = int(round(len(stratum_groups) * fractions[0]))
        n_validation = int(round(len(stratum_groups) * fractions[1]))
        bounds = (0, n_train, min(n_train + n_validation, len(stratum_groups)), len(stratum_groups))
        for position in order[bounds[wanted] : bounds[wanted + 1]]:
            chosen.extend(stratum_groups[position])
    return sorted(chosen)


@dataclass(frozen=True)
class SplitSource:
    """Where one split's records are: a file or a ``datasets.Dataset``, and whether it holds every
    split (``whole``; the split is then cut out with :func:`take_split`)."""

    records: Path | Any
    whole: bool

    @property
    def dataset(self) -> Any | None:
        """The ``datasets.Dataset``, or None when the records are in a file."""
        return None if isinstance(self.records, Path) else self.records

    @property
    def key(self) -> Hashable:
        """Identifies the records for caches: the file with its size and time, or the dataset's
        fingerprint."""
        if isinstance(self.records, Path):
            stat = self.records.stat()
            return (str(self.records.resolve()), stat.st_mtime_ns, stat.st_size, self.whole)
        return ("dataset", getattr(self.records, "_fingerprint", id(self.records)), self.whole)


def is_dataset(value: Any) -> bool:
    """Whether ``value`` is a ``datasets.Dataset`` (checked without importing ``datasets``)."""
    module = sys.modules.get("datasets")
    return module is not None and isinstance(value, module.Dataset)


def resolve_split(
    data_path: str | PathLike[str] | Mapping[str, Any] | Any,
    split: str,
    patterns: tuple[str, ...],
    whole_file_names: tuple[str, ...] = (),
) -> SplitSource:
    """Where the records of ``split`` are.

    Args:
        data_path: a mapping of split name (or alias) to a file or ``datasets.Dataset``; a
            folder; a file; or a ``datasets.Dataset`` (see the module docstring).
        split: one of :data:`SPLITS`.
        patterns: the reader's file-name patterns for a folder (see :func:`find_split_file`).
        whole_file_names: names of a file in the folder that holds every split, used when the
            folder has no file for the split (e.g. ``Sentences_AllAgree.txt``).

    Raises:
        DialogEnvsError: an unknown split, a mapping key that names no split, a mapping without
            the split, a path that does not exist, or a folder without the split's file.
    """
    check_split(split)
    if isinstance(data_path, Mapping):
        chosen = mapping_entry(data_path, split)
        if is_dataset(chosen):
            return SplitSource(chosen, whole=False)
        path = Path(chosen)
        if not path.is_file():
            raise DialogEnvsError(f"data_path[{split!r}] = {str(path)!r} is not a file; expected the split's data file")
        return SplitSource(path, whole=False)
    if is_dataset(data_path):
        return SplitSource(data_path, whole=True)
    path = Path(data_path)
    if path.is_file():
        return SplitSource(path, whole=True)
    try:
        return SplitSource(find_split_file(path, split, patterns), whole=False)
    except DialogEnvsError:
        for name in whole_file_names:
            if (path / name).is_file():
                return SplitSource(path / name, whole=True)
        raise


def take_split(
    records: Sequence[Record],
    source: SplitSource,
    split: str,
    key: Callable[[Record], str],
    stratum: Callable[[Record], str] | None = None,
    seed: int = SPLIT_SEED,
) -> list[Record]:
    """``records`` of ``split``: all of them from a per-split source, else the part
    :func:`split_indices` gives (records grouped by ``key``, stratified by ``stratum``)."""
    if not source.whole:
        return list(records)
    strata = None if stratum is None else [stratum(record) for record in records]
    return [records[index] for index in split_indices([key(r) for r in records], split, strata=strata, seed=seed)]


def data_key(data_path: Any) -> Hashable:
    """A hashable stand-in for ``data_path`` (for caches keyed by the data): the path as a string,
    a mapping as its sorted items, a dataset by its fingerprint."""
    if data_path is None:
        return None
    if isinstance(data_path, Mapping):
        return tuple(sorted((str(name), data_key(value)) for name, value in data_path.items()))
    if is_dataset(data_path):
        return ("dataset", getattr(data_path, "_fingerprint", id(data_path)))
    return str(data_path)


def mapping_entry(data_path: Mapping[str, Any], split: str) -> Any:
    """The value a ``{split: ...}`` mapping gives ``split`` (keys may be aliases: valid, dev, val)."""
    known = {alias: name for name, aliases in SPLIT_ALIASES.items() for alias in aliases}
    unknown = [str(key) for key in data_path if key not in known]
    if unknown:
        raise DialogEnvsError(
            f"data_path has key {unknown[0]!r}; expected split names ({', '.join(SPLITS)}, or valid/dev/val)"
        )
    for key, value in data_path.items():
        if known[key] == split:
            return value
    raise DialogEnvsError(
        f"data_path has no entry for split {split!r} (it has {', '.join(map(str, data_path))}); "
        f"add one or choose another split"
    )


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
