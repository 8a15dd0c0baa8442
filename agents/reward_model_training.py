"""Training a :class:`~dialog_envs.agents.reward_model.RewardModel` on a feedback log.

Read top to bottom, :func:`train_reward_model` is:

1. read the log (:func:`~dialog_envs.feedback.read_feedback_log`) into :class:`FeedbackData`: its
   ``"turn"`` records (a user text, the agent's reply, a rating 1-5) and ``"preference"`` records
   (a user text, two replies, the one preferred);
2. split it by session (:func:`split_by_session`): :func:`~dialog_envs.data.splits.split_indices`
   with the sessions as groups, fractions ``(1 - validation_fraction, validation_fraction, 0)`` and
   the config's seed, so every record of a session is on the same side;
3. build the model (:func:`build_reward_model`) and take AdamW steps on
   ``L = L_turn + L_pref`` per batch (:func:`losses`), where over a batch of turns
   ``L_turn = mean (r(x, y) - rating)^2`` (regression: scores are on the rating scale) and over a
   batch of preferences ``L_pref = mean -log sigmoid(r(x, y_chosen) - r(x, y_rejected))``
   (Bradley-Terry); a log with one kind of record has that loss only;
4. after every epoch, the validation loss and metrics (:func:`evaluate`); the best epoch's weights
   are kept, and training stops after ``patience`` epochs without a lower validation loss;
5. set ``s_base`` to the mean score of the training split's replies and write the checkpoint.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from transformers import AutoConfig

from dialog_envs.agents.config import RewardModelConfig
from dialog_envs.agents.device import resolve_device
from dialog_envs.agents.policies import build_causal_lm, build_encoder
from dialog_envs.agents.pretrained import model_tokenizer, resolve_model
from dialog_envs.agents.reward_model import Architecture, RewardModel
from dialog_envs.data.splits import split_indices
from dialog_envs.errors import DialogEnvsError
from dialog_envs.feedback import read_feedback_log
from dialog_envs.tokenization import train_tokenizer


@dataclass(frozen=True)
class Turn:
    """A rated exchange of the log."""

    session: str
    user_text: str
    reply: str
    rating: float


@dataclass(frozen=True)
class Preference:
    """The better of two replies to one user text."""

    session: str
    user_text: str
    chosen: str
    rejected: str


@dataclass
class FeedbackData:
    """The records of a feedback log a reward model learns from."""

    turns: list[Turn] = field(default_factory=list)
    preferences: list[Preference] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.turns) + len(self.preferences)

    def texts(self) -> list[str]:
        """Every user text and reply (what a from-scratch tokenizer is trained on)."""
        return [t for turn in self.turns for t in (turn.user_text, turn.reply)] + [
            t for pref in self.preferences for t in (pref.user_text, pref.chosen, pref.rejected)
        ]

    def pairs(self) -> tuple[list[str], list[str]]:
        """Every (user text, reply) pair: each turn's and both replies of each preference."""
        users = [turn.user_text for turn in self.turns] + [p.user_text for p in self.preferences for _ in (0, 1)]
        replies = [turn.reply for turn in self.turns] + [r for p in self.preferences for r in (p.chosen, p.rejected)]
        return users, replies


def read_feedback_data(path: str | os.PathLike[str]) -> FeedbackData:
    """The turn and preference records of a feedback log (``"end"`` records are skipped).

    Raises:
        DataFormatError / DialogEnvsError: the file is not a feedback log, or has no turn or
            preference record.
    """
    data = FeedbackData()
    for record in read_feedback_log(path):
        if record["event"] == "turn":
            data.turns.append(Turn(record["session"], record["user_text"], record["agent_text"], float(record["rating"])))
        elif record["event"] == "preference":
            a, b = record["reply_a"], record["reply_b"]
            chosen, rejected = (a, b) if record["preferred"] == "a" else (b, a)
            data.preferences.append(Preference(record["session"], record["user_text"], chosen, rejected))
    if not data.turns and not data.preferences:
        raise DialogEnvsError(
            f"{path}: no 'turn' or 'preference' records; expected a feedback log of rated turns or preferences "
            "(dialog-envs rate writes one)"
        )
    return data


