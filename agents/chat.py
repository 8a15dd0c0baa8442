"""A token-pg checkpoint as a chat agent (``reset()`` / ``reply(user_text)``), for ``dialog-envs serve``.

The policy must see the conversation exactly as it saw its observations in training, so the
conversation is formatted by the very env the checkpoint was trained on, never by a copy of its
rules:

* ``dialog_envs/SimUser-v0``: the env is built with the person in place of the simulated user
  (its ``user_factory``). Every user turn goes through the env's own encoding (``user: ...``, the
  ``db:`` line of its tracker when the checkpoint was trained with ``database_view``, ``agent:``);
  the reply is the policy's tokens until the env ends the turn, shown as the user reads it
  (placeholders filled in with ``placeholders``). Each reply replays the conversation into the
  freshly reset env (the person's turns and the tokens the policy chose before): env steps, not
  forward passes. The env's turn limit is lifted (``max_turns``): the server ends conversations.
* ``dialog_envs/DialogueBLEU-v0``: the env replies to the conversation as its context
  (``reset(options={"context": turns})``: the person's turns and the kept replies, alternating,
  the last ``context_turns`` of them encoded as the data's contexts are).

Both can draw two replies from the same state (:meth:`CheckpointConversation.reply_pair`): reply
a greedy, reply b sampled with the checkpoint's temperature, top-k and top-p; the chosen one
continues the conversation. Every other setting of the env is the checkpoint's.
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
        if self.agent.env_id not in CONVERSATIONS:
            self.agent.close()
            raise DialogEnvsError(f"a checkpoint of {self.agent.env_id} cannot chat; expected one of {', '.join(CONVERSATIONS)}")
        self._policy_lock = threading.Lock()

    def make_env(self, **changes: Any) -> gym.Env:
        """The checkpoint's env with its arguments and tokenizer (and ``changes``)."""
        return gym.make(self.agent.env_id, **{**self.agent.env_kwargs, "tokenizer": self.agent.tokenizer, **changes})

    def act(self, observation: dict[str, np.ndarray], greedy: bool) -> int:
        """The policy's next token for one observation (one forward at a time across sessions)."""
        with self._policy_lock:
            batch = {key: np.asarray(value)[None] for key, value in observation.items()}
            return int(self.agent.act(batch, None, deterministic=greedy)[0])

    def conversation(self) -> CheckpointConversation:
        """A new chat with this checkpoint (what ``dialog-envs serve`` builds per session)."""
        return CONVERSATIONS[self.agent.env_id](self)


class CheckpointConversation:
    """One chat with a :class:`CheckpointChat`: a :class:`~dialog_envs.web.app.ChatAgent` (``reply``)
    and a :class:`~dialog_envs.web.app.PairAgent` (``reply_pair`` then ``choose``). Subclasses
    say how their env starts from the conversation so far and when a reply ends."""

    text_key: str
    """The info key of the step that ends a reply that holds the reply's text."""

    def __init__(self, chat: CheckpointChat) -> None:
        self.chat = chat
        self.user_turns: list[str] = []
        self.replies: list[Any] = []
        """What the conversation keeps of each reply (its tokens, or its text)."""
        self._candidates: tuple[Any, Any] | None = None

    def reset(self) -> None:
        self.user_turns.clear()
        self.replies, self._candidates = [], None

    def _start(self) -> dict[str, np.ndarray]:
        """The env reset to the conversation so far, ready for the next reply: its observation."""
        raise NotImplementedError

    def _reply_ended(self, terminated: bool, info: dict[str, Any]) -> bool:
        raise NotImplementedError

    def _kept(self, tokens: list[int], text: str) -> Any:
        """What the conversation keeps of a reply to rebuild the env's state later."""
        raise NotImplementedError

    def _write(self, greedy: bool) -> tuple[Any, str]:
        """Let the policy write the next reply, token by token, until the env ends it: what is kept of it, and its text."""
        observation = self._start()
        tokens = []
        while True:
            token = self.chat.act(observation, greedy)
            observation, _, terminated, _, info = self.env.step(token)
            tokens.append(token)
            if self._reply_ended(terminated, info):
                return self._kept(tokens, info[self.text_key]), info[self.text_key]

    def reply(self, user_text: str) -> str:
        """The greedy reply to ``user_text``, kept as the conversation's."""
        self.user_turns.append(user_text)
        kept, text = self._write(greedy=True)
        self.replies.append(kept)
        return text

    def reply_pair(self, user_text: str) -> tuple[str, str]:
        """Reply a (greedy) and reply b (sampled) to ``user_text``; :meth:`choose` keeps one."""
        if self._candidates is not None:  # the last pair was never chosen from: its user turn is dropped
            self.user_turns.pop()
        self.user_turns.append(user_text)
        (kept_a, text_a), (kept_b, text_b) = self._write(greedy=True), self._write(greedy=False)
        self._candidates = (kept_a, kept_b)
        return text_a, text_b

    def choose(self, preferred: Literal["a", "b"]) -> None:
        if self._candidates is None:
            raise DialogEnvsError("there is no pair of replies to choose from; call reply_pair first")
        self.replies.append(self._candidates[0 if preferred == "a" else 1])
        self._candidates = None


class SimUserConversation(CheckpointConversation):
    """SimUser-v0 with the person as its user: each reply replays the conversation (the person's
    turns, the policy's kept tokens) into the freshly reset env, which encodes every user turn."""

    text_key = "agent_text"

    def __init__(self, chat: CheckpointChat) -> None:
        super().__init__(chat)
        self.user = _PersonUser()
        self.user.turns = self.user_turns
        self.env = chat.make_env(user_factory=lambda schema: self.user, max_turns=CHAT_MAX_TURNS)

    def _start(self) -> dict[str, np.ndarray]:
        observation, _ = self.env.reset(seed=0)
        for tokens in self.replies:
            for token in tokens:
                observation, *_ = self.env.step(token)
        return observation

    def _reply_ended(self, terminated: bool, info: dict[str, Any]) -> bool:
        return bool(info["end_of_turn"])

    def _kept(self, tokens: list[int], text: str) -> list[int]:
        return tokens


class DialogueConversation(CheckpointConversation):
    """DialogueBLEU-v0 replying to the conversation as its context (``options={"context": turns}``:
    the person's turns and the kept replies, alternating, encoded as the data's contexts are)."""

    text_key = "response"

    def __init__(self, chat: CheckpointChat) -> None:
        super().__init__(chat)
        self.env = chat.make_env()

    def _start(self) -> dict[str, np.ndarray]:
        turns = [turn for pair in zip(self.user_turns, [*self.replies, None]) for turn in pair if turn is not None]
        observation, _ = self.env.reset(options={"context": turns})
        return observation

    def _reply_ended(self, terminated: bool, info: dict[str, Any]) -> bool:
        return terminated

    def _kept(self, tokens: list[int], text: str) -> str:
        return text


CONVERSATIONS: dict[str, type[CheckpointConversation]] = {
    "dialog_envs/SimUser-v0": SimUserConversation,
    "dialog_envs/DialogueBLEU-v0": DialogueConversation,
}
"""The envs whose checkpoints can chat, and how."""
