"""The benchmark's report: the summary in ``results.json``, ``results.md`` and the curve PNGs.

Statistics are over seeds: for each env x agent x split x metric, the mean of the seeds' values,
its standard error (sample standard deviation / sqrt(n)) and the 95% confidence interval from
Student's t distribution with ``n - 1`` degrees of freedom (no spread with one seed). ``change``
is the per-seed difference after - before (paired), with the same statistics. Failed cells are
left out of the statistics and listed under their table.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

HIDDEN_METRICS = ("index",)
"""Metrics left out of ``results.md`` (kept in ``results.json``): positions of the example in its
split and label/tag ids (``*_index``), which are not scores."""
STAGE_NAMES = {"budget": ("before", "after"), "sft_then_rl": ("sft", "rl")}
"""How ``results.md`` names the policy before and after training under each protocol."""


def standard_error(values: list[float]) -> float | None:
    """Sample standard deviation over sqrt(n); None for fewer than two values."""
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) >= 2 else None


def ci95(values: list[float]) -> tuple[float, float | None]:
    """Mean and the half-width of its 95% confidence interval (Student's t, ``n - 1`` degrees of
    freedom); the half-width is None for fewer than two values."""
    from scipy import stats

    mean = math.fsum(values) / len(values)
    se = standard_error(values)
    if se is None:
        return mean, None
    return mean, float(stats.t.ppf(0.975, len(values) - 1) * se)


def stat(values: list[float]) -> dict[str, Any]:
    """``n``, ``mean``, standard error ``se`` and the 95% interval of ``values`` (over seeds)."""
    mean, half = ci95(values)
    return {
        "n": len(values),
        "mean": mean,
        "se": standard_error(values),
        "ci95_low": None if half is None else mean - half,
        "ci95_high": None if half is None else mean + half,
    }


def shown(metric: str) -> bool:
    """Whether a metric goes into ``results.md``."""
    return metric not in HIDDEN_METRICS and not metric.endswith("_index")


def _group(runs: list[dict[str, Any]], *keys: str) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    """Runs by the values of ``keys``, in the order they first appear."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        groups[tuple(run[key] for key in keys)].append(run)
    return groups


def _numbers(runs: list[dict[str, Any]], pick: Any) -> list[float]:
    values = [pick(run) for run in runs]
    return [float(value) for value in values if isinstance(value, (int, float)) and not isinstance(value, bool)]


