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


def _row(precision: float, recall: float, f1: float, support: float) -> dict[str, float]:
    return {"precision": float(precision), "recall": float(recall), "f1-score": float(f1), "support": float(support)}
