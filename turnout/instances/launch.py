"""Start a model's own server program (the command flavor) as an instance.

    python -m turnout.instances.launch -- PROGRAM [ARGS...]

Sets the parent-death signal, then replaces itself with the program (exec keeps the PID,
so turnout supervises the program itself). The program must serve GET /ping and
POST /invocations on 127.0.0.1:$SAGEMAKER_BIND_TO_PORT.
"""

from __future__ import annotations

import os
import sys

from turnout.instances.lifeline import die_with_parent


def main(argv: list[str]) -> None:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.exit("usage: python -m turnout.instances.launch -- PROGRAM [ARGS...]")
    die_with_parent()
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.exit(f"turnout launch: cannot run {argv[0]!r}: {exc.strerror}")


if __name__ == "__main__":
    main(sys.argv[1:])
