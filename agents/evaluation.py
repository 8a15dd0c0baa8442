"""Held-out evaluation of a trained agent, and the comparison of a checkpoint with the policy before RL."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dialog_envs.agents.episodes import split_size
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.envs.batched import episode_metrics, episode_report as env_episode_report
from dialog_envs.metrics.ner import EntityScores, TokenReport


@dataclass
class EvaluationReport:
    """Mean return and env metrics over a split; for NER also the token report and entity scores."""

    split: str
    episodes: int
    metrics: dict[str, float]
    token_report: TokenReport | None = None
    entity_scores: EntityScores | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    """More JSON-ready results (sample replies, the references' perplexity)."""

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"split": self.split, "episodes": self.episodes, "metrics": self.metrics}
        if self.token_report is not None:
            result["token_report"] = self.token_report.rows
        if self.entity_scores is not None:
            result["entity"] = vars(self.entity_scores)
        return {**result, **self.extras}


def evaluate_agent(agent: TokenPGAgent, split: str = "test", episodes: int | None = None) -> EvaluationReport:
    """Greedy evaluation on ``split``: every example once when the env supports walking it
    (``split_size`` and ``reset(options={"index": "seed"})``), else ``episodes`` seeded episodes."""
    envs = agent.split_envs(split)
    if episodes is None and split_size(envs) is None:
        episodes = agent.config.eval_episodes
    returns, _, infos = agent.play(split, episodes, greedy=True)
    return episode_report(split, returns, episode_metrics(envs, infos), env_episode_report(envs, infos))


def episode_report(split: str, returns: list[float], env_metrics: dict[str, float], details: dict[str, Any]) -> EvaluationReport:
    """The report of played episodes: mean return and the env's episode metrics; and, from the
    env's episode report (``details``), NER's token-level report and entity scores, or the
    replies' distinct-1/2 and samples."""
    metrics = {"return": float(np.mean(returns)), **env_metrics}
    report = EvaluationReport(split, len(returns), metrics)
    for name in ("distinct_1", "distinct_2"):
        if name in details:
            metrics[name] = details[name]
    if "samples" in details:
        report.extras["samples"] = details["samples"]
    report.token_report = details.get("token_report")
    report.entity_scores = details.get("entity_scores")
    return report


def comparison_table(before: EvaluationReport, after: EvaluationReport) -> str:
    """A markdown table of every metric before and after training, with the change."""
    lines = ["| metric | before | after | change |", "|---|---:|---:|---:|"]
    for name in after.metrics:
        if name not in before.metrics:
            continue
        old, new = before.metrics[name], after.metrics[name]
        lines.append(f"| {name} | {old:.4f} | {new:.4f} | {new - old:+.4f} |")
    return "\n".join(lines)


def compare_checkpoints(
    checkpoint: str | Path,
    baseline: str | Path | None = None,
    env_id: str | None = None,
    split: str = "test",
    episodes: int | None = None,
    allow_module_env_id: bool = False,
) -> tuple[EvaluationReport | None, EvaluationReport, str]:
    """Evaluate ``checkpoint`` and ``baseline`` (default: the run's ``initial`` checkpoint, the
    policy before RL, when it exists) on ``split``; returns both reports and a printable summary.
    ``allow_module_env_id`` trusts a ``module:`` env id in the checkpoint (see
    :meth:`TokenPGAgent.from_checkpoint`)."""
    checkpoint = Path(checkpoint)
    after_agent = TokenPGAgent.from_checkpoint(checkpoint, env_id=env_id, allow_module_env_id=allow_module_env_id, progress=False)
    after = evaluate_agent(after_agent, split, episodes)
    baseline = Path(baseline) if baseline is not None else checkpoint.parent / "initial"
    before = None
    if (baseline / "state.json").exists():
        before_agent = TokenPGAgent.from_checkpoint(baseline, env_id=after_agent.env_id, progress=False)
        before = evaluate_agent(before_agent, split, episodes)
        before_agent.close()
    after_agent.close()
    lines = [f"{after_agent.env_id}, split {split}, {after.episodes} episodes, greedy"]
    if before is not None:
        roles = {"best": "the checkpoint best on validation", "last": "the last checkpoint", "initial": "the policy before RL"}
        lines += [f"before = {baseline} ({roles.get(baseline.name, 'the baseline given')}; after its warm start, if any)",
                  f"after = {checkpoint} ({roles.get(checkpoint.name, 'the checkpoint given')})", "", comparison_table(before, after)]
    else:
        lines.append(json.dumps(after.metrics, indent=2))
    for label, report in (("before", before), ("after", after)):
        if report is not None and report.token_report is not None:
            scores = report.entity_scores
            lines += ["", f"token-level report ({label})", str(report.token_report),
                      f"entity-level ({label}): precision {scores.precision:.4f}  recall {scores.recall:.4f}  F1 {scores.f1:.4f}"]
    return before, after, "\n".join(lines)
