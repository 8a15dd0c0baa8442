"""Reward functions that compare a generated reply with a reference reply.

The numbers are sacrebleu's own: sentence BLEU is ``sacrebleu.metrics.BLEU(effective_order=True)``
(identical to ``sacrebleu.sentence_bleu``: 13a tokenisation, exponential smoothing, effective
n-gram order) and chrF is ``sacrebleu.metrics.CHRF()`` (identical to ``sacrebleu.sentence_chrf``:
character 6-grams, beta 2). Both are on sacrebleu's 0-100 scale. The metric objects are built
once per process and reused, because building them costs more than scoring a sentence.

Metrics (the names accepted by ``reward=``):

* ``"bleu"``: sentence BLEU, 0-100.
* ``"chrf"``: sentence chrF, 0-100.
* ``"log_bleu"``: ``ln(max(BLEU, bleu_floor))``. BLEU is 0 when no word of the reply matches
  (and for an empty reply), where ``ln`` is undefined; the floor (default
  :data:`DEFAULT_BLEU_FLOOR` = 0.1 BLEU points, so ``ln(0.1) = -2.302585...``) bounds the reward
  from below. Any BLEU under the floor scores the same as the floor, so the reward never
  decreases as BLEU grows; its maximum is ``ln(100) = 4.60517...``.

A reward is one metric or a weighted mix, e.g. ``{"bleu": 0.7, "chrf": 0.3}`` means
``0.7 * BLEU + 0.3 * chrF``, minus an optional baseline ``s_base``::

    reward = sum(weight[m] * metric[m] for m in weights) - s_base

The same code serves the environments (:class:`TextReward`) and trainers that score batches of
strings (:func:`reward_function`, with the signature TRL's trainers accept).

**Batches.** :func:`bleu_scores` and :func:`chrf_scores` score many (reply, reference) pairs at
once with sacrebleu's own statistics and formulas (so the numbers are sacrebleu's, bit for bit;
``tests/test_text_metrics.py`` checks thousands of random pairs), but without the per-call
overhead of ``sentence_score``: a reference's n-gram statistics are extracted once and cached
(an env's references repeat, a GRPO group shares one), and a pair that occurs twice in a batch is
scored once. ``benchmarks/reward_speed.py`` measures the gain.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sacrebleu.metrics import BLEU, CHRF

from dialog_envs.errors import DialogEnvsError

METRICS: tuple[str, ...] = ("bleu", "chrf", "log_bleu")
"""Every metric name a reward can use."""

DEFAULT_BLEU_FLOOR = 0.1
"""The BLEU value (0-100 scale) that ``log_bleu`` uses in place of anything lower, 0 included."""

RewardSpec = str | Mapping[str, float]
"""A metric name (``"bleu"``) or a weighted mix (``{"bleu": 0.7, "chrf": 0.3}``)."""


@lru_cache(maxsize=1)
def _bleu_metric() -> BLEU:
    return BLEU(effective_order=True)


@lru_cache(maxsize=1)
def _chrf_metric() -> CHRF:
    return CHRF()


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """sacrebleu's sentence BLEU (0-100) of ``hypothesis`` against one ``reference``."""
    return float(_bleu_metric().sentence_score(hypothesis, [reference]).score)


def sentence_chrf(hypothesis: str, reference: str) -> float:
    """sacrebleu's sentence chrF (0-100) of ``hypothesis`` against one ``reference``."""
    return float(_chrf_metric().sentence_score(hypothesis, [reference]).score)


REFERENCE_CACHE_SIZE = 65536
"""How many references' n-gram statistics the batch scorers keep (least recently used dropped)."""

_BLEU_REFERENCES: OrderedDict[str, Any] = OrderedDict()
_CHRF_REFERENCES: OrderedDict[str, Any] = OrderedDict()


def _reference_info(cache: OrderedDict[str, Any], metric: BLEU | CHRF, reference: str) -> Any:
    """sacrebleu's pre-computed statistics of one reference (what ``sentence_score`` recomputes each call)."""
    info = cache.get(reference)
    if info is None:
        info = metric._extract_reference_info([metric._preprocess_segment(reference)])
        cache[reference] = info
        if len(cache) > REFERENCE_CACHE_SIZE:
            cache.popitem(last=False)
    return info


