"""Learning-quality benchmarks on real data: does RL on these environments make a model better?

    python -m benchmarks.learning benchmarks/suites/conll2003.yaml [--only RUN,...] [--out FILE.json]

A suite is a YAML file (safe loader): one env (``env``, ``env_kwargs`` such as a ``data_path`` into
``../shared/data``), ``seeds``, ``test_episodes`` and ``runs``. A run is either

* the token-level agent (``agent: token-pg``, ``config:`` :class:`~dialog_envs.agents.config.TokenPGConfig`
  fields). Its warm start is the supervised fine-tuning (**SFT**) baseline and is evaluated on
  the test split; then **RL** from it with validation early stopping, and the checkpoint best on
  validation is evaluated on the test split (the seed's before/after protocol);
* a baseline of the benchmark harness (``agent: random | ppo | maskable-ppo | ...``, ``budget``
  env steps, ``config:`` its arguments), evaluated on the test split after training.

A run may override ``env_kwargs`` and ``seeds``. Test evaluations are greedy; ``test_episodes:
null`` walks every example of the test split (NER-v0: every sentence, so the token report's
support is the split's token count), a number plays that many seeded episodes. Each evaluation
reports the mean return and final-info metrics; NER adds the token-level classification report
and entity-level P/R/F1; reply envs add distinct-1/2, sample replies and (token-pg) the
references' perplexity under the policy.

The JSON (default ``benchmarks/results/<suite name>.json``) is rewritten after every run with
wall times; a run already in it is skipped, so an interrupted suite resumes. When a token-pg
run's RL stage fails, its SFT result, the error and the run's folder (checkpoints) are recorded,
the suite goes on, and the next invocation runs it again. A markdown summary
(``.md``) and the RL runs' validation curves (``_curves.png``) are written next to it.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.episodes import play_episodes
from dialog_envs.agents.evaluation import EvaluationReport, episode_report, evaluate_agent
from dialog_envs.agents.protocol import ExpertAgent, expert_actions
from dialog_envs.agents.registry import make
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.errors import DialogEnvsError


def load_suite(path: Path) -> dict[str, Any]:
    """Read and check a suite file; errors name the file and the field."""
    try:
        suite = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise DialogEnvsError(f"{path}: cannot read the suite: {error}") from None
    if not isinstance(suite, dict):
        raise DialogEnvsError(f"{path}: expected a mapping with env, runs, ...")
    for name in ("name", "env", "runs"):
        if name not in suite:
            raise DialogEnvsError(f"{path}: missing field {name!r}")
    for index, run in enumerate(suite["runs"]):
        if not isinstance(run, dict) or "name" not in run or "agent" not in run:
            raise DialogEnvsError(f"{path}: runs[{index}] needs a name and an agent")
        if run["agent"] != "token-pg" and "budget" not in run:
            raise DialogEnvsError(f"{path}: runs[{index}] ({run['name']}): a baseline needs a budget (env steps)")
    return suite


def evaluate_token_pg(agent: TokenPGAgent, test_episodes: int | None) -> dict[str, Any]:
    """The agent's greedy test report; for reply envs also the references' perplexity."""
    report = evaluate_agent(agent, "test", test_episodes)
    if "samples" in report.extras:
        report.extras["perplexity"] = math.exp(agent.expert_nll("test", test_episodes))
    return report.as_dict()


def run_token_pg(suite: dict[str, Any], run: dict[str, Any], env_kwargs: dict[str, Any], seed: int) -> dict[str, Any]:
    """SFT (the warm start), then RL with early stopping; both evaluated on the test split."""
    folder = Path(tempfile.mkdtemp(prefix=f"learning-{run['name']}-"))
    config = TokenPGConfig.from_dict({**run["config"], "seed": seed}, source=f"run {run['name']}")
    started = time.perf_counter()
    agent = TokenPGAgent(suite["env"], config, env_kwargs, out_dir=folder)
    agent.learn(updates=0)  # the warm start: supervised fine-tuning on the env's expert actions
    sft_seconds = time.perf_counter() - started
    sft = evaluate_token_pg(agent, suite.get("test_episodes"))
    started = time.perf_counter()
    try:
        history = agent.learn()
    except DialogEnvsError as error:  # keep the SFT result and the run's folder; the next invocation retries
        agent.close()
        print(f"{run['name']} seed {seed}: RL failed ({error}); checkpoints kept in {folder}", flush=True)
        return {"sft": sft, "rl_error": str(error), "run_folder": str(folder),
                "seconds": {"sft": round(sft_seconds, 1), "rl": round(time.perf_counter() - started, 1)}}
    rl_seconds = time.perf_counter() - started
    agent.close()
    best = folder / "checkpoints" / "best"
    chosen = TokenPGAgent.load(best if (best / "state.json").exists() else folder / "checkpoints" / "last", progress=False)
    rl = evaluate_token_pg(chosen, suite.get("test_episodes"))
    rl["update"] = chosen.update
    chosen.close()
    shutil.rmtree(folder, ignore_errors=True)
    return {"sft": sft, "rl": rl, "validation_history": history,
            "seconds": {"sft": round(sft_seconds, 1), "rl": round(rl_seconds, 1)}}


def run_baseline(suite: dict[str, Any], run: dict[str, Any], env_kwargs: dict[str, Any], seed: int) -> dict[str, Any]:
    """A harness agent trained for ``budget`` env steps, then its greedy test report."""
    started = time.perf_counter()
    agent = make(run["agent"], suite["env"], env_kwargs=env_kwargs, seed=seed, **run.get("config", {}))
    agent.learn(int(run["budget"]))
    train_seconds = time.perf_counter() - started
    act = expert_actions if isinstance(agent, ExpertAgent) else lambda obs, masks, envs: agent.act(obs, masks, True)
    returns, _, infos, metrics = play_episodes(act, suite["env"], env_kwargs, "test", suite.get("test_episodes"))
    report: EvaluationReport = episode_report("test", returns, infos, metrics)
    return {"after": report.as_dict(), "seconds": {"train": round(train_seconds, 1)}}


def headline(report: dict[str, Any], metrics: list[str]) -> dict[str, float]:
    """The suite's headline numbers of one test report (``token_micro_f1``, ``entity_f1``, ...)."""
    values = {**report["metrics"], **{k: v for k, v in report.items() if isinstance(v, (int, float))}}
    if "entity" in report:
        values.update({f"entity_{key}": value for key, value in report["entity"].items() if isinstance(value, float)})
    return {name: values[name] for name in metrics if name in values}


