"""Per-variant counters and latency histograms, their rollups, and the Prometheus export."""
