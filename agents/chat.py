"""A token-pg checkpoint as a chat agent (``reset()`` / ``reply(user_text)``), for ``dialog-envs serve``.

The policy must see the conversation exactly as it saw its observations in training, so the
conversation is formatted by the very env the checkpoint was trained on, never by a copy of its
rules:

* ``dialog_envs/SimUser-v0``: the env is built with the checkpoint's arguments and tokenizer, and
  the person in place of the simulated user (the env's ``user_factory``). Every user turn goes
  through the env's own encoding (``user: ...``, the ``db:`` line of its tracker when the checkpoint
  was trained with ``database_view``, ``agent:``), the reply is the policy's tokens up to the end
  of its turn, and with ``placeholders`` the reply is shown as the user reads it (filled in).
* ``dialog_envs/DialogueBLEU-v0`` is not served yet (the env takes its contexts from its data
  files only); :class:`CheckpointChat` says so in one line.

Each reply replays the conversation into a freshly reset env: the person's turns and the tokens
the policy chose before (the chosen reply's, in compare mode), then the policy writes the new reply
token by token. Replaying costs env steps, not forward passes, and lets :meth:`CheckpointConversation.reply_pair`
draw two replies from the same state: reply a greedy, reply b sampled with the checkpoint's
temperature, top-k and top-p. The turn limit of the env is lifted (``max_turns``): the server
decides when a conversation ends; every other setting is the checkpoint's.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.errors import DialogEnvsError
from dialog_envs.simuser.conversation import UserReply

SERVED_ENVS = ("dialog_envs/SimUser-v0",)
CHAT_MAX_TURNS = 10_000
"""The env's turn limit while chatting: high, so that the server's ``--max-turns`` ends a conversation."""


class _PersonUser:
    """The person's turns as the env's user: it says what the person said, in order.

    A reply being written has no answer yet: the user answers it with an empty turn, which the
    next replay replaces with the person's real one.
    """

    def __init__(self) -> None:
        self.turns: list[str] = []
        self._said = 0

    def reset(self, rng: np.random.Generator) -> str:
        self._said = 1
        return self.turns[0]

    def respond(self, agent_text: str, *, last_turn: bool = False) -> UserReply:
        text = self.turns[self._said] if self._said < len(self.turns) else ""
        self._said += 1
        return UserReply(text=text, reward=0.0, finished=False, success=False)

    def metrics(self) -> dict[str, Any]:
        return {"success": False}


class CheckpointChat:
    """A token-pg checkpoint loaded once; :meth:`conversation` gives each chat its own state.

    Args:
        folder: the checkpoint folder (holding ``state.json``).

    Raises:
        DialogEnvsError: not a checkpoint folder, or a checkpoint of an env that is not served.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        if not os.path.isfile(os.path.join(folder, "state.json")):
            raise DialogEnvsError(f"--checkpoint {str(folder)!r} is not a checkpoint folder; expected one holding state.json")
        self.agent = TokenPGAgent.from_checkpoint(folder, num_envs=1)
        if self.agent.env_id not in SERVED_ENVS:
            self.agent.close()
            raise DialogEnvsError(f"a checkpoint of {self.agent.env_id} cannot chat; expected one of {', '.join(SERVED_ENVS)}")
        self._policy_lock = threading.Lock()

    def make_env(self, user: _PersonUser) -> gym.Env:
        """The checkpoint's env with its arguments and tokenizer, and ``user`` as its user."""
        kwargs = {**self.agent.env_kwargs, "tokenizer": self.agent.tokenizer, "user_factory": lambda schema: user,
                  "max_turns": CHAT_MAX_TURNS}
        return gym.make(self.agent.env_id, **kwargs)

    def act(self, observation: dict[str, np.ndarray], greedy: bool) -> int:
        """The policy's next token for one observation (one forward at a time across sessions)."""
        with self._policy_lock:
            batch = {key: np.asarray(value)[None] for key, value in observation.items()}
            return int(self.agent.act(batch, None, deterministic=greedy)[0])

    def conversation(self) -> CheckpointConversation:
        """A new chat with this checkpoint (what ``dialog-envs serve`` builds per session)."""
        return CheckpointConversation(self)


class CheckpointConversation:
    """One chat with a :class:`CheckpointChat`: a :class:`~dialog_envs.web.app.ChatAgent` (``reply``)
    and a :class:`~dialog_envs.web.app.PairAgent` (``reply_pair`` then ``choose``)."""

    def __init__(self, chat: CheckpointChat) -> None:
        self.chat = chat
        self.user = _PersonUser()
        self.env = chat.make_env(self.user)
        self.replies: list[list[int]] = []
        """The tokens of each kept reply, as the policy wrote them (the end token included)."""
        self._candidates: tuple[list[int], list[int]] | None = None

    def reset(self) -> None:
        self.user.turns, self.replies, self._candidates = [], [], None

    def _write(self, greedy: bool) -> tuple[list[int], str]:
        """Replay the conversation, then let the policy write the next reply: its tokens and text."""
        observation, _ = self.env.reset(seed=0)
        for tokens in self.replies:
            for token in tokens:
                observation, *_ = self.env.step(token)
        tokens = []
        while True:
            token = self.chat.act(observation, greedy)
            observation, _, _, _, info = self.env.step(token)
            tokens.append(token)
            if info["end_of_turn"]:
                return tokens, info["agent_text"]

    def reply(self, user_text: str) -> str:
        """The greedy reply to ``user_text``, kept as the conversation's."""
        self.user.turns.append(user_text)
        tokens, text = self._write(greedy=True)
        self.replies.append(tokens)
        return text

    def reply_pair(self, user_text: str) -> tuple[str, str]:
        """Reply a (greedy) and reply b (sampled) to ``user_text``; :meth:`choose` keeps one."""
        if self._candidates is not None:  # the last pair was never chosen from: its user turn is dropped
            self.user.turns.pop()
        self.user.turns.append(user_text)
        (tokens_a, text_a), (tokens_b, text_b) = self._write(greedy=True), self._write(greedy=False)
        self._candidates = (tokens_a, tokens_b)
        return text_a, text_b

    def choose(self, preferred: Literal["a", "b"]) -> None:
        if self._candidates is None:
            raise DialogEnvsError("there is no pair of replies to choose from; call reply_pair first")
        self.replies.append(self._candidates[0 if preferred == "a" else 1])
        self._candidates = None
