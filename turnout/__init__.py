"""turnout: deploy machine-learning models safely on your own machines."""

__version__ = "0.1.0"
