"""Reader for CoNLL-style column files of named-entity tags.

The format: one token per line, columns separated by spaces or tabs, the NER tag in the last
column; a blank line ends a sentence; ``-DOCSTART-`` lines mark documents and are skipped. Any
number of columns is accepted as long as every token line of a file has the same number. Tags may
be IOB1, IOB2 or BIOES; they are normalised to IOB2 (every entity starts with ``B-``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from typing import Any, Literal

from dialog_envs.data.splits import SplitSource, resolve_split, take_split
from dialog_envs.data.text_files import read_text_lines
from dialog_envs.errors import DataFormatError, DialogEnvsError

TagScheme = Literal["auto", "IOB1", "IOB2", "BIOES"]
TAG_SCHEMES: tuple[str, ...] = ("auto", "IOB1", "IOB2", "BIOES")

_TAG_PATTERN = re.compile(r"^(?:O|[BIES]-\S+)$")
SPLIT_FILE_PATTERNS = (
    "{split}.txt",
    "{split}.conll",
    "eng.{split}",
    "{split}.tsv",
    "wnut17{split}.conll",
    "emerging.{split}.conll",
    "emerging.{split}.annotated",
)
"""File names tried (in order, for every alias of a split) when ``data_path`` is a folder: the
usual names, CoNLL-2003's ``eng.train``/``eng.testa``/``eng.testb``, and WNUT-17's
``wnut17train.conll``/``emerging.dev.conll``/``emerging.test.annotated``."""


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence: its words and their IOB2 tags (same length)."""

    words: tuple[str, ...]
    tags: tuple[str, ...]


def read_conll(path: str | PathLike[str], scheme: TagScheme = "auto", tag_column: int = -1) -> list[TaggedSentence]:
    """Read a CoNLL-style NER file into sentences with IOB2 tags.

    Args:
        path: the file.
        scheme: the file's tagging scheme; ``"auto"`` treats ``E-``/``S-`` tags as BIOES and
            everything else as IOB1/IOB2 (the two normalise the same way: an ``I-X`` that does not
            continue an ``X`` entity starts one).
        tag_column: the column of the tags counted from the end: ``-1`` (the last, default), or
            ``-2`` for the gold tags of a ``conlleval`` file (word ... gold predicted).

    Raises:
        DialogEnvsError: an unknown ``scheme``.
        DataFormatError: empty file, bytes that are not UTF-8, a line whose column count differs
            from the file's first token line, a line with fewer than two columns, a tag that is not
            ``O`` or ``B-``/``I-``/``E-``/``S-`` followed by a type, or ``E-``/``S-`` tags in a file
            declared IOB1/IOB2.
    """
    if scheme not in TAG_SCHEMES:
        raise DialogEnvsError(f"scheme is {scheme!r}; expected one of {', '.join(TAG_SCHEMES)}")
    lines = read_text_lines(path)
    sentences: list[TaggedSentence] = []
    words: list[str] = []
    tags: list[str] = []
    n_columns: int | None = None

    def close_sentence() -> None:
        if words:
            sentences.append(TaggedSentence(tuple(words), tuple(_to_iob2(tags))))
            words.clear()
            tags.clear()

    for number, line in enumerate(lines, start=1):
        columns = line.split()
        if not columns:
            close_sentence()
            continue
        if columns[0] == "-DOCSTART-":
            close_sentence()
            continue
        if n_columns is None:
            if len(columns) < 1 - tag_column:
                wanted = "a tag" if tag_column == -1 else f"{-tag_column} tag columns"
                raise DataFormatError(
                    path, f"found {len(columns)} column(s); expected a token and {wanted} at least", line=number
                )
            n_columns = len(columns)
        if len(columns) != n_columns:
            raise DataFormatError(
                path,
                f"found {len(columns)} columns; expected {n_columns} like the first token line "
                f"(token first, NER tag last, separated by spaces or tabs)",
                line=number,
            )
        tag = columns[tag_column]
        if not _TAG_PATTERN.match(tag):
            raise DataFormatError(
                path,
                f"tag {tag!r} is not a valid entity tag; expected 'O' or B-/I-/E-/S- followed by a type "
                f"such as 'B-PER'",
                line=number,
                field="tag (last column)" if tag_column == -1 else f"tag (column {tag_column})",
            )
        if scheme in ("IOB1", "IOB2") and tag[0] in "ES":
            raise DataFormatError(
                path, f"tag {tag!r} is BIOES but the file was declared {scheme}", line=number, field="tag"
            )
        words.append(columns[0])
        tags.append(tag)
    close_sentence()
    if not sentences:
        raise DataFormatError(path, "no sentences found; expected token lines with a tag in the last column")
    return sentences


