"""The CoNLL reader: real files, every accepted variant, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialog_envs.data.conll import read_conll, read_conll_split, tag_set
from dialog_envs.errors import DataFormatError
from tests.conftest import shared_data


def write(tmp_path: Path, text: str | bytes, name: str = "data.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_reads_the_real_conll2003_splits() -> None:
    folder = shared_data("conll2003")
    expected = {"train": (14041, 203621), "validation": (3250, 51362), "test": (3453, 46435)}
    for split, (n_sentences, n_tokens) in expected.items():
        sentences = read_conll_split(folder, split)
        assert len(sentences) == n_sentences
        assert sum(len(s.words) for s in sentences) == n_tokens
    assert tag_set(sentences) == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert sentences[0].words[:3] == ("SOCCER", "-", "JAPAN")


def test_any_column_count_tabs_and_docstart(tmp_path: Path) -> None:
    path = write(tmp_path, "-DOCSTART-\tO\n\nEU\tNNP\tB-NP\tx\tB-ORG\nrejects\tVBZ\tB-VP\tx\tO\n\n\nPeter\tNNP\tB-NP\tx\tB-PER\n")
    sentences = read_conll(path)
    assert [s.words for s in sentences] == [("EU", "rejects"), ("Peter",)]
    assert [s.tags for s in sentences] == [("B-ORG", "O"), ("B-PER",)]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        # IOB1: I- starts an entity; B- only separates two adjacent entities of one type.
        (["I-PER", "I-PER", "B-PER", "O", "I-LOC"], ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]),
        # BIOES
        (["S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"], ["B-PER", "B-LOC", "I-LOC", "I-LOC", "B-LOC"]),
        # IOB2 stays as it is; a type change inside a run starts a new entity.
        (["B-ORG", "I-ORG", "I-LOC", "O"], ["B-ORG", "I-ORG", "B-LOC", "O"]),
    ],
)
def test_schemes_are_normalised_to_iob2(tmp_path: Path, tags: list[str], expected: list[str]) -> None:
    text = "".join(f"w{i} {tag}\n" for i, tag in enumerate(tags))
    assert list(read_conll(write(tmp_path, text))[0].tags) == expected


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        ("EU NNP B-ORG\nrejects O\n", 2, "found 2 columns; expected 3"),
        ("EU B-ORG\nrejects X-ORG\n", 2, "not a valid entity tag"),
        ("EU B-ORG\nrejects B-\n", 2, "not a valid entity tag"),
        ("only\n", 1, "expected a token and a tag"),
        ("EU B-ORG\n\nfoo \xe9 O\n".encode("latin-1"), 3, "not valid UTF-8"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, content: str | bytes, line: int, words: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(DataFormatError) as caught:
        read_conll(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}:")
    assert words in str(caught.value)


@pytest.mark.parametrize("content", ["", "\n\n  \n", "-DOCSTART- -X- -X- O\n\n"])
def test_files_without_sentences_are_rejected(tmp_path: Path, content: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(DataFormatError, match="empty|no sentences") as caught:
        read_conll(path)
    assert str(path) in str(caught.value)


def test_declared_scheme_rejects_bioes_tags(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="declared IOB2"):
        read_conll(write(tmp_path, "a S-PER\n"), scheme="IOB2")


def test_folder_without_the_split_lists_what_was_tried(tmp_path: Path) -> None:
    write(tmp_path, "a O\n", name="train.txt")
    from dialog_envs.errors import DialogEnvsError

    with pytest.raises(DialogEnvsError, match="valid.txt"):
        read_conll_split(tmp_path, "validation")
    assert len(read_conll_split(tmp_path, "train")) == 1
