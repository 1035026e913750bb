"""Joining the Ray cluster that `turnout serve --backend ray` places instances on.

`turnout serve` becomes a Ray driver, which needs a Ray node on its own machine (started
with `ray start`): give the address of the cluster's head (GCS), HOST:PORT. Ray Client
addresses (ray://) are refused: awaiting actor calls goes through the local node.
"""

from __future__ import annotations

import logging
import socket

from turnout.instances.backends import BackendError

NAMESPACE = "turnout"
log = logging.getLogger("turnout.instances")
_PROBE_TIMEOUT = 3.0


def connect(address: str | None) -> None:
    """ray.init for this process, or a BackendError that says what to do. Blocks (seconds):
    call it before the event loop runs. `address` None: RAY_ADDRESS, else the cluster this
    machine's `ray start` made."""
    try:
        import ray
    except ImportError:
        raise BackendError(
            "--backend ray needs Ray installed next to turnout: pip install 'turnout[ray]'"
        ) from None
    target = address or "auto"
    if target.startswith("ray://"):
        raise BackendError(
            f"--ray-address {target}: Ray Client addresses are not supported; run turnout "
            "serve on a node of the cluster and give the head's HOST:PORT (ray start --address)"
        )
    if address is not None:
        _probe(address)
    try:
        ray.init(
            address=target,
            namespace=NAMESPACE,
            log_to_driver=False,  # instance output goes to its log file on its node
            logging_level=logging.WARNING,
        )
    except Exception as exc:  # Ray raises various types, by failure and by version
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise BackendError(
            f"cannot join the Ray cluster at {target}: {reason}; start a node on this machine "
            "(ray start --head, or ray start --address HEAD:PORT) and pass --ray-address"
        ) from None
    log.info("instances run as actors on the Ray cluster at %s", target)


def _probe(address: str) -> None:
    """Fail in seconds when nothing listens there (ray.init would retry for a minute)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BackendError(f"--ray-address {address!r}: use HOST:PORT of the Ray head (GCS)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), _PROBE_TIMEOUT).close()
    except OSError as exc:
        raise BackendError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}; start it with "
            "ray start --head, or check --ray-address"
        ) from None