def _split_summary(group: list[dict[str, Any]], split: str) -> dict[str, dict[str, Any]]:
    """Per stage (``before``, ``after``, ``change``) and metric, the statistics over the seeds
    that have the stage (a failed cell has ``before`` only)."""
    summary: dict[str, dict[str, Any]] = {"before": {}, "after": {}, "change": {}}
    stages = [run["evaluations"].get(split, {}) for run in group]
    names = sorted({name for stage in stages for metrics in stage.values() for name in metrics})
    for name in names:
        for stage in ("before", "after"):
            values = _numbers(stages, lambda s: s.get(stage, {}).get(name))
            if values:
                summary[stage][name] = stat(values)
        changes = [
            s["after"][name] - s["before"][name] for s in stages
            if isinstance(s.get("before", {}).get(name), (int, float)) and isinstance(s.get("after", {}).get(name), (int, float))
        ]
        if changes:
            summary["change"][name] = stat(changes)
    return summary


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per env x agent: the statistics over seeds of every metric on every split before and after
    training and of their change, of training wall seconds and of training speed (finished cells)."""
    rows = []
    for (env_id, agent), group in _group(runs, "env_id", "agent").items():
        finished = [run for run in group if not run.get("error")]
        splits = sorted({split for run in group for split in run["evaluations"]})
        learning = _numbers(finished, lambda run: run["wall_seconds"]["warm_start"] + run["wall_seconds"]["train"])
        speeds = _numbers(finished, lambda run: run.get("steps_per_second"))
        rows.append(
            {
                "env_id": env_id,
                "agent": agent,
                "protocol": group[0]["protocol"],
                "seeds": sorted(run["seed"] for run in finished),
                "failed_seeds": sorted(run["seed"] for run in group if run.get("error")),
                "evaluations": {split: _split_summary(group, split) for split in splits},
                "train_seconds": stat(learning) if learning else None,
                "steps_per_second": stat(speeds) if speeds else None,
            }
        )
    return rows


def _cell(value: dict[str, Any] | None, digits: int = 4, signed: bool = False) -> str:
    if not value:
        return ""
    number = f"{value['mean']:+.{digits}f}" if signed else f"{value['mean']:.{digits}f}"
    return number if value["se"] is None else f"{number} ± {value['se']:.{digits}f}"


def _provenance_line(results: dict[str, Any]) -> str:
    provenance = results.get("provenance") or {}
    parts = [f"Written by `{results['generator']}` on {results['created']} (results.json schema version {results['schema_version']})"]
    if provenance.get("commit"):
        parts.append(f"from commit {provenance['commit'][:12]}" + (" with uncommitted changes" if provenance.get("dirty") else ""))
    line = " ".join(parts) + "."
    if provenance.get("command"):
        line += f" Command: `{provenance['command']}`."
    if provenance.get("note"):
        line += f" {provenance['note']}"
    return line


def results_markdown(results: dict[str, Any]) -> str:
    """``results.md``: the agents, then per env and split a table with one row per agent and
    stage, mean ± standard error over seeds."""
    suite = results["suite"]
    episodes = suite["eval_episodes"]
    lines = [
        f"# {suite['name']}",
        "",
        _provenance_line(results),
        f"{len(results['runs'])} cells ({results['runs_resumed']} read back from runs/). Evaluations are greedy, on "
        + ("every example of the split" if episodes is None else f"{episodes} seeded episodes (the same for every agent)") + ".",
        "",
        "Cells are the mean over seeds ± the standard error (a bare number: one seed). `before`/`after`: the "
        "policy before and after its training budget (env steps); `sft`/`rl`: the token-level agent after its "
        "supervised warm start and the RL checkpoint chosen on validation; `change`: after - before per seed. "
        "`train s` is the wall time of training (warm start included), evaluations apart.",
        "",
        "| agent | name | protocol | budget (env steps) | config |",
        "|---|---|---|---:|---|",
    ]
    for agent in suite["agents"]:
        protocol = agent["protocol"] or suite["protocol"]
        budget = "" if protocol == "sft_then_rl" else str(agent["budget"] or suite["budget"])
        config = json.dumps({**agent["config"], **({"env_kwargs": agent["env_kwargs"]} if agent.get("env_kwargs") else {})})
        lines.append(f"| {agent['label'] or agent['name']} | {agent['name']} | {protocol} | {budget} | `{config}` |")
    for env_id, rows in _group(results["summary"], "env_id").items():
        env = next((e for e in suite["envs"] if e["id"] == env_id[0]), {"kwargs": {}})
        lines += ["", f"## {env_id[0]}"] + (["", f"Env arguments: `{json.dumps(env['kwargs'])}`."] if env["kwargs"] else [])
        for split in suite["eval_splits"]:
            lines += _split_table(rows, split, suite.get("metrics"))
        failures = [run for run in results["runs"] if run["env_id"] == env_id[0] and run.get("error")]
        if failures:
            lines += [""] + [f"- failed: {run['agent']} seed {run['seed']}: {run['error']}" for run in failures]
    curves = sorted({Path(name).name for name in results.get("curve_files", [])})
    if curves:
        lines += ["", "Curves: " + ", ".join(f"`curves/{name}`" for name in curves) + "."]
    return "\n".join(lines) + "\n"


def _split_table(rows: list[dict[str, Any]], split: str, wanted: list[str] | None) -> list[str]:
    present = {name for row in rows for stage in row["evaluations"].get(split, {}).values() for name in stage}
    if wanted:
        metrics = list(wanted)
    else:
        metrics = sorted((name for name in present if shown(name)), key=lambda name: (name != "return", name))
    header = ["agent", "stage", "seeds", *metrics, "train s", "steps/s"]
    lines = ["", f"### {split} split", "", "| " + " | ".join(header) + " |", "|---|---|---:|" + "---:|" * (len(metrics) + 2)]
    for row in rows:
        evaluation = row["evaluations"].get(split, {})
        for stage, name in zip(("before", "after"), STAGE_NAMES[row["protocol"]]):
            stats = evaluation.get(stage, {})
            seeds = max((value["n"] for value in stats.values()), default=0)
            if not seeds:
                lines.append(f"| {row['agent']} | {name} | 0 | " + " | ".join("failed" for _ in metrics) + " | | |")
                continue
            extra = [_cell(row["train_seconds"], 1), _cell(row["steps_per_second"], 0)] if stage == "after" else ["", ""]
            cells = [_cell(stats.get(metric)) for metric in metrics]
            lines.append("| " + " | ".join([row["agent"], name, str(seeds), *cells, *extra]) + " |")
        change = evaluation.get("change", {})
        if any(change.get(metric, {}).get("mean") for metric in metrics):
            cells = [_cell(change.get(metric), signed=True) for metric in metrics]
            seeds = max(value["n"] for value in change.values())
            lines.append("| " + " | ".join([row["agent"], "change", str(seeds), *cells, "", ""]) + " |")
    return lines


def _mean_band(points: dict[float, list[float]]) -> tuple[list[float], list[float], list[float], bool]:
    xs = sorted(points)
    means = [math.fsum(points[x]) / len(points[x]) for x in xs]
    errors = [standard_error(points[x]) or 0.0 for x in xs]
    spread = any(len(points[x]) > 1 for x in xs)
    return xs, means, errors, spread


def _plot(series: dict[str, dict[float, list[float]]], seeds: dict[str, int], title: str, xlabel: str, ylabel: str, path: Path) -> None:
    """One line per agent, the mean over seeds with a band of ± one standard error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    for agent, points in series.items():
        xs, means, errors, spread = _mean_band(points)
        line = axes.plot(xs, means, marker="o", markersize=3, label=f"{agent} ({seeds[agent]} seeds)")[0]
        if spread:
            axes.fill_between(xs, [m - e for m, e in zip(means, errors)], [m + e for m, e in zip(means, errors)],
                              color=line.get_color(), alpha=0.2)
    if series:
        axes.legend(fontsize=8)
    else:
        axes.text(0.5, 0.5, "no agent recorded a learning curve", ha="center", va="center", transform=axes.transAxes)
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


