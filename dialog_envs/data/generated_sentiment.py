"""The project's own corpus of short financial news and comments with sentiment labels.

``dialog_envs/Sentiment-v0`` uses it when no ``data_path`` is given, so the environment works with
no files. Every sentence comes from this module's templates, fictional company names and seeded
random choices; nothing is copied from a real data set.

The labels are ``negative``, ``neutral`` and ``positive``, from the point of view of an investor
(as in the Financial PhraseBank): would the news move the share price up, down, or not at all?
Text is tokenised PhraseBank-style (spaces around punctuation, ``'s`` split off), so a word
tokenizer sees the same kind of units in both corpora.

To keep the task from being trivial:

* the direction word alone does not give the label: a *loss* or *costs* that *rose* is negative,
  a loss that *narrowed* is positive;
* contrast sentences ("net sales rose ... , but operating profit fell ...") take the label of the
  clause after "but";
* neutral sentences also use numbers and money amounts, and some comments are informal;
* a share of labels (``label_noise``, 5 % by default) is replaced by another label at random, as
  annotators disagree on real data; the noise is part of the seeded corpus, so it is the same on
  every run.

Each split has its own fixed seed (:data:`SPLIT_SEEDS`), so the splits differ from one another and
never change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dialog_envs.data.labelled import LabelledText
from dialog_envs.data.splits import check_split

SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
SPLIT_SEEDS: dict[str, int] = {"train": 9_001, "validation": 9_002, "test": 9_003}


@dataclass(frozen=True)
class GeneratedSentimentConfig:
    """How many sentences each split has and how they are drawn (hashable, so results are cached)."""

    train_size: int = 2000
    """Number of sentences in the train split."""
    validation_size: int = 300
    """Number of sentences in the validation split."""
    test_size: int = 300
    """Number of sentences in the test split."""
    label_shares: tuple[float, float, float] = (0.2, 0.5, 0.3)
    """Probability of negative, neutral, positive (the order of :data:`SENTIMENT_LABELS`) before
    noise; roughly the PhraseBank's balance."""
    label_noise: float = 0.05
    """Share of sentences whose label is replaced by a different label drawn uniformly."""

    def size(self, split: str) -> int:
        """The number of sentences of ``split``."""
        return {"train": self.train_size, "validation": self.validation_size, "test": self.test_size}[split]


DEFAULT_CONFIG = GeneratedSentimentConfig()

COMPANIES = (
    "Norvale", "Kestrel Foods", "Brightwater", "Halden Paper", "Solmere Energy", "Ardent Logistics",
    "Veritas Steel", "Lumen Retail", "Tarn Telecom", "Eastlake Pharma", "Corvid Mining",
    "Pinecrest Bank", "Marrow Systems", "Ostra Shipping", "Greyfield Construction", "Aurel Media",
    "Nordhavn Chemicals", "Birchline Insurance", "Quillon Software", "Saltmarsh Forest Products",
)
CLIENTS = (
    "a Swedish utility", "a German carmaker", "the Finnish Defence Forces", "a US retailer",
    "a Chinese steel mill", "the City of Tampere", "an Italian telecom operator", "a Dutch bank",
)
PLACES = ("Oulu", "Tallinn", "Gdansk", "Lahti", "Pori", "Riga", "Turku", "Vaasa", "Kotka", "Espoo")
COUNTRIES = ("Finland", "Sweden", "Estonia", "Poland", "Russia", "China", "Germany", "the US")
PEOPLE = ("Anna Lehto", "Mikael Strand", "Jussi Koivu", "Maria Holm", "Peter Lund", "Elina Saari")
ROLES = ("chief financial officer", "chief executive officer", "head of sales", "board chairman")
PERIODS = (
    "in the first quarter", "in the second quarter", "in the third quarter", "in the fourth quarter",
    "in January-June", "in January-September", "in 2009", "in 2010", "in the review period",
)
MONTHS = ("January", "February", "March", "April", "May", "June", "August", "September", "October")
EXCHANGES = ("Helsinki Stock Exchange", "Nasdaq Stockholm", "Nasdaq Helsinki", "Oslo Bors")

