from __future__ import annotations

from pathlib import Path

import numpy as np

from turnout.models.requirements import check_requirements, requirement_warnings

MISSING = "turnout-no-such-package"


def test_satisfied_requirements_say_nothing() -> None:
    text = f"numpy>={np.__version__}\nscikit_learn\nJoblib  # any version\n"
    assert requirement_warnings(text) == ()


def test_a_missing_package_is_reported_with_what_to_do() -> None:
    assert requirement_warnings(f"{MISSING}>=2\n") == (
        f"code/requirements.txt asks for '{MISSING}>=2' which is not installed; "
        "install it into turnout's environment",
    )


def test_a_wrong_version_names_the_installed_one() -> None:
    (warning,) = requirement_warnings("numpy<1\n")
    assert warning == (
        f"code/requirements.txt asks for 'numpy<1' but numpy {np.__version__} is installed; "
        "install a matching version into turnout's environment"
    )


def test_markers_for_other_platforms_are_skipped() -> None:
    assert requirement_warnings(f'{MISSING}; python_version < "3.0"\n') == ()
    assert len(requirement_warnings(f'{MISSING}; python_version >= "3.0"\n')) == 1


def test_comments_blank_lines_and_continuations() -> None:
    text = f"# a comment\n\nnumpy \\\n  >=1  # trailing\n{MISSING} \\\n  ==1\n"
    (warning,) = requirement_warnings(text)
    assert f"'{MISSING}==1'" in warning


def test_index_options_are_harmless_but_includes_are_reported() -> None:
    text = "--index-url https://example.invalid/simple\n-i x\n-r other.txt\n-e ./pkg\n"
    warnings = requirement_warnings(text)
    assert len(warnings) == 2
    assert "line 3" in warnings[0] and "-r other.txt" in warnings[0]
    assert "line 4" in warnings[1]


def test_unparseable_lines_are_reported_not_ignored() -> None:
    (warning,) = requirement_warnings("numpy\ngit+https://example.invalid/x.git\n")
    assert warning.startswith("code/requirements.txt line 2: cannot check")


def test_url_requirements_check_the_name() -> None:
    assert requirement_warnings("numpy @ https://example.invalid/numpy.whl\n") == ()


def test_check_requirements_reads_code_requirements(tmp_path: Path) -> None:
    assert check_requirements(tmp_path) == ()
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "requirements.txt").write_text(f"{MISSING}\n")
    assert len(check_requirements(tmp_path)) == 1
