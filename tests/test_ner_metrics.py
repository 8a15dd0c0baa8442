"""Entity scores equal seqeval's; the token report equals scikit-learn's."""

from __future__ import annotations

import random

import pytest
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities
from sklearn.metrics import classification_report

from dialog_envs.data.conll import read_conll_split
from dialog_envs.metrics.ner import entities, entity_scores, sentence_entity_f1, token_report
from tests.conftest import shared_data

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-LOC", "S-PER", "B-MISC", "I-MISC"]


def test_entities_equal_seqeval_on_random_sequences() -> None:
    rng = random.Random(0)
    for _ in range(5000):
        tags = [rng.choice(TAGS) for _ in range(rng.randint(0, 10))]
        assert entities(tags) == set(get_entities(tags)), tags


@pytest.mark.parametrize("kind", ["perfect", "random", "shifted"])
def test_corpus_scores_equal_seqeval_on_conll2003_test(kind: str) -> None:
    gold = [list(s.tags) for s in read_conll_split(shared_data("conll2003"), "test")]
    rng = random.Random(1)
    if kind == "perfect":
        predicted = [list(tags) for tags in gold]
    elif kind == "random":
        predicted = [[rng.choice(TAGS[:5] + TAGS[7:]) for _ in tags] for tags in gold]
    else:  # mostly right, with every tenth tag replaced
        predicted = [[rng.choice(TAGS) if rng.random() < 0.1 else tag for tag in tags] for tags in gold]
    scores = entity_scores(gold, predicted)
    assert scores.f1 == pytest.approx(f1_score(gold, predicted), abs=1e-12)
    assert scores.precision == pytest.approx(precision_score(gold, predicted), abs=1e-12)
    assert scores.recall == pytest.approx(recall_score(gold, predicted), abs=1e-12)
    assert scores.n_gold == 5648


def test_sentence_f1_rewards() -> None:
    assert sentence_entity_f1(["O", "O"], ["O", "O"]) == 1.0
    assert sentence_entity_f1(["B-PER", "I-PER"], ["B-PER", "O"]) == 0.0
    assert sentence_entity_f1(["B-PER", "O", "B-LOC"], ["B-PER", "O", "O"]) == pytest.approx(2 / 3)


def test_token_report_equals_sklearn() -> None:
    rng = random.Random(2)
    gold = [[rng.choice(TAGS) for _ in range(rng.randint(1, 12))] for _ in range(300)]
    predicted = [[tag if rng.random() < 0.7 else rng.choice(TAGS) for tag in sentence] for sentence in gold]
    report = token_report(gold, predicted)
    flat_gold = [t for s in gold for t in s]
    flat_predicted = [t for s in predicted for t in s]
    reference = classification_report(flat_gold, flat_predicted, output_dict=True, zero_division=0)
    for tag in set(flat_gold):
        for key in ("precision", "recall", "f1-score", "support"):
            assert report.rows[tag][key] == pytest.approx(reference[tag][key])
    for average in ("macro avg", "weighted avg"):
        for key in ("precision", "recall", "f1-score"):
            assert report.rows[average][key] == pytest.approx(reference[average][key])
    assert report.rows["micro avg"]["f1-score"] == pytest.approx(reference["accuracy"])
    assert report.rows["micro avg"]["support"] == len(flat_gold)
    text = str(report)
    assert "micro avg" in text and "weighted avg" in text and list(report.rows)[-4] == "O"
