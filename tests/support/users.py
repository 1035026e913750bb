"""One invocation per simulated user, with the user's assignment key, from a separate process.

    python -m tests.support.users --url URL --endpoint NAME --users 40000 --out variants.json

Users are `<prefix><i>` for i in [start, start + users); each request carries
`X-Turnout-User` (and, with --inference-ids, `X-Amzn-SageMaker-Inference-Id: <user>-<n>`).
The output is {"variants": [variant of user i, ...], "answers": [body, ...], "errors":
{status: count}}. Raw
keep-alive HTTP/1.1 over asyncio streams, like tests/support/load.py, so the generator
costs little CPU; every request and the whole run are bounded by timeouts.

`assign_users(...)` runs it and returns the variants.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.load import _read_response

ROW = "[" + ",".join(["0.0"] * 64) + "]"


async def _run(args: argparse.Namespace) -> dict[str, object]:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    body = args.body.encode()
    variants: list[str | None] = [None] * args.users
    answers: list[str | None] = [None] * args.users
    errors: Counter[str] = Counter()
    next_index = 0
    deadline = time.monotonic() + args.duration

    def request(i: int) -> bytes:
        user = f"{args.prefix}{args.start + i}"
        lines = [
            f"POST /endpoints/{args.endpoint}/invocations HTTP/1.1",
            f"Host: {host}:{port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            f"X-Turnout-User: {user}",
        ]
        if args.inference_ids:
            lines.append(f"X-Amzn-SageMaker-Inference-Id: {user}-inference")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def worker() -> None:
        nonlocal next_index
        reader = writer = None
        try:
            while next_index < args.users and time.monotonic() < deadline:
                i = next_index
                next_index += 1
                try:
                    if writer is None:
                        reader, writer = await asyncio.wait_for(
                            asyncio.open_connection(host, port), args.timeout
                        )
                    assert reader is not None
                    writer.write(request(i))
                    response = await asyncio.wait_for(_read_response(reader), args.timeout)
                except (OSError, EOFError, TimeoutError, asyncio.IncompleteReadError) as exc:
                    errors[type(exc).__name__] += 1
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    continue
                if response.status != 200:
                    errors[str(response.status)] += 1
                variants[i] = response.headers.get("x-amzn-invoked-production-variant")
                answers[i] = response.body.decode("utf-8", "replace")
        finally:
            if writer is not None:
                writer.close()

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return {"variants": variants, "answers": answers, "errors": dict(errors)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.users", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--prefix", default="user-")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--inference-ids", action="store_true")
    parser.add_argument("--body", default=ROW, help="the JSON body of every request")
    args = parser.parse_args(argv)
    result = asyncio.run(_run(args))
    args.out.write_text(json.dumps(result))
    return 0


def assign_users(
    url: str,
    endpoint: str,
    out: Path,
    users: int,
    *,
    start: int = 0,
    prefix: str = "user-",
    concurrency: int = 16,
    inference_ids: bool = False,
    duration: float = 120.0,
    body: str = ROW,
) -> list[str]:
    """Send one invocation per user from a child process; every one must succeed.

    Returns each user's variant; the answers' bodies are in `out` ("answers")."""
    argv = [
        sys.executable, "-m", "tests.support.users", "--url", url, "--endpoint", endpoint,
        "--out", str(out), "--users", str(users), "--start", str(start), "--prefix", prefix,
        "--concurrency", str(concurrency), "--duration", str(duration), "--body", body,
    ]  # fmt: skip
    if inference_ids:
        argv.append("--inference-ids")
    subprocess.run(argv, check=True, timeout=duration + 30)
    result = json.loads(out.read_text())
    assert not result["errors"], result["errors"]
    variants: list[str] = result["variants"]
    assert None not in variants, "some users were not sent (the run hit its duration)"
    return variants


if __name__ == "__main__":
    raise SystemExit(main())
