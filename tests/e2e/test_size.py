"""`turnout size` against a real `turnout serve`: a model made slow on purpose (40 ms per
request, one request at a time per instance) needs more instances than a fast one (the
demo's digits-b) to hold the same rate and latency target; the scratch endpoints are gone
afterwards.

40 req/s with p99 ≤ 1 s: one slow instance answers at most 25 req/s, under the 90% of the
rate a trial must answer, whatever the machine's load; two serve 50 req/s, three 75. One
fast instance serves thousands, with room to spare on a busy machine. No time is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Deploy
from tests.support.endpoints import VariantOf
from tests.support.models import digits_rows, make_sklearn_model
from turnout.cli.background import BackgroundServer
from turnout.cli.demo_models import train
from turnout.client import Client

pytestmark = pytest.mark.e2e

_SCRIPT = Path(sys.executable).with_name("turnout")
TURNOUT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "turnout.cli.main"]
SLOW_INFERENCE = """
import json
import os
import time

import joblib
import numpy as np


def model_fn(model_dir, context=None):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(request_body, request_content_type, context=None):
    return np.asarray(json.loads(request_body), dtype=float)


def predict_fn(data, model, context=None):
    time.sleep(0.04)  # slow on purpose: 40 ms per request
    return model.predict(data).tolist()


def output_fn(prediction, accept, context=None):
    return json.dumps(prediction), "application/json"
"""


def make_slow_model(dest: Path) -> Path:
    make_sklearn_model(dest)
    (dest / "code").mkdir()
    (dest / "code" / "inference.py").write_text(textwrap.dedent(SLOW_INFERENCE))
    return dest


def size(server: BackgroundServer, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PY_COLORS")}
    env.update(TURNOUT_URL=server.url, NO_COLOR="1", COLUMNS="200")
    done = subprocess.run(
        [*TURNOUT, "size", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def test_a_slow_model_needs_more_instances_than_a_fast_one(
    server: BackgroundServer,
    client: Client,
    deploy: Deploy,
    tmp_path: Path,
) -> None:
    fast_model = train(tmp_path / "demo")[0][1]  # the demo's digits-b
    deploy("fast", [VariantOf("A", fast_model.path)])
    deploy("slow", [VariantOf("A", make_slow_model(tmp_path / "slow"))])
    rows, _ = digits_rows(10)
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps([row]) + "\n" for row in rows))
    target = (
        "-d",
        str(data),
        "--p99-ms",
        "1000",
        "--target-rps",
        "40",
        "--max-instances",
        "3",
        "--duration",
        "3s",
    )

    fast = size(server, "fast", *target, "--batching", "off")
    slow = size(server, "slow", *target)

    assert fast["recommendation"]["instances"] == 1, fast
    assert slow["batchings"] == ["as-is"]  # its inference.py does not batch
    assert slow["recommendation"]["instances"] >= 2, slow
    assert slow["recommendation"]["instances"] > fast["recommendation"]["instances"]
    # The measurements behind it: one slow instance fell behind, the recommended one held.
    first = slow["trials"][0]
    assert first["instances"] == 1 and not first["holds"], first
    assert first["reason"].startswith("answered"), first  # it fell behind the rate
    chosen = next(
        t for t in slow["trials"] if t["instances"] == slow["recommendation"]["instances"]
    )
    assert chosen["holds"] and chosen["p99_ms"] <= 1000
    assert all(t["peak_rss_mb_per_instance"] for t in slow["trials"])
    # Nothing scratch is left behind.
    names = {e["name"] for e in client.list_endpoints()}
    names |= {c["name"] for c in client.list_endpoint_configs()}
    names |= {m["name"] for m in client.list_models()}
    assert not {n for n in names if n.startswith("size-")}, names
