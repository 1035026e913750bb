"""Test models, trained on the spot on scikit-learn's bundled digits data (no downloads).

Every builder writes a model directory and returns its path; `make_tarball` turns one into a
SageMaker `model.tar.gz`. Training happens once per process per (C, seed).

- `make_sklearn_model`: `model.joblib`, a LogisticRegression (flavor sklearn).
- `make_inference_model`: the same plus `code/inference.py`, JSON in and out (flavor inference).
- `make_faulty_model`: an inference model with misbehaviours on demand; a JSON object body
  `{"raise": "msg"}` raises RuntimeError("msg") in predict_fn (500), `{"hang": seconds}`
  sleeps, `{"crash": true}` calls os._exit(1), `{"leak_mb": n}` allocates n MB and keeps it,
  `{"echo_attributes": true}` answers `{"custom_attributes": <request's>}` and sends the same
  value back as the response's X-Amzn-SageMaker-Custom-Attributes (through the handler's
  `context`, see turnout.models.flavors.inference.Context). Rows predict digits as usual.
- `make_command_model`: an executable `serve` (stdlib http.server, shebang = this Python) that
  serves /ping and /invocations on 127.0.0.1:$SAGEMAKER_BIND_TO_PORT, answering
  `{"echo": <request JSON>}`. Run it as the artifact's `serve` file (flavor auto detects it),
  or as `Model(command=(sys.executable, "serve"))` with the artifact as working directory.
- `make_broken_model`: model_fn raises at load (the worker exits 3 with one line).
- `make_flaky_model`: an inference model whose predict_fn raises (a 500) on 3 of every 10
  requests an instance serves, in a fixed pattern: exactly 30% once a multiple of 10 went by.
- `make_onnx_model`: the digits classifier converted by skl2onnx into `model.onnx` (with or
  without its ZipMap probabilities output).
- `make_xgboost_model`: a SageMaker XGBoost artifact, `xgboost-model` (Booster.save_model)
  trained on breast_cancer (binary:logistic) or digits (multi:softprob); `train_xgboost`
  gives the Booster and its held-out rows.
- `make_mlflow_model`: `mlflow.sklearn.save_model` of the digits classifier with a signature
  inferred from numpy rows (tensor-based) or from a DataFrame (columns `p0`..`p63`).
The ONNX, XGBoost and MLflow builders import their frameworks when called (test extra).
"""

from __future__ import annotations

import functools
import io
import stat
import sys
import tarfile
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

import joblib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

N_FEATURES = 64
BROKEN_MESSAGE = "this model is broken on purpose"


class Digits(NamedTuple):
    """A fitted estimator and the held-out split it was not trained on."""

    estimator: LogisticRegression
    X_test: np.ndarray[Any, Any]
    y_test: np.ndarray[Any, Any]


@functools.lru_cache(maxsize=8)
def train_digits(C: float = 1.0, seed: int = 0) -> Digits:
    """LogisticRegression on digits (cached: callers must not refit the estimator)."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed)
    estimator = LogisticRegression(C=C, max_iter=2000, random_state=seed)
    with threadpool_limits(1):  # BLAS threads on a small problem are 20x slower here
        estimator.fit(X_train, y_train)
    return Digits(estimator, X_test, y_test)


def digits_rows(n: int = 1, seed: int = 0) -> tuple[list[list[float]], list[int]]:
    """`n` held-out rows (as JSON-ready lists of floats) and their true labels."""
    digits = train_digits(seed=seed)
    rows = [[float(v) for v in row] for row in digits.X_test[:n]]
    return rows, [int(label) for label in digits.y_test[:n]]


def make_sklearn_model(dest_dir: Path, C: float = 1.0, seed: int = 0) -> Path:
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(train_digits(C, seed).estimator, dest_dir / "model.joblib")
    return dest_dir


def make_tarball(src_dir: Path, dest_path: Path) -> Path:
    """A SageMaker model.tar.gz of `src_dir`: its files at the archive root, modes kept."""
    src_dir, dest_path = Path(src_dir), Path(dest_path)
    dest_path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest_path, "w:gz") as tar:
        for path in sorted(src_dir.rglob("*")):
            if "__pycache__" in path.parts:
                continue
            tar.add(path, arcname=path.relative_to(src_dir).as_posix(), recursive=False)
    return dest_path


def _write_code(dest_dir: Path, source: str, model: bool = True) -> Path:
    dest_dir = Path(dest_dir)
    if model:
        make_sklearn_model(dest_dir)
    code = dest_dir / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "inference.py").write_text(textwrap.dedent(source).lstrip())
    return dest_dir


_JSON_HANDLERS = """
    import json
    import os

    import joblib
    import numpy as np


    def model_fn(model_dir):
        return joblib.load(os.path.join(model_dir, "model.joblib"))


    def input_fn(request_body, request_content_type):
        if not request_content_type.startswith("application/json"):
            raise ValueError("only application/json is supported")
        data = np.asarray(json.loads(request_body), dtype=np.float64)
        return data.reshape(1, -1) if data.ndim == 1 else data


    def predict_fn(input_data, model):
        return model.predict(input_data)


    def output_fn(prediction, accept):
        return json.dumps(np.asarray(prediction).tolist()), "application/json"
