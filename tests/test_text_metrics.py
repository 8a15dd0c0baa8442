"""BLEU / chrF / log-BLEU rewards equal sacrebleu's, mixes and the TRL-style batch function."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import sacrebleu

from dialog_envs.errors import DialogEnvsError
from dialog_envs.metrics.text import (
    DEFAULT_BLEU_FLOOR,
    TextReward,
    completion_text,
    log_bleu,
    normalize_reward_spec,
    reward_function,
    sentence_bleu,
    sentence_chrf,
)

WORDS = ["the", "order", "is", "late", "refund", "your", "card", "in", "five", "days", "store", "open",
         "Monday", "from", "9", "am", "to", "6", "pm", ".", ",", "?", "!", "can't", "I", "you", "12345",
         "café", "naïve", "—", "it's", "OK"]


def random_pairs(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Random sentence pairs that share words often, with some empty and some identical."""
    rng = np.random.default_rng(seed)
    vocab = WORDS[: rng.integers(8, len(WORDS))]
    pairs = []
    for _ in range(count):
        ref = " ".join(rng.choice(WORDS, size=rng.integers(0, 15)))
        kind = rng.random()
        if kind < 0.05:
            hyp = ref
        elif kind < 0.5:  # an edit of the reference
            words = ref.split()
            keep = [w for w in words if rng.random() < 0.7]
            hyp = " ".join(keep + list(rng.choice(vocab, size=rng.integers(0, 4))))
        else:
            hyp = " ".join(rng.choice(vocab, size=rng.integers(0, 15)))
        if rng.random() < 0.3:
            hyp = hyp.replace(" .", ".").replace(" ,", ",")  # let 13a tokenisation do some work
        pairs.append((hyp, ref))
    return pairs


def test_bleu_and_chrf_equal_sacrebleu_on_random_pairs():
    pairs = random_pairs(3000)
    bleu_mine = [sentence_bleu(h, r) for h, r in pairs]
    chrf_mine = [sentence_chrf(h, r) for h, r in pairs]
    bleu_ref = [sacrebleu.sentence_bleu(h, [r]).score for h, r in pairs]
    chrf_ref = [sacrebleu.sentence_chrf(h, [r]).score for h, r in pairs]
    assert bleu_mine == bleu_ref  # exactly: the same computation
    assert chrf_mine == chrf_ref
    # The sample exercises the whole range, not just zeros.
    assert sum(b == 0 for b in bleu_mine) > 100
    assert sum(0 < b < 100 for b in bleu_mine) > 1000
    assert sum(b == pytest.approx(100) for b in bleu_mine) > 50


def test_reward_modes_match_sacrebleu_on_random_pairs():
    pairs = random_pairs(1000, seed=1)
    mix = TextReward({"bleu": 0.7, "chrf": 0.3}, s_base=10.0)
    logb = TextReward("log_bleu", bleu_floor=0.5)
    fn = reward_function({"bleu": 0.7, "chrf": 0.3}, s_base=10.0)
    batch = fn([h for h, _ in pairs], [r for _, r in pairs])
    for (h, r), from_batch in zip(pairs, batch):
        bleu = sacrebleu.sentence_bleu(h, [r]).score
        chrf = sacrebleu.sentence_chrf(h, [r]).score
        assert mix(h, r) == pytest.approx(0.7 * bleu + 0.3 * chrf - 10.0, rel=1e-12, abs=1e-12)
        assert from_batch == mix(h, r)
        assert logb(h, r) == math.log(max(bleu, 0.5))
        scores = mix.scores(h, r)
        assert scores == {"bleu": bleu, "chrf": chrf, "log_bleu": math.log(max(bleu, DEFAULT_BLEU_FLOOR))}
        assert mix.combine(scores) == mix(h, r)


