"""``dialog-envs bench-throughput``: the throughput benchmark (``benchmarks/throughput.py``)."""

from __future__ import annotations

import argparse

HELP = "Measure tokens/s of the agent against its ceilings, the envs and its peers (SB3, TRL)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from benchmarks.throughput import add_arguments as benchmark_arguments

    benchmark_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from benchmarks.throughput import run_from_args

    return run_from_args(args)
