"""Data-parallel training: two CPU processes (gloo) under torchrun keep identical weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch


def test_two_ranks_keep_identical_weights(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "tests.ddp_worker", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert ranks[0]["seeds"] != ranks[1]["seeds"]  # each rank explores its own episodes
    assert ranks[0]["changed"] > 0  # training moved the weights
    assert torch.equal(torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt"))
