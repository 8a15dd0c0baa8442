"""``dialog-envs reward-model``: learn a reward model from a feedback log, and score with one.

* ``train --log feedback.jsonl --out DIR [--model minilm|smollm2|NAME|FOLDER] [--config FILE.yaml]
  [--set FIELD=VALUE ...]``: fit :class:`~dialog_envs.agents.reward_model.RewardModel` on the log's
  rated turns (regression) and preferences (Bradley-Terry), early-stopped on the validation
  sessions; writes the checkpoint to DIR and prints the validation metrics.
* ``score --model DIR --user TEXT --reply TEXT``: the score of one reply (and ``s_base``);
  ``score --model DIR --log feedback.jsonl``: the score of every rated turn of a log, summed up as
  its correlation with the ratings (and the pairwise accuracy on its preferences).

See docs/reward_models.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dialog_envs.commands.env_args import parse_env_kwargs
from dialog_envs.errors import DialogEnvsError

HELP = "Train a reward model on a feedback log (rated turns, preferences), or score replies with one."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser("train", help="fit a reward model to a feedback log", description="Fit a reward model to a feedback log.")
    train.add_argument("--log", required=True, type=Path, help="feedback log (JSONL, dialog-envs rate writes one)")
    train.add_argument("--out", required=True, type=Path, help="checkpoint folder to write")
    train.add_argument(
        "--model", default=None,
        help="'minilm', 'smollm2', a Hugging Face name or a local folder (default: a small encoder from scratch)",
    )
    train.add_argument("--config", type=Path, default=None, help="YAML file of RewardModelConfig fields")
    train.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
        help="override one RewardModelConfig field (VALUE read as YAML), e.g. --set max_epochs=5",
    )
    score = actions.add_parser("score", help="score a reply, or every rated turn of a log", description="Score with a reward model.")
    score.add_argument("--model", required=True, type=Path, help="reward model checkpoint folder")
    score.add_argument("--user", default=None, help="the user's text")
    score.add_argument("--reply", default=None, help="the agent's reply to score")
    score.add_argument("--log", type=Path, default=None, help="feedback log whose rated turns to score (instead of --user/--reply)")


def run(args: argparse.Namespace) -> int:
    return _train(args) if args.action == "train" else _score(args)


def _train(args: argparse.Namespace) -> int:
    from dialog_envs.agents.config import RewardModelConfig
    from dialog_envs.agents.reward_model_training import train_reward_model

    values = RewardModelConfig.from_yaml(args.config).to_dict() if args.config else {}
    values.update(parse_env_kwargs(args.overrides))
    if args.model is not None:
        values["model"] = args.model
    config = RewardModelConfig.from_dict(values, source="--config/--set")

    def show(epoch: int, record: dict) -> None:
        if config.progress:
            print(f"epoch {epoch}: train loss {record['train_loss']:.4f}, validation {_figures(record['validation'])}")

    result = train_reward_model(args.log, config, args.out, on_epoch=show)
    print(f"best epoch {result.best_epoch} of {result.epochs}; validation {_figures(result.validation)}")
    print(f"s_base (mean score of the training replies) {result.model.s_base:.4f}; checkpoint in {args.out}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from dialog_envs.agents.reward_model import RewardModel

    pair = (args.user, args.reply)
    if (args.log is None) == (pair == (None, None)) or (args.log is None and None in pair):
        raise DialogEnvsError("reward-model score takes --user TEXT --reply TEXT, or --log FILE")
    if args.log is None:
        model = RewardModel.load(args.model)
        score = float(model.score([args.user], [args.reply])[0])
        print(json.dumps({"score": round(score, 6), "s_base": round(model.s_base, 6), "reward": round(score - model.s_base, 6)}))
        return 0
    from dialog_envs.agents.reward_model_training import evaluate, read_feedback_data

    data = read_feedback_data(args.log)
    model = RewardModel.load(args.model)
    print(f"{args.log}: {_figures(evaluate(model, data))}")
    return 0


def _figures(metrics: dict) -> str:
    """Metrics as ``name value`` pairs, rounded."""
    return ", ".join(f"{name} {value:.4g}" if isinstance(value, float) else f"{name} {value}" for name, value in metrics.items())
