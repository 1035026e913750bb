"""The `turnout` command without a server: help, version, and one-line errors for bad input.

Errors go through `turnout.cli.main.run` (what the executable runs), which turns usage
errors into one line; CliRunner serves the help pages, as Typer renders them.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import turnout
from turnout.cli.common import print_error
from turnout.cli.main import app, run

from .conftest import one_error_line, plain

runner = CliRunner()
WIDE = {"COLUMNS": "250", "TERMINAL_WIDTH": "250"}  # no ellipsis in long option names


def command_paths() -> Iterator[tuple[str, ...]]:
    """Every command and group of the app, as the words that invoke it."""

    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


def options_of(path: tuple[str, ...]) -> list[str]:
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return [
        max(param.opts, key=len)
        for param in command.params
        if param.param_type_name == "option" and not getattr(param, "hidden", False)
    ]


ALL_COMMANDS = list(command_paths())


def test_every_documented_command_exists() -> None:
    names = {" ".join(path) for path in ALL_COMMANDS}
    for expected in (
        "serve", "invoke", "traffic", "demo",
        "model create", "model list", "model describe", "model delete",
        "endpoint-config create", "endpoint-config list", "endpoint-config describe",
        "endpoint-config delete",
        "endpoint create", "endpoint list", "endpoint describe", "endpoint update",
        "endpoint delete", "endpoint wait",
    ):  # fmt: skip
        assert expected in names


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "turnout")
def test_help_lists_every_option(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    text = plain(result.output)
    assert "Usage: turnout" in text
    for option in options_of(path):
        assert option in text, f"{option} missing from `turnout {' '.join(path)} --help`"


def test_short_help_option() -> None:
    result = runner.invoke(app, ["model", "-h"], env=WIDE)
    assert result.exit_code == 0
    assert "create" in plain(result.output)


def test_commands_that_talk_to_a_server_take_url() -> None:
    local = {("experiment", "plan")}  # computed on the spot, no server
    talking = [
        p
        for p in ALL_COMMANDS
        if (len(p) == 2 or p in (("traffic",), ("invoke",))) and p not in local
    ]
    assert talking
    for path in talking:
        assert "--url" in options_of(path), path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"turnout {turnout.__version__}"


def error_of(args: list[str], capsys: pytest.CaptureFixture[str], status: int) -> str:
    """Run `turnout ARGS`, check its exit status, return its one error line."""
    assert run(args) == status
    return one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["bogus"], "No such command 'bogus'"),
        (["model", "create"], "Missing argument"),
        (["model", "list", "--bogus"], "No such option: --bogus"),
        (["endpoint-config", "create", "c", "-v", "A"], "NAME=MODEL"),
        (["endpoint-config", "create", "c", "-v", "A=m,weigth=1"], "'weigth'"),
        (["traffic", "ep", "A=x"], "A=x: 'x' is not a number"),
        (["traffic", "ep", "A=1", "--instances", "A=two"], "A=two"),
        (["endpoint", "create", "e", "c", "--timeout", "0"], "--timeout"),
    ],
)
def test_bad_arguments_print_one_line_and_exit_2(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = error_of(args, capsys, status=2)
    assert expected in line
    assert "-h'" in line  # says where to look


def test_no_arguments_show_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([]) == 2
    assert "endpoint-config" in plain(capsys.readouterr().out)


def unused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["traffic", "ep"], "nothing to change"),
        (["invoke", "ep", "[1]", "--file", "body.json"], "not both"),
        (["invoke", "ep", "--file", "no-such-body.json"], "cannot read no-such-body.json"),
        (["model", "create", "m", "no/such/dir"], "no/such/dir does not exist"),
        (["model", "create", "m", ".", "--flavor", "pytorch"], "unknown --flavor 'pytorch'"),
        (["model", "create", "m", ".", "--env", "NOEQUALS"], "KEY=VALUE"),
    ],
)
def test_mistakes_caught_before_calling_the_server(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = error_of([*args, "--url", unused_url()], capsys, status=1 if "--env" not in args else 2)
    assert expected in line


@pytest.mark.parametrize(
    "args",
    [
        ["model", "list"],
        ["endpoint", "describe", "ep"],
        ["endpoint-config", "create", "c", "-v", "A=m"],
        ["invoke", "ep", "[1]"],
    ],
)
def test_no_server_at_url(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    url = unused_url()
    line = error_of([*args, "--url", url], capsys, status=1)
    assert f"cannot reach turnout at {url}" in line
    assert "turnout serve" in line  # what to do


def test_url_from_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = unused_url()
    monkeypatch.setenv("TURNOUT_URL", url)
    assert url in error_of(["model", "list"], capsys, status=1)


def test_serve_refuses_a_port_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["serve", "--port", str(port), "--data-dir", str(tmp_path)]
        line = error_of(args, capsys, status=1)
    assert f"port {port} on 127.0.0.1 is in use" in line
    assert "--port" in line


def test_serve_refuses_a_grpc_port_in_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["serve", "--port", "0", "--grpc-port", str(port), "--data-dir", str(tmp_path)]
        line = error_of(args, capsys, status=1)
    assert f"port {port} on 127.0.0.1 is in use; stop what uses it or pass --grpc-port" in line


def test_serve_refuses_an_unknown_log_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["serve", "--log-level", "loud", "--data-dir", str(tmp_path)]
    assert "unknown --log-level 'loud'" in error_of(args, capsys, status=1)


def test_demo_refuses_a_non_empty_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    line = error_of(["demo", "--data-dir", str(tmp_path), "--exit"], capsys, status=1)
    assert "is not empty" in line
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_error_messages_keep_square_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    # Messages quote the name pattern [a-zA-Z0-9]; Rich must not read it as markup.
    print_error("use the pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$ [bold]")
    assert one_error_line(capsys.readouterr().err) == (
        "error: use the pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$ [bold]"
    )


@pytest.mark.parametrize(
    ("args", "status", "expected"),
    [
        (["--ray-address", "127.0.0.1:6379"], 1, "--ray-address goes with --backend ray"),
        (["--backend", "k8s"], 2, "'k8s' is not one of 'local', 'ray'"),
    ],
)
def test_serve_backend_mistakes(
    args: list[str], status: int, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert expected in error_of(["serve", "--port", "0", *args], capsys, status)


@pytest.mark.parametrize(
    ("variable", "value", "option"),
    [
        ("TURNOUT_MODEL_TIMEOUT", "0.01", "--model-timeout"),
        ("TURNOUT_OUTLIER_FAILURES", "-1", "--outlier-failures"),
        ("TURNOUT_OUTLIER_MAX_EJECTION_PERCENT", "101", "--outlier-max-ejection-percent"),
    ],
)
def test_serve_reads_timeouts_and_outlier_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    variable: str,
    value: str,
    option: str,
) -> None:
    """The variable reaches the option: an out-of-range value is refused in its name
    (without the variable, the bad account id would be the one-line error instead)."""
    monkeypatch.setenv(variable, value)
    args = ["serve", "--port", "0", "--data-dir", str(tmp_path), "--account-id", "x"]
    line = error_of(args, capsys, status=2)
    assert option in line
