"""`turnout invoke`: one InvokeEndpoint call from the terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from turnout.cli.common import DEFAULT_URL, CredentialsFile, Url, connect, err_console, fail


def invoke_command(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    body: Annotated[
        str | None,
        typer.Argument(help="The request body, e.g. '[[0, 1, ...]]'; or use --file / stdin."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", help="Read the body from this file ('-' for stdin).", allow_dash=True
        ),
    ] = None,
    content_type: Annotated[
        str, typer.Option("--content-type", "-t", help="Content-Type of the body.")
    ] = "application/json",
    accept: Annotated[str | None, typer.Option(help="Wanted response Content-Type.")] = None,
    target_variant: Annotated[
        str | None, typer.Option(help="Send to this production variant, whatever the weights.")
    ] = None,
    custom_attributes: Annotated[
        str | None, typer.Option(help="X-Amzn-SageMaker-Custom-Attributes for the model.")
    ] = None,
    inference_id: Annotated[
        str | None, typer.Option(help="X-Amzn-SageMaker-Inference-Id to record.")
    ] = None,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
) -> None:
    """Send one request to an endpoint and print the answer (the variant goes to stderr)."""
    data = _read_body(body, file)
    with connect(url, credentials) as client:
        answer = client.invoke(
            endpoint,
            data,
            content_type=content_type,
            accept=accept,
            target_variant=target_variant,
            custom_attributes=custom_attributes,
            inference_id=inference_id,
        )
    err_console.print(f"[dim]variant {answer.variant} · {answer.content_type}[/]")
    sys.stdout.buffer.write(answer.body)
    if not answer.body.endswith(b"\n") and sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


def _read_body(body: str | None, file: Path | None) -> bytes:
    if body is not None and file is not None:
        fail("give the body as an argument or with --file, not both")
    if body is not None:
        return body.encode()
    if file is None or str(file) == "-":
        if file is None and sys.stdin.isatty():
            fail("no body: give it as an argument, with --file FILE, or on stdin")
        return sys.stdin.buffer.read()
    try:
        return file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
