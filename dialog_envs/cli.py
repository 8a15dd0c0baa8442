"""The ``dialog-envs`` command line: one sub-command per module of :mod:`dialog_envs.commands`.

Each command module defines ``HELP`` (one line, plain text), ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their command runs, so ``dialog-envs list``
starts fast. Errors the package raises on purpose (:class:`~dialog_envs.errors.DialogEnvsError`)
and operating-system errors (a missing file, a folder that cannot be written) are printed as one
line, never as a traceback. The current folder is searched for modules, after the installed
packages, so that ``module:Class`` agents import from it as they do under ``python -m``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
from collections.abc import Sequence
from typing import NoReturn

from dialog_envs.errors import DialogEnvsError

# command name -> module under dialog_envs.commands
COMMANDS: dict[str, str] = {
    "list": "list_envs",
    "play": "play",
    "eval-ner": "eval_ner",
    "predict": "predict",
    "train": "train",
    "evaluate": "evaluate",
    "rate": "rate",
    "serve": "serve",
    "bench": "bench",
    "reward-model": "reward_model",
}


DESCRIPTION = "The dialog-envs command line: Gymnasium environments for language tasks and the agents that learn them."


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line that points at ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command (imports each command module)."""
    parser = OneLineErrorParser(prog="dialog-envs", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"dialog_envs.commands.{module_name}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dialog-envs`` console script."""
    words = list(sys.argv[1:] if argv is None else argv)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    args = build_parser().parse_args(words)
    args.command_line = shlex.join(["dialog-envs", *words])
    try:
        return int(args.run(args) or 0)
    except DialogEnvsError as error:
        print(f"dialog-envs {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        print(f"dialog-envs {args.command}: error: {error.strerror or error}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