"""


def make_inference_model(dest_dir: Path) -> Path:
    """model.joblib + code/inference.py with the four handlers; JSON rows in, labels out."""
    return _write_code(dest_dir, _JSON_HANDLERS)


# What SageMaker's SDK uploads as sourcedir.tar.gz for SKLearnModel(entry_point=...): the
# handlers alone; predict_fn prints a line, which reaches the instance's log (CloudWatch Logs).
PREDICT_LINE = "predict_fn: predicting rows:"
_PREDICT = "    def predict_fn(input_data, model):\n"
_SCRIPT_MODE_HANDLERS = _JSON_HANDLERS.replace(
    _PREDICT, f"{_PREDICT}        print({PREDICT_LINE!r}, len(input_data), flush=True)\n"
)


def make_source_dir(dest_dir: Path) -> Path:
    """A SageMaker SDK source_dir: inference.py (JSON rows in, labels out), no model."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    (dest_dir / "inference.py").write_text(textwrap.dedent(_SCRIPT_MODE_HANDLERS).lstrip())
    return dest_dir


_FAULTY_HANDLERS = """
    import json
    import os
    import time

    import joblib
    import numpy as np

    _kept = []  # what leak_mb allocates, kept alive on purpose


    def model_fn(model_dir, context=None):
        return joblib.load(os.path.join(model_dir, "model.joblib"))


    def input_fn(request_body, request_content_type, context=None):
        data = json.loads(request_body)
        if isinstance(data, dict):
            return data
        rows = np.asarray(data, dtype=np.float64)
        return rows.reshape(1, -1) if rows.ndim == 1 else rows


    def predict_fn(data, model, context=None):
        if not isinstance(data, dict):
            return model.predict(data).tolist()
        if "raise" in data:
            raise RuntimeError(data["raise"])
        if "hang" in data:
            time.sleep(float(data["hang"]))
            return {"slept": data["hang"]}
        if data.get("crash"):
            os._exit(1)
        if "leak_mb" in data:
            _kept.append(b"\\x01" * (int(data["leak_mb"]) << 20))  # touched, so resident
            return {"leaked_mb": sum(len(b) for b in _kept) >> 20}
        if data.get("echo_attributes"):
            attributes = context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes")
            if attributes is not None:
                context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", attributes)
            return {"custom_attributes": attributes}
        raise ValueError("unknown instruction: " + ", ".join(sorted(data)))


    def output_fn(prediction, accept, context=None):
        return json.dumps(prediction), "application/json"
"""


def make_faulty_model(dest_dir: Path) -> Path:
    return _write_code(dest_dir, _FAULTY_HANDLERS)


_BROKEN_HANDLERS = f"""
    def model_fn(model_dir):
        raise RuntimeError({BROKEN_MESSAGE!r})
"""


_FLAKY_HANDLERS = _JSON_HANDLERS.replace(
    """
    def predict_fn(input_data, model):
        return model.predict(input_data)
""",
    """
    _served = [0]


    def predict_fn(input_data, model):
        _served[0] += 1
        if _served[0] % 10 < 3:
            raise RuntimeError("this model fails 30% of requests on purpose")
        return model.predict(input_data)
""",
)


