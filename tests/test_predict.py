"""``dialog-envs predict`` writes a checkpoint's predictions in the data set's format, and
``eval-ner`` scores a NER predictions file exactly as ``conlleval`` does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialog_envs.cli import main
from dialog_envs.data.conll import read_conll
from dialog_envs.data.labelled import read_labelled

TINY = [
    "--set", "num_envs=2", "--set", "eval_every=0", "--set", "progress=false", "--set", "updates=1",
    "--set", "model_config={n_layer: 1, n_embd: 32, n_head: 2}", "--set", "bf16=off", "--report-split", "none",
]

# conlleval's layout: word, gold tag, predicted tag. Gold chunks (conlleval's IOB chunking: a chunk
# starts at B-X, or at I-X after O or after another type): PER "John Smith", LOC "New York",
# ORG "Acme Corp", PER "Mary", LOC "Paris", MISC "Euro" (I-MISC after O starts a chunk): 6.
# Predicted chunks: PER "John Smith" (correct), LOC "New" and LOC "York" (B-LOC splits "New York":
# neither matches the gold span), ORG "Acme Corp" (correct), MISC "Euro" (correct); "Mary" and
# "Paris" predicted O: 5 chunks, 3 correct.
CONLLEVAL_FILE = """\
John B-PER B-PER
Smith I-PER I-PER
visited O O
New B-LOC B-LOC
York I-LOC B-LOC
. O O

Acme B-ORG B-ORG
Corp I-ORG I-ORG
hired O O
Mary B-PER O
in O O
Paris B-LOC O

The O O
Euro I-MISC I-MISC
zone O O
"""
# conlleval prints for it:
#   processed 15 tokens with 6 phrases; found: 5 phrases; correct: 3.
#   accuracy:  80.00%; precision:  60.00%; recall:  50.00%; FB1:  54.55
# precision = correct / found = 3/5; recall = correct / gold = 3/6; FB1 = 2PR / (P + R) = 0.6/1.1;
# accuracy = tokens whose two tags are equal / tokens = (15 - 3) / 15 (York, Mary, Paris differ).
CONLLEVAL_EXPECTED = {"precision": 3 / 5, "recall": 3 / 6, "f1": 2 * 0.6 * 0.5 / (0.6 + 0.5), "n_correct": 3, "n_predicted": 5, "n_gold": 6}
CONLLEVAL_ACCURACY = 12 / 15


def test_eval_ner_equals_conlleval_on_one_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    both = tmp_path / "output.conll"
    both.write_text(CONLLEVAL_FILE)
    assert main(["eval-ner", "--predictions", str(both), "--json", str(tmp_path / "one.json")]) == 0
    assert "token accuracy: 0.8000" in capsys.readouterr().out
    scores = json.loads((tmp_path / "one.json").read_text())
    assert scores["entity"] == pytest.approx(CONLLEVAL_EXPECTED)
    assert scores["token_accuracy"] == pytest.approx(CONLLEVAL_ACCURACY)
    # the same scores from two files: predicted tag last in one, gold tag last in the other
    gold_file, predicted_file = tmp_path / "gold.conll", tmp_path / "predicted.conll"
    lines = [line.split() for line in CONLLEVAL_FILE.splitlines()]
    gold_file.write_text("\n".join(" ".join(cols[:2]) for cols in lines) + "\n")
    predicted_file.write_text("\n".join(" ".join(cols[:1] + cols[2:]) for cols in lines) + "\n")
    assert main(["eval-ner", "--predictions", str(predicted_file), "--gold", str(gold_file), "--json", str(tmp_path / "two.json")]) == 0
    assert json.loads((tmp_path / "two.json").read_text())["entity"] == scores["entity"]


def test_eval_ner_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-ner", "--predictions", str(tmp_path / "nope.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--predictions" in err and "nope.txt" in err and "is not a file" in err


def write_conll(path: Path, n: int, offset: int) -> None:
    path.write_text("\n".join(f"w{i + offset} O\nname{i + offset} B-PER\n" for i in range(n)))


def train_tiny(tmp_path: Path, env: str, data_path: dict[str, str]) -> Path:
    out = tmp_path / "run"
    kwarg = "data_path=" + json.dumps(data_path)
    assert main(["train", "--env", env, "--out", str(out), "-k", kwarg, *TINY]) == 0
    return out / "checkpoints" / "last"


def test_predict_ner_writes_conll_that_eval_ner_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_conll(tmp_path / "train.conll", 6, 0)
    write_conll(tmp_path / "test.conll", 3, 100)
    data = {"train": str(tmp_path / "train.conll"), "test": str(tmp_path / "test.conll")}
    checkpoint = train_tiny(tmp_path, "dialog_envs/NER-v0", data)
    out = tmp_path / "predictions.conll"
    assert main(["predict", "--checkpoint", str(checkpoint), "--split", "test", "--out", str(out)]) == 0
    assert "3 predictions of the test split" in capsys.readouterr().out
    gold = read_conll(out, tag_column=-2)
    assert gold == read_conll(tmp_path / "test.conll")  # every sentence, in order, with its gold tags
    assert all(len(line.split()) == 3 for line in out.read_text().splitlines() if line)
    assert main(["eval-ner", "--predictions", str(out)]) == 0


def test_predict_dialogue_and_sentiment(tmp_path: Path) -> None:
    dialogues = tmp_path / "dialogues.jsonl"
    dialogues.write_text("".join(json.dumps({"turns": [f"hi {i}", f"hello {i}", "bye"]}) + "\n" for i in range(4)))
    checkpoint = train_tiny(tmp_path / "d", "dialog_envs/DialogueBLEU-v0", {"train": str(dialogues), "test": str(dialogues)})
    out = tmp_path / "replies.jsonl"
    assert main(["predict", "--checkpoint", str(checkpoint), "--out", str(out), "--split", "test"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["reference"] for r in records] == [t for i in range(4) for t in (f"hello {i}", "bye")]
    assert records[1]["context"] == ["hi 0", "hello 0"] and all(isinstance(r["reply"], str) for r in records)

    labelled = tmp_path / "labelled.csv"
    labelled.write_text("text,label\n" + "".join(f"good {i},positive\nbad {i},negative\n" for i in range(3)))
    checkpoint = train_tiny(tmp_path / "s", "dialog_envs/Sentiment-v0", {"train": str(labelled), "test": str(labelled)})
    out = tmp_path / "labels.tsv"
    assert main(["predict", "--checkpoint", str(checkpoint), "--out", str(out)]) == 0
    assert [e.label for e in read_labelled(out)] == ["positive", "negative"] * 3
    assert {e.label for e in read_labelled(out, label_field="predicted")} <= {"positive", "negative"}


def test_predict_needs_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "p.txt")]) == 2
    assert "is not a checkpoint folder" in capsys.readouterr().err
