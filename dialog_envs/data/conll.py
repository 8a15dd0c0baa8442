"""Reader for CoNLL-style column files of named-entity tags.

The format: one token per line, columns separated by spaces or tabs, the NER tag in the last
column; a blank line ends a sentence; ``-DOCSTART-`` lines mark documents and are skipped. Any
number of columns is accepted as long as every token line of a file has the same number. Tags may
be IOB1, IOB2 or BIOES; they are normalised to IOB2 (every entity starts with ``B-``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from os import PathLike
from typing import Literal

from dialog_envs.data.splits import find_split_file
from dialog_envs.data.text_files import read_text_lines
from dialog_envs.errors import DataFormatError, DialogEnvsError

TagScheme = Literal["auto", "IOB1", "IOB2", "BIOES"]
TAG_SCHEMES: tuple[str, ...] = ("auto", "IOB1", "IOB2", "BIOES")

_TAG_PATTERN = re.compile(r"^(?:O|[BIES]-\S+)$")
SPLIT_FILE_PATTERNS = ("{split}.txt", "{split}.conll", "eng.{split}", "{split}.tsv")


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence: its words and their IOB2 tags (same length)."""

    words: tuple[str, ...]
    tags: tuple[str, ...]


def read_conll(path: str | PathLike[str], scheme: TagScheme = "auto") -> list[TaggedSentence]:
    """Read a CoNLL-style NER file into sentences with IOB2 tags.

    Args:
        path: the file.
        scheme: the file's tagging scheme; ``"auto"`` treats ``E-``/``S-`` tags as BIOES and
            everything else as IOB1/IOB2 (the two normalise the same way: an ``I-X`` that does not
            continue an ``X`` entity starts one).

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
            if len(columns) < 2:
                raise DataFormatError(
                    path, f"found {len(columns)} column; expected a token and a tag at least", line=number
                )
            n_columns = len(columns)
        if len(columns) != n_columns:
            raise DataFormatError(
                path,
                f"found {len(columns)} columns; expected {n_columns} like the first token line "
                f"(token first, NER tag last, separated by spaces or tabs)",
                line=number,
            )
        tag = columns[-1]
        if not _TAG_PATTERN.match(tag):
            raise DataFormatError(
                path,
                f"tag {tag!r} is not a valid entity tag; expected 'O' or B-/I-/E-/S- followed by a type "
                f"such as 'B-PER'",
                line=number,
                field="tag (last column)",
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


def read_conll_split(data_path: str | PathLike[str], split: str, scheme: TagScheme = "auto") -> list[TaggedSentence]:
    """Read one split from a file or from a folder with ``train.txt``, ``valid.txt``, ``test.txt``, ..."""
    return read_conll(find_split_file(data_path, split, SPLIT_FILE_PATTERNS), scheme)


def tag_set(sentences: list[TaggedSentence]) -> list[str]:
    """The tags of the data in a stable order: ``O`` first, then ``B-X, I-X`` per type, types sorted."""
    types = sorted({tag[2:] for sentence in sentences for tag in sentence.tags if tag != "O"})
    return ["O"] + [f"{prefix}-{entity_type}" for entity_type in types for prefix in "BI"]

