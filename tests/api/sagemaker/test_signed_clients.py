"""turnout's own SDK and CLI against `turnout serve --credentials FILE`: they sign with SigV4.

The SDK (`turnout.client.Client`) and every CLI command take credentials from an argument /
`--credentials FILE`, else from TURNOUT_ACCESS_KEY_ID/TURNOUT_SECRET_ACCESS_KEY; with them
the whole native API and the runtime work, without (or with a wrong secret) one line says
what to do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from tests.conftest import Artifacts
from tests.support.models import digits_rows
from turnout.api import auth
from turnout.cli.background import BackgroundServer
from turnout.cli.main import app
from turnout.client import (
    ACCESS_KEY_VAR,
    CREDENTIALS_VAR,
    SECRET_KEY_VAR,
    Client,
    Credentials,
    TurnoutAPIError,
    TurnoutAuthError,
    TurnoutCredentialsError,
    Variant,
)

from .conftest import ACCESS_KEY, SECRET_KEY, clients

pytestmark = pytest.mark.e2e

OTHER_KEY, OTHER_SECRET = "AKIASECONDPAIR", "second-secret"
ROWS, LABELS = digits_rows(3)
CLEAN = (ACCESS_KEY_VAR, SECRET_KEY_VAR, CREDENTIALS_VAR, "FORCE_COLOR", "PY_COLORS")


@pytest.fixture(scope="module")
def credentials_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two accepted key pairs; clients sign with the first."""
    path = tmp_path_factory.mktemp("auth") / "credentials"
    path.write_text(
        f"[tests]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        f"[other]\naws_access_key_id = {OTHER_KEY}\naws_secret_access_key = {OTHER_SECRET}\n"
    )
    return path


@pytest.fixture(scope="module")
def server_args(credentials_file: Path) -> tuple[str, ...]:
    return ("--credentials", str(credentials_file))


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Whatever the developer's shell holds, clients sign only with what a test gives."""
    for name in (ACCESS_KEY_VAR, SECRET_KEY_VAR, CREDENTIALS_VAR):
        monkeypatch.delenv(name, raising=False)
    yield


