#!/usr/bin/env python3
"""One entry point for people and CI; needs only python3.

    python3 dev.py demo [ARGS...]   set up .venv, then run `turnout demo ARGS...`
    python3 dev.py test [ARGS...]   set up .venv, lint (ruff, mypy), then pytest ARGS...
                                    (in parallel, a file per worker, unless ARGS has -n)
    python3 dev.py bench [ARGS...]  set up .venv, then run bench/routed.py ARGS...
    python3 dev.py venv             only set up .venv

The virtualenv lives in .venv beside this file. It is rebuilt only when pyproject.toml or
constraints.txt change (a stamp file records their hash), so repeated runs start fast.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".turnout-stamp"
PIP_LOG = VENV / "pip.log"  # what pip said during the last setup; shown when it fails


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _run(*cmd: str | os.PathLike[str], **kwargs: object) -> None:
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv() -> None:
    """Create .venv and install turnout with its test extras, pinned by constraints.txt."""
    wanted = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    started = time.monotonic()
    if not (BIN / "python").exists():
        _say("creating .venv")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    PIP_LOG.write_text("")
    pip = (BIN / "python", "-m", "pip", "--disable-pip-version-check")
    _say("updating pip")
    _pip(*pip, "install", "--upgrade", "pip")
    _say("installing turnout and its dependencies (2-5 min the first time)")
    _pip(*pip, "install", "-c", "constraints.txt", "-e", ".[test]")
    STAMP.write_text(wanted)
    seconds = time.monotonic() - started
    print(f"dev.py: .venv ready in {seconds:.0f} s (what pip said: {PIP_LOG})", flush=True)


def _say(line: str) -> None:
    print(f"dev.py: {line} ...", flush=True)


def _pip(*cmd: str | os.PathLike[str]) -> None:
    """Run pip with its output in PIP_LOG (build backends' warnings included): a person sees
    progress lines, and pip's own words only when it fails."""
    with PIP_LOG.open("a") as log:
        log.write(f"$ {' '.join(map(str, cmd))}\n")
        log.flush()
        result = subprocess.run(
            [str(c) for c in cmd], cwd=ROOT, stdout=log, stderr=log, check=False
        )
    if result.returncode != 0:
        lines = PIP_LOG.read_text().splitlines()
        print("\n".join(lines[-40:]), file=sys.stderr)
        print(
            f"dev.py: pip failed (exit {result.returncode}); the whole log: {PIP_LOG}",
            file=sys.stderr,
        )
        sys.exit(result.returncode)


def _parallel(args: list[str]) -> list[str]:
    """One pytest-xdist worker more than there are cores (at most 4), each taking whole files.

    Most of the suite's time is spent waiting for real processes to start, bake and drain:
    on 2 cores, tests/cli used 0.84 cores with 2 workers (333 s) and 1.37 with 3 (204 s,
    the same CPU time). Whole files (`loadfile`) keep each file's module-scoped server in
    one worker. `-n 0` turns it off.
    """
    if any(a.startswith(("-n", "--numprocesses")) for a in args):
        return []
    return ["-n", str(min((os.cpu_count() or 1) + 1, 4)), "--dist", "loadfile"]


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in {"demo", "test", "bench", "venv"}:
        print(__doc__)
        sys.exit(2)
    task, args = argv[0], argv[1:]
    ensure_venv()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if task == "demo":
        os.execve(BIN / "turnout", ["turnout", "demo", *args], env)
    elif task == "bench":
        os.execve(BIN / "python", ["python", "bench/routed.py", *args], env)
    elif task == "test":
        _run(BIN / "ruff", "check", "turnout", "tests", "bench", "dev.py", env=env)
        _run(BIN / "ruff", "format", "--check", "turnout", "tests", "bench", "dev.py", env=env)
        _run(BIN / "mypy", env=env)
        os.execve(BIN / "python", ["python", "-m", "pytest", *_parallel(args), *args], env)


if __name__ == "__main__":
    main(sys.argv[1:])
