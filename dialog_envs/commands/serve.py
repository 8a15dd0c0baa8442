"""``dialog-envs serve``: a web page to talk with an agent and rate it, for several people at once.

The page (:mod:`dialog_envs.web`) writes the same feedback log as ``dialog-envs rate``: ``"turn"``
records (``--mode rate``: each reply rated 1-5), ``"preference"`` records (``--mode compare``:
the better of two replies) and ``"end"`` records. Agents:

* ``--agent reference`` or ``--agent module:Class``, as for ``dialog-envs rate``;
* ``--checkpoint DIR``: a token-pg checkpoint trained on ``dialog_envs/SimUser-v0`` or
  ``dialog_envs/DialogueBLEU-v0`` (:mod:`dialog_envs.agents.chat`).

In compare mode the two replies come from ``--agent-b`` when it is given (reply a from the first
agent, b from the second); without it, from the checkpoint itself: reply a greedy, reply b
sampled at the checkpoint's temperature. A rule-based agent is deterministic, so it needs
``--agent-b``. The server listens on 127.0.0.1 unless ``--host`` says otherwise; it has no
authentication (see docs/serve.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dialog_envs.commands.rate import build_agent
from dialog_envs.errors import DialogEnvsError

HELP = "Serve a web page to talk with an agent and rate each reply 1-5 (or pick the better of two); appends to a feedback log."
INSTALL_HINT = "dialog-envs serve needs FastAPI and uvicorn: pip install 'dialog-envs[web]' (or: pip install fastapi uvicorn)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", default=None, help="'reference' (default) or module:Class")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="a token-pg checkpoint folder (trained on SimUser-v0 or DialogueBLEU-v0) to talk with, instead of --agent")
    parser.add_argument("--agent-b", default=None,
                        help="compare mode: the agent of reply b ('reference' or module:Class); default: a sampled reply of --checkpoint")
    parser.add_argument("--data-path", default=None, help="MultiWOZ-style folder for the reference agent's domain")
    parser.add_argument("--mode", choices=("rate", "compare"), default="rate",
                        help="rate: rate each reply 1-5 (default); compare: pick the better of two replies")
    parser.add_argument("--log", default="feedback.jsonl", help="JSONL feedback log to append to (default feedback.jsonl)")
    parser.add_argument("--max-turns", type=int, default=20, help="rated turns after which a conversation ends (default 20)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")


def agent_factory(args: argparse.Namespace) -> tuple[Callable[[], Any], str]:
    """What builds each session's agent, and the agent's name for the records."""
    if args.checkpoint is not None and args.agent is not None:
        raise DialogEnvsError("give --agent or --checkpoint, not both")
    if args.mode == "rate" and args.agent_b is not None:
        raise DialogEnvsError("--agent-b is for --mode compare")
    if args.checkpoint is not None:
        from dialog_envs.agents.chat import CheckpointChat

        chat = CheckpointChat(args.checkpoint)
        new_a: Callable[[], Any] = chat.conversation
        name = f"checkpoint:{args.checkpoint}"
    else:
        spec = args.agent or "reference"
        build_agent(spec, args.data_path)  # fail now, not in the first session

        def new_a() -> Any:
            return build_agent(spec, args.data_path)

        name = spec
    if args.agent_b is None:
        if args.mode == "compare" and args.checkpoint is None:
            raise DialogEnvsError(f"--mode compare needs two replies: give --agent-b (agent {name!r} gives one reply per turn)")
        return new_a, name
    from dialog_envs.web.app import TwoAgents

    spec_b = args.agent_b
    build_agent(spec_b, args.data_path)
    return (lambda: TwoAgents(new_a(), build_agent(spec_b, args.data_path))), f"{name} vs {spec_b}"


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from dialog_envs.web.app import ChatServer, create_app
    except ImportError:
        raise DialogEnvsError(INSTALL_HINT) from None
    new_agent, name = agent_factory(args)
    server = ChatServer(new_agent, args.log, mode=args.mode, agent_name=name, max_turns=args.max_turns)
    print(f"dialog-envs serve: {args.mode} mode, agent {name}, log {args.log}: http://{args.host}:{args.port}/ (Ctrl-C stops)")
    uvicorn.run(create_app(server), host=args.host, port=args.port, log_level="warning")
    return 0
