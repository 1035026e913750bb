"""Drift and data-quality monitoring: baselines from training data, drift of captured
traffic against them (ADR 0041)."""
