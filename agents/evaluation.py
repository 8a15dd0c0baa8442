"""Held-out evaluation of a trained agent, and the before/after comparison of the seed's step 5."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.rollout import numeric_means
from agents.token_pg import TokenPGAgent
from dialog_envs.metrics.ner import EntityScores, TokenReport, entity_scores, token_report


@dataclass
class EvaluationReport:
    """Mean return and env metrics over a split; for NER also the token report and entity scores."""

    split: str
    episodes: int
    metrics: dict[str, float]
    token_report: TokenReport | None = None
    entity_scores: EntityScores | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"split": self.split, "episodes": self.episodes, "metrics": self.metrics}
        if self.token_report is not None:
            result["token_report"] = self.token_report.rows
        if self.entity_scores is not None:
            result["entity"] = vars(self.entity_scores)
        return result


def evaluate_agent(agent: TokenPGAgent, split: str = "test", episodes: int | None = None) -> EvaluationReport:
    """Greedy evaluation on ``split``: every example once when the env supports walking it
    (``split_size`` and ``reset(options={"index": "seed"})``), else ``episodes`` seeded episodes."""
    envs = agent._split_envs(split)
    try:
        envs.call("get_wrapper_attr", "split_size")
        walk = episodes is None
    except AttributeError:
        walk = False
    returns, infos = agent.run_episodes(split, episodes, greedy=True, walk=walk)
    metrics = {"return": float(np.mean(returns)), **numeric_means(infos)}
    report = EvaluationReport(split, len(returns), metrics)
    if infos and all("gold_tags" in info and "predicted_tags" in info for info in infos):
        gold = [list(info["gold_tags"]) for info in infos]
        predicted = [list(info["predicted_tags"]) for info in infos]
        report.token_report = token_report(gold, predicted)
        report.entity_scores = entity_scores(gold, predicted)
        metrics["token_micro_f1"] = report.token_report.rows["micro avg"]["f1-score"]
        metrics["entity_f1_corpus"] = report.entity_scores.f1
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
