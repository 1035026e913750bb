"""Many tiny, distinguishable scikit-learn models for multi-model endpoint tests and bench:
model i is a DummyRegressor that answers i whatever the input."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import joblib
from sklearn.dummy import DummyRegressor


def model_tarball(value: float) -> bytes:
    """A SageMaker model.tar.gz holding model.joblib: a regressor answering `value`."""
    model = DummyRegressor(strategy="constant", constant=value).fit([[0.0]], [value])
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    data = buffer.getvalue()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.joblib")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return archive.getvalue()


def name_of(i: int) -> str:
    return f"m{i:04d}.tar.gz"


def publish(put: Callable[[str, bytes], object], count: int, threads: int = 8) -> list[str]:
    """Write models 0..count-1 with `put(name, tarball)` from a few threads; their names."""
    names = [name_of(i) for i in range(count)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: put(names[i], model_tarball(float(i))), range(count)))
    return names