def _to_iob2(tags: list[str]) -> list[str]:
    """Normalise one sentence's tags to IOB2."""
    out: list[str] = []
    previous_type: str | None = None  # entity type of the previous tag, None after O or an entity end
    for tag in tags:
        if tag == "O":
            out.append(tag)
            previous_type = None
            continue
        prefix, entity_type = tag[0], tag[2:]
        if prefix in "BS" or previous_type != entity_type:
            out.append(f"B-{entity_type}")
        else:
            out.append(f"I-{entity_type}")
        previous_type = None if prefix in "ES" else entity_type
    return out


def read_conll_source(source: SplitSource, scheme: TagScheme = "auto") -> list[TaggedSentence]:
    """Every sentence of ``source``: a CoNLL file (:func:`read_conll`), or a ``datasets.Dataset``
    with a ``tokens`` column (lists of words) and a ``ner_tags`` column (lists of tag names, or
    of ids of a ``ClassLabel`` feature), before any split is cut out of it."""
    if source.dataset is None:
        return read_conll(source.records, scheme)
    dataset = source.dataset
    for column in ("tokens", "ner_tags"):
        if column not in dataset.column_names:
            raise DialogEnvsError(
                f"the dataset has no column {column!r} (it has {', '.join(dataset.column_names)}); "
                f"expected 'tokens' (lists of words) and 'ner_tags' (lists of tags)"
            )
    names = getattr(getattr(dataset.features["ner_tags"], "feature", None), "names", None)
    sentences = []
    for index, (words, tags) in enumerate(zip(dataset["tokens"], dataset["ner_tags"])):
        tags = [names[tag] if names is not None else str(tag) for tag in tags]
        bad = [tag for tag in tags if not _TAG_PATTERN.match(tag)]
        if len(tags) != len(words) or bad:
            problem = f"tag {bad[0]!r} is not an entity tag" if bad else f"{len(words)} tokens but {len(tags)} tags"
            raise DialogEnvsError(f"dataset row {index}: {problem}; expected one 'O'/B-/I-/E-/S- tag per token")
        if words:
            sentences.append(TaggedSentence(tuple(words), tuple(_to_iob2(tags))))
    return sentences


def read_conll_split(data_path: str | PathLike[str] | Mapping[str, Any] | Any, split: str, scheme: TagScheme = "auto") -> list[TaggedSentence]:
    """Read one split: from a mapping of split to file or dataset, a folder (``train.txt``,
    ``valid.txt``, ``test.txt``, WNUT-17's names, ...: see :data:`SPLIT_FILE_PATTERNS`), or one
    file or dataset cut by :func:`dialog_envs.data.splits.split_indices`."""
    source = resolve_split(data_path, split, SPLIT_FILE_PATTERNS)
    return take_split(read_conll_source(source, scheme), source, split, key=lambda sentence: " ".join(sentence.words))


def tag_set(sentences: list[TaggedSentence]) -> list[str]:
    """The tags of the data in a stable order: ``O`` first, then ``B-X, I-X`` per type, types sorted."""
    types = sorted({tag[2:] for sentence in sentences for tag in sentence.tags if tag != "O"})
    return ["O"] + [f"{prefix}-{entity_type}" for entity_type in types for prefix in "BI"]