def split_by_session(data: FeedbackData, validation_fraction: float, seed: int, source: str = "the log") -> tuple[FeedbackData, FeedbackData]:
    """(train, validation): the log's sessions split by :func:`~dialog_envs.data.splits.split_indices`
    (fractions ``(1 - validation_fraction, validation_fraction, 0)``, seed ``seed``).

    Raises:
        DialogEnvsError: either side is empty (too few sessions).
    """
    records: list[Turn | Preference] = [*data.turns, *data.preferences]
    sessions = [record.session for record in records]
    fractions = (1.0 - validation_fraction, validation_fraction, 0.0)
    halves = []
    for split in ("train", "validation"):
        chosen = [records[i] for i in split_indices(sessions, split, fractions=fractions, seed=seed)]
        halves.append(FeedbackData([r for r in chosen if isinstance(r, Turn)], [r for r in chosen if isinstance(r, Preference)]))
    train, validation = halves
    if not train or not validation:
        count = len(set(sessions))
        raise DialogEnvsError(
            f"{source}: {count} session(s), so the {'validation' if train else 'training'} split is empty "
            f"(validation_fraction={validation_fraction} of the sessions); expected a log with more sessions"
        )
    return train, validation


def detect_architecture(path: str, gguf_file: str | None) -> Architecture:
    """``causal_lm`` for a GGUF file or a config naming a ``*ForCausalLM`` architecture, else ``encoder``."""
    if gguf_file:
        return "causal_lm"
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise DialogEnvsError(f"could not read the config of model {path!r} ({error})") from None
    return "causal_lm" if any(name.endswith("ForCausalLM") for name in (config.architectures or [])) else "encoder"


def build_reward_model(config: RewardModelConfig, texts: Sequence[str]) -> RewardModel:
    """A reward model as ``config`` says: pretrained (``model``), or from scratch with a BPE tokenizer
    trained on ``texts`` (the log's texts). Reuses the policies' model builders."""
    torch.manual_seed(config.seed)
    if config.model is None:
        architecture: Architecture = "encoder" if config.architecture == "auto" else config.architecture
        tokenizer = train_tokenizer(texts, kind="bpe", vocab_size=config.vocab_size, wrap_with_cls_sep=architecture == "encoder")
        if architecture == "encoder":
            backbone = build_encoder(tokenizer, None, config.model_config, config.max_length)
        else:
            backbone = build_causal_lm(tokenizer, None, None, config.model_config, config.max_length)
        return RewardModel(backbone, tokenizer, architecture, config.max_length)
    path, gguf_file = resolve_model(config.model, config.gguf_file)
    architecture = detect_architecture(path, gguf_file) if config.architecture == "auto" else config.architecture
    tokenizer = model_tokenizer(path, gguf_file)
    if architecture == "encoder":
        backbone = build_encoder(tokenizer, path)
    else:
        backbone = build_causal_lm(tokenizer, path, gguf_file)
    return RewardModel(backbone, tokenizer, architecture, config.max_length)


def losses(model: RewardModel, turns: Sequence[Turn], preferences: Sequence[Preference]) -> dict[str, torch.Tensor]:
    """The losses of one batch (module docstring): ``turn`` (squared error to the rating) and
    ``preference`` (Bradley-Terry), each present when the batch has that kind of record, and
    ``loss``, their sum."""
    result: dict[str, torch.Tensor] = {}
    if turns:
        scores = model(model.encode([t.user_text for t in turns], [t.reply for t in turns]))
        ratings = torch.tensor([t.rating for t in turns], device=scores.device)
        result["turn"] = F.mse_loss(scores, ratings)
    if preferences:
        users = [p.user_text for p in preferences]
        scores = model(model.encode(users + users, [p.chosen for p in preferences] + [p.rejected for p in preferences]))
        chosen, rejected = scores.split(len(preferences))
        result["preference"] = -F.logsigmoid(chosen - rejected).mean()
    result["loss"] = sum(result.values())  # type: ignore[assignment]
    return result


def evaluate(model: RewardModel, data: FeedbackData, batch_size: int = 64) -> dict[str, float | None]:
    """Losses and metrics of ``data``: ``loss`` (``turn_loss`` + ``preference_loss``, each the mean
    over its records), and with turns ``rmse``, ``pearson``, ``spearman`` (score vs rating; None when
    either side is constant), with preferences ``pairwise_accuracy`` (chosen scored higher)."""
    metrics: dict[str, float | None] = {}
    loss = 0.0
    if data.turns:
        scores = model.score([t.user_text for t in data.turns], [t.reply for t in data.turns], batch_size)
        ratings = np.array([t.rating for t in data.turns])
        metrics["turn_loss"] = float(np.mean((scores - ratings) ** 2))
        metrics["rmse"] = math.sqrt(metrics["turn_loss"])
        constant = np.ptp(scores) == 0 or np.ptp(ratings) == 0
        metrics["pearson"] = None if constant else float(stats.pearsonr(scores, ratings).statistic)
        metrics["spearman"] = None if constant else float(stats.spearmanr(scores, ratings).statistic)
        loss += metrics["turn_loss"]
    if data.preferences:
        users = [p.user_text for p in data.preferences]
        chosen = model.score(users, [p.chosen for p in data.preferences], batch_size)
        rejected = model.score(users, [p.rejected for p in data.preferences], batch_size)
        metrics["preference_loss"] = float(np.mean(np.logaddexp(0.0, -(chosen - rejected))))
        metrics["pairwise_accuracy"] = float(np.mean(chosen > rejected))
        loss += metrics["preference_loss"]
    metrics["loss"] = loss
    metrics["turns"], metrics["preferences"] = len(data.turns), len(data.preferences)
    return metrics


