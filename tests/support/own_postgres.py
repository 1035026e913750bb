"""A throwaway PostgreSQL server of a test's own, to stop and start at will (store faults).

The shared server on 5432 is never stopped: a test that needs an outage runs `initdb` into
its tmp_path, starts `postgres` on a free loopback port, and stops it with `pg_ctl stop -m
immediate` (as a crash or a pulled cable would: no goodbye to the clients). PostgreSQL
refuses to run as root; as root the server runs as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.postgres import REQUIRE_POSTGRES_VAR
from turnout.cli.background import free_port


def _bin_dir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


class OwnPostgres:
    """One server: `url` for turnout, `stop()` / `start()` for the outage."""

    def __init__(self, root: Path, bin_dir: Path, user: str | None) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = free_port()
        self._bin = bin_dir
        self._user = user  # run the binaries as this user (we are root), or as ourselves
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"  # trust auth

    def _run(self, *argv: str, timeout: float = 60) -> None:
        command = [str(self._bin / argv[0]), *argv[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  "start")  # fmt: skip

    def stop(self) -> None:
        """Immediate: the server dies at once, its clients' connections cut."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


def _skip(why: str) -> None:
    """Skip, unless TURNOUT_REQUIRE_POSTGRES=1 (CI) makes that a failure."""
    if os.environ.get(REQUIRE_POSTGRES_VAR) == "1":
        pytest.fail(f"{why} ({REQUIRE_POSTGRES_VAR}=1)", pytrace=False)
    pytest.skip(why)


@contextlib.contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    """A fresh server in a new directory under the system's temp dir (pytest's tmp_path is
    private to our user, and the server may run as another), started; stopped and removed
    on exit. Skips where PostgreSQL's binaries are missing (or, as root, its user)."""
    bin_dir = _bin_dir()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        _skip("PostgreSQL's initdb/pg_ctl are not installed")
    assert bin_dir is not None
    user = None
    if os.getuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _skip("running as root and there is no postgres user to run PostgreSQL as")
        user = "postgres"
    root = Path(tempfile.mkdtemp(prefix="turnout-pg-"))
    try:
        server = OwnPostgres(root, bin_dir, user)
        server.init()
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(subprocess.SubprocessError):
                server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
