"""Benchmarks: commands that measure and write JSON under ``benchmarks/results/``."""
