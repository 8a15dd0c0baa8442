"""Accuracy, macro F1 and a per-label report for text classification (before/after training).

Thin, documented wrappers over :mod:`sklearn.metrics`, so the numbers are exactly sklearn's:

* labels can be names or indices; pass ``labels=`` (e.g. ``env.unwrapped.labels``) so that a label
  that is never predicted, or absent from a small test set, still counts in the macro average;
* a prediction of ``None`` (an explain-mode episode that ended without a label) counts as wrong for
  every label;
* undefined precision/recall/F1 (no predictions or no support for a label) count as 0
  (``zero_division=0``), never as a warning.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from sklearn import metrics as sk

from dialog_envs.errors import DialogEnvsError

_NO_LABEL = "<no label>"


@dataclass(frozen=True)
class ClassificationReport:
    """Scores of one evaluation; ``str(report)`` (or :meth:`table`) prints a table."""

    labels: tuple[str, ...]
    """The labels scored, in order (as strings)."""
    accuracy: float
    """Share of exact matches."""
    macro_f1: float
    """Unweighted mean of the per-label F1 over :attr:`labels`."""
    per_label: dict[str, dict[str, float]]
    """``label -> {"precision", "recall", "f1", "support"}``."""
    support: int
    """Number of examples scored."""

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON (benchmark results)."""
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "support": self.support,
            "labels": list(self.labels),
            "per_label": {label: dict(scores) for label, scores in self.per_label.items()},
        }

    def table(self, digits: int = 3) -> str:
        """A fixed-width table: one row per label, then accuracy and macro F1."""
        width = max(len("macro F1"), *(len(label) for label in self.labels))
        lines = [f"{'':<{width}}  {'precision':>9}  {'recall':>9}  {'f1':>9}  {'support':>7}"]
        for label in self.labels:
            s = self.per_label[label]
            lines.append(
                f"{label:<{width}}  {s['precision']:>9.{digits}f}  {s['recall']:>9.{digits}f}  "
                f"{s['f1']:>9.{digits}f}  {int(s['support']):>7d}"
            )
        lines.append("")
        lines.append(f"{'accuracy':<{width}}  {'':>9}  {'':>9}  {self.accuracy:>9.{digits}f}  {self.support:>7d}")
        lines.append(f"{'macro F1':<{width}}  {'':>9}  {'':>9}  {self.macro_f1:>9.{digits}f}  {self.support:>7d}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def accuracy(y_true: Sequence[Hashable], y_pred: Sequence[Hashable | None]) -> float:
    """Share of predictions equal to the truth (``sklearn.metrics.accuracy_score``)."""
    true, pred, _ = _prepare(y_true, y_pred, None)
    return float(sk.accuracy_score(true, pred))


def macro_f1(
    y_true: Sequence[Hashable], y_pred: Sequence[Hashable | None], labels: Sequence[Hashable] | None = None
) -> float:
    """Unweighted mean F1 over ``labels`` (default: the labels of ``y_true``, sorted)."""
    true, pred, chosen = _prepare(y_true, y_pred, labels)
    return float(sk.f1_score(true, pred, labels=chosen, average="macro", zero_division=0))


def classification_report(
    y_true: Sequence[Hashable], y_pred: Sequence[Hashable | None], labels: Sequence[Hashable] | None = None
) -> ClassificationReport:
    """Accuracy, macro F1 and per-label precision, recall, F1 and support.

    Args:
        y_true: the true labels (names or indices).
        y_pred: the predicted labels, same kind; ``None`` for "no answer".
        labels: the labels to report, in order (default: the labels of ``y_true``, sorted).

    Raises:
        DialogEnvsError: empty input or lengths that differ.
    """
    true, pred, chosen = _prepare(y_true, y_pred, labels)
    precision, recall, f1, support = sk.precision_recall_fscore_support(
        true, pred, labels=chosen, average=None, zero_division=0
    )
    names = tuple(str(label) for label in chosen)
    per_label = {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, support)
    }
    return ClassificationReport(
        labels=names,
        accuracy=float(sk.accuracy_score(true, pred)),
        macro_f1=float(sk.f1_score(true, pred, labels=chosen, average="macro", zero_division=0)),
        per_label=per_label,
        support=len(true),
    )


def _prepare(
    y_true: Sequence[Hashable], y_pred: Sequence[Hashable | None], labels: Sequence[Hashable] | None
) -> tuple[list[Any], list[Any], list[Any]]:
    true, pred = list(y_true), list(y_pred)
    if len(true) != len(pred):
        raise DialogEnvsError(f"{len(true)} true labels but {len(pred)} predictions; expected the same number")
    if not true:
        raise DialogEnvsError("no examples to score; expected at least one (true, predicted) pair")
    if any(label is None for label in true):
        raise DialogEnvsError("a true label is None; expected every example to have a label")
    if any(label is None for label in pred):
        # a sentinel of the labels' own type, so sklearn does not see mixed types
        sentinel: Any = -1 if all(isinstance(label, int) for label in true) else _NO_LABEL
        pred = [sentinel if label is None else label for label in pred]
    chosen = sorted(set(true)) if labels is None else list(labels)
    return true, pred, chosen