FRONTIER_POINTS = 20
"""How many points a reward-KL line has: each averages a window of consecutive RL updates."""


def frontier_points(runs: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Mean per-token KL to the reference and mean training return of ``runs`` (seeds of one
    agent) through training: each point averages a window of updates, over the seeds."""
    by_update: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for run in runs:
        for point in run.get("update_stats", []):
            if point.get("kl") is not None and point.get("return") is not None:
                by_update[int(point["update"])].append((float(point["kl"]), float(point["return"])))
    updates = sorted(by_update)
    window = max(1, math.ceil(len(updates) / FRONTIER_POINTS))
    kls, rewards = [], []
    for start in range(0, len(updates), window):
        pairs = [pair for update in updates[start:start + window] for pair in by_update[update]]
        kls.append(math.fsum(kl for kl, _ in pairs) / len(pairs))
        rewards.append(math.fsum(reward for _, reward in pairs) / len(pairs))
    return kls, rewards


def _plot_frontier(lines: dict[str, tuple[list[float], list[float]]], title: str, path: Path) -> None:
    """Training reward against KL to the reference, one line per agent (Gao et al. 2022's picture)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    for agent, (kls, rewards) in lines.items():
        line = axes.plot(kls, rewards, marker="o", markersize=3, label=agent)[0]
        axes.annotate("end", (kls[-1], rewards[-1]), fontsize=7, color=line.get_color())
    axes.legend(fontsize=8)
    axes.set_title(title)
    axes.set_xlabel("mean per-token KL to the reference policy")
    axes.set_ylabel("training episode return")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def plot_curves(results: dict[str, Any], folder: Path) -> list[Path]:
    """Per env: ``<env>.png``, each agent's training return against env steps (``budget`` cells),
    and, when there are ``sft_then_rl`` cells, ``<env>_validation.png``, the validation metric
    the agent selects on against RL updates, and when RL updates logged a KL, ``<env>_reward_kl.png``,
    the training return against the KL to the reference through training. Mean over seeds ± one
    standard error."""
    written = []
    for (env_id,), runs in _group(results["runs"], "env_id").items():
        finished = [run for run in runs if not run.get("error")]
        name = env_id.split("/")[-1]
        training: dict[str, dict[float, list[float]]] = {}
        validation: dict[str, dict[float, list[float]]] = {}
        seeds: dict[str, int] = defaultdict(int)
        metrics: set[str] = set()
        for run in finished:
            seeds[run["agent"]] += 1
            for point in run["learning_curve"]:
                if point.get("return") is not None:
                    training.setdefault(run["agent"], defaultdict(list))[float(point["env_steps"])].append(float(point["return"]))
            metric = (run.get("agent_settings") or {}).get("eval_metric", "return")
            for point in run["validation_history"]:
                if point.get(metric) is not None:
                    metrics.add(metric)
                    validation.setdefault(run["agent"], defaultdict(list))[float(point["update"])].append(float(point[metric]))
        path = folder / f"{name}.png"
        _plot(training, seeds, env_id, "env steps of training", "training episode return", path)
        written.append(path)
        if validation:
            path = folder / f"{name}_validation.png"
            _plot(validation, seeds, env_id, "RL update", f"validation {', '.join(sorted(metrics))}", path)
            written.append(path)
        frontier = {f"{agent} ({len(group)} seeds)": frontier_points(group)
                    for (agent,), group in _group(finished, "agent").items()}
        frontier = {agent: points for agent, points in frontier.items() if points[0]}
        if frontier:
            path = folder / f"{name}_reward_kl.png"
            _plot_frontier(frontier, f"{env_id}: reward against KL", path)
            written.append(path)
    return written


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a temporary file renamed over the target)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    os.replace(staging, path)


def write_reports(results: dict[str, Any], out: Path) -> dict[str, Any]:
    """Add the summary to ``results``, draw the curves and write ``results.json`` and
    ``results.md`` into ``out``; returns ``results``."""
    results["summary"] = summarize(results["runs"])
    results["curve_files"] = [str(path.relative_to(out)) for path in plot_curves(results, out / "curves")]
    write_json(out / "results.json", results)
    (out / "results.md").write_text(results_markdown(results))
    return results
