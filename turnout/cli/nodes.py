"""`turnout nodes`: the `turnout serve` processes sharing one store, and the controller."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.table import Table

from turnout.cli.common import DEFAULT_URL, CredentialsFile, Url, connect, console
from turnout.client import InstallationInfo


def nodes_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """List the nodes (`turnout serve` processes on one --db), their instances, and which
    node runs the controller."""
    with connect(url, credentials) as client:
        installation = client.nodes()
    if as_json:
        console.print_json(json.dumps(installation))
        return
    console.print(nodes_table(installation))


def nodes_table(installation: InstallationInfo, now: float | None = None) -> Table:
    now = time.time() if now is None else now
    controller = installation["controller"]
    table = Table(title_justify="left")
    table.title = (
        f"controller: {controller['holder']}" if controller else "controller: none (lease lapsed)"
    )
    for column in ("node", "url", "backend", "state", "heartbeat", "instances"):
        table.add_column(column)
    if not installation["nodes"]:
        table.caption = "no node has reported yet"
    for node in installation["nodes"]:
        role = "controller" if node["controller"] else "alive" if node["alive"] else "gone"
        ready = sum(i["state"] == "Ready" for i in node["instances"])
        detail = "\n".join(f"{i['id']} {i['state']} {i['address']}" for i in node["instances"])
        table.add_row(
            node["name"],
            node["url"],
            node["backend"],
            role,
            f"{now - node['heartbeat_at']:.1f} s ago",
            f"{ready}/{len(node['instances'])} ready" + (f"\n{detail}" if detail else ""),
        )
    return table
