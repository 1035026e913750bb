"""Flavors: one module per kind of artifact, each saying how to detect and load it."""
