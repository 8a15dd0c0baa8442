"""Checkpoints cannot run code: the env id must be registered (a ``module:`` prefix needs an
explicit opt-in), pickles in place of weights are refused, corrupt files are one error."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.errors import DialogEnvsError

TINY = dict(num_envs=2, updates=1, eval_every=0, progress=False, bf16="off", device="cpu",
            model_config={"n_layer": 1, "n_embd": 32, "n_head": 2})


class Marker:
    """Unpickling this creates ``path``: the proof that a file ran code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run") / "checkpoints" / "last"
    agent = TokenPGAgent("dialog_envs/NER-v0", TokenPGConfig(**TINY))
    agent.learn()
    agent.save(folder)
    agent.close()
    return folder


@pytest.fixture()
def checkpoint(trained: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run" / "checkpoints" / "best"
    shutil.copytree(trained, copy)
    return copy


def set_env_id(folder: Path, env_id: str) -> None:
    state = json.loads((folder / "state.json").read_text())
    state["env_id"] = env_id
    (folder / "state.json").write_text(json.dumps(state))


def test_a_module_prefix_in_a_checkpoint_is_refused(checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_env_id(checkpoint, "this:dialog_envs/NER-v0")
    with pytest.raises(DialogEnvsError, match="field 'env_id'.*import the module") as caught:
        TokenPGAgent.from_checkpoint(checkpoint)
    assert "state.json" in str(caught.value)
    assert "Zen of Python" not in capsys.readouterr().out
    set_env_id(checkpoint, "dialog_envs/NoSuchEnv-v0")
    with pytest.raises(DialogEnvsError, match="not registered"):
        TokenPGAgent.from_checkpoint(checkpoint)


def test_the_opt_in_trusts_a_module_prefix(checkpoint: Path) -> None:
    set_env_id(checkpoint, "dialog_envs:dialog_envs/NER-v0")
    agent = TokenPGAgent.from_checkpoint(checkpoint, allow_module_env_id=True)
    assert agent.update == 1
    agent.close()


def test_evaluate_does_not_import_a_module_placed_in_the_run_folder(checkpoint: Path) -> None:
    run = checkpoint.parent.parent
    marker = run / "imported"
    (run / "planted.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    set_env_id(checkpoint, "planted:dialog_envs/NER-v0")
    result = subprocess.run(
        [sys.executable, "-m", "dialog_envs.cli", "evaluate", "--checkpoint", str(checkpoint), "--episodes", "2"],
        cwd=run, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, sys.path))},  # the package these tests import
    )
    assert result.returncode == 2 and not marker.exists()
    assert "Traceback" not in result.stderr and "'env_id'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_pickle_in_place_of_safetensors_is_refused_without_running(checkpoint: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (checkpoint / "policy.safetensors").write_bytes(pickle.dumps(Marker(marker)))
    with pytest.raises(DialogEnvsError, match="policy.safetensors: cannot load"):
        TokenPGAgent.from_checkpoint(checkpoint)
    assert not marker.exists()


def test_a_pickled_object_in_the_optimizer_state_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (checkpoint / "optimizer.pt").write_bytes(pickle.dumps({"state": {}, "param_groups": [Marker(marker)]}))
    with pytest.raises(DialogEnvsError, match="optimizer.pt: cannot load"):
        TokenPGAgent.from_checkpoint(checkpoint)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["policy.safetensors", "optimizer.pt"])
def test_a_truncated_weight_file_is_one_error(checkpoint: Path, name: str) -> None:
    path = checkpoint / name
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DialogEnvsError, match=f"{name}: cannot load"):
        TokenPGAgent.from_checkpoint(checkpoint)
