"""Synthetic feedback logs for the reward model tests, and a tiny from-scratch reward model config.

The logs follow rules a model can only learn from the replies' text: a reply that thanks the user
is rated 5, any other 1; of two replies, the longer one is preferred.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from dialog_envs.agents.config import RewardModelConfig
from dialog_envs.feedback import SCHEMA_ID

USERS = ["where is my parcel", "i want to return my shoes", "can you help me please", "what are the fees", "track order 55"]
ANSWERS = ["it is on the way", "i can help with that", "sure, ask me anything", "here it is", "the fee is two euros",
           "your order left the shop", "the courier has it now", "it arrives on monday"]
SHORT = ["ok", "yes", "no", "fine", "done"]
LONG = ["let me look that up for you right now", "i will check the order status and tell you soon",
        "one moment while i read the tracking page for you"]

TINY = dict(
    model_config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64},
    vocab_size=300, max_length=64, batch_size=8, learning_rate=3e-3, device="cpu", progress=False,
)
"""RewardModelConfig fields of a tiny from-scratch encoder that learns the logs' rules in seconds."""


def tiny_config(**fields: Any) -> RewardModelConfig:
    """A :class:`RewardModelConfig` of :data:`TINY` with ``fields`` over it."""
    settings = dict(TINY)
    if fields.get("architecture") == "causal_lm":
        settings["model_config"] = {"n_layer": 1, "n_embd": 32, "n_head": 2}
    return RewardModelConfig(**{**settings, **fields})


def record(event: str, session: str, turn: int, user_text: str, **fields: Any) -> dict[str, Any]:
    """One feedback record of the schema."""
    return {"schema": SCHEMA_ID, "event": event, "session": session, "time": "2026-01-01T00:00:00+00:00",
            "agent": "test", "turn": turn, "user_text": user_text, **fields}


def write_log(path: Path, sessions: int = 12, turns: bool = True, preferences: bool = True, seed: int = 0) -> Path:
    """A log of ``sessions`` sessions of 6 records: rated turns ("thanks" -> 5, else 1) and/or
    preferences (the longer reply)."""
    rng = random.Random(seed)
    lines = []
    for session in range(sessions):
        for turn in range(1, 7):
            user = rng.choice(USERS)
            if turns and (turn % 2 or not preferences):
                thanks = rng.random() < 0.5
                reply = ("thanks, " if thanks else "") + rng.choice(ANSWERS)
                rating = 5 if thanks else 1
                lines.append(record("turn", f"s{session}", turn, user, agent_text=reply, rating=rating, reward=rating))
            elif preferences:
                short, long = rng.choice(SHORT), rng.choice(LONG)
                a, b, preferred = (short, long, "b") if rng.random() < 0.5 else (long, short, "a")
                lines.append(record("preference", f"s{session}", turn, user, reply_a=a, reply_b=b, preferred=preferred))
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path