def test_log_bleu_floor_and_extremes():
    assert DEFAULT_BLEU_FLOOR == 0.1
    assert TextReward("log_bleu")("", "the order is late") == math.log(0.1)
    assert TextReward("log_bleu")("nothing matches", "the order is late") == math.log(0.1)
    assert TextReward("log_bleu")("the order is late", "the order is late") == pytest.approx(math.log(100))
    assert log_bleu(0.0) == log_bleu(0.05) == math.log(DEFAULT_BLEU_FLOOR)
    assert log_bleu(0.0, bleu_floor=1.0) == 0.0
    assert log_bleu(50.0) == math.log(50.0)
    values = [log_bleu(b) for b in np.linspace(0, 100, 101)]
    assert values == sorted(values)  # never decreases as BLEU grows


def test_perfect_and_empty_replies():
    ref = "Your refund will reach your card in five working days."
    assert sentence_bleu(ref, ref) == pytest.approx(100)
    assert sentence_chrf(ref, ref) == pytest.approx(100)
    assert sentence_bleu("", ref) == 0.0 and sentence_chrf("", ref) == 0.0


def test_reward_spec_validation():
    assert normalize_reward_spec("chrf") == {"chrf": 1.0}
    assert normalize_reward_spec({"bleu": 1, "log_bleu": 0.5}) == {"bleu": 1.0, "log_bleu": 0.5}
    for bad in ("rouge", {"bleu": 0.5, "meteor": 0.5}, {}, {"bleu": "high"}, {"bleu": float("nan")}, 3, {"bleu": True}):
        with pytest.raises(DialogEnvsError):
            normalize_reward_spec(bad)
    with pytest.raises(DialogEnvsError, match="bleu, chrf, log_bleu"):
        TextReward("rouge")
    with pytest.raises(DialogEnvsError, match="bleu_floor"):
        TextReward("log_bleu", bleu_floor=0)
    with pytest.raises(DialogEnvsError, match="s_base"):
        TextReward("bleu", s_base=float("inf"))


def test_batch_function_has_trl_reward_signature():
    fn = reward_function("bleu", s_base=1.0)
    params = inspect.signature(fn).parameters
    assert "completions" in params
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    assert fn.__name__ == "bleu_reward"
    refs = ["the order is late", "open from 9 am"]
    # How TRL calls it: keywords for prompts, completions, and every dataset column.
    as_trl = fn(
        prompts=["p1", "p2"],
        completions=["the order is late", "closed"],
        completion_ids=[[1], [2]],
        reference=refs,
        trainer_state=None,
    )
    assert as_trl == [pytest.approx(99.0), -1.0]
    # Conversational completions: the content of the last message is scored.
    conversational = [[{"role": "assistant", "content": "the order is late"}], [{"role": "assistant", "content": ""}]]
    assert fn(conversational, references=refs) == as_trl
    assert fn(["the order is late", "closed"], refs) == as_trl
    # A dataset column with another name.
    other = reward_function("chrf", reference_key="target")
    assert other(completions=["open from 9 am"], target=["open from 9 am"]) == [pytest.approx(100)]
    assert reward_function({"bleu": 0.7, "chrf": 0.3}).__name__ == "bleu0.7_chrf0.3_reward"


def test_batch_function_errors():
    fn = reward_function("bleu")
    with pytest.raises(DialogEnvsError, match="no references"):
        fn(["a"])
    with pytest.raises(DialogEnvsError, match="2 completions but 1 references"):
        fn(["a", "b"], ["a"])
    with pytest.raises(DialogEnvsError, match="cannot read a completion"):
        fn([42], ["a"])
    assert completion_text([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]) == "y"


def test_distinct_n_counts_unique_ngrams_over_all_replies() -> None:
    from dialog_envs.metrics.text import distinct_n

    replies = ["I am fine", "i am fine", "you are here"]
    assert distinct_n(replies, 1) == 6 / 9  # i, am, fine, you, are, here
    assert distinct_n(replies, 2) == 4 / 6  # (i am), (am fine), (you are), (are here)
    assert distinct_n(["one"], 2) == 0.0 and distinct_n([], 1) == 0.0
