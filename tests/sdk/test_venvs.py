"""tests/sdk/venvs.py uses an SDK venv only while its stamp matches its requirements."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sdk import venvs


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "tests" / "sdk").mkdir(parents=True)
    monkeypatch.setattr(venvs, "ROOT", tmp_path)
    monkeypatch.setattr(venvs, "HERE", tmp_path / "tests" / "sdk")
    venvs.requirements("sdk2").write_text("sagemaker==2.257.7\n")
    return tmp_path


def _built(checkout: Path) -> Path:
    """What build() leaves: an interpreter and, last, the stamp."""
    python = checkout / ".venv-sdk2" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()
    (checkout / ".venv-sdk2" / venvs.STAMP_NAME).write_text(venvs._fingerprint("sdk2"))
    return python


def test_a_stamped_venv_is_used(checkout: Path) -> None:
    assert venvs.python_of("sdk2") is None
    python = _built(checkout)
    assert venvs.python_of("sdk2") == python


def test_new_requirements_make_it_stale(checkout: Path) -> None:
    _built(checkout)
    venvs.requirements("sdk2").write_text("sagemaker==2.258.0\n")
    assert venvs.python_of("sdk2") is None


def test_a_venv_without_its_stamp_is_not_used(checkout: Path) -> None:
    _built(checkout)
    (checkout / ".venv-sdk2" / venvs.STAMP_NAME).unlink()  # a build that did not finish
    assert venvs.python_of("sdk2") is None


def test_an_unknown_sdk_is_refused(checkout: Path) -> None:
    with pytest.raises(SystemExit):
        venvs.main(["sdk4"])
