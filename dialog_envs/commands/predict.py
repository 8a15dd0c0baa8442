"""``dialog-envs predict``: a checkpoint's predictions for every example of a split, written in the
data set's own format so that other tools can score them.

* NER-v0: CoNLL columns, one token per line: the word, the gold tag and the predicted tag (the
  layout ``conlleval`` reads; ``dialog-envs eval-ner --predictions FILE`` scores it), a blank
  line after each sentence.
* DialogueBLEU-v0: JSONL, one object per example: ``context`` (the turns before the reply),
  ``reply`` (the agent's) and ``reference`` (the data set's).
* Sentiment-v0: a tab-separated label file with a header: ``text``, ``label`` (gold) and
  ``predicted``; ``read_labelled(FILE, label_field="predicted")`` reads the predictions back.

The agent plays greedily, one example after another in split order, through its public ``act``.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dialog_envs.errors import DialogEnvsError
from dialog_envs.registration import check_env_id

HELP = "Write a checkpoint's predictions for a split in the data set's format (CoNLL, JSONL or a label file)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a checkpoint folder (e.g. RUN/checkpoints/best)")
    parser.add_argument("--split", default="test", help="train, validation or test (default test)")
    parser.add_argument("--out", required=True, type=Path, help="the predictions file to write")
    parser.add_argument("--env", default=None, help="environment id (default: the one it was trained on)")


def write_ner(out: Path, infos: list[dict[str, Any]], examples: Any) -> None:
    """Word, gold tag and predicted tag per line; a blank line ends a sentence."""
    with open(out, "w", encoding="utf-8") as handle:
        for info in infos:
            for word, gold, predicted in zip(info["words"], info["gold_tags"], info["predicted_tags"]):
                handle.write(f"{word} {gold} {predicted}\n")
            handle.write("\n")


def write_dialogue(out: Path, infos: list[dict[str, Any]], examples: Any) -> None:
    """One JSON object per example: context, reply, reference."""
    with open(out, "w", encoding="utf-8") as handle:
        for info, example in zip(infos, examples):
            record = {"context": list(example.context), "reply": info["response"], "reference": info["reference"]}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_sentiment(out: Path, infos: list[dict[str, Any]], examples: Any) -> None:
    """A TSV label file: text, gold label, predicted label (empty when none was given)."""
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["text", "label", "predicted"])
        for info, example in zip(infos, examples):
            writer.writerow([example.text, info["label"], info["predicted_label"]])


WRITERS: dict[str, tuple[str, Callable[[Path, list[dict[str, Any]], Any], None]]] = {
    "dialog_envs/NER-v0": ("split_size", write_ner),
    "dialog_envs/DialogueBLEU-v0": ("examples", write_dialogue),
    "dialog_envs/Sentiment-v0": ("examples", write_sentiment),
}
"""Env id -> (the env attribute that gives the split's size or examples, the writer)."""


def run(args: argparse.Namespace) -> int:
    from dialog_envs.agents.episodes import act_in, env_attribute, play_batches
    from dialog_envs.agents.token_pg import TokenPGAgent

    if not (args.checkpoint / "state.json").is_file():
        raise DialogEnvsError(f"--checkpoint {str(args.checkpoint)!r} is not a checkpoint folder; expected one holding state.json")
    env_id = None if args.env is None else check_env_id(args.env)
    agent = TokenPGAgent.from_checkpoint(args.checkpoint, env_id=env_id)
    try:
        if agent.env_id not in WRITERS:
            raise DialogEnvsError(f"predict writes {', '.join(WRITERS)}; the checkpoint's env is {agent.env_id}")
        attribute, write = WRITERS[agent.env_id]
        envs = agent.split_envs(args.split)
        found = env_attribute(envs, attribute)
        examples = None if isinstance(found, int) else found
        size = found if examples is None else len(examples)

        def act(observations: dict[str, np.ndarray], masks: np.ndarray | None, _: Any) -> np.ndarray:
            return agent.act(observations, masks)

        play = act_in(envs, act, agent.config.max_episode_steps)
        _, _, infos = play_batches(envs, play, None, walk_size=size)
    finally:
        agent.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write(args.out, infos, examples)
    print(f"{len(infos)} predictions of the {args.split} split written to {args.out}")
    return 0
