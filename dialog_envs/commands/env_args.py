"""Command-line arguments shared by the commands that build an environment."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from dialog_envs.errors import DialogEnvsError
from dialog_envs.registration import env_ids


def add_env_arguments(parser: argparse.ArgumentParser) -> None:
    """``ENV`` (an id) and repeatable ``--env-kwarg KEY=VALUE``."""
    parser.add_argument("env_id", metavar="ENV", help=f"environment id, one of: {', '.join(env_ids())}")
    parser.add_argument(
        "-k",
        "--env-kwarg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=(
            "constructor argument of the env; VALUE is read as YAML (numbers, true/false, {bleu: 0.7}), "
            "e.g. data_path={train: a.conll, validation: b.conll, test: c.conll}"
        ),
    )


def parse_env_kwargs(pairs: list[str]) -> dict[str, Any]:
    """``["reward=dense_f1", "max_length=64"]`` -> ``{"reward": "dense_f1", "max_length": 64}``."""
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise DialogEnvsError(f"env argument {pair!r} is not KEY=VALUE")
        try:
            kwargs[key] = yaml.safe_load(value) if value else None
        except yaml.YAMLError as error:
            raise DialogEnvsError(f"env argument {key!r}: value {value!r} is not valid YAML ({error})") from None
    return kwargs
