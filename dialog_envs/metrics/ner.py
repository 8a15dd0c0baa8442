"""Scoring for named-entity tagging: entity-level P/R/F1 and the token-level report.

Entity scores follow CoNLL's ``conlleval`` (and ``seqeval``'s default mode): an entity is a maximal
run of tags of one type that starts with ``B-X``, or with an ``I-X`` that does not continue an ``X``
entity; a predicted entity counts only if its type, start and end all match a gold entity. This
module computes them without seqeval because the environments score partial sentences at every
step; ``tests/metrics/test_ner.py`` checks that the numbers equal seqeval's.

The token-level report is the one the classic BERT token-classification recipe prints: precision,
recall, F1 and support for every tag (``O`` included), then micro, macro and weighted averages,
computed with scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Entity = tuple[str, int, int]
"""(type, first word index, last word index), both ends inclusive."""


def entities(tags: Sequence[str]) -> set[Entity]:
    """The entities of one tag sequence (IOB1, IOB2 or BIOES, read leniently as conlleval does)."""
    found: set[Entity] = set()
    start = 0
    current: str | None = None  # type of the entity being read, None outside entities
    for index, tag in enumerate(tags):
        prefix, entity_type = (tag[0], tag[2:]) if tag != "O" else ("O", None)
        continues = current is not None and entity_type == current and prefix in "IE"
        if current is not None and not continues:
            found.add((current, start, index - 1))
            current = None
        if entity_type is not None and not continues:
            current, start = entity_type, index
        if prefix in "ES" and current is not None:
            found.add((current, start, index))
            current = None
    if current is not None:
        found.add((current, start, len(tags) - 1))
    return found


@dataclass(frozen=True)
class EntityScores:
    """Entity-level micro-averaged scores over a corpus, and the counts they come from."""

    precision: float
    recall: float
    f1: float
    n_gold: int
    n_predicted: int
    n_correct: int


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> EntityScores:
    """Corpus-level entity precision, recall and F1 (0 where a denominator is 0, as seqeval)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted ones")
    n_gold = n_predicted = n_correct = 0
    for index, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted)):
        if len(gold_tags) != len(predicted_tags):
            raise ValueError(
                f"sentence {index}: {len(gold_tags)} gold tags but {len(predicted_tags)} predicted ones"
            )
        gold_entities, predicted_entities = entities(gold_tags), entities(predicted_tags)
        n_gold += len(gold_entities)
        n_predicted += len(predicted_entities)
        n_correct += len(gold_entities & predicted_entities)
    precision = n_correct / n_predicted if n_predicted else 0.0
    recall = n_correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return EntityScores(precision, recall, f1, n_gold, n_predicted, n_correct)