def make_flaky_model(dest_dir: Path) -> Path:
    """Digits over JSON, but requests 10k, 10k+1 and 10k+2 of an instance fail with a 500."""
    return _write_code(dest_dir, _FLAKY_HANDLERS)


def make_broken_model(dest_dir: Path) -> Path:
    """An inference model whose model_fn raises RuntimeError(BROKEN_MESSAGE)."""
    return _write_code(dest_dir, _BROKEN_HANDLERS, model=False)


_SERVE = '''
    """A bring-your-own-container model: /ping and /invocations on $SAGEMAKER_BIND_TO_PORT."""
    import json
    import os
    import select
    import signal
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like turnout's router expects
        answered_at = None

        def handle_one_request(self):
            # With KEEP_ALIVE (seconds), a connection left idle longer than that is dropped
            # when the next request comes, unread: a keep-alive timer firing as it arrives.
            if KEEP_ALIVE is not None and self.answered_at is not None:
                select.select([self.connection], [], [])
                if time.monotonic() - self.answered_at > KEEP_ALIVE:
                    self.close_connection = True
                    self.rfile.close()
                    self.wfile.close()
                    self.connection.close()  # the request unread: the router sees a reset
                    return
            super().handle_one_request()
            self.answered_at = time.monotonic()

        def _reply(self, status, body, content_type="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/ping":
                self._reply(200, b"{}")
            else:
                self._reply(404, b"not found", "text/plain")

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/invocations":
                self._reply(404, b"not found", "text/plain")
                return
            try:
                request = json.loads(body)
            except ValueError as err:
                self._reply(400, str(err).encode(), "text/plain")
                return
            self._reply(200, json.dumps({"echo": request}).encode())

        def log_message(self, format, *args):
            pass


    def main():
        port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
        host = os.environ.get("TURNOUT_BIND_HOST", "127.0.0.1")  # a Ray node's address
        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True

        def stop(signum, frame):
            threading.Thread(target=server.shutdown).start()

        # IGNORE_TERM: a server that will not stop when asked (stuck, or careless).
        signal.signal(signal.SIGTERM, signal.SIG_IGN if IGNORE_TERM else stop)
        server.serve_forever()
        server.server_close()


    if __name__ == "__main__":
        main()
'''


def make_command_model(
    dest_dir: Path, keep_alive: float | None = None, ignore_sigterm: bool = False
) -> Path:
    """A directory with an executable `serve` (stdlib only; shebang is sys.executable).

    With `keep_alive`, the server drops a connection left idle for longer than that many
    seconds as the next request on it arrives, without reading the request. With
    `ignore_sigterm`, SIGTERM does nothing: only SIGKILL (after turnout's stop grace) ends it."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    serve = dest_dir / "serve"
    source = textwrap.dedent(_SERVE).lstrip()
    header = f"#!{sys.executable}\nKEEP_ALIVE = {keep_alive!r}\nIGNORE_TERM = {ignore_sigterm!r}\n"
    serve.write_text(header + source)
    serve.chmod(serve.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return dest_dir


def make_onnx_model(dest_dir: Path, zipmap: bool = True) -> Path:
    from skl2onnx import to_onnx

    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    digits = train_digits()
    options = None if zipmap else {id(digits.estimator): {"zipmap": False}}
    onnx = to_onnx(digits.estimator, digits.X_test[:1].astype(np.float32), options=options)
    (dest_dir / "model.onnx").write_bytes(onnx.SerializeToString())
    return dest_dir


class Boosted(NamedTuple):
    booster: Any  # xgboost.Booster
    X_test: np.ndarray[Any, Any]


@functools.lru_cache(maxsize=4)
def train_xgboost(objective: str = "binary:logistic") -> Boosted:
    """A small booster: breast_cancer for binary objectives, digits for multi:* ones."""
    import xgboost
    from sklearn.datasets import load_breast_cancer

    multi = objective.startswith("multi:")
    X, y = load_digits(return_X_y=True) if multi else load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0)
    params: dict[str, Any] = {"objective": objective, "max_depth": 3, "nthread": 1, "seed": 0}
    if multi:
        params["num_class"] = 10
    booster = xgboost.train(params, xgboost.DMatrix(X_train, label=y_train), num_boost_round=8)
    return Boosted(booster, X_test)


def make_xgboost_model(dest_dir: Path, objective: str = "binary:logistic") -> Path:
    """`xgboost-model` as SageMaker's XGBoost 1.3+ training writes it (UBJ, no extension)."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    raw = train_xgboost(objective).booster.save_raw(raw_format="ubj")
    (dest_dir / "xgboost-model").write_bytes(bytes(raw))
    return dest_dir


