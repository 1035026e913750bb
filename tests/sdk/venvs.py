"""The official SageMaker Python SDK, v2 and v3, each in a virtualenv of its own.

    python3 tests/sdk/venvs.py [--timeout SECONDS] [sdk2] [sdk3]

builds `.venv-sdk2` and `.venv-sdk3` beside dev.py from `tests/sdk/requirements-sdk2.txt`
and `requirements-sdk3.txt` (exact versions of everything, as `pip freeze` printed them:
with every version pinned, pip does not backtrack). A stamp records the requirements' hash,
so a second run returns at once; a venv without a current stamp is rebuilt from scratch.
Needs only python3 and a reachable package index. On failure or timeout it prints one
line and exits 1, and the SDK tests skip (tests/sdk/conftest.py says why).

The SDKs stay out of `.venv`: they pin boto3, pandas, numpy etc. to their own ranges, and
the tests run them as a user does, in a separate interpreter, against `turnout serve`.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SDKS = ("sdk2", "sdk3")
STAMP_NAME = ".turnout-stamp"


def requirements(sdk: str) -> Path:
    return HERE / f"requirements-{sdk}.txt"


def venv_dir(sdk: str) -> Path:
    return ROOT / f".venv-{sdk}"


def _fingerprint(sdk: str) -> str:
    digest = hashlib.sha256(requirements(sdk).read_bytes())
    digest.update(sys.version.encode())  # a new python3 needs new wheels
    return digest.hexdigest()


def python_of(sdk: str) -> Path | None:
    """The SDK venv's interpreter, or None when it is absent or not current."""
    stamp = venv_dir(sdk) / STAMP_NAME
    python = venv_dir(sdk) / "bin" / "python"
    if stamp.exists() and stamp.read_text() == _fingerprint(sdk) and python.exists():
        return python
    return None


def build(sdk: str, deadline: float) -> None:
    """Create the venv and install the pinned requirements; raise on failure or timeout."""
    target = venv_dir(sdk)
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    pip = [str(target / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    command = [*pip, "install", "--no-deps", "-r", str(requirements(sdk))]
    # --no-deps: the file is a whole freeze, so pip need not resolve anything.
    log = ROOT / f".venv-{sdk}-install.log"  # beside the venv: kept when the venv is removed
    with log.open("wb") as out:
        try:
            result = subprocess.run(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=max(0.0, deadline - time.monotonic()),
            )
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"pip was not done in time (see {log})") from None
    if result.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(f"pip exited {result.returncode}: {' '.join(tail)} (see {log})")
    (target / STAMP_NAME).write_text(_fingerprint(sdk))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdks", nargs="*", metavar="sdk", help=f"{' or '.join(SDKS)}; default both")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for all (900)")
    args = parser.parse_args(argv)
    if unknown := set(args.sdks) - set(SDKS):
        parser.error(f"unknown: {', '.join(sorted(unknown))}")
    deadline = time.monotonic() + args.timeout
    for sdk in args.sdks or SDKS:
        if python_of(sdk) is not None:
            continue
        started = time.monotonic()
        print(f"sdk venvs: building .venv-{sdk} ...", flush=True)
        try:
            build(sdk, deadline)
        except (OSError, RuntimeError) as err:
            shutil.rmtree(venv_dir(sdk), ignore_errors=True)  # never leave half a venv
            print(f"sdk venvs: could not build .venv-{sdk} ({err}); the SDK tests will skip")
            return 1
        print(f"sdk venvs: .venv-{sdk} ready in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
