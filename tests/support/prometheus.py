"""Reading a running `turnout serve`'s /metrics in e2e tests."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def samples(url: str, family: str, endpoint: str) -> list[Sample]:
    """The samples of one metric family for one endpoint, as GET {url}/metrics gives them."""
    response = httpx.get(url + "/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [
        sample
        for found in text_string_to_metric_families(response.text)
        if found.name == family
        for sample in found.samples
        if sample.labels.get("endpoint") == endpoint
    ]