def make_mlflow_model(dest_dir: Path, columns: bool = False) -> Path:
    """An MLflow model directory (it must not exist yet: save_model creates it)."""
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature

    digits = train_digits()
    rows: Any = digits.X_test
    if columns:
        rows = pd.DataFrame(rows, columns=[f"p{i}" for i in range(N_FEATURES)])
    signature = infer_signature(rows, digits.estimator.predict(digits.X_test))
    mlflow.sklearn.save_model(digits.estimator, str(dest_dir), signature=signature)
    return Path(dest_dir)


def npy_bytes(array: np.ndarray[Any, Any]) -> bytes:
    """An array as an application/x-npy body."""
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


_SHADOW_HANDLERS = _JSON_HANDLERS.replace(
    """
    def predict_fn(input_data, model):
        return model.predict(input_data)
""",
    """
    import time

    MODE = {mode!r}


    def predict_fn(input_data, model):
        if MODE == "raise":
            raise RuntimeError("this shadow fails every request on purpose")
        if MODE.startswith("sleep="):
            time.sleep(float(MODE[6:]))
        predicted = model.predict(input_data)
        if MODE == "contrary":  # wrong where contrary_row() says so: ~10% of digits
            wrong = np.rint(input_data.sum(axis=1)).astype(int) % 10 == 0
            predicted = np.where(wrong, (predicted + 1) % 10, predicted)
        return predicted
""",
)


def make_shadow_model(dest_dir: Path, mode: str) -> Path:
    """The digits classifier over JSON that sleeps ("sleep=2"), raises on every request
    ("raise"), or answers wrong where `contrary_row` is true ("contrary")."""
    return _write_code(dest_dir, _SHADOW_HANDLERS.replace("{mode!r}", repr(mode)))


def contrary_row(row: list[float]) -> bool:
    """Whether the "contrary" shadow model answers this digits row wrong."""
    return round(sum(row)) % 10 == 0


_COUNTING_HANDLERS = """
    import json


    def model_fn(model_dir):
        return None


    def input_fn(request_body, request_content_type):
        data = request_body if isinstance(request_body, bytes) else request_body.encode()
        return {"bytes": len(data), "lines": data.count(b"\\n"), "type": request_content_type}


    def predict_fn(input_data, model):
        return input_data


    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
"""


def make_counting_model(dest_dir: Path) -> Path:
    """An inference.py model that answers how many bytes and lines its input has (JSON):
    cheap on a big input, for asynchronous inference's transport."""
    return _write_code(dest_dir, _COUNTING_HANDLERS, model=False)


_RECORDING_HANDLERS = """
    import time

    RECORD = {record!r}


    def model_fn(model_dir):
        return None


    def input_fn(request_body, request_content_type):
        data = request_body if isinstance(request_body, str) else request_body.decode()
        return data.strip()


    def predict_fn(input_data, model):
        time.sleep({delay!r})
        with open(RECORD, "a") as record:  # one line per call that ran to its end
            record.write(input_data + "\\n")
        return input_data


    def output_fn(prediction, accept):
        return prediction, "text/plain"
"""


def make_recording_model(dest_dir: Path, record: Path, delay: float) -> Path:
    """An inference.py model that takes `delay` seconds, appends its (one-line) input to the
    file `record`, and answers the input: each call that completes leaves one line."""
    source = _RECORDING_HANDLERS.format(record=str(record), delay=delay)
    return _write_code(dest_dir, source, model=False)
