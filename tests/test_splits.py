"""Splits by name: a mapping of split to file, a folder, one file cut by the one split rule, and
``datasets`` objects, for every env that reads data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialog_envs.commands.env_args import parse_env_kwargs
from dialog_envs.data.conll import read_conll, read_conll_split
from dialog_envs.data.labelled import read_labelled_split
from dialog_envs.data.splits import SPLITS, resolve_split, split_indices
from dialog_envs.envs.dialogue_bleu import DialogueBLEUEnv
from dialog_envs.envs.ner import NEREnv
from dialog_envs.envs.sentiment import SentimentEnv
from dialog_envs.errors import DialogEnvsError
from tests.conftest import shared_data


def conll_text(n: int) -> str:
    """``n`` distinct sentences, every fifth with a LOC entity, the rest with a PER entity."""
    blocks = []
    for i in range(n):
        tag = "B-LOC" if i % 5 == 0 else "B-PER"
        blocks.append(f"w{i}\tO\nname{i}\t{tag}\nsaid\tO\n")
    return "\n".join(blocks)


def test_split_rule_is_disjoint_complete_seeded_and_keeps_duplicates_together() -> None:
    keys = [f"s{i % 90}" for i in range(100)]  # s0..s9 occur twice
    parts = {split: split_indices(keys, split) for split in SPLITS}
    every = sorted(i for indices in parts.values() for i in indices)
    assert every == list(range(100))
    assert [len(set(keys[i] for i in parts[s])) for s in SPLITS] == [72, 9, 9]  # 80/10/10 of 90 groups
    for indices in parts.values():
        assert indices == sorted(indices)
        for i in indices:  # the twin of every record is in the same split
            assert all(j in indices for j in range(100) if keys[j] == keys[i])
    assert split_indices(keys, "test") == parts["test"]
    assert split_indices(keys, "test", seed=1) != parts["test"]


def test_split_rule_stratifies() -> None:
    keys = [str(i) for i in range(100)]
    strata = ["a"] * 50 + ["b"] * 50
    test = split_indices(keys, "test", strata=strata)
    assert sum(i < 50 for i in test) == 5 and sum(i >= 50 for i in test) == 5


def test_one_conll_file_is_cut_into_three_disjoint_splits(tmp_path: Path) -> None:
    path = tmp_path / "all.conll"
    path.write_text(conll_text(50))
    splits = {split: read_conll_split(path, split) for split in SPLITS}
    assert [len(splits[s]) for s in SPLITS] == [40, 5, 5]
    words = [set(s.words for s in splits[split]) for split in SPLITS]
    assert not (words[0] & words[1]) and not (words[0] & words[2]) and not (words[1] & words[2])
    assert set().union(*words) == {s.words for s in read_conll(path)}
    envs = [NEREnv(data_path=path, split=split) for split in SPLITS]
    assert [env.split_size for env in envs] == [40, 5, 5]
    assert envs[0].tags == envs[2].tags == ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")  # from the whole file


def test_ner_mapping_and_wnut17_folder(tmp_path: Path) -> None:
    names = {"train": "wnut17train.conll", "validation": "emerging.dev.conll", "test": "emerging.test.annotated"}
    sizes = {"train": 6, "validation": 3, "test": 2}
    for split, name in names.items():
        (tmp_path / name).write_text(conll_text(sizes[split]))
    for split in SPLITS:
        assert len(read_conll_split(tmp_path, split)) == sizes[split]
    mapping = {"train": tmp_path / names["train"], "dev": str(tmp_path / names["validation"])}
    env = NEREnv(data_path=mapping, split="validation")
    assert env.split_size == 3
    assert NEREnv(data_path=mapping, split="validation").corpus is env.corpus  # cached by the mapping's content
    with pytest.raises(DialogEnvsError, match="no entry for split 'test'"):
        NEREnv(data_path=mapping, split="test")
    with pytest.raises(DialogEnvsError, match="key 'training'"):
        read_conll_split({"training": mapping["train"]}, "train")
    with pytest.raises(DialogEnvsError, match=r"data_path\['train'\].*is not a file"):
        read_conll_split({"train": tmp_path / "missing.conll"}, "train")


def test_one_dialogue_file_is_cut_by_the_same_rule(tmp_path: Path) -> None:
    path = tmp_path / "all.jsonl"
    with open(path, "w") as handle:
        for i in range(30):
            handle.write(json.dumps({"turns": [f"hello {i}", f"reply {i}"]}) + "\n")
    keys = [f"hello {i}\nreply {i}" for i in range(30)]
    for split in SPLITS:
        env = DialogueBLEUEnv(data_path=path, split=split, tokenizer_vocab_size=100)
        assert [e.reference for e in env.examples] == [f"reply {i}" for i in split_indices(keys, split)]


def phrasebank_folder(tmp_path: Path) -> Path:
    (tmp_path / "Sentences_AllAgree.txt").write_text("".join(f"all {i} .@{'positive' if i % 2 else 'negative'}\n" for i in range(20)))
    (tmp_path / "Sentences_75Agree.txt").write_text("".join(f"most {i} .@neutral\n" for i in range(30)))
    (tmp_path / "README.txt").write_text("documentation\n")
    return tmp_path


def test_phrasebank_folder_as_distributed(tmp_path: Path) -> None:
    folder = phrasebank_folder(tmp_path)
    test = read_labelled_split(folder, "test")
    assert len(test) == 2 and all(example.text.startswith("all ") for example in test)
    assert len(read_labelled_split(folder, "train", phrasebank_agreement="75Agree")) == 24
    env = SentimentEnv(data_path=folder, split="validation")
    assert env.labels == ("negative", "positive") and len(env.examples) == 2
    with pytest.raises(DialogEnvsError, match="phrasebank_agreement='90Agree'"):
        SentimentEnv(data_path=folder, phrasebank_agreement="90Agree")
    with pytest.raises(DialogEnvsError, match="no file for split 'train'"):
        read_labelled_split(folder, "train", phrasebank_agreement="66Agree")


def test_the_shared_phrasebank_folder_reads_all_agree() -> None:
    folder = shared_data("financial_phrasebank")
    whole = folder / "Sentences_AllAgree.txt"
    for split in SPLITS:
        assert read_labelled_split(folder, split) == read_labelled_split(whole, split)


def test_a_mapping_passes_through_env_kwargs() -> None:
    kwargs = parse_env_kwargs(["data_path={train: a.conll, validation: b.conll, test: c.conll}"])
    assert kwargs == {"data_path": {"train": "a.conll", "validation": "b.conll", "test": "c.conll"}}
    assert resolve_split({"train": __file__}, "train", ()).whole is False


def test_datasets_objects(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    tags = datasets.ClassLabel(names=["O", "B-PER", "I-PER"])
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")), "ner_tags": datasets.Sequence(tags)})
    rows = {"tokens": [[f"w{i}", f"name{i}"] for i in range(20)], "ner_tags": [[0, 1]] * 20}
    ner = datasets.Dataset.from_dict(rows, features=features)
    env = NEREnv(data_path=ner, split="test")
    assert env.split_size == 2 and env.tags == ("O", "B-PER", "I-PER")
    assert env.corpus.sentences[0].tags == ("O", "B-PER")
    both = datasets.DatasetDict({"train": ner, "validation": ner.select(range(3))})
    assert NEREnv(data_path=both, split="validation").split_size == 3

    labels = datasets.ClassLabel(names=["negative", "neutral", "positive"])
    sentiment = datasets.Dataset.from_dict(
        {"sentence": [f"text {i}" for i in range(30)], "label": [i % 3 for i in range(30)]},
        features=datasets.Features({"sentence": datasets.Value("string"), "label": labels}),
    )
    env = SentimentEnv(data_path=sentiment, split="test", text_field="sentence")
    assert len(env.examples) == 3 and {e.label for e in env.examples} == {"negative", "neutral", "positive"}
    with pytest.raises(DialogEnvsError, match="no column 'text'"):
        SentimentEnv(data_path=sentiment)

    dialogues = datasets.Dataset.from_dict({"dialog": [[f"hi {i}", f"bye {i}"] for i in range(10)]})
    env = DialogueBLEUEnv(data_path=datasets.DatasetDict({"train": dialogues}), tokenizer_vocab_size=100)
    assert [e.reference for e in env.examples] == [f"bye {i}" for i in range(10)]
