"""Every reader treats only "\\n" and "\\r\\n" as line ends, drops one leading byte-order mark, and
reports unreadable, undecodable or too deeply nested files as one error naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialog_envs.data.conll import read_conll
from dialog_envs.data.dialogue import read_dailydialog, read_jsonl
from dialog_envs.data.labelled import read_labelled
from dialog_envs.data.text_files import read_text_lines, split_lines
from dialog_envs.errors import DataFormatError
from dialog_envs.simuser.domain import write_bundled_schema
from dialog_envs.simuser.goals import read_multiwoz_goals
from dialog_envs.simuser.schema import load_schema

BOM = "\ufeff"
SEPARATORS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c"]


@pytest.mark.parametrize("separator", SEPARATORS)
def test_only_newlines_end_lines(separator: str) -> None:
    assert split_lines(f"a{separator}b\r\nc\n") == [f"a{separator}b", "c"]
    assert split_lines("a\n\n") == ["a", ""]


@pytest.mark.parametrize("separator", SEPARATORS)
def test_dailydialog_keeps_text_around_a_unicode_separator(tmp_path: Path, separator: str) -> None:
    path = tmp_path / "dialogues_train.txt"
    path.write_text(f"Hi there{separator}friend __eou__ Hello . __eou__\n", encoding="utf-8")
    assert read_dailydialog(path)[0].turns == (f"Hi there{separator}friend", "Hello .")


def test_jsonl_line_with_a_raw_line_separator_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text('{"turns": ["a\u2028b", "c"]}\n', encoding="utf-8")
    assert read_jsonl(path)[0].turns == ("a\u2028b", "c")
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text('{"text": "good\u2028day", "label": "positive"}\n{"text": "bad", "label": "negative"}\n', encoding="utf-8")
    assert [example.text for example in read_labelled(labelled)] == ["good\u2028day", "bad"]


def test_latin1_next_line_byte_is_not_a_line_end(tmp_path: Path) -> None:
    path = tmp_path / "phrases.txt"
    path.write_bytes("profit \x85 rose@positive\nloss@negative\n".encode("latin-1"))
    assert [example.label for example in read_labelled(path, encoding="latin-1")] == ["positive", "negative"]


def test_bom_is_dropped_by_every_reader(tmp_path: Path) -> None:
    conll = tmp_path / "train.txt"
    conll.write_text(BOM + "-DOCSTART- O\n\nEU B-ORG\nrejects O\n", encoding="utf-8")
    assert [s.words for s in read_conll(conll)] == [("EU", "rejects")]
    daily = tmp_path / "dialogues_train.txt"
    daily.write_text(BOM + "Hi __eou__ Hello __eou__\n", encoding="utf-8")
    assert read_dailydialog(daily)[0].turns == ("Hi", "Hello")
    jsonl = tmp_path / "dialogues.jsonl"
    jsonl.write_text(BOM + '{"turns": ["a", "b"]}\n', encoding="utf-8")
    assert read_jsonl(jsonl)[0].turns == ("a", "b")
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(BOM + '{"text": "fine", "label": "positive"}\n', encoding="utf-8")
    assert read_labelled(labelled)[0].text == "fine"
    assert read_text_lines(conll)[0] == "-DOCSTART- O"
    (tmp_path / "two.txt").write_text(BOM + BOM + "x\n", encoding="utf-8")
    assert read_text_lines(tmp_path / "two.txt") == [BOM + "x"]  # one mark is dropped, not text


@pytest.fixture()
def shop(tmp_path: Path) -> Path:
    return write_bundled_schema(tmp_path / "shop")


def test_schema_goal_and_database_files_with_a_bom_load(shop: Path) -> None:
    for path in [shop / "schema.json", *sorted((shop / "db").glob("*.json"))]:
        path.write_text(BOM + path.read_text(encoding="utf-8"), encoding="utf-8")
    schema = load_schema(shop)
    goals = shop / "val.json"
    goal = {"store": {"info": {"area": "north"}, "reqt": ["phone"]}}
    goals.write_text(BOM + json.dumps({"A0": {"goal": goal}}), encoding="utf-8")
    assert len(read_multiwoz_goals(goals, schema)) == 1


def test_goal_file_that_is_not_utf8_is_one_error(shop: Path) -> None:
    schema = load_schema(shop)
    goals = shop / "val.json"
    goals.write_bytes(b'{"A0": {"goal": {"store": {"info": {"area": "caf\xe9"}}}}}')
    with pytest.raises(DataFormatError, match="not valid UTF-8") as caught:
        read_multiwoz_goals(goals, schema)
    assert caught.value.path.endswith("val.json")


def test_schema_that_is_a_folder_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "schema.json").mkdir()
    with pytest.raises(DataFormatError, match="is a folder") as caught:
        load_schema(tmp_path)
    assert caught.value.path.endswith("schema.json")


def test_deeply_nested_json_is_one_error(shop: Path, tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    (shop / "schema.json").write_text(deep)
    with pytest.raises(DataFormatError, match="nested too deeply") as caught:
        load_schema(shop)
    assert caught.value.path.endswith("schema.json")
    jsonl = tmp_path / "deep.jsonl"
    jsonl.write_text('{"turns": ' + deep + "}\n")
    with pytest.raises(DataFormatError, match="nested too deeply") as caught:
        read_jsonl(jsonl)
    assert caught.value.line == 1


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("[1].service_name", lambda data: data[1].update(service_name=data[0]["service_name"].upper())),
        ("[0].slots[1].name", lambda data: data[0]["slots"][1].update(name=data[0]["slots"][0]["name"].upper())),
    ],
)
def test_repeated_service_or_slot_names_are_errors(shop: Path, field: str, edit) -> None:
    path = shop / "schema.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(DataFormatError, match="repeats") as caught:
        load_schema(shop)
    assert caught.value.path.endswith("schema.json") and caught.value.field == field
