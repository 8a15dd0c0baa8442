"""The generated sentiment corpus: fixed per split, labelled, not trivially keyword-driven."""

from __future__ import annotations

from collections import Counter

import pytest

from dialog_envs.data.generated_sentiment import (
    SENTIMENT_LABELS,
    GeneratedSentimentConfig,
    generate_sentiment_corpus,
)
from dialog_envs.errors import DialogEnvsError


def test_sizes_labels_and_determinism():
    for split, size in (("train", 2000), ("validation", 300), ("test", 300)):
        examples = generate_sentiment_corpus(split)
        assert len(examples) == size
        assert set(Counter(e.label for e in examples)) == set(SENTIMENT_LABELS)
        assert generate_sentiment_corpus(split) == examples
        assert all(e.text.strip() == e.text and e.text for e in examples)


def test_splits_differ_and_seed_override_changes_the_corpus():
    train = generate_sentiment_corpus("train")
    test = generate_sentiment_corpus("test")
    assert [e.text for e in train[:50]] != [e.text for e in test[:50]]
    assert generate_sentiment_corpus("test", seed=123) != test


def test_label_noise_changes_only_labels_and_about_the_configured_share():
    clean = generate_sentiment_corpus("train", config=GeneratedSentimentConfig(label_noise=0.0))
    noisy = generate_sentiment_corpus("train", config=GeneratedSentimentConfig(label_noise=0.3))
    assert [e.text for e in clean] == [e.text for e in noisy]
    flipped = sum(a.label != b.label for a, b in zip(clean, noisy)) / len(clean)
    assert 0.26 < flipped < 0.34
    default = generate_sentiment_corpus("train")
    assert 0.03 < sum(a.label != b.label for a, b in zip(clean, default)) / len(clean) < 0.07


def test_direction_words_alone_do_not_give_the_label():
    """'rose' appears with negative labels (costs, losses) and 'fell' with positive ones."""
    examples = generate_sentiment_corpus("train", config=GeneratedSentimentConfig(label_noise=0.0))
    by_word = {word: Counter(e.label for e in examples if f" {word} " in f" {e.text} ") for word in ("rose", "fell")}
    assert by_word["rose"]["positive"] and by_word["rose"]["negative"]
    assert by_word["fell"]["positive"] and by_word["fell"]["negative"]


def test_unknown_split():
    with pytest.raises(DialogEnvsError, match="unknown split"):
        generate_sentiment_corpus("dev")
