"""TargetModel checks: a bounded relative path under the prefix (ADR 0037)."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.domain.target_model import MAX_TARGET_MODEL, check_target_model


@pytest.mark.parametrize(
    "name", ["m.tar.gz", "a/b/model.tar.gz", "x" * MAX_TARGET_MODEL, "with space.tar.gz"]
)
def test_relative_paths_under_the_prefix_pass(name: str) -> None:
    assert check_target_model(name) is None


@pytest.mark.parametrize(
    "name",
    ["", "../m", "a/../../m", "/etc/passwd", "a//b", "./m", "a/./b", "a\\b", " m", "m\n",
     "x" * (MAX_TARGET_MODEL + 1), "a/", ".."],
)  # fmt: skip
def test_anything_else_is_refused_with_a_reason(name: str) -> None:
    assert check_target_model(name)


@given(st.text(max_size=60))
def test_an_accepted_name_never_leaves_the_prefix(name: str) -> None:
    if check_target_model(name) is None:
        joined = posixpath.normpath(posixpath.join("/prefix", name))
        assert joined.startswith("/prefix/")
