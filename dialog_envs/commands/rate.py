"""``dialog-envs rate``: a person plays the *user* against an agent and rates each agent turn 1-5.

The person types the user's utterances; after every agent reply they give a rating from 1 to 5,
which is that turn's reward (the "human feedback" of RLHF). Every rated exchange is appended at
once to a feedback log (:mod:`dialog_envs.feedback`, which documents the record schema and why an
interrupted session loses at most the turn being rated).

Agents: ``reference`` (the rule-based :class:`~dialog_envs.simuser.reference_agent.ReferenceAgent`,
in the bundled domain or the ``--data-path`` domain), or ``module:Class`` for any class whose
instances have ``reset()`` and ``reply(user_text) -> str`` (built with no arguments).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from os import PathLike
from typing import Any, TextIO

import numpy as np

from dialog_envs.errors import DialogEnvsError
from dialog_envs.feedback import FeedbackLog
from dialog_envs.simuser.conversation import Conversation
from dialog_envs.simuser.human import HumanUser

HELP = "Be the user: talk to an agent and rate each reply 1-5; ratings are appended to a JSONL feedback log."


def run_rating_session(agent: Any, stdin: TextIO, stdout: TextIO, log_path: str | PathLike[str], *,
                       agent_name: str = "agent", max_turns: int = 20, session: str | None = None) -> dict[str, Any]:
    """One conversation of a person (the user) with ``agent``; returns the user's metrics.

    ``agent`` has ``reset()`` and ``reply(user_text) -> str``. The log is appended to as the
    conversation goes; an exception or interruption leaves every finished record intact.
    """
    with FeedbackLog(log_path) as log:
        user = HumanUser(stdin, stdout, log, agent_name=agent_name, session=session)
        conversation = Conversation(user, max_turns=max_turns)
        try:
            user_text = conversation.reset(np.random.default_rng())
            agent.reset()
            if user.reason == "running":
                while True:
                    step = conversation.step(agent.reply(user_text))
                    user_text = step.user_text
                    if step.terminated or step.truncated:
                        break
        finally:
            if user.reason == "running":
                user.reason = "interrupted"
            user.finish()
    return user.metrics()


def build_agent(spec: str, data_path: str | None) -> Any:
    """``"reference"`` or ``"module:Class"`` (see the module docstring)."""
    if spec == "reference":
        from dialog_envs.simuser.reference_agent import ReferenceAgent
        from dialog_envs.envs.simuser import load_domain

        schema, _ = load_domain(data_path, goals="sample")
        return ReferenceAgent(schema)
    module_name, _, class_name = spec.partition(":")
    if not class_name:
        raise DialogEnvsError(f"agent {spec!r} is neither 'reference' nor 'module:Class'")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise DialogEnvsError(f"cannot load agent {spec!r}: {error}") from None
    agent = cls()
    for method in ("reset", "reply"):
        if not callable(getattr(agent, method, None)):
            raise DialogEnvsError(f"agent {spec!r} has no {method}() method; expected reset() and reply(text)")
    return agent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", default="reference", help="'reference' (default) or module:Class")
    parser.add_argument("--data-path", default=None, help="MultiWOZ-style folder for the reference agent's domain")
    parser.add_argument("--log", default="feedback.jsonl", help="JSONL feedback log to append to (default feedback.jsonl)")
    parser.add_argument("--max-turns", type=int, default=20, help="agent turns per conversation (default 20)")
    parser.add_argument("--session", default=None, help="session id written to every record (default random)")


def run(args: argparse.Namespace) -> int:
    agent = build_agent(args.agent, args.data_path)
    metrics = run_rating_session(agent, sys.stdin, sys.stdout, args.log, agent_name=args.agent,
                                 max_turns=args.max_turns, session=args.session)
    print(f"{len(metrics['ratings'])} turns rated, mean rating {metrics['mean_rating']:.2f}; log: {args.log}")
    return 0
