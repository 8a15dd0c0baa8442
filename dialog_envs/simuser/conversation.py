"""The text-level core of the simulated-user environment: one agent reply in, user reply and reward out.

A :class:`Conversation` holds a :class:`User` and a turn limit. :meth:`Conversation.reset` returns
the user's opening line; :meth:`Conversation.step` takes the agent's reply (a string) and returns
a :class:`ConversationStep` with the user's answer, the reward of that agent turn and whether the
conversation ended. The token-level :class:`~dialog_envs.envs.simuser.SimUserEnv`, the ``TextView``
wrapper (through it), the reference agent's benchmark and the ``dialog-envs rate`` command all run
on this core.

A *user* is anything with the :class:`User` methods. :class:`SimulatedUser` is the agenda-based
simulator (schema + goal + reader + policy + language + satisfaction);
:class:`~dialog_envs.commands.rate.HumanUser` is a person at a terminal. To plug in one's own
simulator, pass a factory of such objects to the env (``user_factory=``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from dialog_envs.errors import DialogEnvsError
from dialog_envs.simuser.goals import Goal, GoalSamplerConfig, sample_goal
from dialog_envs.simuser.language import Language, TemplateLanguage
from dialog_envs.simuser.policy import AgendaPolicy, PolicyConfig
from dialog_envs.simuser.satisfaction import SatisfactionConfig, TurnEvents, satisfaction, turn_reward
from dialog_envs.simuser.schema import Schema
from dialog_envs.simuser.understanding import Reader, RuleReader

GoalSource = Callable[[np.random.Generator], Goal]


@dataclass
class UserReply:
    """The user's answer to one agent turn."""

    text: str
    """What the user says next (its goodbye when the conversation ended)."""
    reward: float
    """The reward of the agent's turn."""
    finished: bool
    """The user ended the conversation (goal reached, gave up, or the agent left)."""
    success: bool
    """The user's goal is reached."""
    info: dict[str, Any] = field(default_factory=dict)
    """Per-turn details (``satisfaction`` of the turn, ``events``)."""


class User(Protocol):
    """The other side of the conversation: a simulator or a person."""

    def reset(self, rng: np.random.Generator) -> str:
        """Start a new conversation; return the user's first utterance."""

    def respond(self, agent_text: str, *, last_turn: bool = False) -> UserReply:
        """Judge the agent's reply and answer it. ``last_turn``: no more turns after this one."""

    def metrics(self) -> dict[str, Any]:
        """End-of-conversation figures (``success``, ``inform_*``, ``satisfaction``, ``goal``...)."""


