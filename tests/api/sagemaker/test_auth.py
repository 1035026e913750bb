from __future__ import annotations

from pathlib import Path

import pytest

from turnout.api.auth import CredentialsError, exposure_problem, load_credentials


def test_every_section_of_the_file_adds_a_key_pair(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text(
        "[default]\naws_access_key_id = AK1\naws_secret_access_key = s1\n\n"
        "[ci]\naws_access_key_id=AK2\naws_secret_access_key=s%2\n"
    )
    assert load_credentials(path, {}) == {"AK1": "s1", "AK2": "s%2"}


def test_the_environment_adds_one_pair(tmp_path: Path) -> None:
    env = {"TURNOUT_ACCESS_KEY_ID": "AK", "TURNOUT_SECRET_ACCESS_KEY": "s"}
    assert load_credentials(None, env) == {"AK": "s"}
    assert load_credentials(None, {}) == {}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[default]\naws_access_key_id = AK1\n", "needs aws_access_key_id and"),
        ("", "holds no key pair"),
        ("not an ini file", "cannot read"),
    ],
)
def test_a_bad_file_says_what_to_fix(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "credentials"
    path.write_text(text)
    with pytest.raises(CredentialsError, match=problem):
        load_credentials(path, {})


def test_a_missing_file_and_half_a_pair_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot read"):
        load_credentials(tmp_path / "absent", {})
    with pytest.raises(CredentialsError, match="both"):
        load_credentials(None, {"TURNOUT_ACCESS_KEY_ID": "AK"})


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_credentials(host: str) -> None:
    assert exposure_problem(host, has_credentials=False, insecure=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.4", "::", "myhost.example"])
def test_other_hosts_need_credentials_or_insecure(host: str) -> None:
    problem = exposure_problem(host, has_credentials=False, insecure=False)
    assert problem is not None and "--credentials" in problem and "--insecure" in problem
    assert exposure_problem(host, has_credentials=True, insecure=False) is None
    assert exposure_problem(host, has_credentials=False, insecure=True) is None
