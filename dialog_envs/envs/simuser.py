"""``dialog_envs/SimUser-v0``: talk with a simulated user who has a goal, token by token.

The simulator itself (schema, goals, reader, agenda policy, templates, satisfaction) lives in
:mod:`dialog_envs.simuser`; its text-level core is
:class:`~dialog_envs.simuser.conversation.Conversation`. This module turns it into a token-level
Gymnasium environment: every user turn is tokenised once when it is said, and ``step`` only
appends the agent's token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Any, Literal

import numpy as np
from gymnasium import spaces
from transformers import PreTrainedTokenizerBase

from dialog_envs.data.splits import check_split, find_split_file, mapping_entry
from dialog_envs.envs.batched import BatchCore, BatchOfOneEnv, RowInfos, check_choice, check_positive_ints, env_tokenizer, vector_env_class
from dialog_envs.errors import DialogEnvsError
from dialog_envs.simuser.conversation import Conversation, SimulatedUser, User
from dialog_envs.simuser.domain import bundled_schema
from dialog_envs.simuser.goals import Goal, read_multiwoz_goals, sample_goal_in_split, split_of
from dialog_envs.simuser.policy import PolicyConfig
from dialog_envs.simuser.satisfaction import RewardKind, SatisfactionConfig
from dialog_envs.simuser.schema import Schema, load_schema
from dialog_envs.simuser.sgd import is_sgd_path, load_sgd, service_groups, sgd_goals
from dialog_envs.simuser.understanding import RuleReader
from dialog_envs.tokenization import train_tokenizer

USER_MARKER = "user:"
AGENT_MARKER = "agent:"
GoalChoice = Literal["auto", "corpus", "sample"]
GOAL_FILE_PATTERNS = ("{split}.json", "{split}_dials.json", "data/{split}.json")


class _Episode:
    """One conversation of a :class:`SimUserBatch`: the simulated user, the agent's reply so far,
    the database view's tracker and the reference agent that gives the expert actions."""

    def __init__(self, env: SimUserEnv) -> None:
        self.env = env
        self.goal_index = -1
        user = env.user_factory(env.schema) if env.user_factory is not None else self._simulated_user()
        self.conversation = Conversation(user, max_turns=env.max_turns)
        self.reply: list[int] = []
        self.started = False
        self.done = False
        self.database_lines: list[str] = []
        from dialog_envs.simuser.reference_agent import ReferenceAgent  # the agent-side tracker and DB lookup

        # Both agents live as long as the row and share one reader, so its lexicons are built once
        # per row rather than once per episode.
        reader = RuleReader(env.schema)
        self._tracker = ReferenceAgent(env.schema, reader) if env.database_view else None
        self._expert = ReferenceAgent(env.schema, reader, placeholders=env.placeholders)
        self._expert_plan: list[int] | None = None
        self._expert_seen = 0

    def _simulated_user(self) -> User:
        env = self.env
        return SimulatedUser(env.schema, self._goal, policy=env.user_policy, scoring=env.reward)

    def _goal(self, rng: np.random.Generator) -> Goal:
        """The corpus goal :meth:`start` picked, or a goal sampled in the env's split."""
        if self.env.goal_pool is not None:
            return self.env.goal_pool[self.goal_index]
        return sample_goal_in_split(self.env.schema, rng, self.env.split)

    def start(self, rng: np.random.Generator, goal_index: int) -> str:
        """Begin a conversation on corpus goal ``goal_index`` (-1: a sampled goal, or the
        ``user_factory`` user's own); returns the user's opening."""
        self.goal_index = goal_index
        user_text = self.conversation.reset(rng)
        self.reply = []
        self.started, self.done = True, False
        self.database_lines = []
        if self._tracker is not None:
            self._tracker.reset()
        self._expert.reset()
        self._expert_plan, self._expert_seen = None, 0
        return user_text

    def end_turn(self, agent_text: str) -> tuple[str, Any]:
        """The reply as the user read it (placeholders filled in) and the user's answer (a
        ``ConversationStep``)."""
        self.reply = []
        self._expert_plan = None
        if self.env.placeholders:
            agent_text = self._tracker.lexicalise(agent_text)
        result = self.conversation.step(agent_text)
        self.done = result.terminated or result.truncated
        return agent_text, result

    def encode_user_turn(self, text: str, first: bool) -> list[int]:
        """The tokens appended for a user turn: ``user: ...``, the ``db:`` line, ``agent:``."""
        prefix = "" if first else "\n"
        database = ""
        if self._tracker is not None:
            self._tracker.observe(text)
            self.database_lines.append(self._tracker.database_view())
            database = f"\n{self.database_lines[-1]}"
        return list(self.env.tokenizer.encode(f"{prefix}{USER_MARKER} {text}{database}\n{AGENT_MARKER}", add_special_tokens=False))

    def reply_text(self) -> str:
        text = self.env.tokenizer.decode(self.reply, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        return text.strip()

    def expert_action(self) -> int:
        env = self.env
        if not self.started or self.done:
            return env.eos_token_id
        if self._expert_plan is None:
            user_texts = [text for role, text, _ in self.conversation.transcript if role == "user"]
            reply = ""
            for text in user_texts[self._expert_seen :]:
                reply = self._expert.reply(text)
            self._expert_seen = len(user_texts)
            ids = list(env.tokenizer.encode(" " + reply.strip(), add_special_tokens=False))
            self._expert_plan = ids[: env.max_reply_tokens - 1] + [env.eos_token_id]
        position = len(self.reply)
        return self._expert_plan[position] if position < len(self._expert_plan) else env.eos_token_id


class SimUserBatch(BatchCore):
    """``num_rows`` SimUser-v0 conversations: token histories as arrays, one simulator per row.

    The user simulators are Python objects, so a finished agent turn is handled row by row; the
    token bookkeeping (appending, padding, observations) is shared array code.
    """

    row_methods = {"expert_action": "expert_actions"}

    def __init__(self, env: SimUserEnv, num_rows: int) -> None:
        super().__init__(env, num_rows)
        self.episodes = [_Episode(env) for _ in range(self.num_rows)]
        self.input_ids = np.full((self.num_rows, env.max_length), env.pad_token_id, dtype=np.int64)
        self.attention_mask = np.zeros((self.num_rows, env.max_length), dtype=np.int64)
        self.length = np.zeros(self.num_rows, dtype=np.int64)

    def start(self, rows: np.ndarray, rngs: Sequence[np.random.Generator], seeds: Sequence[int | None],
              options: dict[str, Any] | None) -> RowInfos:
        infos = RowInfos()
        if self.env.picks_goals:
            goal_indices = self.example_indices(rngs, seeds, options, len(self.env.goal_pool)).tolist()
        elif options is not None and options.get("index") is not None:
            raise DialogEnvsError(
                "options['index'] picks a corpus goal, and this env has none (it samples goals, or its "
                "user_factory chooses them); pass a data_path with a goal file, or no index"
            )
        else:
            goal_indices = [-1] * len(rows)
        for k, row in enumerate(rows):
            episode = self.episodes[row]
            user_text = episode.start(rngs[k], goal_indices[k])
            self.input_ids[row] = self.env.pad_token_id
            self.attention_mask[row] = 0
            self.length[row] = 0
            self._append(row, episode.encode_user_turn(user_text, first=True))
            infos.sparse[k] = {"end_of_turn": False, "dropped_tokens": self.dropped_tokens(row), "user_text": user_text}
            if goal_indices[k] >= 0:
                infos.sparse[k]["index"] = goal_indices[k]
        return infos

    def advance(self, rows: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, RowInfos]:
        env = self.env
        actions = self.checked_actions(actions, rows)
        rewards = np.zeros(len(rows), dtype=np.float64)
        terminated = np.zeros(len(rows), dtype=bool)
        truncated = np.zeros(len(rows), dtype=bool)
        infos = RowInfos()
        for k, (row, token) in enumerate(zip(rows, actions.tolist())):
            episode = self.episodes[row]
            if not episode.started or episode.done:
                raise DialogEnvsError("the episode is over (or never started); call reset() first")
            self._append(row, [token])
            episode.reply.append(token)
            if token != env.eos_token_id and len(episode.reply) < env.max_reply_tokens:
                infos.sparse[k] = {"end_of_turn": False, "dropped_tokens": self.dropped_tokens(row)}
                continue
            agent_text, result = episode.end_turn(episode.reply_text())
            self._append(row, episode.encode_user_turn(result.user_text, first=False))
            rewards[k], terminated[k], truncated[k] = result.reward, result.terminated, result.truncated
            infos.sparse[k] = {**result.info, "end_of_turn": True, "agent_text": agent_text,
                               "user_text": result.user_text, "dropped_tokens": self.dropped_tokens(row)}
        return rewards, terminated, truncated, infos

    def observations(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        rows = self.all_rows if rows is None else rows
        return {
            "input_ids": self.input_ids[rows].copy(),
            "attention_mask": self.attention_mask[rows].copy(),
            "history_truncated": (self.length[rows] > self.env.max_length).astype(np.int64)[:, None],
        }

    def expert_actions(self) -> np.ndarray:
        return np.asarray([episode.expert_action() for episode in self.episodes], dtype=np.int64)

    def dropped_tokens(self, row: int) -> int:
        """How many of row ``row``'s oldest tokens no longer fit in the observation."""
        return max(0, int(self.length[row]) - self.env.max_length)

    def _append(self, row: int, ids: list[int]) -> None:
        n, width = len(ids), self.env.max_length
        self.length[row] += n
        if n >= width:
            self.input_ids[row] = ids[-width:]
            self.attention_mask[row] = 1
            return
        self.input_ids[row, :-n] = self.input_ids[row, n:]
        self.attention_mask[row, :-n] = self.attention_mask[row, n:]
        self.input_ids[row, -n:] = ids
        self.attention_mask[row, -n:] = 1


class SimUserEnv(BatchOfOneEnv):
    """
    ## Description

    A simulated user with a goal (constraints it wants met, facts it wants to be told, maybe a
    booking) talks with the agent over several turns. The agent writes each reply one token at a
    time; when the reply ends, the user reads it, judges it and answers. Each agent turn is
    rewarded by the user's satisfaction with it, ``r_t = s(y_t) - s_base``, plus a bonus when the
    goal is reached and a penalty when the conversation fails; the agent maximises the sum over
    the conversation. The user is agenda-based (Schatzmann style, like ConvLab's rule user): see
    ``docs/envs/simuser.md``. The default domain is the project's own online-shop customer
    service (orders and deliveries, returns, store opening hours), generated in code;
    ``data_path`` switches to a MultiWOZ-style folder (schema, databases and corpus goals) or to
    the Schema-Guided Dialogue corpus.

    ## Action Space

    ``Discrete(vocab_size)``: the next token of the agent's reply, ``vocab_size =
    len(tokenizer)``. ``tokenizer.eos_token_id`` ends the reply; a reply also ends after
    ``max_reply_tokens`` tokens. Special tokens other than EOS are dropped when the reply is
    decoded.

    ## Observation Space

    A ``Dict`` of ``int64`` arrays, **left-padded** (the newest token is the last element):

    | key | shape | values |
    |---|---|---|
    | ``input_ids`` | ``(max_length,)`` | the dialogue so far, padded with ``tokenizer.pad_token_id`` |
    | ``attention_mask`` | ``(max_length,)`` | 1 on tokens of the dialogue, 0 on padding |
    | ``history_truncated`` | ``(1,)`` | 1 once the dialogue is longer than ``max_length`` and its start is cut off |

    The dialogue is the concatenation of each turn's tokens, each encoded once: a user turn is
    the text ``"user: <utterance>\\nagent:"`` (the first) or ``"\\nuser: <utterance>\\nagent:"``
    (later ones) -- so ``user:`` and ``agent:`` are the role markers and every user turn ends by
    prompting the agent -- and an agent turn is the agent's own actions (EOS included when it
    ended the turn). **Append-only**: each step adds the action at the end, and the step that
    ends an agent turn also adds the user's answer; nothing else changes, so an agent can keep a
    KV cache. When the dialogue outgrows ``max_length`` the oldest tokens drop off the left and
    ``history_truncated`` becomes 1 (``info["dropped_tokens"]`` counts them).

    ## Rewards

    0 on every step inside an agent turn. On the step that ends it: with ``reward=
    "satisfaction"`` (default), ``s(y) - s_base``, plus ``success_bonus`` (5) when the user's
    goal is reached or ``- failure_penalty`` (5) when the conversation ends otherwise; ``s(y)``
    adds up documented parts (+1 per requested fact answered correctly, +0.5 per needed
    constraint asked for, +0.5 for naming a matching entity, +1 for a wanted booking, -1 per
    wrong piece of information, -0.25 for asking again, -0.5 for repeating an earlier reply,
    -0.5 for more than 60 words, -1 for an empty reply; ``s_base`` = 0.25). With
    ``reward="convlab"``: -1 per turn, +80 at the end on success, -40 at the end on failure.

    ## Starting State

    A goal is drawn with ``self.np_random`` (sampled from the schema and database, or a corpus
    goal); the observation holds the user's opening utterance and the ``agent:`` marker. With
    corpus goals, ``reset(options={"index": i})`` takes goal ``i`` of ``goal_pool`` (``"seed"``:
    the reset seed's goal); sampled goals have no index, so the option is an error there, as is
    any other option key.

    ## Episode End

    *Terminated* when the user ends the conversation: its goal is reached (success), its patience
    is used up (``patience`` agent turns without progress), or the agent said goodbye too early
    (failure). *Truncated* after ``max_turns`` agent turns (counted as a failure in the reward).

    ## Arguments

    * ``data_path``: None (bundled shop domain), a MultiWOZ-style folder: ``schema*.json``
      (Schema-Guided-Dialogue / MultiWOZ 2.2 format), ``db/<domain>_db.json``, and optionally
      ``<split>.json`` with MultiWOZ dialogues whose ``goal`` fields are the goals; or the
      Schema-Guided Dialogue corpus as distributed, its root (``train/``, ``dev/``, ``test/``) or
      one split's folder (:mod:`dialog_envs.simuser.sgd`: entities from ``service_results``,
      goals from the user's acts); or a mapping of split to one of those folders or to a MultiWOZ
      goal file (``{"train": "mwoz/train.json", "validation": "mwoz/val.json"}``: the schema and
      databases are read from the file's folder). With a mapping, the default tokenizer is built
      on its ``train`` entry (else the split's), so every split's env shares it.
    * ``split``: which goal file to use (default ``"train"``; ``"validation"`` reads ``val.json``;
      on an SGD root, which folder: ``train/``, ``dev/`` or ``test/``). With sampled
      goals (the bundled domain), which part of the goal space: each goal belongs to train,
      validation or test (80/10/10) by a CRC32 of what it asks for, so the splits share no goal.
    * ``goals``: ``"auto"`` (corpus goals when the split's file exists, else sampled),
      ``"corpus"`` or ``"sample"``.
    * ``goal_file_split``: read the goals of this split's file for every split, and keep the part
      that belongs to ``split``: each goal goes to train, validation or test (80/10/10) by a CRC32
      of its dialogue id, so the three never share a goal. For data with one goal file, such as
      the MultiWOZ 2.1 validation dialogues in ``../shared/data``: ``goal_file_split="validation"``.
    * ``tokenizer``: None (a byte-level BPE tokenizer of ``tokenizer_vocab_size`` ids trained
      on conversations of the simulator with the reference agent in the same domain, cached),
      a Hugging Face name or path, or a tokenizer object.
    * ``max_turns``, ``max_reply_tokens``, ``max_length``: limits (agent turns per episode, tokens
      per reply, tokens in the observation).
    * ``reward``: ``"satisfaction"``, ``"convlab"`` or a full
      :class:`~dialog_envs.simuser.satisfaction.SatisfactionConfig` (weights, bonus and penalty).
    * ``patience``: agent turns without progress before the user gives up.
    * ``user_factory``: ``schema -> User`` to plug in one's own user simulator (see
      :class:`~dialog_envs.simuser.conversation.User`); default the agenda-based user.
    * ``database_view``: when True (default) every user turn is followed by a ``db:`` line: the
      domain, how many database entities match the constraints the user has stated so far (read
      by the reference agent's rule-based tracker), and the first match with all its slots. It is
      the DB result a task-oriented dialogue system works from; without it a learned agent cannot
      know the facts (carrier, tracking number, fees) that the user asks for.
    * ``placeholders``: when True (needs ``database_view``) the agent may write *delexicalised*
      replies: a slot's phrase in square brackets, ``[tracking number]``, is filled with that
      slot's value in the ``db:`` line's entity before the user reads the reply, and
      ``[reference number]`` with a made-up booking reference. ``expert_action`` then writes
      placeholders too. This is how MultiWOZ response generators (SimpleTOD, LAVA) work: the
      policy chooses what to say, the database supplies the values. ``info["agent_text"]`` and
      the transcript hold what the user read; the observation keeps the tokens the agent wrote.
    * ``render_mode``: None or ``"ansi"`` (the transcript with per-turn rewards).

    ## Info

    Reset: ``user_text``, and ``index`` (the goal's position in ``goal_pool``) with corpus goals.
    Every step: ``end_of_turn`` (True on the step that ends an agent turn), ``dropped_tokens``.
    End of a turn also: ``turn``, ``agent_text``, ``user_text``, ``satisfaction`` (``s(y)`` of
    the turn), ``events`` (what the user noticed). Last step also: ``success``, ``turns``,
    ``inform_precision``, ``inform_recall``, ``inform_f1``, ``satisfaction`` (mean ``s(y)`` over
    the conversation), ``goal``, ``goal_feasible``, ``ended_by`` (``"success"``, ``"patience"``,
    ``"agent_goodbye"`` or ``"turn_limit"``).

    ## Example

    >>> import gymnasium as gym, dialog_envs
    >>> env = gym.make("dialog_envs/SimUser-v0")
    >>> obs, info = env.reset(seed=0)
    >>> for action in env.unwrapped.text_to_actions("Hello, how can I help?"):
    ...     obs, reward, terminated, truncated, info = env.step(action)
    >>> info["end_of_turn"]
    True
    """

    core_class = SimUserBatch
    action_kind = "a token id"

    def __init__(
        self,
        *,
        data_path: str | PathLike[str] | Mapping[str, str | PathLike[str]] | None = None,
        split: str = "train",
        goals: GoalChoice = "auto",
        goal_file_split: str | None = None,
        tokenizer: str | PathLike[str] | PreTrainedTokenizerBase | None = None,
        tokenizer_vocab_size: int = 2000,
        max_turns: int = 10,
        max_reply_tokens: int = 48,
        max_length: int = 1024,
        reward: RewardKind | SatisfactionConfig = "satisfaction",
        patience: int = 5,
        user_factory: Callable[[Schema], User] | None = None,
        database_view: bool = True,
        placeholders: bool = False,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(split=split, render_mode=render_mode)
        if not isinstance(reward, SatisfactionConfig):
            check_choice("reward", reward, ("satisfaction", "convlab"))
        check_choice("goals", goals, ("auto", "corpus", "sample"))
        check_positive_ints(max_turns=max_turns, max_reply_tokens=max_reply_tokens, max_length=max_length, patience=patience)
        if placeholders and not database_view:
            raise DialogEnvsError("placeholders=True needs database_view=True: the db line's entity fills the placeholders")
        self.database_view = bool(database_view)
        self.placeholders = bool(placeholders)
        self.max_turns = int(max_turns)
        self.max_reply_tokens = int(max_reply_tokens)
        self.max_length = int(max_length)
        domain_path = split_domain(data_path, goal_file_split or split)
        self.schema, self.goal_pool = load_domain(domain_path, split, goals, goal_file_split)
        sgd = domain_path is not None and is_sgd_path(domain_path)
        self.unseen_services = load_sgd(domain_path, goal_file_split or split).unseen_services if sgd else frozenset()
        """SGD services of this split that the training split lacks (their success is reported apart)."""
        if self.goal_pool == []:
            raise DialogEnvsError(f"the goal file has no goal of the {split!r} split; expected at least one")
        self.reward = reward if isinstance(reward, SatisfactionConfig) else SatisfactionConfig(reward=reward)
        self.user_policy = PolicyConfig(patience=int(patience))
        self.user_factory = user_factory
        """``schema -> User``; None: the agenda-based :class:`SimulatedUser` on this env's goals."""
        tokenizer_path = training_domain(data_path, domain_path)
        key = None if tokenizer_path is None else str(Path(tokenizer_path).resolve())
        self.tokenizer = env_tokenizer(tokenizer, lambda: default_simuser_tokenizer(key, tokenizer_vocab_size, self.placeholders))
        if self.tokenizer.eos_token_id is None:
            raise DialogEnvsError(f"tokenizer {self.tokenizer.name_or_path!r} has no EOS token; a reply needs one to end")
        self.vocab_size = len(self.tokenizer)
        self.eos_token_id = int(self.tokenizer.eos_token_id)
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else self.eos_token_id)

        self.action_space = spaces.Discrete(self.vocab_size)
        self.observation_space = spaces.Dict(
            {
                "input_ids": spaces.Box(0, self.vocab_size - 1, shape=(self.max_length,), dtype=np.int64),
                "attention_mask": spaces.Box(0, 1, shape=(self.max_length,), dtype=np.int64),
                "history_truncated": spaces.Box(0, 1, shape=(1,), dtype=np.int64),
            }
        )

    def episode_metrics(self, final_infos: Sequence[dict[str, Any]]) -> dict[str, float]:
        """The mean of each episode's float metrics; on an SGD split with services the training
        split lacks, also ``success_unseen_services`` and ``success_seen_services``."""
        metrics = super().episode_metrics(final_infos)
        if self.unseen_services:
            metrics.update(service_groups(final_infos, self.unseen_services))
        return metrics

    per_episode_attributes = frozenset(
        {"expert_action", "text_to_actions", "observation_text", "reply_text", "render", "reset", "step",
         "conversation", "dropped_tokens"}
    )
    """What differs per episode: a native vector env serves only ``expert_action`` of these."""

    @property
    def picks_goals(self) -> bool:
        """Whether ``reset(options={"index": i})`` can pick goal ``i``: the env's own user on corpus goals."""
        return self.goal_pool is not None and self.user_factory is None

    def _render_text(self) -> str:
        episode = self._episode
        lines = episode.conversation.render().splitlines()
        if self.database_view:  # a person playing the agent needs the database as much as a model
            database = iter(episode.database_lines)
            lines = [piece for line in lines for piece in ([line, next(database, "")] if line.startswith("user:") else [line])]
        text = "\n".join(line for line in lines if line)
        if episode.reply:
            text += f"\nagent> {self.reply_text()}"
        return text + "\n"

    # -- text helpers ----------------------------------------------------------------------

    @property
    def _episode(self) -> _Episode:
        return self._core.episodes[0]

    @property
    def conversation(self) -> Conversation:
        """The current conversation (user simulator and transcript)."""
        return self._episode.conversation

    @property
    def dropped_tokens(self) -> int:
        """How many of the oldest tokens no longer fit in the observation."""
        return self._core.dropped_tokens(0)

    def reply_text(self) -> str:
        """The agent's reply so far, decoded (EOS and other special tokens dropped)."""
        return self._episode.reply_text()

    def expert_action(self) -> int:
        """The next token of the rule-based reference agent's reply to the conversation so far,
        then EOS (EOS once the episode is over): the warm-start target.

        The reference agent reads every user turn of this episode (whatever the acting agent
        said), so imitating it along the acting agent's own conversations is DAgger-like.
        """
        return self._episode.expert_action()

    def text_to_actions(self, text: str) -> list[int]:
        """The actions that write ``text`` as the (rest of the) agent's reply, then EOS.

        Raises:
            ValueError: the text needs more tokens than the reply has room for.
        """
        ids = list(self.tokenizer.encode(" " + text.strip(), add_special_tokens=False))
        room = self.max_reply_tokens - len(self._episode.reply)
        if len(ids) + 1 > room:
            raise ValueError(
                f"the reply is {len(ids)} tokens but only {room - 1} fit before the end-of-reply token "
                f"(max_reply_tokens={self.max_reply_tokens}); type a shorter reply"
            )
        return ids + [self.eos_token_id]

    def observation_text(self) -> str:
        """The whole conversation as text (``user:`` / ``db:`` / ``agent:`` lines), then the reply so far."""
        episode = self._episode
        if not episode.started:
            return "(call reset() first)"
        lines = []
        user_turns = 0
        for role, text, _ in episode.conversation.transcript:
            lines.append(f"{role}: {text}")
            if role == "user" and self.database_view:
                lines.append(episode.database_lines[user_turns])
                user_turns += 1
        if not episode.done:
            lines.append(f"{AGENT_MARKER} {self.reply_text()}".rstrip())
        return "\n".join(lines)


SimUserVectorEnv = vector_env_class(SimUserEnv)


# -- domain, goals and the default tokenizer ---------------------------------------------------


def split_domain(data_path: str | PathLike[str] | Mapping[str, str | PathLike[str]] | None, split: str) -> str | PathLike[str] | None:
    """The domain of ``split``: a mapping's entry for it, else ``data_path`` itself."""
    return mapping_entry(data_path, split) if isinstance(data_path, Mapping) else data_path


def training_domain(data_path: str | PathLike[str] | Mapping[str, str | PathLike[str]] | None,
                    domain_path: str | PathLike[str] | None) -> str | PathLike[str] | None:
    """The domain the default tokenizer is built on: a mapping's ``train`` entry when it has one
    (so every split's env gets the same tokenizer), else this split's domain."""
    if isinstance(data_path, Mapping):
        try:
            return mapping_entry(data_path, "train")
        except DialogEnvsError:  # no train entry
            pass
    return domain_path


def load_domain(data_path: str | PathLike[str] | None, split: str = "train",
                goals: GoalChoice = "auto", goal_file_split: str | None = None) -> tuple[Schema, list[Goal] | None]:
    """The schema and the corpus goals (None: sample goals) for ``data_path`` (see the env's
    ``goals`` and ``goal_file_split`` arguments)."""
    if data_path is None:
        if goals == "corpus" or goal_file_split is not None:
            raise DialogEnvsError("goals='corpus' and goal_file_split need a data_path with a goal file; the bundled domain samples goals")
        return bundled_schema(), None
    if goal_file_split is not None:
        check_split(goal_file_split)
    if is_sgd_path(data_path):
        return sgd_goals(data_path, split, goals, goal_file_split)
    path = Path(data_path)
    schema = _load_schema_cached(str((path.parent if path.is_file() else path).resolve()))
    if goals == "sample":
        return schema, None
    try:
        goal_file = path if path.is_file() else find_split_file(data_path, goal_file_split or split, GOAL_FILE_PATTERNS)
    except DialogEnvsError:
        if goals == "corpus" or goal_file_split is not None:
            raise
        return schema, None
    pool = read_multiwoz_goals(goal_file, schema)
    if goal_file_split is not None:
        pool = [goal for goal in pool if split_of(goal.source) == split]  # 80/10/10 by a CRC32 of its source
    return schema, pool


@lru_cache(maxsize=4)
def _load_schema_cached(folder: str) -> Schema:
    return load_schema(folder)


def simulated_texts(
    schema: Schema, goals: list[Goal] | None, episodes: int = 300, seed: int = 0, placeholders: bool = False
) -> list[str]:
    """Utterances of conversations between the simulator and the reference agent (with role
    markers), the default tokenizer's training text; with ``placeholders``, the agent's
    delexicalised replies are added too."""
    from dialog_envs.simuser.reference_agent import ReferenceAgent

    conversation = Conversation(SimulatedUser(schema, goals), max_turns=12)
    agent = ReferenceAgent(schema, placeholders=placeholders)
    texts = []
    for episode in range(episodes):
        rng = np.random.default_rng(seed + episode)
        user_text = conversation.reset(rng)
        agent.reset()
        done = False
        while not done:
            written = agent.reply(user_text)
            if placeholders:
                texts.append(f"{AGENT_MARKER} {written}")
            step = conversation.step(agent.lexicalise(written) if placeholders else written)
            user_text = step.user_text
            done = step.terminated or step.truncated
        texts += [f"{role}: {text}" for role, text, _ in conversation.transcript]
    return texts


@lru_cache(maxsize=4)
def default_simuser_tokenizer(data_path: str | None, vocab_size: int, placeholders: bool = False) -> PreTrainedTokenizerBase:
    """Byte-level BPE trained on simulated conversations of the domain with sampled goals (cached
    on disk and here). It depends on the domain only, so every split's env shares it."""
    schema, _ = load_domain(data_path, goals="sample")
    return train_tokenizer(simulated_texts(schema, None, placeholders=placeholders), kind="bpe", vocab_size=vocab_size)
