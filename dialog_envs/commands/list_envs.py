"""``dialog-envs list``: print every registered environment id with its description."""

from __future__ import annotations

import argparse

from dialog_envs.registration import ENV_SPECS

HELP = "List every registered environment with a one-line description."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """This command takes no arguments."""


def run(args: argparse.Namespace) -> int:
    width = max(len(spec.id) for spec in ENV_SPECS)
    for spec in ENV_SPECS:
        print(f"{spec.id:<{width}}  {spec.description}")
    return 0
