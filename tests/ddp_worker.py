"""Run by ``torchrun`` in tests/test_ddp.py: a few data-parallel updates, then each rank writes a
checksum of its weights and the seeds of its first rollout."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.device import init_distributed
from dialog_envs.agents.token_pg import TokenPGAgent

if __name__ == "__main__":
    out = Path(sys.argv[1])
    assert init_distributed()
    config = TokenPGConfig(num_envs=4, updates=3, eval_every=0, progress=False, bf16="off", device="cpu",
                           model_config={"n_layer": 1, "n_embd": 32, "n_head": 2})
    agent = TokenPGAgent("dialog_envs/DialogueBLEU-v0", config, {"reward": "chrf"})  # chrF: nonzero from the start
    initial = torch.cat([p.detach().flatten().clone() for p in agent.policy.parameters()])
    seeds = agent._rollout_seeds()
    agent.learn()
    final = torch.cat([p.detach().flatten() for p in agent.policy.parameters()])
    rank = dist.get_rank()
    (out / f"rank{rank}.json").write_text(json.dumps({
        "weights": final.double().sum().item(), "abs": final.double().abs().sum().item(),
        "changed": (final - initial).abs().max().item(), "seeds": seeds,
    }))
    torch.save(final, out / f"rank{rank}.pt")
    dist.destroy_process_group()
