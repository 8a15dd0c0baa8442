"""``dialog-envs eval-ner``: score CoNLL-style NER predictions.

Either one file in ``conlleval``'s layout (word ... gold tag, predicted tag: what ``dialog-envs
predict`` writes), or a predictions file (predicted tag last) and a gold file (gold tag last) with
the same sentences. Prints the token-level report (per tag, micro/macro/weighted averages), the
token accuracy and entity-level precision/recall/F1 (conlleval's definition). Files are read with
the same reader as NER-v0 (IOB1/IOB2/BIOES normalised to IOB2), so a file in BIOES is scored like
its IOB2 equivalent.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from dialog_envs.data.conll import read_conll
from dialog_envs.errors import DialogEnvsError

HELP = "Score NER predictions: one conlleval-style file (gold and predicted tag last), or --predictions with --gold."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--predictions", required=True, type=Path,
        help="CoNLL-style file, predicted tag last (and the gold tag before it when --gold is not given)",
    )
    parser.add_argument("--gold", type=Path, default=None, help="CoNLL-style file, gold tag last (default: the predictions file's second-to-last column)")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores to this JSON file")


def run(args: argparse.Namespace) -> int:
    from dialog_envs.metrics.ner import entity_scores, token_accuracy, token_report

    for option, path in (("--predictions", args.predictions), ("--gold", args.gold)):
        if path is not None and not path.is_file():
            raise DialogEnvsError(f"{option} {str(path)!r} is not a file; expected a CoNLL-style file")
    gold = read_conll(args.gold) if args.gold is not None else read_conll(args.predictions, tag_column=-2)
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
    print(f"token accuracy: {token_accuracy(gold_tags, predicted_tags):.4f}")
    print(
        f"entity-level: precision {entities.precision:.4f}  recall {entities.recall:.4f}  "
        f"F1 {entities.f1:.4f}  ({entities.n_correct} correct of {entities.n_predicted} predicted, "
        f"{entities.n_gold} gold)"
    )
    if args.json is not None:
        payload = {"token_report": report.rows, "token_accuracy": token_accuracy(gold_tags, predicted_tags), "entity": asdict(entities)}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0
