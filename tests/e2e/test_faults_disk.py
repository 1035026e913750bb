"""The disk that data capture writes to fills up (ADR 0033).

Capture writes into a directory on a real, tiny filesystem (a 512 KiB tmpfs mounted for
the test: a real ENOSPC from the kernel, nothing simulated). A ballast file fills it; then:
every invocation still succeeds, capture stops with the reason (REST: Stopped, "the disk
is full"; DescribeEndpoint: CaptureStatus Stopped, CurrentSamplingPercentage 0); and once
the ballast is deleted capture resumes by itself and new records land in the files.

Mounting needs root (CI runs as root); elsewhere the test skips.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.sagemaker.conftest import clients
from tests.conftest import Artifacts
from tests.support.capture import read_records
from tests.support.endpoints import poll_until
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.client import Client, DataCaptureStatusInfo, Variant

pytestmark = pytest.mark.e2e

NAME = "captured"
ROWS, LABELS = digits_rows(1)
SIZE = 512 * 1024


@contextlib.contextmanager
def tiny_filesystem(path: Path) -> Iterator[Path]:
    path.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> None:
    """Write zeros into `path` until the filesystem refuses (ENOSPC)."""
    chunk = b"\0" * 4096
    with path.open("wb", buffering=0) as ballast:
        while True:
            try:
                ballast.write(chunk)
            except OSError as err:
                assert err.errno == errno.ENOSPC, err
                return


def capture_status(client: Client) -> DataCaptureStatusInfo:
    status = client.describe_endpoint(NAME)["data_capture"]
    assert status is not None
    return status


def test_a_full_disk_stops_capture_never_invocations_and_capture_resumes(
    artifacts: Artifacts, tmp_path: Path
) -> None:
    with (
        tiny_filesystem(tmp_path / "disk") as disk,
        BackgroundServer(tmp_path / "serve") as server,
        Client(server.url, timeout=30) as client,
    ):
        destination = disk / "capture"
        client.create_model(f"{NAME}-A", str(artifacts.sklearn))
        client.create_endpoint_config(
            f"{NAME}-config",
            [Variant("A", f"{NAME}-A")],
            data_capture={"destination": destination.as_uri(), "sampling_percentage": 100},
        )
        client.create_endpoint(NAME, f"{NAME}-config")
        client.wait_for_endpoint(NAME, timeout=120)
        failures = 0

        def invoke(n: int) -> None:
            nonlocal failures
            for _ in range(n):
                answer = client.invoke(NAME, ROWS)
                failures += answer.json() != LABELS

        invoke(5)
        poll_until(lambda: capture_status(client)["captured"], lambda c: c == 5, 30, "captures")
        fill(disk / "ballast")

        # Full: invocations go on; capture stops, and says why.
        invoke(50)
        stopped = poll_until(
            lambda: capture_status(client), lambda s: s["status"] == "Stopped", 30, "a stop"
        )
        assert "the disk is full" in (stopped["reason"] or ""), stopped
        sm, _ = clients(server.url)
        summary = sm.describe_endpoint(EndpointName=NAME)["DataCaptureConfig"]
        assert (summary["CaptureStatus"], summary["CurrentSamplingPercentage"]) == ("Stopped", 0)
        invoke(20)

        # Space again: capture resumes by itself, and writes.
        os.unlink(disk / "ballast")

        def resumed() -> DataCaptureStatusInfo:
            invoke(1)
            return capture_status(client)

        poll_until(
            resumed,
            lambda s: s["status"] == "Started" and s["captured"] >= stopped["captured"] + 3,
            60,
            "capture to resume",
        )
        summary = sm.describe_endpoint(EndpointName=NAME)["DataCaptureConfig"]
        assert (summary["CaptureStatus"], summary["CurrentSamplingPercentage"]) == ("Started", 100)
        assert failures == 0, "invocations failed while the disk was full"
        # Every record counted is on disk, once the writer has flushed the last ones.
        captured = capture_status(client)["captured"]
        poll_until(
            lambda: sum(len(records) for records in read_records(destination).values()),
            lambda written: written == captured,
            30,
            "the captured records on disk",
        )
