"""Many tiny, distinguishable scikit-learn models for multi-model endpoint tests and bench:
model i is a DummyRegressor that answers i whatever the input."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

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


def deploy(sm: Any, name: str, container: dict[str, Any], instances: int = 1) -> None:
    """A model of this container, a one-variant endpoint config and its endpoint, InService."""
    sm.create_model(ModelName=name, PrimaryContainer=container)
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "A", "ModelName": name,
                             "InitialInstanceCount": instances, "InstanceType": "ml.m5.large"}],
    )  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 0.25, "MaxAttempts": 480}
    )
