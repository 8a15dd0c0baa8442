"""The two ways the benchmark trains and evaluates one (env, agent, seed) cell.

Both return the protocol's part of the cell's record: ``evaluations`` (per split, the metrics of
the policy ``before`` and ``after`` training), ``details`` (per split and stage, reports beyond the
means: NER token reports and entity scores, sample replies), ``learning_curve``,
``validation_history``, ``update_stats`` (sft_then_rl: what every RL update logged, return and
KL included), ``chosen_update``, ``agent_settings``, ``train_env_steps``,
``wall_seconds`` (``build``, ``warm_start``, ``train``, ``eval``, ``total``) and ``error``.

* :func:`run_budget`: any agent of the registry. Build, evaluate, ``learn(budget)``, evaluate.
* :func:`run_sft_then_rl`: the token-level agent. Its supervised warm start is the SFT policy
  (``before``); RL from it evaluates on the validation split every ``eval_every`` updates and keeps
  the best checkpoint, and that checkpoint (``after``) is evaluated; nothing is chosen on test.
  Training wall time is the warm start's plus RL's, evaluations apart.

A :class:`DialogEnvsError` while training is recorded as the cell's ``error`` with the evaluations
done so far; the runner retries such a cell the next time the suite runs.
"""

from __future__ import annotations

import math
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from dialog_envs.agents.bench_suite import AgentEntry
from dialog_envs.agents.callbacks import Callback
from dialog_envs.agents.registry import make
from dialog_envs.errors import DialogEnvsError


class Stopwatch:
    """Wall seconds per phase of a cell."""

    def __init__(self) -> None:
        self.seconds = {"build": 0.0, "warm_start": 0.0, "train": 0.0, "eval": 0.0}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def totals(self) -> dict[str, float]:
        return {**self.seconds, "total": math.fsum(self.seconds.values())}


def _record(
    stopwatch: Stopwatch,
    evaluations: dict[str, dict[str, Any]],
    *,
    details: dict[str, dict[str, Any]] | None = None,
    learning_curve: list[dict[str, Any]] | None = None,
    validation_history: list[dict[str, Any]] | None = None,
    update_stats: list[dict[str, float]] | None = None,
    chosen_update: int | None = None,
    agent_settings: Any = None,
    train_env_steps: int | None = None,
    error: str | None = None,
    work_folder: str | None = None,
) -> dict[str, Any]:
    wall = stopwatch.totals()
    learning = wall["warm_start"] + wall["train"]
    return {
        "evaluations": evaluations,
        "details": details or {},
        "learning_curve": learning_curve or [],
        "validation_history": validation_history or [],
        "update_stats": update_stats or [],
        "chosen_update": chosen_update,
        "agent_settings": agent_settings,
        "train_env_steps": train_env_steps,
        "wall_seconds": wall,
        "steps_per_second": train_env_steps / learning if train_env_steps and learning > 0 else None,
        "error": error,
        "work_folder": work_folder,
    }


def run_budget(
    env_id: str, env_kwargs: dict[str, Any], agent_entry: AgentEntry, seed: int, budget: int,
    splits: list[str], episodes: int | None,
) -> dict[str, Any]:
    """Build the agent, evaluate it on ``splits``, train it for ``budget`` env steps, evaluate again."""
    stopwatch = Stopwatch()
    torch.manual_seed(seed)
    with stopwatch.phase("build"):
        agent = make(agent_entry.name, env_id, env_kwargs=env_kwargs, seed=seed, **agent_entry.config)
    evaluations: dict[str, dict[str, Any]] = {split: {} for split in splits}
    try:
        with stopwatch.phase("eval"):
            for split in splits:
                evaluations[split]["before"] = agent.evaluate(split, episodes)
        steps_before = int(getattr(agent, "env_steps", 0) or 0)
        try:
            with stopwatch.phase("train"):
                curve = agent.learn(budget) or []
        except DialogEnvsError as error:
            return _record(stopwatch, evaluations, error=str(error))
        steps = int(getattr(agent, "env_steps", steps_before + budget) or 0) - steps_before
        with stopwatch.phase("eval"):
            for split in splits:
                evaluations[split]["after"] = agent.evaluate(split, episodes)
        settings = agent.settings() if callable(getattr(agent, "settings", None)) else agent_entry.config
    finally:
        if callable(getattr(agent, "close", None)):
            agent.close()
    return _record(stopwatch, evaluations, learning_curve=list(curve), agent_settings=settings, train_env_steps=steps)


