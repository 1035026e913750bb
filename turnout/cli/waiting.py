"""Waiting for an endpoint with a live status line (Rich)."""

from __future__ import annotations

from turnout.cli.common import console, fail
from turnout.client import Client, EndpointFailed, EndpointInfo, WaitTimeout


def progress_line(endpoint: EndpointInfo) -> str:
    ready = sum(i["ready"] for v in endpoint["variants"] for i in v["instances"])
    wanted = sum(v["desired_instance_count"] for v in endpoint["variants"])
    return f"{endpoint['name']}: {endpoint['status']} ({ready}/{wanted} instances ready)"


def wait_with_status(client: Client, name: str, timeout: float) -> EndpointInfo:
    """Wait for InService showing progress; a failure prints its reason as one line."""
    with console.status(f"{name}: waiting ...") as status:
        try:
            return client.wait_for_endpoint(
                name, timeout=timeout, on_poll=lambda e: status.update(progress_line(e))
            )
        except EndpointFailed as exc:
            fail(f"{exc}; see the instance log shown by `turnout endpoint describe {name}`")
        except WaitTimeout as exc:
            fail(f"{exc}; wait longer with `turnout endpoint wait {name}`")
