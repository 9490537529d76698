"""Benchmarks of the media worker: relay latency, capacity and signalling, each against a
baseline measured in the same run (see bench/README.md). Not tests: nothing here asserts."""
