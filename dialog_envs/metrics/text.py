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
"""

from __future__ import annotations

import math
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


def log_bleu(bleu: float, bleu_floor: float = DEFAULT_BLEU_FLOOR) -> float:
    """``ln(max(bleu, bleu_floor))``: log-BLEU with a floor, so zero BLEU gives ``ln(bleu_floor)``."""
    return math.log(max(bleu, bleu_floor))


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
        bleu = sentence_bleu(hypothesis, reference)
        return {
            "bleu": bleu,
            "chrf": sentence_chrf(hypothesis, reference),
            "log_bleu": log_bleu(bleu, self.bleu_floor),
        }

    def score(self, scores: Mapping[str, float]) -> float:
        """The weighted sum of the metric values (the reward before ``s_base``)."""
        return math.fsum(weight * scores[name] for name, weight in self.weights.items())

    def combine(self, scores: Mapping[str, float]) -> float:
        """The reward from metric values: the weighted sum minus ``s_base``."""
        return self.score(scores) - self.s_base

    def __call__(self, hypothesis: str, reference: str) -> float:
        """The reward of one reply (computes only the metrics the mix uses)."""
        scores: dict[str, float] = {}
        if "bleu" in self.weights or "log_bleu" in self.weights:
            scores["bleu"] = sentence_bleu(hypothesis, reference)
            scores["log_bleu"] = log_bleu(scores["bleu"], self.bleu_floor)
        if "chrf" in self.weights:
            scores["chrf"] = sentence_chrf(hypothesis, reference)
        return self.combine(scores)


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
        return [scorer(completion_text(c), r) for c, r in zip(completions, references)]

    name = reward if isinstance(reward, str) else "_".join(f"{k}{v:g}" for k, v in scorer.weights.items())
    score_batch.__name__ = f"{name}_reward"  # TRL logs rewards under the function's name
    score_batch.__qualname__ = score_batch.__name__
    return score_batch