class SimulatedUser:
    """The agenda-based simulated user (see :mod:`dialog_envs.simuser.policy`).

    Args:
        schema: the domains, slots and entities.
        goals: where goals come from: a callable ``rng -> Goal``, a sequence of goals (one is
            drawn uniformly per conversation), or None to sample goals from the schema.
        reader: reads the agent's text (default :class:`RuleReader`); any callable
            ``(text, domain) -> Reading``.
        language: words the user's acts (default :class:`TemplateLanguage`); any callable
            ``(acts, rng) -> str``.
        policy: patience and acts per turn.
        scoring: satisfaction weights and the reward kind.
        sampler: how goals are sampled when ``goals`` is None.
    """

    def __init__(
        self,
        schema: Schema,
        goals: GoalSource | Sequence[Goal] | None = None,
        *,
        reader: Reader | None = None,
        language: Language | None = None,
        policy: PolicyConfig | None = None,
        scoring: SatisfactionConfig | None = None,
        sampler: GoalSamplerConfig | None = None,
    ) -> None:
        self.schema = schema
        if goals is None:
            config = sampler or GoalSamplerConfig()
            self._goal_source: GoalSource = lambda rng: sample_goal(schema, rng, config)
        elif callable(goals):
            self._goal_source = goals
        else:
            pool = list(goals)
            if not pool:
                raise DialogEnvsError("goals is empty; expected at least one goal")
            self._goal_source = lambda rng: pool[int(rng.integers(len(pool)))]
        self.reader = reader or RuleReader(schema)
        self.language = language or TemplateLanguage(schema)
        self.policy_config = policy or PolicyConfig()
        self.scoring = scoring or SatisfactionConfig()
        self.policy: AgendaPolicy | None = None
        self.rng: np.random.Generator | None = None
        self._satisfactions: list[float] = []

    def reset(self, rng: np.random.Generator) -> str:
        self.rng = rng
        goal = self._goal_source(rng)
        self.policy = AgendaPolicy(self.schema, goal, rng, self.policy_config)
        self._satisfactions = []
        return self.language(self.policy.opening(), rng)

    def respond(self, agent_text: str, *, last_turn: bool = False) -> UserReply:
        policy = self._policy()
        if policy.finished:
            raise DialogEnvsError("the conversation has ended; call reset() first")
        reading = self.reader(agent_text, policy.current.goal.domain)
        events = TurnEvents(too_long=reading.words > self.scoring.max_words)
        acts = policy.respond(reading, agent_text, events)
        if last_turn and not policy.finished:
            policy.end_by_turn_limit()
        s = satisfaction(events, self.scoring)
        self._satisfactions.append(s)
        reward = turn_reward(s, self.scoring, ended=policy.finished, success=policy.success)
        text = self.language(acts, self.rng)
        return UserReply(text=text, reward=reward, finished=policy.finished and policy.ended_by != "turn_limit",
                         success=policy.success, info={"satisfaction": s, "events": events.__dict__.copy()})

    def metrics(self) -> dict[str, Any]:
        policy = self._policy()
        precision, recall, f1 = policy.inform_scores()
        return {
            "success": policy.success,
            "ended_by": policy.ended_by or "running",
            "inform_precision": precision,
            "inform_recall": recall,
            "inform_f1": f1,
            "satisfaction": float(np.mean(self._satisfactions)) if self._satisfactions else 0.0,
            "goal": policy.goal.to_dict(),
            "goal_feasible": all(s.feasible for s in policy.states),
        }

    def _policy(self) -> AgendaPolicy:
        if self.policy is None:
            raise DialogEnvsError("the user has no conversation yet; call reset() first")
        return self.policy


@dataclass
class ConversationStep:
    """The outcome of one agent turn."""

    user_text: str
    reward: float
    terminated: bool
    """The user ended the conversation (success or failure)."""
    truncated: bool
    """The turn limit was reached."""
    info: dict[str, Any]


class Conversation:
    """A user and a turn limit: the text-level environment.

    ``info`` of every step holds ``turn`` and the turn's ``satisfaction``; the step that ends the
    conversation adds the user's :meth:`User.metrics` and ``turns``.
    """

    def __init__(self, user: User, max_turns: int = 12) -> None:
        if max_turns < 1:
            raise DialogEnvsError(f"max_turns must be at least 1, got {max_turns}")
        self.user = user
        self.max_turns = max_turns
        self.turns = 0
        self.done = True
        self.transcript: list[tuple[str, str, float | None]] = []
        """``(role, text, reward)`` with role ``"user"`` or ``"agent"``; reward only on agent turns."""

    def reset(self, rng: np.random.Generator) -> str:
        """Start a conversation; return the user's opening line."""
        self.turns = 0
        self.done = False
        text = self.user.reset(rng)
        self.transcript = [("user", text, None)]
        return text

    def step(self, agent_text: str) -> ConversationStep:
        """Give the user the agent's reply; get the user's answer and the turn's reward."""
        if self.done:
            raise DialogEnvsError("the conversation has ended; call reset() first")
        self.turns += 1
        last = self.turns >= self.max_turns
        reply = self.user.respond(agent_text, last_turn=last)
        terminated = reply.finished
        truncated = last and not terminated
        self.transcript.append(("agent", agent_text, reply.reward))
        self.transcript.append(("user", reply.text, None))
        info: dict[str, Any] = {"turn": self.turns, **reply.info}
        if terminated or truncated:
            self.done = True
            info.update(self.user.metrics())
            info["turns"] = self.turns
        return ConversationStep(reply.text, reply.reward, terminated, truncated, info)

    def render(self) -> str:
        """The transcript, one line per utterance, agent turns with their rewards."""
        lines = []
        for role, text, reward in self.transcript:
            suffix = f"   [r={reward:+.2f}]" if reward is not None else ""
            lines.append(f"{role}: {text}{suffix}")
        return "\n".join(lines)
