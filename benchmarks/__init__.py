"""Benchmark scripts for what is not a suite of ``dialog-envs bench`` (throughput, reward speed,
the SimUser reference agent); the suites are ``benchmarks/suites/*.yaml``. Everything writes under
``runs/`` unless told otherwise; ``benchmarks/results/`` holds the committed figures."""
