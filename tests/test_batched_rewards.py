"""Batched rewards equal the libraries' numbers exactly: BLEU/chrF against sacrebleu's
``sentence_score``, the incremental prefix entity F1 against ``sentence_entity_f1`` and seqeval."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sacrebleu.metrics import BLEU, CHRF
from seqeval.metrics import f1_score

from dialog_envs.errors import DialogEnvsError
from dialog_envs.metrics.ner import PrefixEntityF1, sentence_entity_f1
from dialog_envs.metrics.text import TextReward, bleu_scores, chrf_scores

WORDS = "the a order ship refund your account please thank you , . ? ! we can't help (today) 42 Zürich naïve".split()
IOB2 = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def random_pairs(count: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    references = [" ".join(rng.choices(WORDS, k=rng.randint(1, 15))) for _ in range(count // 8 + 1)]
    hypotheses, refs = [], []
    for _ in range(count):
        reference = rng.choice(references)  # references repeat, as in an env or a GRPO group
        if rng.random() < 0.1:  # the reference itself
            hypotheses.append(reference)
            refs.append(reference)
            continue
        if rng.random() < 0.3:  # a reply close to the reference
            words = reference.split()
            hypothesis = " ".join(words[: rng.randint(0, len(words))] + rng.choices(WORDS, k=rng.randint(0, 3)))
        else:
            hypothesis = " ".join(rng.choices(WORDS, k=rng.randint(0, 20)))
        hypotheses.append(hypothesis + rng.choice(["", " ", "  ."]))
        refs.append(reference)
    return hypotheses, refs


def test_batched_bleu_and_chrf_equal_sacrebleu_exactly() -> None:
    hypotheses, references = random_pairs(3000, seed=0)
    bleu, chrf = BLEU(effective_order=True), CHRF()
    expected_bleu = [bleu.sentence_score(h, [r]).score for h, r in zip(hypotheses, references)]
    expected_chrf = [chrf.sentence_score(h, [r]).score for h, r in zip(hypotheses, references)]
    assert bleu_scores(hypotheses, references) == expected_bleu  # bit for bit, not approx
    assert chrf_scores(hypotheses, references) == expected_chrf
    assert any(0 < score < 50 for score in expected_bleu) and max(expected_bleu) > 99.999


def test_text_reward_batches_equal_one_by_one() -> None:
    hypotheses, references = random_pairs(300, seed=1)
    scorer = TextReward({"bleu": 0.7, "chrf": 0.3, "log_bleu": 1.0}, s_base=2.0)
    batch = scorer.batch_rewards(hypotheses, references)
    assert batch == [scorer.combine(scorer.scores(h, r)) for h, r in zip(hypotheses, references)]
    with pytest.raises(DialogEnvsError, match="one reference each"):
        bleu_scores(["a"], [])
    with pytest.raises(DialogEnvsError, match="two strings"):
        chrf_scores([None], ["a"])  # type: ignore[list-item]


def test_prefix_entity_f1_equals_sentence_f1_and_seqeval() -> None:
    rng = np.random.default_rng(0)
    rows, length = 400, 14
    gold = rng.integers(len(IOB2), size=(rows, length))
    predicted = np.where(rng.random((rows, length)) < 0.6, gold, rng.integers(len(IOB2), size=(rows, length)))
    tracker = PrefixEntityF1(IOB2, rows)
    tracker.reset(np.arange(rows))
    checked_seqeval = 0
    for t in range(length):
        f1 = tracker.push(np.arange(rows), gold[:, t], predicted[:, t])
        for row in range(rows):
            g = [IOB2[k] for k in gold[row, : t + 1]]
            p = [IOB2[k] for k in predicted[row, : t + 1]]
            assert f1[row] == sentence_entity_f1(g, p)
            if t == length - 1 and any(tag != "O" for tag in g + p):
                assert f1[row] == pytest.approx(f1_score([g], [p]), abs=1e-12)
                checked_seqeval += 1
    assert checked_seqeval > 300


def test_prefix_entity_f1_rows_are_independent_and_reset() -> None:
    tracker = PrefixEntityF1(IOB2, 3)
    tracker.reset(np.arange(3))
    b_per, i_per = IOB2.index("B-PER"), IOB2.index("I-PER")
    f1 = tracker.push(np.array([0, 2]), np.array([b_per, 0]), np.array([b_per, b_per]))
    assert f1.tolist() == [1.0, 0.0]
    tracker.reset(np.array([2]))
    f1 = tracker.push(np.array([0, 1, 2]), np.array([i_per, 0, 0]), np.array([0, 0, 0]))
    assert f1.tolist() == [0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="IOB2"):
        PrefixEntityF1(["O", "S-PER"], 1)
