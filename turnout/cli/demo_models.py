"""The demo's two image classifiers: scikit-learn digits, differing only in learning rate."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np

# Same network, same seed; only the learning rate differs (the seed's scenario).
LEARNING_RATES = {"digits-a": 0.001, "digits-b": 0.01}
EPOCHS = 40


@dataclass(frozen=True)
class TrainedModel:
    name: str
    learning_rate: float
    path: Path  # a directory holding model.joblib
    holdout_accuracy: float


@dataclass(frozen=True)
class Holdout:
    """Digits the models never saw: the demo's request payloads and their true labels."""

    rows: list[list[float]]
    labels: list[int]


def train(work_dir: Path) -> tuple[list[TrainedModel], Holdout]:
    """Train both classifiers (a few seconds) and save each as work_dir/<name>/model.joblib."""
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler
    from threadpoolctl import threadpool_limits

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    trained = []
    for name, rate in LEARNING_RATES.items():
        pipeline: Any = make_pipeline(
            MaxAbsScaler(),
            MLPClassifier(
                hidden_layer_sizes=(64,),
                learning_rate_init=rate,
                max_iter=EPOCHS,
                random_state=0,
            ),
        )
        # Few epochs on purpose (fast, and the rates then differ visibly); BLAS threads only
        # slow a problem this small down.
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipeline.fit(X_train, y_train)
        path = work_dir / name
        path.mkdir(parents=True, exist_ok=True)
        joblib.dump(pipeline, path / "model.joblib")
        accuracy = float(pipeline.score(X_test, y_test))
        trained.append(TrainedModel(name, rate, path, accuracy))
    holdout = Holdout(np.asarray(X_test, dtype=float).tolist(), [int(v) for v in y_test])
    return trained, holdout