class UpdateStats(Callback):
    """Keeps what each RL update logs (return, KL, entropy, ...) with its update and env steps:
    the points of the reward-KL frontier."""

    def __init__(self) -> None:
        self.points: list[dict[str, float]] = []

    def on_update(self, agent: Any, stats: dict[str, float]) -> None:
        self.points.append({"update": agent.update, "env_steps": agent.env_steps, **stats})


def report_of(agent: Any, split: str, episodes: int | None) -> tuple[dict[str, float], dict[str, Any]]:
    """A token-level agent's greedy report on ``split``: its metrics (with the corpus-level entity
    precision and recall of NER, the references' perplexity of reply envs) and the rest of the
    report (episodes, token report, entity scores, sample replies)."""
    from dialog_envs.agents.evaluation import evaluate_agent

    report = evaluate_agent(agent, split, episodes)
    metrics = dict(report.metrics)
    if report.entity_scores is not None:
        metrics["entity_precision_corpus"] = float(report.entity_scores.precision)
        metrics["entity_recall_corpus"] = float(report.entity_scores.recall)
    if "samples" in report.extras:
        metrics["perplexity"] = math.exp(agent.expert_nll(split, episodes))
    details = {key: value for key, value in report.as_dict().items() if key not in ("split", "metrics")}
    return metrics, details


def run_sft_then_rl(
    env_id: str, env_kwargs: dict[str, Any], agent_entry: AgentEntry, seed: int,
    splits: list[str], episodes: int | None, work: Path,
) -> dict[str, Any]:
    """Warm start, evaluate, RL with validation early stopping, evaluate the checkpoint chosen on
    validation. Checkpoints go to ``work`` (removed when the cell succeeds, kept when RL fails)."""
    from dialog_envs.agents.config import TokenPGConfig
    from dialog_envs.agents.token_pg import TokenPGAgent

    stopwatch = Stopwatch()
    config = TokenPGConfig.from_dict({"progress": False, **agent_entry.config, "seed": seed}, source=f"agent {agent_entry.display}")
    shutil.rmtree(work, ignore_errors=True)
    torch.manual_seed(seed)
    with stopwatch.phase("build"):
        agent = TokenPGAgent(env_id, config, env_kwargs, out_dir=work)
    evaluations: dict[str, dict[str, Any]] = {split: {} for split in splits}
    details: dict[str, dict[str, Any]] = {split: {} for split in splits}
    try:
        with stopwatch.phase("warm_start"):
            agent.learn(updates=0)
        with stopwatch.phase("eval"):
            for split in splits:
                evaluations[split]["before"], details[split]["before"] = report_of(agent, split, episodes)
        update_stats = UpdateStats()
        try:
            with stopwatch.phase("train"):
                history = agent.learn(callbacks=[update_stats])
        except DialogEnvsError as error:
            return _record(stopwatch, evaluations, details=details, update_stats=update_stats.points,
                           agent_settings=config.to_dict(), error=str(error), work_folder=str(work))
        steps = getattr(agent, "env_steps", None)
    finally:
        agent.close()
    best = work / "checkpoints" / "best"
    chosen = TokenPGAgent.from_checkpoint(best if (best / "state.json").exists() else work / "checkpoints" / "last", progress=False)
    try:
        with stopwatch.phase("eval"):
            for split in splits:
                evaluations[split]["after"], details[split]["after"] = report_of(chosen, split, episodes)
        chosen_update = int(chosen.update)
    finally:
        chosen.close()
    shutil.rmtree(work, ignore_errors=True)
    return _record(stopwatch, evaluations, details=details, validation_history=list(history),
                   update_stats=update_stats.points, chosen_update=chosen_update,
                   agent_settings=config.to_dict(), train_env_steps=None if steps is None else int(steps))
