"""Dialogues: the records, two file formats, and (context, reference) examples.

Formats
-------
**DailyDialog** (``*.txt``): one dialogue per line, every utterance followed by ``__eou__``::

    Hi , can I help you ? __eou__ Yes , my order is late . __eou__

Text after the last ``__eou__`` of a line is kept as a final utterance.
Optional label files beside it hold one line per dialogue with one integer per utterance:
``dialogues_act_<split>.txt`` (1 inform, 2 question, 3 directive, 4 commissive) and
``dialogues_emotion_<split>.txt`` (0 none ... 6 surprise). They are found next to a file named
``dialogues_<split>.txt`` and kept as per-turn metadata (``turn_metadata[i]["act"]``,
``["emotion"]``). A folder in the layout of the DailyDialog release
(``<split>/dialogues_<split>.txt``) or a flat folder (``dialogues_<split>.txt``) both work.

**JSONL** (``*.jsonl`` / ``*.json``): one JSON object per line with a ``turns`` list of strings;
every other field is kept as dialogue metadata::

    {"turns": ["Hi, can I help you?", "Yes, my order is late."], "id": "d1"}

A folder of JSONL files holds ``<split>.jsonl``.

``data_path`` may also be a mapping of split to file, a single file (cut into the three splits by
:func:`dialog_envs.data.splits.split_indices`), or a ``datasets.Dataset``/``DatasetDict`` whose
``turns`` (or ``dialog``) column holds each dialogue's utterances (see :func:`read_dialogue_source`).

Bad input
---------
Every problem raises :class:`~dialog_envs.errors.DataFormatError` with the file, the 1-based
line and the field: bytes that are not UTF-8, an empty file, an empty dialogue (a blank
DailyDialog line, ``"turns": []``), an empty utterance, a line that is not a JSON object, a
missing or non-list ``turns``, a turn that is not a string, a label that is not an integer in
range, and a label file whose number of lines differs from the dialogue file's. Blank lines in
JSONL are skipped (many tools write a trailing one); in DailyDialog they are errors because the
label files are aligned by line.

One exception is only warned about: a dialogue whose number of labels differs from its number
of utterances (the DailyDialog train split has one, line 7,852: 12 utterances, 11 labels). The
labels of that line are dropped (its turns get no ``act``/``emotion``) with a
:class:`DataWarning` naming the file and line, and the dialogue itself is kept.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Literal

from dialog_envs.data.splits import SplitSource, take_split
from dialog_envs.data.text_files import parse_json, read_text_lines
from dialog_envs.errors import DataFormatError, DialogEnvsError

EOU = "__eou__"
"""The end-of-utterance marker of the DailyDialog format."""

DAILYDIALOG_LABELS: dict[str, tuple[str, range]] = {
    "act": ("dialogues_act_", range(1, 5)),
    "emotion": ("dialogues_emotion_", range(0, 7)),
}
"""Per-turn label name -> (file-name prefix replacing ``dialogues_``, allowed values)."""

SPLIT_FILE_PATTERNS: tuple[str, ...] = (
    "{split}.jsonl",
    "{split}/dialogues_{split}.txt",
    "dialogues_{split}.txt",
    "{split}.txt",
)
"""File names tried, in order, when ``data_path`` is a folder (see ``find_split_file``)."""

DialogueFormat = Literal["dailydialog", "jsonl"]


class DataWarning(UserWarning):
    """A problem in a data file that the reader worked around (the message says how)."""


@dataclass(frozen=True)
class Dialogue:
    """One dialogue: its turns in order (speakers alternate) and what else the file said."""

    turns: tuple[str, ...]
    """The utterances, first speaker first."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Dialogue-level fields: ``source`` (``"file:line"`` or ``"generated"``) and, for JSONL,
    every field of the record other than ``turns``."""
    turn_metadata: tuple[dict[str, Any], ...] = ()
    """One dict per turn (e.g. ``{"act": 2, "emotion": 0}``), or empty when there are none."""


@dataclass(frozen=True)
class Example:
    """One reply to predict: the turns before it and the reply itself."""

    context: list[str]
    """The preceding turns, oldest first; the last one is the turn being replied to."""
    reference: str
    """The reply the dialogue actually has."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """``dialogue`` (index in the list of dialogues), ``turn`` (index of the reference turn),
    the dialogue's metadata, and the reference turn's own metadata (e.g. ``act``)."""


def detect_format(path: str | PathLike[str]) -> DialogueFormat:
    """``"jsonl"`` for ``.jsonl``/``.json`` files, else ``"dailydialog"``."""
    return "jsonl" if Path(path).suffix.lower() in (".jsonl", ".json") else "dailydialog"


def read_dialogues(path: str | PathLike[str], format: DialogueFormat | None = None) -> list[Dialogue]:
    """Read a dialogue file of either format (detected from the suffix when ``format`` is None)."""
    format = format or detect_format(path)
    if format == "jsonl":
        return read_jsonl(path)
    if format == "dailydialog":
        return read_dailydialog(path)
    raise DialogEnvsError(f"unknown dialogue format {format!r}; expected 'dailydialog' or 'jsonl'")


def read_jsonl(path: str | PathLike[str]) -> list[Dialogue]:
    """Read dialogues from a JSONL file (``{"turns": [...], ...}`` per line)."""
    dialogues = []
    for number, line in enumerate(read_text_lines(path), start=1):
        if not line.strip():
            continue
        record = parse_json(path, line, number, expected="one JSON object per line")
        if not isinstance(record, dict):
            raise DataFormatError(path, f"a JSON {type(record).__name__}; expected a JSON object with a 'turns' list", line=number)
        if "turns" not in record:
            raise DataFormatError(path, "missing; expected a list of utterance strings", line=number, field="turns")
        turns = record.pop("turns")
        if not isinstance(turns, list):
            raise DataFormatError(path, f"a JSON {type(turns).__name__}; expected a list of utterance strings", line=number, field="turns")
        if not turns:
            raise DataFormatError(path, "empty dialogue; expected at least one utterance", line=number, field="turns")
        for index, turn in enumerate(turns):
            if not isinstance(turn, str):
                raise DataFormatError(path, f"a JSON {type(turn).__name__}; expected a string", line=number, field=f"turns[{index}]")
            if not turn.strip():
                raise DataFormatError(path, "empty utterance; expected text", line=number, field=f"turns[{index}]")
        dialogues.append(
            Dialogue(tuple(t.strip() for t in turns), {"source": f"{path}:{number}", **record})
        )
    if not dialogues:
        raise DataFormatError(path, "no dialogues (only blank lines); expected one JSON object per line")
    return dialogues


def read_dailydialog(
    path: str | PathLike[str],
    label_paths: dict[str, str | PathLike[str]] | None = None,
) -> list[Dialogue]:
    """Read a DailyDialog dialogue file and, when present, its act and emotion files.

    Args:
        path: the ``__eou__``-separated dialogue file.
        label_paths: ``{"act": path, "emotion": path}`` to name label files explicitly; by
            default they are looked for beside ``path`` when its name is
            ``dialogues_<split>.txt`` (missing label files are fine).
    """
    lines = read_text_lines(path)
    turns_per_line = [_split_utterances(path, number, line) for number, line in enumerate(lines, start=1)]
    if label_paths is None:
        label_paths = _find_label_files(Path(path))
    labels = {name: _read_labels(path, name, label_path, turns_per_line) for name, label_path in label_paths.items()}
    dialogues = []
    for index, turns in enumerate(turns_per_line):
        per_turn: tuple[dict[str, Any], ...] = ()
        values = {name: rows[index] for name, rows in labels.items() if rows[index] is not None}
        if values:
            per_turn = tuple({name: row[i] for name, row in values.items()} for i in range(len(turns)))
        dialogues.append(Dialogue(turns, {"source": f"{path}:{index + 1}"}, per_turn))
    return dialogues


def _split_utterances(path: str | PathLike[str], number: int, line: str) -> tuple[str, ...]:
    pieces = line.split(EOU)
    if pieces[-1].strip():
        # Text after the last marker is an utterance whose marker is missing: keep it.
        pieces.append("")
    utterances = tuple(piece.strip() for piece in pieces[:-1])
    if not utterances:
        raise DataFormatError(path, f"empty dialogue; expected utterances each followed by {EOU!r}", line=number, field="turns")
    for index, utterance in enumerate(utterances):
        if not utterance:
            raise DataFormatError(
                path, f"utterance {index + 1} is empty (two {EOU!r} markers in a row); expected text",
                line=number, field="turns",
            )
    return utterances


def _find_label_files(path: Path) -> dict[str, Path]:
    if not path.name.startswith("dialogues_"):
        return {}
    found = {}
    for name, (prefix, _) in DAILYDIALOG_LABELS.items():
        candidate = path.with_name(prefix + path.name[len("dialogues_"):])
        if candidate.is_file():
            found[name] = candidate
    return found


def _read_labels(
    dialogue_path: str | PathLike[str],
    name: str,
    label_path: str | PathLike[str],
    turns_per_line: list[tuple[str, ...]],
) -> list[tuple[int, ...] | None]:
    """One tuple of labels per dialogue line, or None where the count does not match (warned)."""
    allowed = DAILYDIALOG_LABELS[name][1] if name in DAILYDIALOG_LABELS else None
    lines = read_text_lines(label_path)
    if len(lines) != len(turns_per_line):
        raise DataFormatError(
            label_path,
            f"{len(lines)} lines of {name} labels but {len(turns_per_line)} dialogues in {dialogue_path}; "
            "expected one line per dialogue",
            field=name,
        )
    rows: list[tuple[int, ...] | None] = []
    for number, (line, turns) in enumerate(zip(lines, turns_per_line), start=1):
        try:
            values = tuple(int(token) for token in line.split())
        except ValueError:
            raise DataFormatError(label_path, f"{line.strip()!r} is not a list of integers; expected one integer per utterance", line=number, field=name) from None
        if allowed is not None and any(v not in allowed for v in values):
            bad = next(v for v in values if v not in allowed)
            raise DataFormatError(label_path, f"label {bad} is out of range; expected {allowed.start}..{allowed.stop - 1}", line=number, field=name)
        if len(values) != len(turns):
            warnings.warn(
                f"{label_path}:{number}: {len(values)} {name} labels for {len(turns)} utterances; "
                f"the {name} labels of this dialogue are dropped",
                DataWarning,
                stacklevel=3,
            )
            rows.append(None)
        else:
            rows.append(values)
    return rows


def find_dialogue_file(data_path: str | PathLike[str], split: str) -> Path:
    """The dialogue file of ``split`` under ``data_path`` (a file is returned as is)."""
    from dialog_envs.data.splits import find_split_file

    return find_split_file(data_path, split, SPLIT_FILE_PATTERNS)


DATASET_TURN_COLUMNS: tuple[str, ...] = ("turns", "dialog")
"""Columns of a ``datasets.Dataset`` that may hold a dialogue's utterances (a list of strings per
row), tried in order; ``dialog`` is the name DailyDialog has on the Hugging Face Hub."""


def read_dialogue_source(source: SplitSource) -> list[Dialogue]:
    """Every dialogue of ``source``: a file (:func:`read_dialogues`), or a ``datasets.Dataset``
    with a column of :data:`DATASET_TURN_COLUMNS`, before any split is cut out of it."""
    if source.dataset is None:
        return read_dialogues(source.records)
    dataset = source.dataset
    column = next((name for name in DATASET_TURN_COLUMNS if name in dataset.column_names), None)
    if column is None:
        raise DialogEnvsError(
            f"the dataset has none of the columns {', '.join(DATASET_TURN_COLUMNS)} (it has "
            f"{', '.join(dataset.column_names)}); expected one holding each dialogue's utterances"
        )
    dialogues = []
    for index, turns in enumerate(dataset[column]):
        turns = tuple(str(turn).strip() for turn in turns)
        if not turns or not all(turns):
            raise DialogEnvsError(f"dataset row {index}: an empty dialogue or utterance; expected text in every turn of {column!r}")
        dialogues.append(Dialogue(turns, {"source": f"dataset:{index}"}))
    return dialogues


def split_dialogues(dialogues: Sequence[Dialogue], source: SplitSource, split: str) -> list[Dialogue]:
    """The dialogues of ``split`` among every dialogue of ``source`` (all of them when the source
    holds that split alone)."""
    return take_split(dialogues, source, split, key=lambda dialogue: "\n".join(dialogue.turns))


def make_examples(
    dialogues: list[Dialogue],
    context_turns: int | None = 3,
    min_context_turns: int = 1,
) -> list[Example]:
    """Every (context, reference) pair of the dialogues.

    Turn ``i`` of a dialogue is a reference for every ``i >= min_context_turns``; its context
    is the ``context_turns`` turns before it (fewer at the start of a dialogue; all of them
    when ``context_turns`` is None). Both speakers' turns are references.
    """
    if context_turns is not None and context_turns < 1:
        raise DialogEnvsError(f"context_turns is {context_turns}; expected an integer >= 1 or None")
    if min_context_turns < 1:
        raise DialogEnvsError(f"min_context_turns is {min_context_turns}; expected an integer >= 1")
    examples = []
    for d_index, dialogue in enumerate(dialogues):
        for t_index in range(min_context_turns, len(dialogue.turns)):
            start = 0 if context_turns is None else max(0, t_index - context_turns)
            metadata = {"dialogue": d_index, "turn": t_index, **dialogue.metadata}
            if dialogue.turn_metadata:
                metadata.update(dialogue.turn_metadata[t_index])
            examples.append(Example(list(dialogue.turns[start:t_index]), dialogue.turns[t_index], metadata))
    return examples
