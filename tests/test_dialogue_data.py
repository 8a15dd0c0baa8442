"""Dialogue readers (DailyDialog, JSONL), examples, and the generated corpus."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import pytest

from dialog_envs.data.dialogue import (
    DataWarning,
    Dialogue,
    find_dialogue_file,
    make_examples,
    read_dailydialog,
    read_dialogues,
    read_jsonl,
)
from dialog_envs.data.generated_dialogues import INTENTS, SPLIT_SIZES, _generate, generate_dialogues
from dialog_envs.errors import DataFormatError, DialogEnvsError

DAILYDIALOG = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "dailydialog"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def raises_at(path: Path, line: int | None, field: str | None):
    """Check a DataFormatError names this file, line and field."""

    class Checker:
        def __enter__(self):
            self.ctx = pytest.raises(DataFormatError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            error = self.info.value
            assert error.path == str(path)
            assert error.line == line
            assert error.field == field
            assert str(path) in str(error)
            return handled

    return Checker()


# -- DailyDialog -----------------------------------------------------------------------------


def test_dailydialog_with_labels(tmp_path):
    path = write(tmp_path / "dialogues_train.txt", "Hi , there . __eou__ Hello ! __eou__ How are you ? __eou__\nA __eou__ B __eou__\n")
    write(tmp_path / "dialogues_act_train.txt", "2 1 2 \n3 4\n")
    write(tmp_path / "dialogues_emotion_train.txt", "0 4 0\n0 0\n")
    dialogues = read_dialogues(path)
    assert [d.turns for d in dialogues] == [("Hi , there .", "Hello !", "How are you ?"), ("A", "B")]
    assert dialogues[0].turn_metadata == ({"act": 2, "emotion": 0}, {"act": 1, "emotion": 4}, {"act": 2, "emotion": 0})
    assert dialogues[1].metadata["source"] == f"{path}:2"


def test_dailydialog_without_label_files(tmp_path):
    path = write(tmp_path / "chats.txt", "A __eou__ B __eou__\n")
    (dialogue,) = read_dailydialog(path)
    assert dialogue.turns == ("A", "B") and dialogue.turn_metadata == ()


def test_dailydialog_label_count_mismatch_on_one_line_warns_and_drops(tmp_path):
    path = write(tmp_path / "dialogues_train.txt", "A __eou__ B __eou__\nC __eou__ D __eou__ E __eou__\n")
    write(tmp_path / "dialogues_act_train.txt", "1 2\n1 2\n")
    with pytest.warns(DataWarning, match=r"dialogues_act_train.txt:2: 2 act labels for 3 utterances"):
        dialogues = read_dailydialog(path)
    assert dialogues[0].turn_metadata == ({"act": 1}, {"act": 2})
    assert dialogues[1].turn_metadata == ()
    assert dialogues[1].turns == ("C", "D", "E")


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("A __eou__ B __eou__\n\nC __eou__\n", 2, "turns"),  # blank line = empty dialogue
        ("A __eou__ __eou__ B __eou__\n", 1, "turns"),  # empty utterance
        ("A __eou__\n __eou__\n", 2, "turns"),
    ],
)
def test_dailydialog_bad_dialogue_lines(tmp_path, text, line, field):
    path = write(tmp_path / "d.txt", text)
    with raises_at(path, line, field):
        read_dailydialog(path)


def test_dailydialog_non_utf8(tmp_path):
    path = write(tmp_path / "d.txt", b"A __eou__ B __eou__\nC \xff __eou__\n")
    with raises_at(path, 2, None) as info:
        read_dialogues(path)
    assert "UTF-8" in str(info.value)


def test_empty_file(tmp_path):
    for name in ("d.txt", "d.jsonl"):
        path = write(tmp_path / name, "\n \n")
        with raises_at(path, None, None):
            read_dialogues(path)


@pytest.mark.parametrize(
    ("labels", "line", "field", "message"),
    [
        ("1 2\n", None, "act", "1 lines of act labels but 2 dialogues"),
        ("1 2\n1 x\n", 2, "act", "not a list of integers"),
        ("1 2\n1 9\n", 2, "act", "out of range"),
    ],
)
def test_dailydialog_bad_label_files(tmp_path, labels, line, field, message):
    path = write(tmp_path / "dialogues_test.txt", "A __eou__ B __eou__\nC __eou__ D __eou__\n")
    label_path = write(tmp_path / "dialogues_act_test.txt", labels)
    with raises_at(label_path, line, field) as info:
        read_dailydialog(path)
    assert message in str(info.value)


def test_dailydialog_bad_emotion_value(tmp_path):
    path = write(tmp_path / "dialogues_test.txt", "A __eou__ B __eou__\n")
    label_path = write(tmp_path / "dialogues_emotion_test.txt", "0 7\n")
    with raises_at(label_path, 1, "emotion"):
        read_dailydialog(path)


# -- JSONL -----------------------------------------------------------------------------------


def test_jsonl_keeps_extra_fields_and_skips_blank_lines(tmp_path):
    path = write(
        tmp_path / "train.jsonl",
        json.dumps({"turns": ["Hi", " Hello! "], "id": "d1", "topic": "greeting"}) + "\n\n"
        + json.dumps({"turns": ["Only one turn"]}) + "\n",
    )
    dialogues = read_jsonl(path)
    assert dialogues[0].turns == ("Hi", "Hello!")
    assert dialogues[0].metadata == {"source": f"{path}:1", "id": "d1", "topic": "greeting"}
    assert dialogues[1].metadata["source"] == f"{path}:3"
    assert read_dialogues(path) == dialogues


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ('{"turns": ["a", "b"]', None, "not valid JSON"),
        ('["a", "b"]', None, "expected a JSON object"),
        ('{"utterances": ["a", "b"]}', "turns", "missing"),
        ('{"turns": "a b"}', "turns", "expected a list"),
        ('{"turns": null}', "turns", "expected a list"),
        ('{"turns": []}', "turns", "empty dialogue"),
        ('{"turns": ["a", 3]}', "turns[1]", "expected a string"),
        ('{"turns": ["a", "  "]}', "turns[1]", "empty utterance"),
    ],
)
def test_jsonl_bad_lines(tmp_path, line, field, message):
    path = write(tmp_path / "d.jsonl", '{"turns": ["ok", "fine"]}\n' + line + "\n")
    with raises_at(path, 2, field) as info:
        read_jsonl(path)
    assert message in str(info.value)


def test_jsonl_non_utf8(tmp_path):
    path = write(tmp_path / "d.jsonl", b'{"turns": ["ok", "fine"]}\n{"turns": ["caf\xe9"]}\n')
    with raises_at(path, 2, None):
        read_jsonl(path)


# -- finding files, examples -----------------------------------------------------------------


def test_find_dialogue_file_layouts(tmp_path):
    nested = write(tmp_path / "dd" / "validation" / "dialogues_validation.txt", "A __eou__ B __eou__\n")
    assert find_dialogue_file(tmp_path / "dd", "validation") == nested
    flat = write(tmp_path / "flat" / "dialogues_test.txt", "A __eou__ B __eou__\n")
    assert find_dialogue_file(tmp_path / "flat", "test") == flat
    jsonl = write(tmp_path / "js" / "dev.jsonl", '{"turns": ["a", "b"]}\n')
    assert find_dialogue_file(tmp_path / "js", "validation") == jsonl
    assert find_dialogue_file(jsonl, "train") == jsonl  # a file serves every split
    with pytest.raises(DialogEnvsError, match="no file for split 'train'"):
        find_dialogue_file(tmp_path / "js", "train")


def test_make_examples_context_lengths():
    dialogues = [
        Dialogue(("a", "b", "c", "d", "e"), {"source": "x"}, tuple({"act": i} for i in range(5))),
        Dialogue(("only",)),
        Dialogue(("p", "q")),
    ]
    examples = make_examples(dialogues, context_turns=2)
    assert [(e.context, e.reference) for e in examples] == [
        (["a"], "b"), (["a", "b"], "c"), (["b", "c"], "d"), (["c", "d"], "e"), (["p"], "q"),
    ]
    assert examples[2].metadata == {"dialogue": 0, "turn": 3, "source": "x", "act": 3}
    assert examples[-1].metadata["dialogue"] == 2
    assert make_examples(dialogues, context_turns=None)[3].context == ["a", "b", "c", "d"]
    assert [e.reference for e in make_examples(dialogues, context_turns=1, min_context_turns=3)] == ["d", "e"]
    with pytest.raises(DialogEnvsError):
        make_examples(dialogues, context_turns=0)
    with pytest.raises(DialogEnvsError):
        make_examples(dialogues, min_context_turns=0)


# -- the real DailyDialog release ------------------------------------------------------------


@pytest.mark.skipif(not DAILYDIALOG.is_dir(), reason="../shared/data/dailydialog is absent")
def test_real_dailydialog_counts():
    read = {}
    for split in ("train", "validation", "test"):
        path = find_dialogue_file(DAILYDIALOG, split)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read[split] = read_dialogues(path)
        messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
        # Only train line 7,852 (12 utterances, 11 act and 11 emotion labels) is warned about.
        assert len(messages) == (2 if split == "train" else 0)
        assert all(":7852: 11 " in m for m in messages)
        assert sum(not d.turn_metadata for d in read[split]) == (split == "train")
    assert {split: len(d) for split, d in read.items()} == {"train": 11118, "validation": 1000, "test": 1000}
    assert sum(len(d.turns) for d in read["train"]) == 87171
    bike = read["train"][7851]
    assert bike.turns[0] == "Sam , can we stop at this bicycle shop ?"
    assert len(bike.turns) == 12 and bike.turn_metadata == ()
    assert read["train"][0].turn_metadata[0] == {"act": 3, "emotion": 0}


# -- generated corpus ------------------------------------------------------------------------


def test_generated_corpus_sizes_determinism_and_variety():
    splits = {split: generate_dialogues(split) for split in ("train", "validation", "test")}
    assert {s: len(d) for s, d in splits.items()} == SPLIT_SIZES
    assert generate_dialogues("train") == splits["train"]
    assert _generate.__wrapped__("train", 50, 20240101) == tuple(splits["train"][:50])
    train = splits["train"]
    assert {d.metadata["intent"] for d in train} == set(INTENTS)
    assert all(len(d.turns) >= 2 and all(t.strip() == t and t for t in d.turns) for d in train)
    # Different seeds: mostly different dialogues (a few short exchanges may repeat).
    train_set = {d.turns for d in train}
    for split in ("validation", "test"):
        repeated = sum(d.turns in train_set for d in splits[split])
        assert repeated < len(splits[split]) * 0.1
    assert len({t for d in train for t in d.turns}) > 2000
    assert generate_dialogues("train", n=5, seed=1) != generate_dialogues("train", n=5, seed=2)


def test_generated_corpus_is_fast():
    start = time.perf_counter()
    for split, seed in (("train", 11), ("validation", 12), ("test", 13)):
        _generate.__wrapped__(split, SPLIT_SIZES[split], seed)
    assert time.perf_counter() - start < 0.5  # about 0.015 s alone; generous for a busy machine


def test_generated_corpus_rejects_unknown_split():
    with pytest.raises(DialogEnvsError, match="unknown split"):
        generate_dialogues("dev")
