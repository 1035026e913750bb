"""turnout.experiments: experiment definitions, statistics, analysis and decisions."""
