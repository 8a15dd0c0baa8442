"""Readers of labelled sentences: every format, every bad-input case, the seeded split."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dialog_envs.data.labelled import (
    LabelledText,
    label_set,
    read_at_separated,
    read_delimited,
    read_jsonl,
    read_labelled,
    read_labelled_split,
    split_examples,
)
from dialog_envs.errors import DataFormatError, DialogEnvsError
from tests.conftest import shared_data



def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- sentence@label


def test_at_format_splits_on_the_last_at_and_skips_blank_lines(tmp_path):
    path = write(tmp_path, "s.txt", "Mail me @ home , profits up .@positive\n\n  Sales fell . @ negative \nOK@neutral")
    assert read_at_separated(path) == [
        LabelledText("Mail me @ home , profits up .", "positive"),
        LabelledText("Sales fell .", "negative"),
        LabelledText("OK", "neutral"),
    ]


@pytest.mark.parametrize(
    ("content", "line", "field", "words"),
    [
        ("good@positive\nno separator here\n", 2, None, "no '@'"),
        ("good@positive\n  @negative\n", 2, "sentence", "nothing before"),
        ("good@positive\nbad@\n", 2, "label", "label is empty"),
        ("good@positive\nbad@very negative\n", 2, "label", "contains spaces"),
    ],
)
def test_at_format_bad_lines(tmp_path, content, line, field, words):
    path = write(tmp_path, "bad.txt", content)
    with pytest.raises(DataFormatError) as caught:
        read_at_separated(path)
    error = caught.value
    assert (error.path, error.line, error.field) == (str(path), line, field)
    assert words in str(error) and f"{path}:{line}" in str(error)


def test_empty_and_blank_files_are_errors(tmp_path):
    for name, content in (("empty.txt", ""), ("blank.txt", "\n  \n")):
        with pytest.raises(DataFormatError, match="empty"):
            read_labelled(write(tmp_path, name, content))


def test_bad_utf8_names_the_line_and_latin1_reads_it(tmp_path):
    path = write(tmp_path, "latin.txt", "Sales up .@positive\nSepp\xe4l\xe4 resigned .@neutral\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match="not valid UTF-8") as caught:
        read_labelled(path)
    assert caught.value.line == 2
    assert read_labelled(path, encoding="latin-1")[1] == LabelledText("Seppälä resigned .", "neutral")


def test_utf8_byte_order_mark_is_ignored(tmp_path):
    path = write(tmp_path, "bom.csv", "\ufefftext,label\nSales up .,positive\n")
    assert read_labelled(path) == [LabelledText("Sales up .", "positive")]


def test_unknown_encoding_and_format(tmp_path):
    path = write(tmp_path, "s.txt", "a@b\n")
    with pytest.raises(DialogEnvsError, match="unknown text encoding"):
        read_labelled(path, encoding="klingon-8")
    with pytest.raises(DialogEnvsError, match="unknown labelled-data format"):
        read_labelled(path, format="xml")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- CSV / TSV


def test_csv_with_named_columns_quotes_and_multiline_fields(tmp_path):
    path = write(
        tmp_path,
        "d.csv",
        'id,sentence,sentiment\n1,"Sales rose, a lot .",positive\n\n2,"two\nlines",neutral\n',
    )
    examples = read_labelled(path, text_field="sentence", label_field="sentiment")
    assert examples == [LabelledText("Sales rose, a lot .", "positive"), LabelledText("two\nlines", "neutral")]


def test_tsv_by_extension_and_default_columns(tmp_path):
    path = write(tmp_path, "d.tsv", "label\ttext\nnegative\tLoss widened , sadly .\n")
    assert read_labelled(path) == [LabelledText("Loss widened , sadly .", "negative")]
    # an explicit delimiter overrides the extension's
    path = write(tmp_path, "semi.csv", "text;label\nA;positive\n")
    assert read_delimited(path, delimiter=";") == [LabelledText("A", "positive")]


@pytest.mark.parametrize(
    ("content", "line", "field", "words"),
    [
        ("sentence,label\nA,positive\n", 1, "text", "no column 'text'"),
        ("text,sentiment\nA,positive\n", 1, "label", "no column 'label'"),
        ("text,label\nA,positive\nB,negative,extra\n", 3, None, "found 3 fields; expected 2"),
        ('text,label\n"multi\nline",positive\nC\n', 4, None, "found 1 fields"),
        ("text,label\nA,positive\n  ,negative\n", 3, "text", "text is empty"),
        ("text,label\nA,positive\nB,\n", 3, "label", "label is empty"),
        ("text,label\nA,very good\n", 2, "label", "contains spaces"),
        ("text,label\n", None, None, "no examples"),
    ],
)
def test_csv_bad_input(tmp_path, content, line, field, words):
    path = write(tmp_path, "bad.csv", content)
    with pytest.raises(DataFormatError) as caught:
        read_labelled(path)
    assert (caught.value.line, caught.value.field) == (line, field)
    assert words in str(caught.value)


# --------------------------------------------------------------------------- JSONL


def test_jsonl_reads_strings_and_integer_labels(tmp_path):
    lines = [{"text": "Sales up .", "label": "positive", "id": 3}, {"text": " Flat . ", "label": 1}]
    path = write(tmp_path, "d.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n\n")
    assert read_labelled(path) == [LabelledText("Sales up .", "positive"), LabelledText("Flat .", "1")]
    path = write(tmp_path, "keys.jsonl", json.dumps({"sentence": "A", "y": "neg"}))
    assert read_jsonl(path, text_key="sentence", label_key="y") == [LabelledText("A", "neg")]


@pytest.mark.parametrize(
    ("line2", "field", "words"),
    [
        ('{"text": "A", "label": ', None, "not valid JSON"),
        ('["A", "positive"]', None, "found a JSON list"),
        ('{"label": "positive"}', "text", "missing key 'text'"),
        ('{"text": "A"}', "label", "missing key 'label'"),
        ('{"text": 5, "label": "positive"}', "text", "expected a non-empty string"),
        ('{"text": "", "label": "positive"}', "text", "expected a non-empty string"),
        ('{"text": "A", "label": true}', "label", "string or an integer"),
        ('{"text": "A", "label": 0.5}', "label", "string or an integer"),
        ('{"text": "A", "label": ""}', "label", "label is empty"),
    ],
)
def test_jsonl_bad_lines(tmp_path, line2, field, words):
    path = write(tmp_path, "bad.jsonl", '{"text": "fine", "label": "neutral"}\n' + line2 + "\n")
    with pytest.raises(DataFormatError) as caught:
        read_labelled(path)
    assert (caught.value.line, caught.value.field) == (2, field)
    assert words in str(caught.value)


# --------------------------------------------------------------------------- labels and splits


def test_label_set_is_sorted_and_independent_of_order():
    examples = [LabelledText("a", "positive"), LabelledText("b", "negative"), LabelledText("c", "neutral")]
    assert label_set(examples) == label_set(examples[::-1]) == ["negative", "neutral", "positive"]
    numeric = [LabelledText("a", label) for label in ("10", "2", "0", "2")]
    assert label_set(numeric) == ["0", "2", "10"]


def _corpus() -> list[LabelledText]:
    labels = ["neutral"] * 50 + ["positive"] * 30 + ["negative"] * 20
    examples = [LabelledText(f"sentence {i}", label) for i, label in enumerate(labels)]
    return examples + [LabelledText("sentence 7", "neutral")] * 3  # duplicates of one text


def test_split_is_disjoint_complete_stratified_and_seeded():
    examples = _corpus()
    parts = {split: split_examples(examples, split) for split in ("train", "validation", "test")}
    assert sum(len(part) for part in parts.values()) == len(examples)
    texts = {split: {e.text for e in part} for split, part in parts.items()}
    assert not texts["train"] & texts["validation"] and not texts["train"] & texts["test"]
    assert not texts["validation"] & texts["test"]
    # duplicates stay together
    assert sum("sentence 7" in t for t in texts.values()) == 1
    # stratified by label, counting distinct texts (the 3 extra copies follow their group)
    counts = {split: Counter(e.label for e in set(part)) for split, part in parts.items()}
    assert counts["train"] == {"neutral": 40, "positive": 24, "negative": 16}
    assert counts["validation"] == {"neutral": 5, "positive": 3, "negative": 2}
    assert counts["test"] == {"neutral": 5, "positive": 3, "negative": 2}
    # same seed -> same split, file order kept; another seed -> another split
    assert split_examples(examples, "test") == parts["test"]
    assert [examples.index(e) for e in parts["test"]] == sorted(examples.index(e) for e in parts["test"])
    assert split_examples(examples, "test", seed=1) != parts["test"]


def test_split_rejects_bad_fractions_and_split_names():
    with pytest.raises(DialogEnvsError, match="summing to 1"):
        split_examples(_corpus(), "train", fractions=(0.5, 0.2, 0.2))
    with pytest.raises(DialogEnvsError, match="summing to 1"):
        split_examples(_corpus(), "train", fractions=(1.2, -0.1, -0.1))
    with pytest.raises(DialogEnvsError, match="unknown split"):
        split_examples(_corpus(), "dev")


def test_read_split_from_single_file_and_from_folder(tmp_path):
    lines = "\n".join(f"{e.text}@{e.label}" for e in _corpus())
    single = write(tmp_path, "all.txt", lines)
    assert read_labelled_split(single, "validation") == split_examples(read_labelled(single), "validation")
    folder = tmp_path / "folder"
    folder.mkdir()
    write(folder, "train.csv", "text,label\nA,positive\nB,negative\n")
    write(folder, "dev.jsonl", '{"text": "C", "label": "neutral"}\n')
    assert read_labelled_split(folder, "train") == [LabelledText("A", "positive"), LabelledText("B", "negative")]
    assert read_labelled_split(folder, "validation") == [LabelledText("C", "neutral")]
    with pytest.raises(DialogEnvsError, match="no file for split 'test'"):
        read_labelled_split(folder, "test")


# --------------------------------------------------------------------------- the real PhraseBank


@pytest.mark.parametrize(
    ("name", "total", "counts"),
    [
        ("Sentences_AllAgree.txt", 2264, {"neutral": 1391, "positive": 570, "negative": 303}),
        ("Sentences_75Agree.txt", 3453, {"neutral": 2146, "positive": 887, "negative": 420}),
        ("Sentences_66Agree.txt", 4217, {"neutral": 2535, "positive": 1168, "negative": 514}),
    ],
)
def test_phrasebank_counts_and_split(name, total, counts):
    path = shared_data("financial_phrasebank") / name
    examples = read_labelled(path)
    assert len(examples) == total
    assert Counter(e.label for e in examples) == counts
    assert label_set(examples) == ["negative", "neutral", "positive"]
    parts = [read_labelled_split(path, split) for split in ("train", "validation", "test")]
    assert sum(map(len, parts)) == total
    assert abs(len(parts[2]) - total / 10) < 5
