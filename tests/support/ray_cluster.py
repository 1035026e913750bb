"""A throwaway two-node Ray cluster on this machine's loopback addresses, for tests.

    with RayCluster(tmp_dir) as cluster:   # head on 127.X.Y.2, a second node on 127.X.Y.3
        ... turnout serve --backend ray --ray-address cluster.address ...
        cluster.kill(cluster.nodes[1])     # as if that machine died

Each node is one `ray start` (the venv's), in a session of its own: the daemons it leaves
(GCS, raylet, agents, ...) share its process group, and the raylet's children (actor
workers, with the instances they run) are found from the raylet. A node is torn down by
those PIDs only: `ray stop` would end every Ray process on the machine, other tests' too.

Why not 127.0.0.1: Ray swaps 127.0.0.1 for the machine's outward address when a cluster may
span machines (and refuses a second node when told not to), so other loopback addresses
(all of 127.0.0.0/8 is this machine's) are the only way to keep two nodes on loopback. Each
cluster takes its own pair (X, Y random), so clusters of tests running side by side never
share a node address; every port is probed free (Ray's defaults are fixed numbers).

Node death is noticed fast: the GCS health-checks raylets every 0.5 s and gives up after 3
misses (Ray's defaults take ~15 s or more); idle workers are not prestarted; the object
store is the smallest Ray accepts. CPUs and memory are logical: they only decide placement.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psutil

from turnout.cli.background import free_port

RAY = str(Path(sys.executable).with_name("ray"))
GIB = 1024**3
FAST_NODE_DEATH = {
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "1000",  # a loaded 2-core machine answers late
    "RAY_health_check_failure_threshold": "3",
}
SMALL = {
    "RAY_enable_worker_prestart": "0",
    "RAY_prestart_worker_first_driver": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
}


ATTEMPTS = 3


class NodeDidNotStart(RuntimeError):
    """`ray start` failed or hung; str ends with the last lines of its output."""


def _port() -> int:
    """A port free on every address: Ray's GCS and raylet listen on all of them."""
    return free_port(host="0.0.0.0")


@dataclass
class RayNode:
    ip: str
    group: int  # process group of the node's daemons (the pid of its `ray start`)
    log: Path
    temp_dir: str

    def processes(self) -> list[psutil.Process]:
        """The node's daemons, its raylet's children (actor workers) and theirs."""
        found: dict[int, psutil.Process] = {}
        for process in psutil.process_iter(["name", "status"]):
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                dead = process.info["status"] == psutil.STATUS_ZOMBIE  # init reaps it
                if not dead and os.getpgid(process.pid) == self.group:
                    found[process.pid] = process
        for process in list(found.values()):
            with contextlib.suppress(psutil.Error):
                if process.info["name"] == "raylet":
                    found.update((c.pid, c) for c in process.children(recursive=True))
        return list(found.values())


class RayCluster:
    def __init__(self, root: Path, cpus: int = 16, memory_gib: int = 64) -> None:
        self.root = root
        self.cpus = cpus
        self.memory_gib = memory_gib
        subnet = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}"
        self.ips = (f"{subnet}.2", f"{subnet}.3")  # the head's, the second node's
        self.port = _port()
        self.address = f"{self.ips[0]}:{self.port}"
        self.nodes: list[RayNode] = []

    def start(self) -> RayCluster:
        """Start both nodes; a node whose start failed (a port probed free was taken before
        Ray bound it) is tried again on other ports."""
        for ip, head in ((self.ips[0], True), (self.ips[1], False)):
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    self.nodes.append(self._start(ip, head))
                    break
                except NodeDidNotStart as failure:
                    if attempt == ATTEMPTS:
                        self.close()
                        raise
                    print(f"{failure}; trying again", file=sys.stderr)
                    if head:
                        self.port = _port()
                        self.address = f"{ip}:{self.port}"
        return self

    def _start(self, ip: str, head: bool) -> RayNode:
        # Session paths hold Unix sockets (~107 bytes at most): a short temp dir of its own.
        temp_dir = tempfile.mkdtemp(prefix="tray-")
        argv = [
            RAY, "start", "--node-ip-address", ip, "--num-cpus", str(self.cpus),
            "--memory", str(self.memory_gib * GIB), "--object-store-memory", str(80 * 2**20),
            "--temp-dir", temp_dir, "--disable-usage-stats",
            "--dashboard-agent-listen-port", str(_port()),
        ]  # fmt: skip
        if head:
            argv += [
                "--head", "--port", str(self.port), "--include-dashboard=false",
                "--dashboard-port", str(_port()),
                "--ray-client-server-port", str(_port()),
            ]  # fmt: skip
        else:
            argv += ["--address", self.address]
        env = {**os.environ, **FAST_NODE_DEATH, **SMALL}
        env["AUTOSCALER_METRIC_PORT"] = str(_port())
        log = self.root / f"ray-{ip}.log"
        with log.open("ab") as out:
            starter = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )  # fmt: skip
        node = RayNode(ip, starter.pid, log, temp_dir)
        try:
            code = starter.wait(120)
        except subprocess.TimeoutExpired:
            code = None
        if code != 0:
            self.kill(node)
            shutil.rmtree(temp_dir, ignore_errors=True)
            tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
            raise NodeDidNotStart(f"ray start ({ip}) failed with {code}: {tail}")
        return node

    def kill(self, node: RayNode, timeout: float = 20) -> None:
        """SIGKILL every process of the node, as a crash of its machine would; wait for them."""
        deadline = time.monotonic() + timeout
        while (processes := node.processes()) and time.monotonic() < deadline:
            for process in processes:
                with contextlib.suppress(psutil.Error):
                    process.send_signal(signal.SIGKILL)
            psutil.wait_procs(processes, timeout=2)

    def close(self) -> None:
        for node in reversed(self.nodes):
            self.kill(node)
            shutil.rmtree(node.temp_dir, ignore_errors=True)

    def __enter__(self) -> RayCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
