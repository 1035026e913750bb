"""Asynchronous inference (ADR 0031): throughput of small async requests beside real-time
invocations of the same model in the same run, and the peak RSS of `turnout serve` while one
large input (from S3, moto's server) passes through it.

    python bench/async_inference.py [--requests 300] [--big-mb 512]

small: `--requests` inputs of a few bytes (file:// locations), submitted with boto3's
invoke_endpoint_async, timed from the first submit to the last output file; baseline: the
same number of invoke_endpoint calls, one after another, on the same endpoint.
big: one `--big-mb` object in moto's S3; `turnout serve`'s RSS (its own process, not the
instance's) is sampled every 20 ms from the submit until the output appears.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import psutil

from turnout.cli.background import BackgroundServer, free_port

MODEL = """
    import json


    def model_fn(model_dir):
        return None


    def input_fn(request_body, request_content_type):
        data = request_body if isinstance(request_body, bytes) else request_body.encode()
        return len(data)


    def predict_fn(input_data, model):
        return input_data


    def output_fn(prediction, accept):
        return json.dumps({"bytes": prediction}), "application/json"
"""
KEYS = {"aws_access_key_id": "moto", "aws_secret_access_key": "moto", "region_name": "us-east-1"}


def deploy(url: str, model: Path, output: str) -> tuple[Any, Any]:
    sm = boto3.client("sagemaker", endpoint_url=url, **KEYS)
    rt = boto3.client("sagemaker-runtime", endpoint_url=url, **KEYS)
    sm.create_model(ModelName="bytes", PrimaryContainer={"ModelDataUrl": model.as_uri()})
    sm.create_endpoint_config(
        EndpointConfigName="bytes",
        ProductionVariants=[{"VariantName": "A", "ModelName": "bytes",
                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": output}},
    )  # fmt: skip
    sm.create_endpoint(EndpointName="bytes", EndpointConfigName="bytes")
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName="bytes", WaiterConfig={"Delay": 0.5, "MaxAttempts": 240}
    )
    return sm, rt


def wait_for(done: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"not done within {timeout:g} s")
        time.sleep(0.02)


def small(rt: Any, root: Path, requests: int) -> tuple[float, float]:
    inputs, outputs = root / "small-in", root / "out"
    inputs.mkdir()
    for n in range(requests):
        (inputs / f"{n}.txt").write_text(f"{n}\n")
    started = time.perf_counter()
    for n in range(requests):
        rt.invoke_endpoint_async(EndpointName="bytes", InferenceId=f"small-{n}",
                                 InputLocation=(inputs / f"{n}.txt").as_uri())  # fmt: skip
    wait_for(lambda: len(list(outputs.glob("small-*.out"))) >= requests, 600)
    async_rate = requests / (time.perf_counter() - started)
    started = time.perf_counter()
    for n in range(requests):
        rt.invoke_endpoint(EndpointName="bytes", Body=f"{n}\n", ContentType="text/plain")
    return async_rate, requests / (time.perf_counter() - started)


def big(
    server: BackgroundServer, rt: Any, s3: Any, root: Path, size_mb: int
) -> tuple[float, float]:
    """(RSS before, peak RSS during) of the server process, in MB."""
    chunk = b"x" * (1024 * 1024 - 1) + b"\n"
    path = root / "big.bin"
    with path.open("wb") as out:
        for _ in range(size_mb):
            out.write(chunk)
    s3.upload_file(str(path), "bench", "big.bin")
    path.unlink()
    assert server.process is not None
    process = psutil.Process(server.process.pid)
    before = process.memory_info().rss
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rt.invoke_endpoint_async(EndpointName="bytes", InferenceId="big",
                             InputLocation="s3://bench/big.bin")  # fmt: skip
    out = root / "out" / "big.out"
    wait_for(out.exists, 900)
    stop.set()
    sampler.join()
    expected = f'{{"bytes": {size_mb * 1024 * 1024}}}'
    assert out.read_text() == expected, out.read_text()
    return before / 2**20, peak[0] / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--big-mb", type=int, default=512)
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's line per request

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    store = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=store, **KEYS)
    s3.create_bucket(Bucket="bench")
    env = {"TURNOUT_S3_ACCESS_KEY_ID": "moto", "TURNOUT_S3_SECRET_ACCESS_KEY": "moto"}
    os.environ.update(env)  # inherited by `turnout serve`
    try:
        with tempfile.TemporaryDirectory(prefix="turnout-async-bench-") as tmp:
            root = Path(tmp)
            model = root / "model"
            (model / "code").mkdir(parents=True)
            (model / "code" / "inference.py").write_text(textwrap.dedent(MODEL).lstrip())
            args_ = ("--s3-endpoint-url", store)
            with BackgroundServer(root / "serve", extra_args=args_) as server:
                _, rt = deploy(server.url, model, (root / "out").as_uri())
                async_rate, sync_rate = small(rt, root, args.requests)
                print(f"small async    {async_rate:7.1f} requests/s  ({args.requests} "
                      "submitted, then every output written)")  # fmt: skip
                print(f"small realtime {sync_rate:7.1f} requests/s  (baseline: "
                      "invoke_endpoint one after another)")  # fmt: skip
                before, peak = big(server, rt, s3, root, args.big_mb)
                print(
                    f"big input      {args.big_mb} MB from S3: turnout serve RSS "
                    f"{before:.0f} MB before, {peak:.0f} MB peak (+{peak - before:.0f} MB)"
                )
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
