"""Bad input on the command line is one line naming the file or argument, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dialog_envs.cli import main
from dialog_envs.envs.sentiment import SentimentEnv
from dialog_envs.errors import DialogEnvsError


def test_eval_ner_with_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = tmp_path / "gold.txt"
    gold.write_text("EU B-ORG\n")
    assert main(["eval-ner", "--gold", str(gold), "--predictions", str(tmp_path / "missing.txt")]) == 2
    error = capsys.readouterr().err
    assert "missing.txt" in error and len(error.strip().splitlines()) == 1


def test_nested_json_goal_file_in_a_subprocess_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"turns": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    code = "import dialog_envs.data.dialogue as d; d.read_jsonl(%r)" % str(path)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "nested too deeply" in result.stderr and "RecursionError" not in result.stderr


def test_an_empty_split_is_refused_before_training(tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl"
    path.write_text('{"text": "good", "label": "positive"}\n{"text": "bad", "label": "negative"}\n')
    with pytest.raises(DialogEnvsError, match="split 'validation' of data_path .*two.jsonl.* has no examples"):
        SentimentEnv(data_path=path, split="validation")


def test_yaml_python_tags_are_refused_without_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    config = tmp_path / "evil.yaml"
    config.write_text(f'learning_rate: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ["{marker}"]]\n')
    assert main(["train", "--env", "NER-v0", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    assert not marker.exists() and "cannot read the config" in capsys.readouterr().err
    suite = tmp_path / "suite.yaml"
    suite.write_text(f'version: 1\nenvs: [!!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ["{marker}"]]]\n')
    assert main(["bench", "--suite", str(suite), "--out", str(tmp_path / "bench")]) == 2
    assert not marker.exists()


@pytest.mark.parametrize("label", ["../../escape", "/etc/passwd", "a/../../b", "..", "\x00nul"])
def test_agent_labels_never_become_paths_outside_the_output(label: str, tmp_path: Path) -> None:
    from dialog_envs.agents.bench_suite import AgentEntry, EnvEntry, Suite
    from dialog_envs.agents.benchmark import cell_stem

    env, agent = EnvEntry("dialog_envs/NER-v0"), AgentEntry("random", label=label)
    stem = cell_stem(env, agent, 0, Suite(envs=[env], agents=[agent]))
    path = (tmp_path / "runs" / f"{stem}.json").resolve()
    assert path.parent == (tmp_path / "runs").resolve() and "\x00" not in stem and not stem.startswith(".")
