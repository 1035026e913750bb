"""boto3 `cloudwatch` clients that speak one chosen protocol.

botocore picks the first protocol of the service model's `protocols` it supports: RPC v2
CBOR today. For JSON 1.0 or query, a copy of the installed model with that protocol first
goes in a data directory searched before botocore's own, so botocore itself still
serializes every request and parses every answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

PROTOCOLS = ("smithy-rpc-v2-cbor", "json", "query")
REGION = "us-east-1"
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60)


def model_dir(root: Path, protocol: str) -> Path:
    """A botocore data directory whose cloudwatch model puts `protocol` first."""
    raw = Loader().load_service_model("cloudwatch", "service-2")
    version = raw["metadata"]["apiVersion"]
    raw["metadata"]["protocol"] = protocol
    raw["metadata"]["protocols"] = [protocol]
    target = root / protocol / "cloudwatch" / version
    target.mkdir(parents=True, exist_ok=True)
    (target / "service-2.json").write_text(json.dumps(raw))
    return root / protocol


def cloudwatch(url: str, protocol: str, root: Path, key: str = "test", secret: str = "test") -> Any:
    """A cloudwatch client pointed at `url` that speaks `protocol` (botocore's spelling)."""
    session = botocore.session.get_session()
    if protocol != PROTOCOLS[0]:
        loader = session.get_component("data_loader")
        loader.search_paths.insert(0, str(model_dir(root, protocol)))
    return boto3.Session(botocore_session=session).client(
        "cloudwatch",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=CONFIG,
    )


def protocol_of(client: Any) -> str:
    return str(client.meta.service_model.protocol)
