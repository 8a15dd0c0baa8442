"""Tiny envs for testing the agent: learnable in seconds, and one with a chatty simulated user."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from dialog_envs.tokenization import train_tokenizer

CUES = ("red", "green", "blue", "gold")
TARGETS = ("apple", "leaf", "sky", "coin")


class TargetTokenEnv(gym.Env):
    """The context is ``[BOS] cue``; the reply is one token; reward 1 when it is the cue's target word.

    A policy must read its context to solve it (four cues, four targets, a vocabulary of ~20).
    """

    metadata = {"render_modes": []}

    def __init__(self, split: str = "train", window: int = 4) -> None:
        self.tokenizer = train_tokenizer([" ".join(CUES + TARGETS + ("filler",))], kind="word")
        self.window = window
        vocab = len(self.tokenizer)
        self.action_space = spaces.Discrete(vocab)
        self.observation_space = spaces.Dict(
            {
                "input_ids": spaces.Box(0, vocab - 1, shape=(window,), dtype=np.int64),
                "attention_mask": spaces.Box(0, 1, shape=(window,), dtype=np.int64),
            }
        )
        self.split_size = len(CUES)
        self._cue = 0

    def _ids(self, *words: str) -> list[int]:
        return [self.tokenizer.convert_tokens_to_ids(word) for word in words]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._cue = seed % len(CUES) if options and options.get("index") == "seed" else int(self.np_random.integers(len(CUES)))
        ids = [self.tokenizer.bos_token_id] + self._ids(CUES[self._cue])
        self._obs = {"input_ids": np.zeros(self.window, dtype=np.int64), "attention_mask": np.zeros(self.window, dtype=np.int64)}
        self._obs["input_ids"][-2:] = ids
        self._obs["attention_mask"][-2:] = 1
        return {k: v.copy() for k, v in self._obs.items()}, {}

    def expert_action(self) -> int:
        return self._ids(TARGETS[self._cue])[0]

    def step(self, action):
        hit = int(action) == self.expert_action()
        self._obs["input_ids"][:-1] = self._obs["input_ids"][1:]
        self._obs["attention_mask"][:-1] = self._obs["attention_mask"][1:]
        self._obs["input_ids"][-1] = int(action)
        self._obs["attention_mask"][-1] = 1
        return {k: v.copy() for k, v in self._obs.items()}, float(hit), True, False, {"hit": hit}


class ChattyUserEnv(gym.Env):
    """Multi-turn: after each agent turn (ended by EOS or 3 tokens) a user appends 1-4 random tokens.

    Rewards +1 per turn whose first token is the user's last token. Exercises incremental prefill
    of variable-length appended blocks.
    """

    metadata = {"render_modes": []}

    def __init__(self, split: str = "train", turns: int = 3, window: int = 40) -> None:
        self.tokenizer = train_tokenizer([" ".join(f"w{i}" for i in range(12))], kind="word")
        self.turns, self.window = turns, window
        vocab = len(self.tokenizer)
        self.action_space = spaces.Discrete(vocab)
        self.observation_space = spaces.Dict(
            {
                "input_ids": spaces.Box(0, vocab - 1, shape=(window,), dtype=np.int64),
                "attention_mask": spaces.Box(0, 1, shape=(window,), dtype=np.int64),
            }
        )

    def _append(self, ids: list[int]) -> None:
        self._history.extend(ids)

    def _user_turn(self) -> None:
        self._append([int(t) for t in self.np_random.integers(7, len(self.tokenizer), size=int(self.np_random.integers(1, 5)))])

    def _observation(self) -> dict[str, np.ndarray]:
        ids = np.zeros(self.window, dtype=np.int64)
        mask = np.zeros(self.window, dtype=np.int64)
        ids[-len(self._history):] = self._history
        mask[-len(self._history):] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._history: list[int] = [self.tokenizer.bos_token_id]
        self._turn, self._turn_tokens = 0, 0
        self._user_turn()
        return self._observation(), {}

    def expert_action(self) -> int:
        return self._history[-1] if self._turn_tokens == 0 else self.tokenizer.eos_token_id

    def step(self, action):
        reward = float(self._turn_tokens == 0 and int(action) == self._history[-1])
        self._append([int(action)])
        self._turn_tokens += 1
        end_of_turn = int(action) == self.tokenizer.eos_token_id or self._turn_tokens == 3
        terminated = False
        if end_of_turn:
            self._turn += 1
            self._turn_tokens = 0
            terminated = self._turn == self.turns
            if not terminated:
                self._user_turn()
        return self._observation(), reward, terminated, False, {"end_of_turn": end_of_turn}


for _name, _cls in (("TargetToken-v0", TargetTokenEnv), ("ChattyUser-v0", ChattyUserEnv)):
    if f"tests/{_name}" not in gym.registry:
        gym.register(id=f"tests/{_name}", entry_point=f"tests.toy_envs:{_cls.__name__}")