def _batch_scores(
    metric: BLEU | CHRF, cache: OrderedDict[str, Any], hypotheses: Sequence[str], references: Sequence[str]
) -> list[float]:
    if len(hypotheses) != len(references):
        raise DialogEnvsError(f"{len(hypotheses)} hypotheses but {len(references)} references; expected one reference each")
    done: dict[tuple[str, str], float] = {}
    scores = []
    for hypothesis, reference in zip(hypotheses, references):
        key = (hypothesis, reference)
        score = done.get(key)
        if score is None:
            if not isinstance(hypothesis, str) or not isinstance(reference, str):
                raise DialogEnvsError(f"cannot score {hypothesis!r} against {reference!r}; expected two strings")
            info = _reference_info(cache, metric, reference)
            stats = metric._compute_segment_statistics(metric._preprocess_segment(hypothesis), info)
            score = done[key] = float(metric._compute_score_from_stats(stats).score)
        scores.append(score)
    return scores


def bleu_scores(hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
    """sacrebleu's sentence BLEU (0-100) of every ``hypotheses[i]`` against ``references[i]``."""
    return _batch_scores(_bleu_metric(), _BLEU_REFERENCES, hypotheses, references)


def chrf_scores(hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
    """sacrebleu's sentence chrF (0-100) of every ``hypotheses[i]`` against ``references[i]``."""
    return _batch_scores(_chrf_metric(), _CHRF_REFERENCES, hypotheses, references)


def log_bleu(bleu: float, bleu_floor: float = DEFAULT_BLEU_FLOOR) -> float:
    """``ln(max(bleu, bleu_floor))``: log-BLEU with a floor, so zero BLEU gives ``ln(bleu_floor)``."""
    return math.log(max(bleu, bleu_floor))


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct-n (Li et al., 2016): distinct word n-grams over all n-grams of ``texts``
    (lower-cased, split on whitespace); 0.0 when there are none. Low values mean repetitive,
    generic replies, a common symptom of reward hacking."""
    grams = [tuple(words[i : i + n]) for words in (text.lower().split() for text in texts) for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def normalize_reward_spec(reward: RewardSpec) -> dict[str, float]:
    """Turn ``reward`` into ``{metric: weight}``, checking names and weights.

    Raises:
        DialogEnvsError: an unknown metric name, an empty mix, or a weight that is not a finite
            number (the message lists the allowed names).
    """
    if isinstance(reward, str):
        weights: dict[str, float] = {reward: 1.0}
    elif isinstance(reward, Mapping):
        weights = dict(reward)
    else:
        raise DialogEnvsError(
            f"reward must be a metric name or a mapping of names to weights, not {type(reward).__name__}; "
            f"expected one of {', '.join(METRICS)} or e.g. {{'bleu': 0.7, 'chrf': 0.3}}"
        )
    if not weights:
        raise DialogEnvsError(f"reward mix is empty; expected weights for some of {', '.join(METRICS)}")
    for name, weight in weights.items():
        if name not in METRICS:
            raise DialogEnvsError(f"unknown reward metric {name!r}; expected one of {', '.join(METRICS)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            raise DialogEnvsError(f"weight of reward metric {name!r} is {weight!r}; expected a finite number")
    return {name: float(weight) for name, weight in weights.items()}


@dataclass
class TextReward:
    """A reward computed from one reply and its reference.

    Calling it returns the reward; :meth:`scores` returns every metric's value (what the
    environments put in ``info``), and :meth:`combine` turns those values into the reward.
    """

    reward: RewardSpec = "bleu"
    """A metric name of :data:`METRICS` or a weighted mix ``{name: weight}``."""
    s_base: float = 0.0
    """A baseline subtracted from the (mixed) score."""
    bleu_floor: float = DEFAULT_BLEU_FLOOR
    """The lowest BLEU ``log_bleu`` takes the log of (0-100 scale); must be > 0."""
    weights: dict[str, float] = field(init=False)
    """The checked ``{metric: weight}`` form of ``reward``."""

    def __post_init__(self) -> None:
        self.weights = normalize_reward_spec(self.reward)
        if not (isinstance(self.bleu_floor, (int, float)) and self.bleu_floor > 0):
            raise DialogEnvsError(f"bleu_floor is {self.bleu_floor!r}; expected a number > 0")
        if not (isinstance(self.s_base, (int, float)) and math.isfinite(self.s_base)):
            raise DialogEnvsError(f"s_base is {self.s_base!r}; expected a finite number")
        self.s_base = float(self.s_base)

    def scores(self, hypothesis: str, reference: str) -> dict[str, float]:
        """Every metric of :data:`METRICS` for this reply."""
        return self.batch_scores([hypothesis], [reference])[0]

    def batch_scores(self, hypotheses: Sequence[str], references: Sequence[str]) -> list[dict[str, float]]:
        """Every metric of :data:`METRICS` for each reply (one batched call per metric)."""
        bleus = bleu_scores(hypotheses, references)
        chrfs = chrf_scores(hypotheses, references)
        return [
            {"bleu": bleu, "chrf": chrf, "log_bleu": log_bleu(bleu, self.bleu_floor)} for bleu, chrf in zip(bleus, chrfs)
        ]

    def batch_rewards(self, hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
        """The reward of each reply (computes only the metrics the mix uses)."""
        columns: dict[str, list[float]] = {}
        if "bleu" in self.weights or "log_bleu" in self.weights:
            columns["bleu"] = bleu_scores(hypotheses, references)
            columns["log_bleu"] = [log_bleu(bleu, self.bleu_floor) for bleu in columns["bleu"]]
        if "chrf" in self.weights:
            columns["chrf"] = chrf_scores(hypotheses, references)
        return [self.combine({name: values[i] for name, values in columns.items()}) for i in range(len(hypotheses))]

    def score(self, scores: Mapping[str, float]) -> float:
        """The weighted sum of the metric values (the reward before ``s_base``)."""
        return math.fsum(weight * scores[name] for name, weight in self.weights.items())

    def combine(self, scores: Mapping[str, float]) -> float:
        """The reward from metric values: the weighted sum minus ``s_base``."""
        return self.score(scores) - self.s_base

    def __call__(self, hypothesis: str, reference: str) -> float:
        """The reward of one reply (computes only the metrics the mix uses)."""
        return self.batch_rewards([hypothesis], [reference])[0]


def completion_text(completion: Any) -> str:
    """The text of one completion as TRL passes it.

    A plain string is returned as is; a conversational completion (a list of
    ``{"role": ..., "content": ...}`` messages) gives the content of its last message.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        content = completion[-1].get("content")
        if isinstance(content, str):
            return content
    raise DialogEnvsError(
        f"cannot read a completion of type {type(completion).__name__}; expected a string or a "
        "list of messages like [{'role': 'assistant', 'content': '...'}]"
    )


def reward_function(
    reward: RewardSpec = "bleu",
    *,
    s_base: float = 0.0,
    bleu_floor: float = DEFAULT_BLEU_FLOOR,
    reference_key: str = "reference",
) -> Callable[..., list[float]]:
    """A batch reward function ``(completions, references=None, **kwargs) -> list[float]``.

    Its signature is the one TRL's trainers (``GRPOTrainer``, ``RLOOTrainer``) accept in
    ``reward_funcs``: TRL calls it with keyword arguments ``prompts``, ``completions`` and one
    list per dataset column, so a dataset with a ``reference`` column (``reference_key``) works
    unchanged. Outside TRL pass the references directly: ``fn(completions, references)``.

    Args:
        reward: a metric name or a weighted mix, as for :class:`TextReward`.
        s_base: a baseline subtracted from every score.
        bleu_floor: the floor of ``log_bleu``.
        reference_key: the keyword (dataset column) that holds the references when
            ``references`` is not given.
    """
    scorer = TextReward(reward, s_base=s_base, bleu_floor=bleu_floor)

    def score_batch(
        completions: Sequence[Any], references: Sequence[str] | None = None, **kwargs: Any
    ) -> list[float]:
        if references is None:
            references = kwargs.get(reference_key)
        if references is None:
            raise DialogEnvsError(
                f"no references: pass them as the second argument or as the keyword {reference_key!r} "
                "(a dataset column of that name when used with TRL)"
            )
        if len(references) != len(completions):
            raise DialogEnvsError(
                f"{len(completions)} completions but {len(references)} references; expected one reference each"
            )
        return scorer.batch_rewards([completion_text(c) for c in completions], list(references))

    name = reward if isinstance(reward, str) else "_".join(f"{k}{v:g}" for k, v in scorer.weights.items())
    score_batch.__name__ = f"{name}_reward"  # TRL logs rewards under the function's name
    score_batch.__qualname__ = score_batch.__name__
    return score_batch
