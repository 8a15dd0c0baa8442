"""Readers for labelled-sentence files (text classification), and a seeded split for single files.

Three formats are read; every one gives a list of :class:`LabelledText`:

* ``"at"``: one ``sentence@label`` per line, split on the **last** ``@`` (so a sentence may hold
  ``@`` itself). This is the Financial PhraseBank format. Blank lines are skipped.
* ``"csv"`` / ``"tsv"``: a header row naming the columns, then one record per row; the text and
  label columns are chosen by name (``text`` and ``label`` by default). Read with :mod:`csv`, so
  quoted fields may hold the delimiter or line breaks. Other columns are ignored.
* ``"jsonl"``: one JSON object per line, ``{"text": ..., "label": ...}`` (field names
  configurable). An integer label is read as its decimal string. Blank lines are skipped.

``format="auto"`` picks by extension: ``.csv`` -> csv, ``.tsv``/``.tab`` -> tsv, ``.jsonl``/``.json``
-> jsonl, anything else (``.txt``, ...) -> at.

The label set is taken from the data (:func:`label_set`): sorted, so it does not depend on the order
of the lines. Files are UTF-8 by default (the copy of the PhraseBank in ``../shared/data`` was
re-encoded to UTF-8); ``encoding="latin-1"`` reads the original release's ISO-8859-1 files.

Corpora that come as one file (the PhraseBank has no splits) are split by :func:`split_examples`,
the project's one split rule (:func:`dialog_envs.data.splits.split_indices`) stratified by label:
a fixed, seeded 80/10/10 train/validation/test split (seed 0 by default), so the same file gives
the same three splits on every machine. Identical sentences always land in the same split, so
duplicates cannot leak from train into test. The PhraseBank folder as distributed is read from
its ``Sentences_AllAgree.txt`` (another agreement level by ``phrasebank_agreement``).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Literal

from dialog_envs.data.splits import SPLIT_FRACTIONS, SPLIT_SEED, SplitSource, resolve_split, split_indices
from dialog_envs.data.text_files import parse_json, read_text_lines
from dialog_envs.errors import DataFormatError, DialogEnvsError

LabelledFormat = Literal["auto", "at", "csv", "tsv", "jsonl"]
FORMATS: tuple[str, ...] = ("auto", "at", "csv", "tsv", "jsonl")

SPLIT_FILE_PATTERNS: tuple[str, ...] = (
    "{split}.txt",
    "{split}.csv",
    "{split}.tsv",
    "{split}.jsonl",
    "{split}.json",
)
"""File names tried (in order, for every alias of a split) when ``data_path`` is a folder."""

DEFAULT_SPLIT_FRACTIONS = SPLIT_FRACTIONS
DEFAULT_SPLIT_SEED = SPLIT_SEED


@dataclass(frozen=True)
class LabelledText:
    """One example: a text and its label name."""

    text: str
    label: str


def read_labelled(
    path: str | PathLike[str],
    *,
    format: LabelledFormat = "auto",
    text_field: str = "text",
    label_field: str = "label",
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> list[LabelledText]:
    """Read a labelled-sentence file in any of the accepted formats.

    Args:
        path: the file.
        format: ``"at"``, ``"csv"``, ``"tsv"``, ``"jsonl"`` or ``"auto"`` (by extension, see the
            module docstring).
        text_field: the column (csv/tsv) or key (jsonl) holding the text.
        label_field: the column (csv/tsv) or key (jsonl) holding the label.
        delimiter: csv/tsv only: overrides the delimiter (``","`` for csv, tab for tsv).
        encoding: the file's text encoding (``"utf-8"`` by default; ``"latin-1"`` for the original
            PhraseBank release).

    Raises:
        DataFormatError: see the reader of each format; every reader also raises on an empty file
            and on bytes that do not decode with ``encoding``.
        DialogEnvsError: an unknown ``format`` or ``encoding``.
    """
    chosen = _resolve_format(path, format)
    if chosen == "at":
        return read_at_separated(path, encoding=encoding)
    if chosen in ("csv", "tsv"):
        return read_delimited(
            path,
            text_column=text_field,
            label_column=label_field,
            delimiter=delimiter if delimiter is not None else ("," if chosen == "csv" else "\t"),
            encoding=encoding,
        )
    return read_jsonl(path, text_key=text_field, label_key=label_field, encoding=encoding)


def read_at_separated(path: str | PathLike[str], *, encoding: str = "utf-8") -> list[LabelledText]:
    """Read ``sentence@label`` lines (the Financial PhraseBank format); blank lines are skipped.

    Raises:
        DataFormatError: a line without ``@``, with nothing before the last ``@`` (field
            ``sentence``), or with no label or a label with spaces after it (field ``label``); a
            file with no examples.
    """
    examples: list[LabelledText] = []
    for number, line in enumerate(_read_lines(path, encoding), start=1):
        if not line.strip():
            continue
        sentence, at, label = line.rpartition("@")
        if not at:
            raise DataFormatError(
                path, f"no '@' in {_clip(line)!r}; expected 'sentence@label'", line=number
            )
        sentence, label = sentence.strip(), label.strip()
        if not sentence:
            raise DataFormatError(
                path, "nothing before the last '@'; expected 'sentence@label'", line=number, field="sentence"
            )
        _check_label(path, label, number, "label")
        examples.append(LabelledText(sentence, label))
    return _non_empty(path, examples, "expected lines 'sentence@label'")


def read_delimited(
    path: str | PathLike[str],
    *,
    text_column: str = "text",
    label_column: str = "label",
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> list[LabelledText]:
    """Read a CSV/TSV file with a header row; the text and label columns are picked by name.

    Line numbers in errors are the line where the record starts (a quoted field may span lines).

    Raises:
        DataFormatError: the header lacks a named column (line 1, that field); a record has a
            different number of fields than the header; a record's text or label is empty, or the
            label holds spaces (that field); a file with no records.
    """
    text = "\n".join(_read_lines(path, encoding))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as error:
        raise DataFormatError(path, f"unreadable header ({error})", line=1) from None
    header = [name.strip() for name in header]
    for column in (text_column, label_column):
        if column not in header:
            raise DataFormatError(
                path,
                f"no column {column!r} in the header {header!r}; expected a header row naming the "
                f"text and label columns (delimiter {delimiter!r})",
                line=1,
                field=column,
            )
    text_index, label_index = header.index(text_column), header.index(label_column)
    examples: list[LabelledText] = []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise DataFormatError(path, f"malformed record ({error})", line=start) from None
        if row and any(cell.strip() for cell in row):
            if len(row) != len(header):
                raise DataFormatError(
                    path,
                    f"found {len(row)} fields; expected {len(header)} like the header "
                    f"(delimiter {delimiter!r}; quote fields that contain it)",
                    line=start,
                )
            sentence, label = row[text_index].strip(), row[label_index].strip()
            if not sentence:
                raise DataFormatError(path, "the text is empty; expected a sentence", line=start, field=text_column)
            _check_label(path, label, start, label_column)
            examples.append(LabelledText(sentence, label))
        start = reader.line_num + 1
    return _non_empty(path, examples, "expected a header row and one record per row")


def read_jsonl(
    path: str | PathLike[str],
    *,
    text_key: str = "text",
    label_key: str = "label",
    encoding: str = "utf-8",
) -> list[LabelledText]:
    """Read one JSON object per line, ``{"text": "...", "label": "..."}``; blank lines are skipped.

    Raises:
        DataFormatError: a line that is not valid JSON or not an object; a missing key, a text that
            is not a non-empty string, or a label that is not a non-empty string (without spaces) or
            an integer (that field); a file with no examples.
    """
    examples: list[LabelledText] = []
    for number, line in enumerate(_read_lines(path, encoding), start=1):
        if not line.strip():
            continue
        record = parse_json(path, line, number, expected="one object per line")
        if not isinstance(record, dict):
            raise DataFormatError(
                path, f"found a JSON {type(record).__name__}; expected an object with {text_key!r} and {label_key!r}",
                line=number,
            )
        for key in (text_key, label_key):
            if key not in record:
                raise DataFormatError(path, f"missing key {key!r}; found keys {sorted(record)!r}", line=number, field=key)
        sentence, label = record[text_key], record[label_key]
        if not isinstance(sentence, str) or not sentence.strip():
            raise DataFormatError(
                path, f"found {sentence!r}; expected a non-empty string", line=number, field=text_key
            )
        if isinstance(label, int) and not isinstance(label, bool):
            label = str(label)
        if not isinstance(label, str):
            raise DataFormatError(
                path, f"found {label!r}; expected a string or an integer label", line=number, field=label_key
            )
        label = label.strip()
        _check_label(path, label, number, label_key)
        examples.append(LabelledText(sentence.strip(), label))
    return _non_empty(path, examples, f"expected JSON objects with {text_key!r} and {label_key!r}")


def label_set(examples: Sequence[LabelledText]) -> list[str]:
    """The labels of ``examples``, sorted (integer-like labels numerically, the rest as strings).

    Sorting makes the label -> action mapping independent of the order of the lines.
    """
    labels = {example.label for example in examples}
    return sorted(labels, key=lambda label: (0, int(label), "") if label.isdigit() else (1, 0, label))


def split_examples(
    examples: Sequence[LabelledText],
    split: str,
    *,
    fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS,
    seed: int = DEFAULT_SPLIT_SEED,
) -> list[LabelledText]:
    """One split of a single-file corpus by :func:`dialog_envs.data.splits.split_indices`:
    identical texts kept together, stratified by label, seeded; examples keep their file order.

    Raises:
        DialogEnvsError: an unknown split, or fractions that are not three non-negative numbers
            summing to 1.
    """
    indices = split_indices(
        [example.text for example in examples], split, strata=[example.label for example in examples],
        fractions=fractions, seed=seed,
    )
    return [examples[index] for index in indices]


PHRASEBANK_AGREEMENTS: tuple[str, ...] = ("AllAgree", "75Agree", "66Agree", "50Agree")
"""Agreement levels of the Financial PhraseBank release: ``Sentences_<level>.txt`` holds the
sentences that at least that share of the annotators labelled alike."""


def read_labelled_source(
    source: SplitSource,
    *,
    format: LabelledFormat = "auto",
    text_field: str = "text",
    label_field: str = "label",
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> list[LabelledText]:
    """Every example of ``source`` (a file, read by :func:`read_labelled`, or a
    ``datasets.Dataset`` with the columns ``text_field`` and ``label_field``; a ``ClassLabel``
    column gives its names), before any split is cut out of it."""
    if source.dataset is None:
        return read_labelled(
            source.records, format=format, text_field=text_field, label_field=label_field, delimiter=delimiter, encoding=encoding
        )
    dataset = source.dataset
    missing = [name for name in (text_field, label_field) if name not in dataset.column_names]
    if missing:
        raise DialogEnvsError(
            f"the dataset has no column {missing[0]!r} (it has {', '.join(dataset.column_names)}); "
            f"expected the text in text_field={text_field!r} and the label in label_field={label_field!r}"
        )
    names = getattr(dataset.features[label_field], "names", None)
    return [
        LabelledText(str(text).strip(), names[label] if names is not None else str(label))
        for text, label in zip(dataset[text_field], dataset[label_field])
    ]


def labelled_source(data_path: Any, split: str, phrasebank_agreement: str = "AllAgree") -> SplitSource:
    """Where ``split`` of a labelled corpus is (see :func:`dialog_envs.data.splits.resolve_split`);
    a folder without split files but with the PhraseBank's ``Sentences_<phrasebank_agreement>.txt``
    is read from that file."""
    if phrasebank_agreement not in PHRASEBANK_AGREEMENTS:
        raise DialogEnvsError(
            f"phrasebank_agreement={phrasebank_agreement!r}; expected one of {', '.join(PHRASEBANK_AGREEMENTS)}"
        )
    return resolve_split(data_path, split, SPLIT_FILE_PATTERNS, (f"Sentences_{phrasebank_agreement}.txt",))


def read_labelled_split(
    data_path: str | PathLike[str] | Mapping[str, Any] | Any,
    split: str,
    *,
    split_fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS,
    split_seed: int = DEFAULT_SPLIT_SEED,
    phrasebank_agreement: str = "AllAgree",
    **reader_options: Any,
) -> list[LabelledText]:
    """Read one split of a labelled corpus.

    ``data_path`` is a mapping of split to file or dataset, a folder with one file per split
    (``train.txt``/``.csv``/``.tsv``/``.jsonl``, ``valid``/``dev``/``validation``, ``test``: see
    :data:`SPLIT_FILE_PATTERNS`), the PhraseBank folder as distributed (see
    :func:`labelled_source`), or a single file or ``datasets.Dataset``, which is split by
    :func:`split_examples` with ``split_fractions`` and ``split_seed``. ``reader_options`` are
    those of :func:`read_labelled_source` (``format``, ``text_field``, ``label_field``,
    ``delimiter``, ``encoding``).
    """
    source = labelled_source(data_path, split, phrasebank_agreement)
    examples = read_labelled_source(source, **reader_options)
    if source.whole:
        return split_examples(examples, split, fractions=split_fractions, seed=split_seed)
    return examples


def _resolve_format(path: str | PathLike[str], format: str) -> str:
    if format not in FORMATS:
        raise DialogEnvsError(f"unknown labelled-data format {format!r}; expected one of {', '.join(FORMATS)}")
    if format != "auto":
        return format
    suffix = Path(path).suffix.lower()
    return {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}.get(suffix, "at")


def _read_lines(path: str | PathLike[str], encoding: str) -> list[str]:
    """Lines of a text file through :func:`read_text_lines`, in any encoding Python knows."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise DialogEnvsError(f"unknown text encoding {encoding!r}; expected e.g. 'utf-8' or 'latin-1'") from None
    return read_text_lines(path, codec)


def _check_label(path: str | PathLike[str], label: str, line: int, field: str) -> None:
    if not label:
        raise DataFormatError(path, "the label is empty; expected a label name such as 'positive'", line=line, field=field)
    if any(character.isspace() for character in label):
        raise DataFormatError(
            path, f"label {_clip(label)!r} contains spaces; expected one word such as 'positive'", line=line, field=field
        )


def _non_empty(path: str | PathLike[str], examples: list[LabelledText], expected: str) -> list[LabelledText]:
    if not examples:
        raise DataFormatError(path, f"no examples found; {expected}")
    return examples


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
