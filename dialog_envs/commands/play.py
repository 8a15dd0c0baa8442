"""``dialog-envs play ID``: a person acts in an environment from the terminal.

The env's own ``render()`` shows the state; what the person types goes through the env's
``text_to_actions`` (a tag name for NER, a whole reply for the dialogue envs) via
:class:`~dialog_envs.wrappers.TextView`. Bad input gets a message and another prompt.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

import gymnasium as gym

from dialog_envs.commands.env_args import add_env_arguments, parse_env_kwargs
from dialog_envs.registration import check_env_id
from dialog_envs.wrappers import TextView

HELP = "Play an environment in the terminal: you are the agent."
QUIT_WORDS = {":q", ":quit", "quit", "exit"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_env_arguments(parser)
    parser.add_argument("--seed", type=int, default=None, help="seed of the first episode")
    parser.add_argument("--episodes", type=int, default=1, help="how many episodes to play (default 1)")


def run(args: argparse.Namespace) -> int:
    import dialog_envs  # noqa: F401  (registers the ids)

    env = gym.make(check_env_id(args.env_id), render_mode="ansi", **parse_env_kwargs(args.env_kwarg))
    return play(env, episodes=args.episodes, seed=args.seed, stdin=sys.stdin, stdout=sys.stdout)


def play(env: gym.Env, episodes: int, seed: int | None, stdin: TextIO, stdout: TextIO) -> int:
    """Run ``episodes`` episodes with a person typing the actions; returns an exit status."""
    view = TextView(env)
    for episode in range(episodes):
        view.reset(seed=None if seed is None else seed + episode)
        episode_return = 0.0
        done = False
        while not done:
            print(env.render(), file=stdout)
            print("your action (:q quits)> ", end="", file=stdout, flush=True)
            line = stdin.readline()
            if not line or line.strip() in QUIT_WORDS:
                print("bye", file=stdout)
                return 0
            try:
                _, reward, terminated, truncated, info = view.step(line.rstrip("\n"))
            except ValueError as error:
                print(f"not understood: {error}", file=stdout)
                continue
            episode_return += reward
            print(f"reward {reward:+.4g}  (episode so far {episode_return:+.4g})", file=stdout)
            done = terminated or truncated
        print(env.render(), file=stdout)
        summary = {key: value for key, value in info.items() if isinstance(value, (int, float, str)) and key != "action_mask"}
        print(f"episode {episode + 1} over: return {episode_return:+.4g}  {summary}", file=stdout)
    return 0
