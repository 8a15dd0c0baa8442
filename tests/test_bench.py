"""``dialog-envs bench`` under the budget protocol: outputs, schema, resume, mean and standard
error over seeds, plugins in the harness, and every bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import matplotlib.image
import pytest
import numpy as np
import torch

import dialog_envs
from dialog_envs.agents.bench_report import ci95, standard_error
from dialog_envs.agents.bench_suite import QUICK_TOKEN_PG, AgentEntry, EnvEntry, Suite, load_suite, quick_suite
from dialog_envs.agents.benchmark import RESULTS_SCHEMA, default_out, run_suite
from dialog_envs.cli import main
from dialog_envs.errors import DialogEnvsError

from tests.test_agent_registry import write_distribution, write_plugin

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarking.md"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def validate(results: dict) -> None:
    schema = json.loads(RESULTS_SCHEMA.read_text())
    jsonschema.validate(results, schema, cls=jsonschema.Draft202012Validator)


def check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory) -> Path:
    """One small benchmark through the command line, shared by the output tests."""
    out = tmp_path_factory.mktemp("bench")
    argv = [
        "bench", "--envs", "Sentiment-v0", "NER-v0", "--agents", "random", "ppo", "--seeds", "0", "1",
        "--budget", "128", "--eval-episodes", "4", "--torch-threads", "1", "--out", str(out),
        "-c", "ppo.n_steps=64", "-c", "ppo.batch_size=32", "--no-progress",
    ]
    assert main(argv) == 0
    return out


def test_bench_writes_all_three_outputs(bench_dir: Path, capsys) -> None:
    results = json.loads((bench_dir / "results.json").read_text())
    validate(results)
    assert len(results["runs"]) == 2 * 2 * 2 and len(list((bench_dir / "runs").glob("*.json"))) == 8
    for run in results["runs"]:
        assert run["budget"] == {"value": 128, "unit": "env_steps"} and run["protocol"] == "budget" and run["error"] is None
        test = run["evaluations"]["test"]
        assert set(test["before"]) >= {"return", "episode_length"}
        if run["agent"] == "ppo":
            assert run["train_env_steps"] == 128 and run["learning_curve"] and run["steps_per_second"] > 0
            assert run["agent_settings"]["n_steps"] == 64 and run["agent_config"] == {"n_steps": 64, "batch_size": 32}
        else:
            assert run["learning_curve"] == [] and test["before"] == test["after"]
    assert results["device"]["torch_threads"] == 1
    assert results["provenance"]["command"].startswith("dialog-envs bench --envs Sentiment-v0 NER-v0")
    assert results["provenance"]["converted"] is False
    assert results["package_versions"]["stable-baselines3"]
    markdown = (bench_dir / "results.md").read_text()
    assert "## dialog_envs/Sentiment-v0" in markdown and "## dialog_envs/NER-v0" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| ppo | after |"))
    assert "±" in row  # two seeds: a standard error
    for name in ("Sentiment-v0", "NER-v0"):
        check_png(bench_dir / "curves" / f"{name}.png")


def test_bench_resumes_finished_runs(bench_dir: Path) -> None:
    before = {path.name: path.read_text() for path in (bench_dir / "runs").glob("*.json")}
    argv = [
        "bench", "--envs", "Sentiment-v0", "NER-v0", "--agents", "random", "ppo", "--seeds", "0", "1", "2",
        "--budget", "128", "--eval-episodes", "4", "--torch-threads", "1", "--out", str(bench_dir),
        "-c", "ppo.n_steps=64", "-c", "ppo.batch_size=32", "--no-progress",
    ]
    assert main(argv) == 0
    results = json.loads((bench_dir / "results.json").read_text())
    validate(results)
    assert results["runs_resumed"] == 8 and len(results["runs"]) == 12  # only seed 2 ran
    assert len(list((bench_dir / "runs").glob("*.json"))) == 12
    after = {path.name: path.read_text() for path in (bench_dir / "runs").glob("*.json")}
    assert all(after[name] == text for name, text in before.items())


def test_summary_is_mean_and_standard_error_over_seeds(bench_dir: Path) -> None:
    results = json.loads((bench_dir / "results.json").read_text())
    row = next(r for r in results["summary"] if r["env_id"] == "dialog_envs/NER-v0" and r["agent"] == "ppo")
    runs = [run for run in results["runs"] if run["env_id"] == row["env_id"] and run["agent"] == "ppo"]
    values = [run["evaluations"]["test"]["after"]["return"] for run in runs]
    changes = [run["evaluations"]["test"]["after"]["return"] - run["evaluations"]["test"]["before"]["return"] for run in runs]
    after, change = row["evaluations"]["test"]["after"]["return"], row["evaluations"]["test"]["change"]["return"]
    n = len(values)
    assert n >= 2 and after["n"] == n and after["mean"] == pytest.approx(sum(values) / n)
    assert after["se"] == pytest.approx(float(np.std(values, ddof=1)) / n**0.5)
    mean, half = ci95(values)
    assert after["ci95_high"] == pytest.approx(mean + half)
    assert change["mean"] == pytest.approx(sum(changes) / n) and change["se"] == pytest.approx(standard_error(changes))
    markdown = (bench_dir / "results.md").read_text()
    line = next(line for line in markdown.splitlines() if line.startswith("| ppo | after |") and "±" in line)
    assert f"{after['mean']:.4f} ± {after['se']:.4f}" in markdown, line


def test_ci95_and_standard_error() -> None:
    mean, half = ci95([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302652729911275 / 3**0.5)
    assert ci95([5.0]) == (5.0, None)
    assert standard_error([1.0, 2.0, 3.0]) == pytest.approx(1 / 3**0.5) and standard_error([5.0]) is None


def test_the_terminal_shows_the_result_tables_of_results_md(bench_dir: Path) -> None:
    from dialog_envs.commands.bench import results_tables

    markdown = (bench_dir / "results.md").read_text()
    shown = results_tables(markdown)
    assert "## dialog_envs/Sentiment-v0" in shown and "## dialog_envs/NER-v0" in shown
    assert any(line.startswith("| ppo | after |") for line in shown.splitlines())
    assert "Written by" not in shown and "| agent | name | protocol |" not in shown  # tables of results only


def test_quick_suite_covers_every_env_with_three_agents() -> None:
    suite = quick_suite()
    assert [env.id for env in suite.envs] == dialog_envs.env_ids()
    assert [agent.name for agent in suite.agents] == ["random", "ppo", "token-pg"]
    assert suite.seeds == [0] and 0 < suite.budget <= 5000
    assert suite.agents[2].config["warm_start_updates"] > 0  # so that the short budget shows learning


def test_a_smaller_quick_run_with_token_pg(tmp_path) -> None:
    """The --quick agents on two envs with a smaller budget (the full --quick takes about a minute)."""
    suite = quick_suite()
    suite.envs = [EnvEntry("dialog_envs/NER-v0"), EnvEntry("dialog_envs/DialogueBLEU-v0")]
    suite.budget, suite.eval_episodes = 128, 4
    results = run_suite(suite, tmp_path, progress=False)
    validate(results)
    runs = {(run["env_id"], run["agent"]): run for run in results["runs"]}
    token_pg = runs[("dialog_envs/NER-v0", "token-pg")]
    assert token_pg["train_env_steps"] >= 128 and token_pg["learning_curve"]
    assert token_pg["agent_settings"]["num_envs"] == QUICK_TOKEN_PG["num_envs"]
    check_png(tmp_path / "curves" / "DialogueBLEU-v0.png")


def test_module_class_and_entry_point_agents_run_in_the_harness(tmp_path, monkeypatch) -> None:
    plugins = tmp_path / "site"
    plugins.mkdir()
    write_plugin(plugins)
    write_distribution(plugins, {"first-action": "throwaway_agents:FirstAction"})
    monkeypatch.syspath_prepend(str(plugins))
    out = tmp_path / "out"
    argv = [
        "bench", "--envs", "Sentiment-v0", "--agents", "first-action", "throwaway_agents:FirstAction",
        "--budget", "10", "--eval-episodes", "4", "--out", str(out), "-c", "throwaway_agents:FirstAction.offset=1",
        "--no-progress",
    ]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    validate(results)
    by_agent = {run["agent"]: run["evaluations"]["test"]["after"] for run in results["runs"]}
    assert by_agent["first-action"]["predicted_index"] == 0.0
    assert by_agent["throwaway_agents:FirstAction"]["predicted_index"] == 1.0


def test_the_documented_example_agent_runs_in_the_harness(tmp_path, monkeypatch) -> None:
    """The complete example of docs/benchmarking.md, as a user would save it, through the CLI."""
    code = re.search(r'```python\n("""my_agents\.py.*?)```', DOCS.read_text(), re.S).group(1)
    (tmp_path / "my_agents.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    argv = [
        "bench", "--envs", "NER-v0", "Sentiment-v0", "--agents", "random", "my_agents:BestActionAgent",
        "--budget", "400", "--eval-episodes", "8", "--out", str(out), "--no-progress",
    ]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    validate(results)
    ner = {run["agent"]: run for run in results["runs"] if run["env_id"] == "dialog_envs/NER-v0"}
    learned = ner["my_agents:BestActionAgent"]
    assert learned["train_env_steps"] == 400 and learned["learning_curve"]
    accuracy = {agent: run["evaluations"]["test"]["after"]["token_accuracy"] for agent, run in ner.items()}
    assert accuracy["my_agents:BestActionAgent"] > accuracy["random"] + 0.2


def test_list_agents(capsys) -> None:
    assert main(["bench", "--list-agents"]) == 0
    listed = capsys.readouterr().out
    assert "maskable-ppo" in listed and "token-pg" in listed and "built-in" in listed


V1 = "version: 1\n"
BAD_SUITES = {
    "syntax.yaml": (V1 + "envs: [NER-v0\nagents: [random]\n", "not valid YAML"),
    "list.yaml": ("- NER-v0\n- random\n", "expected a mapping"),
    "unknown_key.yaml": (V1 + "envs: [NER-v0]\nagents: [random]\nbudgett: 10\n", "unknown key.*budgett.*known keys"),
    "missing.yaml": (V1 + "envs: [NER-v0]\n", "missing key 'agents'"),
    "no_version.yaml": ("envs: [NER-v0]\nagents: [random]\n", "missing key 'version' \\(suite format version 1\\)"),
    "future_version.yaml": ("version: 7\nenvs: [NER-v0]\nagents: [random]\n", "version must be 1.*got 7"),
    "bad_env.yaml": (V1 + "envs: [Nope-v0]\nagents: [random]\n", "unknown environment 'Nope-v0'; available"),
    "bad_agent.yaml": (V1 + "envs: [NER-v0]\nagents: [nope]\n", "unknown agent 'nope'; available: random"),
    "bad_budget.yaml": (V1 + "envs: [NER-v0]\nagents: [random]\nbudget: 0\n", "budget must be an integer > 0"),
    "bad_entry.yaml": (V1 + "envs: [NER-v0]\nagents: [{config: {}}]\n", r"agents\[0\] must be a name or a mapping"),
    "bad_protocol.yaml": (V1 + "envs: [NER-v0]\nagents: [random]\nprotocol: rlhf\n", "protocol must be one of budget, sft_then_rl, got 'rlhf'"),
    "sft_ppo.yaml": (V1 + "envs: [NER-v0]\nagents: [{name: ppo, protocol: sft_then_rl}]\n",
                     r"agents\[0\] \(ppo\): protocol sft_then_rl needs the token-pg agent"),
    "sft_budget.yaml": (V1 + "envs: [NER-v0]\nprotocol: sft_then_rl\nagents: [{name: token-pg, budget: 10}]\n",
                        r"agents\[0\] \(token-pg\): protocol sft_then_rl takes no budget"),
    "sft_config.yaml": (V1 + "envs: [NER-v0]\nprotocol: sft_then_rl\nagents: [{name: token-pg, config: {updatez: 1}}]\n",
                        r"agents\[0\] \(token-pg\): config: unknown field\(s\) updatez"),
    "bad_episodes.yaml": (V1 + "envs: [NER-v0]\nagents: [random]\neval_episodes: 0\n", "eval_episodes must be an integer > 0 or null"),
    "bad_split.yaml": (V1 + "envs: [NER-v0]\nagents: [random]\neval_splits: [dev]\n", "unknown split 'dev'"),
    "unsafe.yaml": (V1 + "envs: !!python/object/apply:os.system ['true']\nagents: [random]\n", "not valid YAML"),
}


@pytest.mark.parametrize("name", sorted(BAD_SUITES))
def test_bad_suites_give_one_clear_line(name: str, tmp_path, capsys) -> None:
    text, message = BAD_SUITES[name]
    path = tmp_path / name
    path.write_text(text)
    assert main(["bench", "--suite", str(path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert re.search(message, error), error
    assert "Traceback" not in error and str(path) in error and error.count("\n") == 1
    assert not (tmp_path / "out" / "runs").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--envs", "Nope-v0"], "unknown environment 'Nope-v0'; available: dialog_envs/NER-v0"),
        (["--agents", "nope"], "unknown agent 'nope'; available: random, expert, ppo"),
        (["--budget", "0"], "budget must be an integer > 0"),
        (["--budget", "-5"], "budget must be an integer > 0"),
        (["--eval-episodes", "0"], "eval_episodes must be an integer > 0"),
        (["--seeds", "-1"], "seeds must be integers >= 0"),
        (["-c", "ppo.n_steps"], "is not AGENT.KEY=VALUE"),
        (["-c", "dqn.gamma=0.5"], "names agent.*dqn.*that the suite lacks"),
        (["--quick", "--suite", "x.yaml"], "--suite or --quick, not both"),
        (["--suite", "missing.yaml"], "missing.yaml: cannot read the suite"),
        (["-k", "novalue"], "is not KEY=VALUE"),
    ],
)
def test_bad_options_give_one_clear_line(extra: list[str], message: str, tmp_path, capsys) -> None:
    assert main(["bench", "--envs", "Sentiment-v0", "--agents", "random", "ppo", "--out", str(tmp_path), *extra]) == 2
    error = capsys.readouterr().err
    assert re.search(message, error), error
    assert "Traceback" not in error and error.count("\n") == 1


def test_results_go_under_runs_by_default() -> None:
    suite = quick_suite()
    assert default_out(suite) == Path("runs/quick")
    suite.name = "my suite/1"
    assert default_out(suite) == Path("runs/1")


def test_only_runs_the_named_agents(tmp_path, capsys) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(V1 + "envs: [Sentiment-v0]\nagents: [random, expert]\neval_episodes: 4\n")
    assert main(["bench", "--suite", str(path), "--only", "expert", "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [run["agent"] for run in results["runs"]] == ["expert"] and results["suite"]["name"] == "two"
    assert main(["bench", "--suite", str(path), "--only", "ppo", "--out", str(tmp_path / "out")]) == 2
    assert "--only names agent(s) ppo that the suite lacks" in capsys.readouterr().err


def test_suite_in_python_checks_labels(tmp_path) -> None:
    suite = Suite(envs=[EnvEntry("dialog_envs/Sentiment-v0")], agents=[AgentEntry("random"), AgentEntry("random")])
    with pytest.raises(DialogEnvsError, match="appear twice"):
        run_suite(suite, tmp_path)


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "benchmarks" / "suites").glob("*.yaml")), ids=lambda p: p.name)
def test_every_committed_suite_is_valid(path: Path) -> None:
    suite = load_suite(path)
    assert suite.name == path.stem and suite.envs and suite.agents
