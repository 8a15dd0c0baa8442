"""What ``dialog-envs bench`` writes besides the run files: the summary, ``results.md`` and the
learning-curve PNGs.

Statistics are over seeds: for each env x agent x metric, the mean of the seeds' values after
training and the half-width of its 95% confidence interval from Student's t distribution with
``n - 1`` degrees of freedom (no interval with one seed).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

HIDDEN_METRICS = ("index",)
"""Final-info numbers left out of ``results.md`` (kept in ``results.json``): positions of the
example in its split and label/tag ids (``*_index``), which are not scores."""


def ci95(values: list[float]) -> tuple[float, float | None]:
    """Mean and the half-width of its 95% confidence interval (Student's t, ``n - 1`` degrees of
    freedom); the half-width is None for fewer than two values."""
    from scipy import stats

    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))


def shown(metric: str) -> bool:
    """Whether a metric goes into ``results.md``."""
    return metric not in HIDDEN_METRICS and not metric.endswith("_index")


def _groups(runs: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Runs by (env id, agent label), in the order they first appear."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        groups[(run["env_id"], run["agent"])].append(run)
    return groups


def _stat(values: list[float]) -> dict[str, Any]:
    mean, half = ci95(values)
    return {
        "n": len(values),
        "mean": mean,
        "ci95_low": None if half is None else mean - half,
        "ci95_high": None if half is None else mean + half,
    }


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per env x agent: mean and 95% CI over seeds of every evaluation metric after training,
    of the return before training, and of the training speed."""
    summary = []
    for (env_id, agent), group in _groups(runs).items():
        metrics: dict[str, dict[str, Any]] = {}
        names = sorted({key for run in group for key, value in run["eval_after"].items() if value is not None})
        for name in names:
            values = [run["eval_after"][name] for run in group if run["eval_after"].get(name) is not None]
            metrics[name] = _stat(values)
        before = [run["eval_before"]["return"] for run in group if run["eval_before"].get("return") is not None]
        speeds = [run["steps_per_second"] for run in group if run.get("steps_per_second") is not None]
        summary.append(
            {
                "env_id": env_id,
                "agent": agent,
                "seeds": sorted(run["seed"] for run in group),
                "metrics": metrics,
                "return_before": _stat(before) if before else None,
                "steps_per_second": _stat(speeds) if speeds else None,
            }
        )
    return summary


def _cell(stat: dict[str, Any] | None, digits: int = 4) -> str:
    if not stat:
        return ""
    mean = stat["mean"]
    if stat["ci95_high"] is None:
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {stat['ci95_high'] - mean:.2g}"


def results_markdown(results: dict[str, Any]) -> str:
    """``results.md``: one table per env, one row per agent, mean ± 95% CI half-width over seeds."""
    suite = results["suite"]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{results['generator']}` on {results['created']} (results.json schema version "
        f"{results['schema_version']}). {len(results['runs'])} runs; evaluation on the "
        f"`{suite['eval_split']}` split, {suite['eval_episodes']} seeded episodes before and after "
        f"training (the same episodes for every agent).",
        "",
        "Cells are the mean over seeds ± the half-width of the 95% confidence interval (Student's t, "
        "n - 1 degrees of freedom); a bare number means one seed. `budget` and `steps/s` are env "
        "steps (actions) of training. Learning curves: `curves/<env>.png`.",
    ]
    by_env: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in results["summary"]:
        by_env[row["env_id"]].append(row)
    budgets = {(run["env_id"], run["agent"]): run["budget"]["value"] for run in results["runs"]}
    for env_id, rows in by_env.items():
        metrics = sorted({m for row in rows for m in row["metrics"] if shown(m) and m != "return"})
        header = ["agent", "seeds", "budget", "return before", "return after", *metrics, "steps/s"]
        lines += ["", f"## {env_id}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in rows:
            cells = [
                row["agent"],
                str(len(row["seeds"])),
                str(budgets[(env_id, row["agent"])]),
                _cell(row["return_before"]),
                _cell(row["metrics"].get("return")),
                *(_cell(row["metrics"].get(m)) for m in metrics),
                _cell(row["steps_per_second"], 3),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(results: dict[str, Any], folder: Path) -> list[Path]:
    """One PNG per env: each agent's training return against env steps, the mean over seeds with
    a band from the lowest to the highest seed. Agents that do not learn have no curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for env_id, runs in _by_env(results["runs"]).items():
        figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
        drawn = 0
        for agent, group in _by_agent(runs).items():
            points: dict[int, list[float]] = defaultdict(list)
            for run in group:
                for point in run["learning_curve"]:
                    if point.get("return") is not None:
                        points[int(point["env_steps"])].append(float(point["return"]))
            if not points:
                continue
            steps = sorted(points)
            mean = np.array([np.mean(points[s]) for s in steps])
            line = axes.plot(steps, mean, marker="o", markersize=3, label=f"{agent} ({len(group)} seeds)")[0]
            if len(group) > 1:
                low = [min(points[s]) for s in steps]
                high = [max(points[s]) for s in steps]
                axes.fill_between(steps, low, high, color=line.get_color(), alpha=0.2)
            drawn += 1
        if drawn:
            axes.legend(fontsize=8)
        else:
            axes.text(0.5, 0.5, "no agent recorded a learning curve", ha="center", va="center", transform=axes.transAxes)
        axes.set_title(env_id)
        axes.set_xlabel("env steps of training")
        axes.set_ylabel("training episode return")
        axes.grid(alpha=0.3)
        figure.tight_layout()
        path = folder / f"{env_id.split('/')[-1]}.png"
        figure.savefig(path)
        plt.close(figure)
        written.append(path)
    return written


def _by_env(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        grouped[run["env_id"]].append(run)
    return grouped


def _by_agent(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        grouped[run["agent"]].append(run)
    return grouped
