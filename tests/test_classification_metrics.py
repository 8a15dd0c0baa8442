"""Classification metrics equal sklearn's, including labels never predicted and missing answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from dialog_envs.errors import DialogEnvsError
from dialog_envs.metrics.classification import accuracy, classification_report, macro_f1

LABELS = ["negative", "neutral", "positive"]


@pytest.mark.parametrize("seed", range(5))
def test_scores_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    true = [LABELS[i] for i in rng.integers(3, size=60)]
    pred = [LABELS[i] for i in rng.integers(2, size=60)]  # "positive" is never predicted
    report = classification_report(true, pred, labels=LABELS)
    assert report.accuracy == accuracy(true, pred) == pytest.approx(sk.accuracy_score(true, pred))
    expected_f1 = sk.f1_score(true, pred, labels=LABELS, average="macro", zero_division=0)
    assert report.macro_f1 == macro_f1(true, pred, LABELS) == pytest.approx(expected_f1)
    expected = sk.classification_report(true, pred, labels=LABELS, output_dict=True, zero_division=0)
    for label in LABELS:
        for key, sk_key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score"), ("support", "support")):
            assert report.per_label[label][key] == pytest.approx(expected[label][sk_key])
    assert report.per_label["positive"]["f1"] == 0.0
    assert report.support == 60


def test_indices_none_predictions_and_default_labels():
    true = [0, 1, 2, 2]
    pred = [0, None, 2, 1]
    report = classification_report(true, pred)
    assert report.labels == ("0", "1", "2")
    assert report.accuracy == 0.5
    assert report.per_label["1"]["recall"] == 0.0 and report.per_label["1"]["precision"] == 0.0
    assert report.macro_f1 == pytest.approx(sk.f1_score([0, 1, 2, 2], [0, -1, 2, 1], labels=[0, 1, 2], average="macro"))
    named = classification_report(["a", "b"], ["a", None])
    assert named.accuracy == 0.5


def test_dict_and_table():
    report = classification_report(["neutral", "positive", "negative"], ["neutral", "neutral", "negative"], LABELS)
    data = report.as_dict()
    assert data["labels"] == LABELS and data["support"] == 3
    assert data["per_label"]["neutral"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    table = str(report)
    lines = table.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1", "support"]
    assert lines[1].split()[0] == "negative" and lines[2].split() == ["neutral", "0.500", "1.000", "0.667", "1"]
    assert "accuracy" in table and f"{report.macro_f1:.3f}" in lines[-1]


def test_bad_input():
    with pytest.raises(DialogEnvsError, match="same number"):
        accuracy(["a"], ["a", "b"])
    with pytest.raises(DialogEnvsError, match="no examples"):
        classification_report([], [])
    with pytest.raises(DialogEnvsError, match="true label is None"):
        macro_f1([None], ["a"])