GOOD_METRICS = (
    "net sales", "operating profit", "net profit", "revenue", "order intake", "EBITDA",
    "earnings per share", "pre-tax profit", "operating margin", "market share", "order backlog",
    "cash flow",
)
BAD_METRICS = ("operating loss", "net loss", "pre-tax loss", "costs", "net debt", "inventories")
UP_VERBS = ("rose", "increased", "grew", "climbed", "jumped", "went up")
DOWN_VERBS = ("fell", "decreased", "declined", "dropped", "slumped", "went down")
LOSS_UP_VERBS = ("widened", "increased", "grew", "rose")
LOSS_DOWN_VERBS = ("narrowed", "decreased", "shrank", "fell")


class _Draw:
    """Seeded picks for the templates (all randomness from one numpy Generator)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def pick(self, options: tuple[str, ...]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def pct(self) -> str:
        return f"{self.rng.integers(1, 400) / 10:.1f}"

    def amount(self, low: float = 2.0, high: float = 900.0) -> float:
        return float(np.round(self.rng.uniform(low, high), 1))

    def number(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high))

    def date(self) -> str:
        return f"{self.number(1, 29)} {self.pick(MONTHS)} {self.number(2009, 2012)}"

    def coin(self, p: float = 0.5) -> bool:
        return bool(self.rng.random() < p)


def _movement(d: _Draw, good: bool) -> str:
    """A metric and a verb whose investor reading is good (``good=True``) or bad."""
    if d.coin(0.7):
        metric = d.pick(GOOD_METRICS)
        verb = d.pick(UP_VERBS if good else DOWN_VERBS)
    else:
        metric = d.pick(BAD_METRICS)
        if metric in ("operating loss", "net loss", "pre-tax loss"):
            verb = d.pick(LOSS_DOWN_VERBS if good else LOSS_UP_VERBS)
        else:
            verb = d.pick(DOWN_VERBS if good else UP_VERBS)
    return f"{metric} {verb}"


def _directional(d: _Draw, good: bool) -> str:
    company = d.pick(COMPANIES)
    choice = d.number(0, 5)
    if choice == 0:
        return f"{company} 's {_movement(d, good)} by {d.pct()} % {d.pick(PERIODS)} ."
    if choice == 1:
        new, old = sorted((d.amount(), d.amount()), reverse=True)
        metric = d.pick(GOOD_METRICS[:4])
        if not good:
            new, old = old, new
        word = d.pick(UP_VERBS if new > old else DOWN_VERBS)
        return f"{d.pick(PERIODS).capitalize()} , {metric} {word} to EUR {new} mn from EUR {old} mn ."
    if choice == 2:
        return f"The company said its {_movement(d, good)} compared with the corresponding period last year ."
    if choice == 3:
        verb = d.pick(("raised", "upgraded", "lifted") if good else ("cut", "lowered", "downgraded"))
        return f"{company} {verb} its full-year {d.pick(GOOD_METRICS[:6])} guidance ."
    head = _movement(d, not good)
    tail = _movement(d, good)
    return f"{company} 's {head} {d.pick(PERIODS)} , but {tail} by {d.pct()} % ."


def _positive_event(d: _Draw) -> str:
    company = d.pick(COMPANIES)
    return d.pick((
        f"{company} won an order worth EUR {d.amount(1, 90)} mn from {d.pick(CLIENTS)} .",
        f"{company} signed a {d.number(2, 11)}-year supply agreement with {d.pick(CLIENTS)} .",
        f"Shares of {company} jumped {d.pct()} % after the company beat analysts ' expectations .",
        f"{company} expects its {d.pick(GOOD_METRICS[:6])} to increase in {d.number(2010, 2013)} .",
        f"great numbers from {company} today , looks cheap at these levels",
        f"{company} will pay a dividend of EUR {d.number(10, 90) / 100:.2f} per share , up from last year .",
    ))


def _negative_event(d: _Draw) -> str:
    company = d.pick(COMPANIES)
    return d.pick((
        f"{company} will cut {d.number(20, 600)} jobs at its {d.pick(PLACES)} plant .",
        f"{company} issued a profit warning and now expects an operating loss for {d.number(2009, 2013)} .",
        f"Shares of {company} fell {d.pct()} % after the company missed analysts ' expectations .",
        f"{company} did not meet its {d.pick(GOOD_METRICS[:6])} target {d.pick(PERIODS)} .",
        f"not impressed with {company} 's guidance , selling my shares",
        f"{company} will temporarily lay off {d.number(20, 900)} employees due to weak demand .",
    ))


def _neutral(d: _Draw) -> str:
    company = d.pick(COMPANIES)
    return d.pick((
        f"{company} will publish its interim report for {d.pick(PERIODS)[3:]} on {d.date()} .",
        f"{company} appointed {d.pick(PEOPLE)} as {d.pick(ROLES)} as of {d.date()} .",
        f"{company} operates {d.number(2, 40)} plants in {d.pick(COUNTRIES)} .",
        f"The company 's {d.pick(GOOD_METRICS)} was EUR {d.amount()} mn , unchanged from a year earlier .",
        f"{company} is headquartered in {d.pick(PLACES)} and employs {d.number(50, 9000)} people .",
        f"The shares of {company} are listed on the {d.pick(EXCHANGES)} .",
        f"{company} expects its {d.pick(GOOD_METRICS[:6])} to remain at the level of {d.number(2009, 2012)} .",
        f"{company} will hold its annual general meeting on {d.date()} in {d.pick(PLACES)} .",
        f"The transaction is expected to be completed {d.pick(PERIODS)} .",
        f"anyone know when {company} reports ?",
        f"{company} supplies {d.pick(('paper', 'steel', 'software', 'chemicals', 'packaging'))} "
        f"to customers in {d.number(5, 60)} countries .",
    ))


_GENERATORS: dict[str, Callable[[_Draw], str]] = {
    "positive": lambda d: _directional(d, True) if d.coin(0.6) else _positive_event(d),
    "negative": lambda d: _directional(d, False) if d.coin(0.6) else _negative_event(d),
    "neutral": _neutral,
}


def generate_sentiment_corpus(
    split: str = "train",
    *,
    config: GeneratedSentimentConfig = DEFAULT_CONFIG,
    seed: int | None = None,
) -> list[LabelledText]:
    """The generated examples of ``split`` (deterministic: the split's fixed seed unless ``seed``).

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"``.
        config: sizes, label balance and label noise.
        seed: overrides the split's fixed seed (:data:`SPLIT_SEEDS`); for experiments only.
    """
    check_split(split)
    return list(_generate(split, config, SPLIT_SEEDS[split] if seed is None else seed))


@lru_cache(maxsize=16)
def _generate(split: str, config: GeneratedSentimentConfig, seed: int) -> tuple[LabelledText, ...]:
    rng = np.random.default_rng(seed)
    noise_rng = np.random.default_rng([seed, 1])  # separate, so the texts do not depend on the noise
    draw = _Draw(rng)
    shares = np.asarray(config.label_shares, dtype=float)
    examples = []
    for _ in range(config.size(split)):
        label = SENTIMENT_LABELS[int(rng.choice(len(SENTIMENT_LABELS), p=shares / shares.sum()))]
        text = _GENERATORS[label](draw)
        flip, pick = noise_rng.random(), int(noise_rng.integers(len(SENTIMENT_LABELS) - 1))
        if flip < config.label_noise:
            label = [other for other in SENTIMENT_LABELS if other != label][pick]
        examples.append(LabelledText(text, label))
    return tuple(examples)
