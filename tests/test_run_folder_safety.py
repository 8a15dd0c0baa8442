"""A crash during the warm start resumes from its last checkpoint with no duplicate CSV rows, and
a run folder never follows a symbolic link out of itself."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from dialog_envs.agents.checkpoint import read_state
from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.errors import DialogEnvsError

TINY = dict(num_envs=2, updates=2, warm_start_updates=5, save_every=2, eval_every=0, progress=False, bf16="off",
            device="cpu", model_config={"n_layer": 1, "n_embd": 32, "n_head": 2})


class Crash(Exception):
    pass


class CrashingAgent(TokenPGAgent):
    """Dies in the middle of its fourth warm-start update, as a killed process would."""

    def _gradient_step(self, loss: torch.Tensor) -> None:
        if self.warm_start_done == 3:
            raise Crash
        super()._gradient_step(loss)


def rows(out: Path) -> list[list[str]]:
    return list(csv.reader((out / "metrics.csv").read_text().splitlines()))[1:]


def test_a_crash_in_the_warm_start_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    reference = TokenPGAgent("dialog_envs/NER-v0", TokenPGConfig(**TINY), out_dir=tmp_path / "whole")
    reference.learn()
    out = tmp_path / "crashed"
    with pytest.raises(Crash):
        CrashingAgent("dialog_envs/NER-v0", TokenPGConfig(**TINY), out_dir=out).learn()
    assert read_state(out / "checkpoints" / "last")["warm_start_done"] == 2
    resumed = TokenPGAgent.from_checkpoint(out / "checkpoints" / "last", out_dir=out)
    resumed.learn()
    assert resumed.warm_start_done == 5 and resumed.update == 2
    counts = Counter((row[0], row[1], row[2]) for row in rows(out))
    assert max(counts.values()) == 1  # no row twice
    assert sorted(counts) == sorted(Counter((row[0], row[1], row[2]) for row in rows(tmp_path / "whole")))
    for (name, a), (_, b) in zip(reference.policy.state_dict().items(), resumed.policy.state_dict().items()):
        assert torch.equal(a, b), name


def test_a_link_out_of_the_run_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    TokenPGAgent("dialog_envs/NER-v0", TokenPGConfig(**{**TINY, "warm_start_updates": 0, "updates": 1}), out_dir=out).learn()
    victim = tmp_path / "victim.csv"
    victim.write_text("update,phase,name,value,seconds\n9,train,return,1,0\nnot a row\n")
    (out / "metrics.csv").unlink()
    (out / "metrics.csv").symlink_to(victim)
    agent = TokenPGAgent.from_checkpoint(out / "checkpoints" / "last", out_dir=out, updates=2)
    with pytest.raises(DialogEnvsError, match="metrics.csv is a symbolic link to .*outside the run folder"):
        agent.learn()
    result = subprocess.run(
        [sys.executable, "-m", "dialog_envs.cli", "train", "--env", "NER-v0", "--out", str(out), "--set", "updates=2",
         "--set", "progress=false", "--set", "model_config={n_layer: 1, n_embd: 32, n_head: 2}"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr and "metrics.csv" in result.stderr
    assert victim.read_text() == "update,phase,name,value,seconds\n9,train,return,1,0\nnot a row\n"
    (out / "metrics.csv").unlink()
    (out / "inside.csv").write_text("")
    (out / "metrics.csv").symlink_to(out / "inside.csv")  # a link inside the folder is fine
    TokenPGAgent.from_checkpoint(out / "checkpoints" / "last", out_dir=out, updates=2).learn()
