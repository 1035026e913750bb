"""Shadow variants' answers compared with production's, and inference experiments (ADR 0021)."""
