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
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".turnout-stamp"


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
    print("dev.py: setting up .venv (first run takes a minute or two) ...", flush=True)
    if not (BIN / "python").exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    pip = (BIN / "python", "-m", "pip", "--disable-pip-version-check")
    _run(*pip, "install", "-q", "--upgrade", "pip")
    _run(*pip, "install", "-q", "-c", "constraints.txt", "-e", ".[test]")
    STAMP.write_text(wanted)


def _parallel(args: list[str]) -> list[str]:
    """One pytest-xdist worker per core (at most 4), each taking whole files.

    Most of the suite's time is spent waiting for real processes to start, bake and drain,
    so two workers finish the suite in ~60% of the time even on 2 cores. Whole files
    (`loadfile`) keep each file's module-scoped server in one worker. `-n 0` turns it off.
    """
    if any(a.startswith(("-n", "--numprocesses")) for a in args):
        return []
    return ["-n", str(min(os.cpu_count() or 1, 4)), "--dist", "loadfile"]


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
