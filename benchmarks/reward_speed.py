"""Speed of the batched, exact rewards against the libraries' one-call-per-pair API.

* BLEU + chrF of a batch of replies: ``sacrebleu``'s ``sentence_score`` per pair against
  :func:`dialog_envs.metrics.text.bleu_scores` / :func:`~dialog_envs.metrics.text.chrf_scores`
  (same sacrebleu statistics, references cached, duplicate pairs scored once).
* The dense entity-F1 reward of NER-v0 (the F1 of the prefix after every tag) for a batch of
  sentences: :func:`~dialog_envs.metrics.ner.sentence_entity_f1` on every prefix (what the env did
  before) against the incremental :class:`~dialog_envs.metrics.ner.PrefixEntityF1`.

Both pairs give identical numbers (``tests/test_batched_rewards.py``). Run
``python -m benchmarks.reward_speed [OUT.json]``; it writes ``runs/reward_speed.json`` by default
(the committed figures are ``benchmarks/results/reward_speed.json``).
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from sacrebleu.metrics import BLEU, CHRF

from dialog_envs.metrics.ner import PrefixEntityF1, sentence_entity_f1
from dialog_envs.metrics.text import _BLEU_REFERENCES, _CHRF_REFERENCES, bleu_scores, chrf_scores

WORDS = "the a order ship refund your account please thank you , . ? we can help with delivery today tomorrow".split()
DEFAULT_OUT = Path("runs/reward_speed.json")
"""Where the results go unless a path is given (committed figures change only when asked)."""
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


def best_of(function, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def text_rewards(batch: int = 256, group: int = 4) -> dict[str, float]:
    rng = random.Random(0)
    references = [" ".join(rng.choices(WORDS, k=rng.randint(5, 15))) for _ in range(batch // group)]
    refs = [reference for reference in references for _ in range(group)]  # GRPO groups share a reference
    hyps = [" ".join(rng.choices(WORDS, k=rng.randint(0, 20))) for _ in refs]
    bleu, chrf = BLEU(effective_order=True), CHRF()

    def library() -> None:
        for h, r in zip(hyps, refs):
            bleu.sentence_score(h, [r])
            chrf.sentence_score(h, [r])

    def batched_cold() -> None:
        _BLEU_REFERENCES.clear()
        _CHRF_REFERENCES.clear()
        bleu_scores(hyps, refs)
        chrf_scores(hyps, refs)

    def batched_warm() -> None:
        bleu_scores(hyps, refs)
        chrf_scores(hyps, refs)

    return {
        "batch": batch,
        "sacrebleu_sentence_score_us_per_pair": 1e6 * best_of(library) / batch,
        "batched_cold_cache_us_per_pair": 1e6 * best_of(batched_cold) / batch,
        "batched_warm_cache_us_per_pair": 1e6 * best_of(batched_warm) / batch,
    }


def dense_entity_f1(batch: int = 64, length: int = 30) -> dict[str, float]:
    rng = np.random.default_rng(0)
    gold = rng.integers(len(TAGS), size=(batch, length))
    predicted = np.where(rng.random((batch, length)) < 0.7, gold, rng.integers(len(TAGS), size=(batch, length)))
    gold_names = [[TAGS[k] for k in row] for row in gold]
    predicted_names = [[TAGS[k] for k in row] for row in predicted]

    def per_prefix() -> None:
        for g, p in zip(gold_names, predicted_names):
            for t in range(1, length + 1):
                sentence_entity_f1(g[:t], p[:t])

    rows = np.arange(batch)

    def incremental() -> None:
        tracker = PrefixEntityF1(TAGS, batch)
        tracker.reset(rows)
        for t in range(length):
            tracker.push(rows, gold[:, t], predicted[:, t])

    return {
        "batch": batch,
        "length": length,
        "per_prefix_sentence_entity_f1_ms": 1e3 * best_of(per_prefix),
        "incremental_prefix_entity_f1_ms": 1e3 * best_of(incremental),
    }


def main() -> int:
    results = {"text": text_rewards(), "entity_f1": dense_entity_f1()}
    text, ner = results["text"], results["entity_f1"]
    text["speedup_warm"] = text["sacrebleu_sentence_score_us_per_pair"] / text["batched_warm_cache_us_per_pair"]
    text["speedup_cold"] = text["sacrebleu_sentence_score_us_per_pair"] / text["batched_cold_cache_us_per_pair"]
    ner["speedup"] = ner["per_prefix_sentence_entity_f1_ms"] / ner["incremental_prefix_entity_f1_ms"]
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
