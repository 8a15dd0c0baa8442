"""The generated NER corpus takes learning: unseen names in validation and test, ambiguous words."""

from __future__ import annotations

from dialog_envs.data.generated_ner import AMBIGUOUS_NAMES, generated_ner_split


def entity_words(split: str) -> list[tuple[str, str]]:
    return [(w, t[2:]) for s in generated_ner_split(split) for w, t in zip(s.words, s.tags) if t != "O"]


def test_about_half_the_held_out_entity_words_never_occur_in_training() -> None:
    train_words = {w for s in generated_ner_split("train") for w in s.words}
    for split in ("validation", "test"):
        words = entity_words(split)
        unseen = sum(w not in train_words for w, _ in words) / len(words)
        assert 0.3 < unseen < 0.6, (split, unseen)
    assert all(w in train_words for w, _ in entity_words("train"))


def test_ambiguous_words_take_every_type_and_name_words_also_appear_as_plain_words() -> None:
    types: dict[str, set[str]] = {}
    for word, entity_type in entity_words("train"):
        types.setdefault(word, set()).add(entity_type)
    assert all(types.get(name, set()) >= {"PER", "LOC", "ORG"} for name in AMBIGUOUS_NAMES)
    plain = {w for s in generated_ner_split("train") for w, t in zip(s.words, s.tags) if t == "O"}
    assert {"Energy", "United", "Group", "Labs"} <= plain & set(types)
