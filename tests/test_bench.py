"""``dialog-envs bench``: outputs, schema, resume, plugins in the harness, and every bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import matplotlib.image
import pytest
import torch

import dialog_envs
from dialog_envs.agents.bench_report import ci95
from dialog_envs.agents.benchmark import QUICK_TOKEN_PG, RESULTS_SCHEMA, AgentEntry, EnvEntry, Suite, quick_suite, run_suite
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
        assert run["budget"] == {"value": 128, "unit": "env_steps"}
        assert set(run["eval_before"]) >= {"return", "episode_length"}
        if run["agent"] == "ppo":
            assert run["train_env_steps"] == 128 and run["learning_curve"] and run["steps_per_second"] > 0
            assert run["agent_settings"]["n_steps"] == 64 and run["agent_config"] == {"n_steps": 64, "batch_size": 32}
        else:
            assert run["learning_curve"] == [] and run["eval_before"] == run["eval_after"]
    assert results["device"]["torch_threads"] == 1
    assert results["package_versions"]["stable-baselines3"]
    markdown = (bench_dir / "results.md").read_text()
    assert "## dialog_envs/Sentiment-v0" in markdown and "## dialog_envs/NER-v0" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| ppo |") and "token_accuracy" not in line)
    assert "±" in row  # two seeds: an interval
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
    after = {path.name: path.read_text() for path in (bench_dir / "runs").glob("*.json")}
    assert all(after[name] == text for name, text in before.items())


def test_summary_statistics_are_t_intervals(bench_dir: Path) -> None:
    results = json.loads((bench_dir / "results.json").read_text())
    row = next(r for r in results["summary"] if r["env_id"] == "dialog_envs/NER-v0" and r["agent"] == "ppo")
    values = [run["eval_after"]["return"] for run in results["runs"] if run["env_id"] == row["env_id"] and run["agent"] == "ppo"]
    mean, half = ci95(values)
    assert row["metrics"]["return"]["mean"] == pytest.approx(mean)
    if half is not None:
        assert row["metrics"]["return"]["ci95_high"] == pytest.approx(mean + half)


def test_ci95() -> None:
    mean, half = ci95([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302652729911275 / 3**0.5)
    assert ci95([5.0]) == (5.0, None)


def test_quick_suite_covers_every_env_with_three_agents() -> None:
    suite = quick_suite()
    assert [env.id for env in suite.envs] == dialog_envs.env_ids()
    assert [agent.name for agent in suite.agents] == ["random", "ppo", "token-pg"]
    assert suite.seeds == [0] and 0 < suite.budget <= 5000


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
    by_agent = {run["agent"]: run for run in results["runs"]}
    assert by_agent["first-action"]["eval_after"]["predicted_index"] == 0.0
    assert by_agent["throwaway_agents:FirstAction"]["eval_after"]["predicted_index"] == 1.0


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
    assert learned["eval_after"]["token_accuracy"] > ner["random"]["eval_after"]["token_accuracy"] + 0.2


def test_list_agents(capsys) -> None:
    assert main(["bench", "--list-agents"]) == 0
    listed = capsys.readouterr().out
    assert "maskable-ppo" in listed and "token-pg" in listed and "built-in" in listed


BAD_SUITES = {
    "syntax.yaml": ("envs: [NER-v0\nagents: [random]\n", "not valid YAML"),
    "list.yaml": ("- NER-v0\n- random\n", "expected a mapping"),
    "unknown_key.yaml": ("envs: [NER-v0]\nagents: [random]\nbudgett: 10\n", "unknown key.*budgett.*known keys"),
    "missing.yaml": ("envs: [NER-v0]\n", "missing key 'agents'"),
    "bad_env.yaml": ("envs: [Nope-v0]\nagents: [random]\n", "unknown environment 'Nope-v0'; available"),
    "bad_agent.yaml": ("envs: [NER-v0]\nagents: [nope]\n", "unknown agent 'nope'; available: random"),
    "bad_budget.yaml": ("envs: [NER-v0]\nagents: [random]\nbudget: 0\n", "budget must be an integer > 0"),
    "bad_entry.yaml": ("envs: [NER-v0]\nagents: [{config: {}}]\n", r"agents\[0\] must be a name or a mapping"),
    "unsafe.yaml": ("envs: !!python/object/apply:os.system ['true']\nagents: [random]\n", "not valid YAML"),
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


def test_out_is_required(capsys) -> None:
    assert main(["bench", "--quick"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err


def test_suite_in_python_checks_labels(tmp_path) -> None:
    suite = Suite(envs=[EnvEntry("dialog_envs/Sentiment-v0")], agents=[AgentEntry("random"), AgentEntry("random")])
    with pytest.raises(DialogEnvsError, match="appear twice"):
        run_suite(suite, tmp_path)