def sentence_entity_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Entity F1 of one (possibly partial) sentence, as a reward.

    Unlike the corpus score, a sentence with no gold and no predicted entity scores 1.0: tagging
    it all ``O`` is exactly right.
    """
    gold_entities, predicted_entities = entities(gold), entities(predicted)
    if not gold_entities and not predicted_entities:
        return 1.0
    correct = len(gold_entities & predicted_entities)
    return 2 * correct / (len(gold_entities) + len(predicted_entities))


class PrefixEntityF1:
    """Sentence entity F1 of growing prefixes of many IOB2 tag sequences, O(1) per tag.

    :func:`sentence_entity_f1` of ``gold[:t + 1]`` and ``predicted[:t + 1]`` costs O(t), so the
    dense reward (the F1 after every tag) costs O(T^2) per sentence. This tracker gets the same
    numbers with a constant amount of array work per tag, for ``num_rows`` sentences at once: per
    row and side it keeps the open entity (type and start) and the counts of closed entities; an
    entity closes when the next tag does not continue it, and a closed gold and predicted entity
    match when both close on the same tag with the same type and start. The open entities are
    closed at the end of the prefix. ``tests/test_ner_metrics.py`` checks it against
    :func:`sentence_entity_f1` and seqeval on thousands of random sequences.

    Args:
        tags: the tag set, indexed by tag id; only ``O``, ``B-X`` and ``I-X`` (IOB2, what the
            readers produce).
        num_rows: how many sentences are tracked at once.
    """

    def __init__(self, tags: Sequence[str], num_rows: int) -> None:
        types: dict[str, int] = {}
        self.tag_type = np.full(len(tags), -1, dtype=np.int64)  # entity type id, -1 for O
        self.tag_inside = np.zeros(len(tags), dtype=bool)  # I-X: continues an X entity
        for index, tag in enumerate(tags):
            if tag == "O":
                continue
            if tag[:2] not in ("B-", "I-"):
                raise ValueError(f"tag {tag!r} is not IOB2; expected O, B-X or I-X")
            self.tag_type[index] = types.setdefault(tag[2:], len(types))
            self.tag_inside[index] = tag[0] == "I"
        shape = (2, num_rows)  # side 0: gold, side 1: predicted
        self.open_type = np.full(shape, -1, dtype=np.int64)
        self.open_start = np.zeros(shape, dtype=np.int64)
        self.closed = np.zeros(shape, dtype=np.int64)
        self.closed_correct = np.zeros(num_rows, dtype=np.int64)
        self.length = np.zeros(num_rows, dtype=np.int64)

    def reset(self, rows: np.ndarray) -> None:
        """Start empty sentences in ``rows``."""
        self.open_type[:, rows] = -1
        self.open_start[:, rows] = 0
        self.closed[:, rows] = 0
        self.closed_correct[rows] = 0
        self.length[rows] = 0

    def push(self, rows: np.ndarray, gold: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """Append one gold and one predicted tag id to each of ``rows``; returns the F1 of the
        prefixes so far (1.0 where neither has an entity, as :func:`sentence_entity_f1`)."""
        tags = np.stack([gold, predicted])  # (2, R)
        kind = self.tag_type[tags]
        open_type = self.open_type[:, rows]
        open_start = self.open_start[:, rows]
        position = self.length[rows]
        continues = (open_type >= 0) & self.tag_inside[tags] & (kind == open_type)
        closes = (open_type >= 0) & ~continues
        both = closes[0] & closes[1] & (open_type[0] == open_type[1]) & (open_start[0] == open_start[1])
        self.closed[:, rows] += closes
        self.closed_correct[rows] += both
        starts = ~continues
        open_type = np.where(starts, kind, open_type)
        open_start = np.where(starts, position, open_start)
        self.open_type[:, rows] = open_type
        self.open_start[:, rows] = open_start
        self.length[rows] = position + 1
        is_open = open_type >= 0
        counts = self.closed[:, rows] + is_open
        correct = self.closed_correct[rows] + (is_open[0] & (open_type[0] == open_type[1]) & (open_start[0] == open_start[1]))
        total = counts[0] + counts[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total == 0, 1.0, 2 * correct / total)


@dataclass(frozen=True)
class TokenReport:
    """Per-tag token-level precision/recall/F1/support and their micro, macro and weighted averages.

    ``rows`` maps a tag, or ``"micro avg"``, ``"macro avg"``, ``"weighted avg"``, to a dict with
    keys ``precision``, ``recall``, ``f1-score`` and ``support`` (scikit-learn's names).
    """

    rows: dict[str, dict[str, float]]
    digits: int = 4

    def __str__(self) -> str:
        width = max(len("weighted avg"), *(len(name) for name in self.rows))
        header = f"{'':>{width}} {'precision':>9} {'recall':>9} {'f1-score':>9} {'support':>9}"
        lines = [header, ""]
        for name, row in self.rows.items():
            if name == "micro avg":
                lines.append("")
            lines.append(
                f"{name:>{width}} {row['precision']:>9.{self.digits}f} {row['recall']:>9.{self.digits}f} "
                f"{row['f1-score']:>9.{self.digits}f} {int(row['support']):>9d}"
            )
        return "\n".join(lines)


def token_report(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], labels: Sequence[str] | None = None, digits: int = 4
) -> TokenReport:
    """The token-level classification report over every tag of every sentence.

    Args:
        gold: gold tags per sentence.
        predicted: predicted tags per sentence (same lengths).
        labels: the tags to report, in order; default: every tag seen in gold or predicted, sorted
            with ``O`` last as the classic recipe prints it.
    """
    from sklearn.metrics import precision_recall_fscore_support

    flat_gold = [tag for sentence in gold for tag in sentence]
    flat_predicted = [tag for sentence in predicted for tag in sentence]
    if len(flat_gold) != len(flat_predicted):
        raise ValueError(f"{len(flat_gold)} gold tags but {len(flat_predicted)} predicted ones")
    if labels is None:
        seen = set(flat_gold) | set(flat_predicted)
        labels = sorted(seen - {"O"}, key=lambda tag: (tag[2:], tag[0])) + (["O"] if "O" in seen else [])
    labels = list(labels)
    rows: dict[str, dict[str, float]] = {}
    precision, recall, f1, support = precision_recall_fscore_support(
        flat_gold, flat_predicted, labels=labels, average=None, zero_division=0
    )
    for index, label in enumerate(labels):
        rows[label] = _row(precision[index], recall[index], f1[index], support[index])
    total = float(support.sum())
    for average in ("micro", "macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            flat_gold, flat_predicted, labels=labels, average=average, zero_division=0
        )
        rows[f"{average} avg"] = _row(p, r, f, total)
    return TokenReport(rows, digits)


def token_accuracy(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> float:
    """The share of tokens whose predicted tag equals the gold tag (conlleval's "accuracy"); 0
    without tokens."""
    pairs = [(g, p) for gold_tags, predicted_tags in zip(gold, predicted) for g, p in zip(gold_tags, predicted_tags)]
    return sum(g == p for g, p in pairs) / len(pairs) if pairs else 0.0


def _row(precision: float, recall: float, f1: float, support: float) -> dict[str, float]:
    return {"precision": float(precision), "recall": float(recall), "f1-score": float(f1), "support": float(support)}