SECONDS_OF_STAGE = {"after": "train"}
"""Which wall time a summary row shows: its stage's (``sft``, ``rl``), a baseline's training."""


def summarize(suite: dict[str, Any], results: dict[str, Any]) -> str:
    """Markdown: per run, the headline metrics before (SFT) and after RL, mean over seeds."""
    metrics = suite.get("metrics", ["return"])
    lines = [f"# {suite['name']}: test split", "", f"Env `{suite['env']}`, {json.dumps(suite.get('env_kwargs', {}))}.", "",
             "| run | stage | seeds | " + " | ".join(metrics) + " | wall s |", "|---|---|---:|" + "---:|" * (len(metrics) + 1)]
    for name, seeds in results["runs"].items():
        stages = ("sft", "rl") if "sft" in next(iter(seeds.values())) else ("after",)
        for stage in stages:
            done = [record for record in seeds.values() if stage in record]
            if not done:
                lines.append(f"| {name} | {stage} | 0 | " + " | ".join("failed" for _ in metrics) + " | |")
                continue
            rows = [headline(record[stage], metrics) for record in done]
            cells = []
            for metric in metrics:
                values = [row[metric] for row in rows if metric in row]
                if not values:
                    cells.append("")
                elif len(values) > 1:
                    cells.append(f"{statistics.mean(values):.4f} ± {statistics.stdev(values) / len(values) ** 0.5:.4f}")
                else:
                    cells.append(f"{values[0]:.4f}")
            seconds = statistics.mean(record["seconds"][SECONDS_OF_STAGE.get(stage, stage)] for record in done)
            lines.append(f"| {name} | {stage} | {len(rows)} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    lines += ["", "Mean over seeds ± standard error. `sft`: the token-level agent after its supervised warm start; "
              "`rl`: after RL, the checkpoint best on validation; `after`: a baseline after its training budget."]
    return "\n".join(lines) + "\n"


def plot_curves(suite: dict[str, Any], results: dict[str, Any], path: Path) -> None:
    """Validation metric against RL updates, one line per token-pg run and seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    plotted = False
    metrics = {run["name"]: run["config"].get("eval_metric", "return") for run in suite["runs"] if run["agent"] == "token-pg"}
    for name, seeds in results["runs"].items():
        for seed, record in seeds.items():
            history = record.get("validation_history") or []
            metric = metrics.get(name, "return")
            if history:
                axes.plot([point["update"] for point in history], [point[metric] for point in history], marker="o",
                          label=f"{name} seed {seed} ({metric})")
                plotted = True
    if plotted:
        axes.set_xlabel("RL update")
        axes.set_ylabel("validation metric")
        axes.set_title(suite["name"])
        axes.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path, help="the suite's YAML file")
    parser.add_argument("--only", default=None, help="comma-separated run names (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default benchmarks/results/<name>.json)")
    args = parser.parse_args()
    try:
        suite = load_suite(args.suite)
    except DialogEnvsError as error:
        parser.exit(2, f"error: {error}\n")
    out = args.out or Path("benchmarks/results") / f"{suite['name']}.json"
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {"runs": {}}
    results.update(suite=suite, machine={"platform": platform.platform(), "torch": torch.__version__,
                                         "threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()})
    wanted = None if args.only is None else set(args.only.split(","))
    for run in suite["runs"]:
        if wanted is not None and run["name"] not in wanted:
            continue
        env_kwargs = {**suite.get("env_kwargs", {}), **run.get("env_kwargs", {})}
        for seed in run.get("seeds", suite.get("seeds", [0])):
            records = results["runs"].setdefault(run["name"], {})
            if str(seed) in records and "rl_error" not in records[str(seed)]:
                print(f"{run['name']} seed {seed}: already in {out}, skipped", flush=True)
                continue
            runner = run_token_pg if run["agent"] == "token-pg" else run_baseline
            records[str(seed)] = runner(suite, run, env_kwargs, seed)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(results, indent=1))
            print(write_reports(suite, results, out), flush=True)
    if results["runs"]:
        write_reports(suite, results, out)


def write_reports(suite: dict[str, Any], results: dict[str, Any], out: Path) -> str:
    """The markdown summary and the curves next to the JSON; returns the summary."""
    summary = summarize(suite, results)
    out.with_suffix(".md").write_text(summary)
    plot_curves(suite, results, out.with_name(f"{out.stem}_curves.png"))
    return summary


if __name__ == "__main__":
    main()