EpochCallback = Callable[[int, dict[str, Any]], None]
"""``(epoch, {"train_loss": ..., "validation": metrics})``, called after every epoch."""


@dataclass
class TrainingResult:
    """What :func:`train_reward_model` did: the model (best epoch's weights, ``s_base`` set), the
    best validation metrics, the epoch they come from, the epochs run and every epoch's record."""

    model: RewardModel
    validation: dict[str, float | None]
    best_epoch: int
    epochs: int
    history: list[dict[str, Any]]


def train_reward_model(
    log: str | os.PathLike[str],
    config: RewardModelConfig | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainingResult:
    """Train a reward model on the feedback log ``log`` (module docstring); write the checkpoint to
    ``out_dir`` when given. Every epoch's record goes to ``on_epoch``.

    Raises:
        DialogEnvsError: a bad log (see :func:`read_feedback_data`, :func:`split_by_session`) or model.
    """
    config = config or RewardModelConfig()
    data = read_feedback_data(log)
    train, validation = split_by_session(data, config.validation_fraction, config.seed, source=str(log))
    model = build_reward_model(config, train.texts()).to(resolve_device(config.device))
    if train.turns:  # start at the mean rating: the regression then learns differences, not the offset
        with torch.no_grad():
            model.head.bias.fill_(float(np.mean([t.rating for t in train.turns])))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)
    best: tuple[float, int, dict[str, torch.Tensor], dict[str, float | None]] = (math.inf, 0, copy.deepcopy(model.state_dict()), {})
    history: list[dict[str, Any]] = []
    epoch = 0
    for epoch in range(1, config.max_epochs + 1):
        train_loss = _train_epoch(model, optimizer, train, config, rng)
        metrics = evaluate(model, validation)
        record = {"epoch": epoch, "train_loss": train_loss, "validation": metrics}
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)
        if metrics["loss"] < best[0]:
            best = (metrics["loss"], epoch, copy.deepcopy(model.state_dict()), metrics)
        elif config.patience and epoch - best[1] >= config.patience:
            break
    _, best_epoch, weights, best_metrics = best
    model.load_state_dict(weights)
    best_metrics = best_metrics or evaluate(model, validation)  # no epoch improved (a loss of nan): the initial model
    model.s_base = float(np.mean(model.score(*train.pairs())))
    result = TrainingResult(model, best_metrics, best_epoch, epoch, history)
    if out_dir is not None:
        model.save(out_dir, {
            "log": str(log), "config": config.to_dict(), "best_epoch": best_epoch, "epochs": epoch,
            "validation": best_metrics, "history": history,
            "records": {"train_turns": len(train.turns), "train_preferences": len(train.preferences),
                        "validation_turns": len(validation.turns), "validation_preferences": len(validation.preferences)},
        })
    return result


def _train_epoch(
    model: RewardModel, optimizer: torch.optim.Optimizer, data: FeedbackData, config: RewardModelConfig, rng: np.random.Generator
) -> float:
    """One pass over the shuffled training records; step ``i`` takes the ``i``-th batch of turns and
    the ``i``-th batch of preferences (either may be empty). The mean batch loss."""
    model.train()
    turns = [data.turns[i] for i in rng.permutation(len(data.turns))]
    preferences = [data.preferences[i] for i in rng.permutation(len(data.preferences))]
    size = config.batch_size
    steps = math.ceil(max(len(turns), len(preferences)) / size)
    total = 0.0
    for step in range(steps):
        batch = losses(model, turns[step * size : (step + 1) * size], preferences[step * size : (step + 1) * size])
        optimizer.zero_grad(set_to_none=True)
        batch["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        total += batch["loss"].item()
    return total / max(steps, 1)
