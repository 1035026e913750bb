"""A two-container inference pipeline for tests and bench (ADR 0039): scikit-learn's
StandardScaler as an inference.py container, then a LogisticRegression trained on scaled
rows; the same fitted steps as a scikit-learn Pipeline to compare with."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import joblib
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

# Container 1: SageMaker inference-toolkit handlers that standard-scale CSV rows with the
# mean and scale saved in the artifact, answering CSV (the next container's request).
SCALER = """
    import json
    import os

    import numpy as np


    def model_fn(model_dir):
        with open(os.path.join(model_dir, "scaler.json")) as f:
            saved = json.load(f)
        return np.asarray(saved["mean"]), np.asarray(saved["scale"])


    def input_fn(body, content_type):
        return np.asarray([[float(v) for v in line.split(",")] for line in body.splitlines()])


    def predict_fn(rows, model):
        mean, scale = model
        return (rows - mean) / scale


    def output_fn(scaled, accept):
        return "\\n".join(",".join(repr(float(v)) for v in row) for row in scaled), "text/csv"
"""


def fit() -> tuple[Pipeline, Any]:
    """The fitted Pipeline (on half of the breast-cancer rows) and the rows it never saw."""
    x, y = load_breast_cancer(return_X_y=True)
    pipeline = Pipeline([("scaler", StandardScaler()), ("model", LogisticRegression())])
    pipeline.fit(x[::2], y[::2])
    return pipeline, x[1::2]


def containers(root: Path, pipeline: Pipeline) -> list[dict[str, Any]]:
    """CreateModel's Containers for the pipeline's two steps, artifacts written under root."""
    scaler, model = pipeline.named_steps["scaler"], pipeline.named_steps["model"]
    first, second = root / "scaler", root / "model"
    (first / "code").mkdir(parents=True)
    (first / "code" / "inference.py").write_text(textwrap.dedent(SCALER).lstrip())
    saved = {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()}
    (first / "scaler.json").write_text(json.dumps(saved))
    second.mkdir()
    joblib.dump(model, second / "model.joblib")
    return [
        {"ContainerHostname": "scaler", "ModelDataUrl": str(first),
         "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}},
        {"ContainerHostname": "model", "ModelDataUrl": str(second)},
    ]  # fmt: skip


def csv(rows: Any) -> bytes:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode()
