"""``dialog-envs eval-ner``: score a CoNLL-style predictions file against the gold file.

Prints the token-level report (per tag, micro/macro/weighted averages) and entity-level
precision/recall/F1. Both files are read with the same reader as NER-v0 (tag in the last column,
IOB1/IOB2/BIOES normalised to IOB2), so a file in BIOES is scored like its IOB2 equivalent.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from dialog_envs.data.conll import read_conll
from dialog_envs.errors import DialogEnvsError

HELP = "Score NER predictions (CoNLL columns, tag last) against gold tags."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--predictions", required=True, type=Path, help="CoNLL-style file, predicted tag last")
    parser.add_argument("--gold", required=True, type=Path, help="CoNLL-style file, gold tag last")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores to this JSON file")


def run(args: argparse.Namespace) -> int:
    from dialog_envs.metrics.ner import entity_scores, token_report

    gold = read_conll(args.gold)
    predicted = read_conll(args.predictions)
    if len(gold) != len(predicted):
        raise DialogEnvsError(
            f"{args.predictions} has {len(predicted)} sentences but {args.gold} has {len(gold)}; "
            f"expected the same sentences in the same order"
        )
    for index, (g, p) in enumerate(zip(gold, predicted)):
        if g.words != p.words:
            raise DialogEnvsError(
                f"sentence {index + 1} differs: {args.predictions} has {' '.join(p.words)!r} but "
                f"{args.gold} has {' '.join(g.words)!r}; expected the same words in the same order"
            )
    gold_tags = [list(s.tags) for s in gold]
    predicted_tags = [list(s.tags) for s in predicted]
    report = token_report(gold_tags, predicted_tags)
    entities = entity_scores(gold_tags, predicted_tags)
    print("token-level report")
    print(report)
    print()
    print(
        f"entity-level: precision {entities.precision:.4f}  recall {entities.recall:.4f}  "
        f"F1 {entities.f1:.4f}  ({entities.n_correct} correct of {entities.n_predicted} predicted, "
        f"{entities.n_gold} gold)"
    )
    if args.json is not None:
        args.json.write_text(json.dumps({"token_report": report.rows, "entity": asdict(entities)}, indent=2))
    return 0