def wrong_file(tmp_path: Path, key: str, secret: str) -> Path:
    path = tmp_path / "wrong-credentials"
    path.write_text(f"[x]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    return path


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert "Traceback" not in text, text
    assert len(lines) == 1, text
    return lines[0]


# -- the SDK ------------------------------------------------------------------------------


def test_the_sdk_signs_the_whole_native_api_and_the_runtime(
    server: BackgroundServer, artifacts: Artifacts, credentials_file: Path
) -> None:
    keys = Credentials.from_file(credentials_file)
    assert (keys.access_key_id, keys.secret_access_key) == (ACCESS_KEY, SECRET_KEY)
    assert SECRET_KEY not in repr(keys)
    with Client(server.url, timeout=30, credentials=keys) as turnout:
        assert turnout.create_model("sdk-signed", str(artifacts.sklearn))["flavor"] == "sklearn"
        assert "sdk-signed" in {m["name"] for m in turnout.list_models()}
        turnout.create_endpoint_config("sdk-signed", [Variant("A", "sdk-signed")])
        assert turnout.describe_endpoint_config("sdk-signed")["variants"][0]["model"] == (
            "sdk-signed"
        )
        turnout.create_endpoint("sdk-signed", "sdk-signed")
        turnout.wait_for_endpoint("sdk-signed", timeout=120)
        answer = turnout.invoke("sdk-signed", ROWS)
        assert (answer.variant, answer.json()) == ("A", LABELS)
        csv = "\n".join(",".join(f"{v:g}" for v in row) for row in ROWS)
        pinned = turnout.invoke("sdk-signed", csv, content_type="text/csv", target_variant="A")
        assert pinned.variant == "A"
        changed = turnout.update_traffic("sdk-signed", weights={"A": 0.5})
        assert changed["variants"][0]["desired_weight"] == 0.5
        # A name that needs percent-encoding is signed as sent: turnout answers, not 403.
        with pytest.raises(TurnoutAPIError) as raised:
            turnout.describe_model("no such%model")
        assert raised.value.status == 404
        # boto3 and the SDK, both signed, see the same models.
        sm, _ = clients(server.url)
        assert "sdk-signed" in {m["ModelName"] for m in sm.list_models()["Models"]}
        turnout.delete_endpoint("sdk-signed")
        turnout.wait_for_deleted("sdk-signed", timeout=60)
        turnout.delete_endpoint_config("sdk-signed")
        turnout.delete_model("sdk-signed")
        assert "sdk-signed" not in {m["name"] for m in turnout.list_models()}


def test_the_sdk_takes_keys_from_the_environment(
    server: BackgroundServer, credentials_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ACCESS_KEY_VAR, OTHER_KEY)
    monkeypatch.setenv(SECRET_KEY_VAR, OTHER_SECRET)
    with Client(server.url) as turnout:
        assert turnout.credentials is not None
        assert turnout.credentials.access_key_id == OTHER_KEY
        assert isinstance(turnout.list_endpoints(), list)
    monkeypatch.setenv(CREDENTIALS_VAR, str(credentials_file))  # the file comes first
    with Client(server.url) as turnout:
        assert turnout.credentials is not None
        assert turnout.credentials.access_key_id == ACCESS_KEY
        assert isinstance(turnout.list_models(), list)


def test_an_unsigned_sdk_is_told_what_to_do(server: BackgroundServer) -> None:
    with Client(server.url) as turnout:
        assert turnout.credentials is None
        assert turnout.health()["status"] == "ok"  # the health check stays open
        for call in (turnout.list_models, lambda: turnout.invoke("anything", [[0.0]])):
            with pytest.raises(TurnoutAuthError) as raised:
                call()
            assert raised.value.status == 403
            assert raised.value.code == "MissingAuthenticationTokenException"
            assert str(raised.value) == (
                f"turnout at {server.url} requires signed requests: pass "
                f"Client(credentials=...) or set {ACCESS_KEY_VAR}/{SECRET_KEY_VAR}"
            )


def test_a_wrong_secret_or_key_is_one_line(server: BackgroundServer) -> None:
    wrong = Credentials(ACCESS_KEY, "not-the-secret")
    with Client(server.url, credentials=wrong) as turnout:
        for call in (turnout.list_models, lambda: turnout.invoke("anything", [[0.0]])):
            with pytest.raises(TurnoutAuthError) as raised:
                call()
            assert raised.value.code == "InvalidSignatureException"
            assert str(raised.value) == (
                f"turnout at {server.url} refused the signature of access key {ACCESS_KEY} "
                "(given to Client): the secret access key is not the one turnout has for it"
            )
    with (
        Client(server.url, credentials=Credentials("AKIAUNKNOWN", SECRET_KEY)) as turnout,
        pytest.raises(TurnoutAuthError) as raised,
    ):
        turnout.create_model("never", "/nowhere")
    assert raised.value.code == "UnrecognizedClientException"
    assert "does not know access key AKIAUNKNOWN (given to Client)" in str(raised.value)


def test_unreadable_credentials_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(TurnoutCredentialsError, match="cannot read credentials file"):
        Credentials.from_file(tmp_path / "missing")
    half = tmp_path / "half"
    half.write_text("[x]\naws_access_key_id = AKIAHALF\n")
    with pytest.raises(TurnoutCredentialsError, match=r"section \[x\] needs"):
        Credentials.from_file(half)
    with pytest.raises(TurnoutCredentialsError, match="set both"):
        Credentials.from_environment({ACCESS_KEY_VAR: "AKIAHALF"})
    assert Credentials.from_environment({}) is None


def test_the_client_reads_the_variables_the_server_reads() -> None:
    assert (ACCESS_KEY_VAR, SECRET_KEY_VAR) == (auth.ACCESS_KEY_VAR, auth.SECRET_KEY_VAR)


# -- the CLI ------------------------------------------------------------------------------


def cli(
    server: BackgroundServer, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`turnout ARGS` as a person runs it, with only the credentials this test gives."""
    environ = {k: v for k, v in os.environ.items() if k not in CLEAN}
    environ.update(TURNOUT_URL=server.url, NO_COLOR="1", COLUMNS="200", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "turnout.cli.main", *args],
        capture_output=True, text=True, timeout=180, env=environ, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    return done.stdout


def refused(done: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a command that failed with exit status 1."""
    assert done.returncode == 1, done.stderr + done.stdout
    return one_line(done.stderr)


def test_the_cli_signs_with_a_credentials_file_or_the_environment(
    server: BackgroundServer, artifacts: Artifacts, credentials_file: Path
) -> None:
    signed = ("--credentials", str(credentials_file))
    from_env = {ACCESS_KEY_VAR: OTHER_KEY, SECRET_KEY_VAR: OTHER_SECRET}
    ok(cli(server, "model", "create", "cli-signed", str(artifacts.sklearn), *signed))
    ok(cli(server, "endpoint-config", "create", "cli-signed", "-v", "A=cli-signed", *signed))
    ok(cli(server, "endpoint", "create", "cli-signed", "cli-signed", *signed))  # waits
    described = json.loads(ok(cli(server, "endpoint", "describe", "cli-signed", "--json",
                                  env=from_env)))  # fmt: skip
    assert described["status"] == "InService"
    answer = cli(server, "invoke", "cli-signed", json.dumps(ROWS),
                 env={CREDENTIALS_VAR: str(credentials_file)})  # fmt: skip
    assert json.loads(ok(answer)) == LABELS
    ok(cli(server, "traffic", "cli-signed", "A=0.5", env=from_env))
    listed = json.loads(ok(cli(server, "model", "list", "--json", env=from_env)))
    assert "cli-signed" in {m["name"] for m in listed}
    ok(cli(server, "endpoint", "delete", "cli-signed", *signed))
    ok(cli(server, "endpoint-config", "delete", "cli-signed", *signed))
    ok(cli(server, "model", "delete", "cli-signed", env=from_env))


def test_the_cli_without_credentials_says_what_to_do(server: BackgroundServer) -> None:
    expected = (
        f"error: turnout at {server.url} requires signed requests: pass --credentials FILE "
        f"or set {ACCESS_KEY_VAR}/{SECRET_KEY_VAR}"
    )
    assert refused(cli(server, "model", "list")) == expected
    assert refused(cli(server, "invoke", "anything", "[[0]]")) == expected
    assert refused(cli(server, "endpoint", "describe", "anything", "--json")) == expected


def test_the_cli_with_wrong_credentials_says_which(
    server: BackgroundServer, tmp_path: Path
) -> None:
    path = wrong_file(tmp_path, ACCESS_KEY, "not-the-secret")
    line = refused(cli(server, "endpoint", "list", "--credentials", str(path)))
    assert line == (
        f"error: turnout at {server.url} refused the signature of access key {ACCESS_KEY} "
        f"(from {path}): the secret access key is not the one turnout has for it"
    )
    line = refused(
        cli(server, "model", "list", env={ACCESS_KEY_VAR: "AKIAUNKNOWN", SECRET_KEY_VAR: "x"})
    )
    assert f"does not know access key AKIAUNKNOWN (from {ACCESS_KEY_VAR})" in line
    line = refused(cli(server, "model", "list", "--credentials", str(tmp_path / "missing")))
    assert line.startswith(f"error: cannot read credentials file {tmp_path / 'missing'}")


def test_every_command_that_takes_url_takes_credentials() -> None:
    found: list[str] = []

    def walk(command: Any, path: str) -> None:  # typer may vendor click: duck-typed
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")
            return
        options = {name for p in command.params for name in getattr(p, "opts", ())}
        if "--url" in options:
            found.append(path)
            assert "--credentials" in options, f"{path} takes --url but not --credentials"

    walk(typer.main.get_command(app), "turnout")
    assert "turnout model list" in found and "turnout invoke" in found
