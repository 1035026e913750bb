"""Load tests and sizing: drive an endpoint at a concurrency or a request rate, measure
throughput, latency, errors and each instance's CPU and memory, and report (docs/load-tests.md).
"""
