"""The README's RL-from-feedback loop, end to end with tiny models: train an agent, rate it through
the web app, learn a reward model from the ratings, and continue the agent's RL on that reward."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest
import torch

from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.cli import main
from dialog_envs.feedback import read_feedback_log

TINY_AGENT = ["--set", "num_envs=4", "--set", "eval_every=0", "--set", "progress=false", "--set", "bf16=off",
              "--set", "model_config={n_layer: 1, n_embd: 32, n_head: 2}", "--report-split", "none"]
TINY_REWARD_MODEL = ["--set", "model_config={hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64}",
                     "--set", "vocab_size=300", "--set", "max_epochs=3", "--set", "progress=false", "--set", "device=cpu"]


def test_train_rate_reward_model_and_rl_on_it(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="the rating page needs fastapi")
    from fastapi.testclient import TestClient

    from dialog_envs.commands.serve import agent_factory
    from dialog_envs.web.app import ChatServer, create_app

    env = ["--env", "dialog_envs/DialogueBLEU-v0"]
    assert main(["train", *env, *TINY_AGENT, "--set", "warm_start_updates=3", "--set", "updates=1", "--out", str(tmp_path / "agent")]) == 0
    checkpoint = tmp_path / "agent" / "checkpoints" / "last"

    log = tmp_path / "feedback.jsonl"
    new_agent, name = agent_factory(argparse.Namespace(agent=None, checkpoint=checkpoint, agent_b=None, data_path=None, mode="rate"))
    with TestClient(create_app(ChatServer(new_agent, log, mode="rate", agent_name=name))) as client:
        for person in range(4):
            session = client.post("/api/sessions").json()["session"]
            for turn, text in enumerate(["where is my parcel?", "can I change the address?"]):
                assert client.post("/api/message", json={"session": session, "text": text}).status_code == 200
                assert client.post("/api/rate", json={"session": session, "rating": 1 + (person + turn) % 5}).status_code == 200
            assert client.post("/api/end", json={"session": session}).status_code == 200
    assert sum(record["event"] == "turn" for record in read_feedback_log(log)) == 8

    assert main(["reward-model", "train", "--log", str(log), "--out", str(tmp_path / "rm"), *TINY_REWARD_MODEL]) == 0

    rl = ["--set", f"init_from={checkpoint}", "--set", f"reward_model={tmp_path / 'rm'}", "--set", "kl_coef=0.1",
          "--set", "warm_start_updates=0", "--set", "updates=2"]
    assert main(["train", *env, *TINY_AGENT, *rl, "--out", str(tmp_path / "rlhf")]) == 0
    with open(tmp_path / "rlhf" / "metrics.csv", newline="") as handle:
        logged = {(row["phase"], row["name"]) for row in csv.DictReader(handle)}
    assert {("train", "kl"), ("train", "return")} <= logged
    start, after = TokenPGAgent.from_checkpoint(checkpoint), TokenPGAgent.from_checkpoint(tmp_path / "rlhf" / "checkpoints" / "last")
    weights = zip(start.policy.state_dict().values(), after.policy.state_dict().values())
    assert not all(torch.equal(a, b) for a, b in weights)  # RL moved the rated agent's policy
