"""The switch's hook helpers (ADR 0040): the request view, relayed headers, loading
code/switch.py, and the runner's bounds (concurrency, timeout, errors)."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.domain.switch import route_to
from turnout.routing.switch import (
    NO_HOOKS,
    HookBusy,
    HookError,
    HookRunner,
    HookTimeout,
    load_hooks,
    relayed_of,
    request_of,
)

TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=40)


@given(TEXT, st.one_of(st.none(), TEXT), st.binary(max_size=64))
def test_relayed_headers_carry_what_the_hooks_set(
    content_type: str, attributes: str | None, body: bytes
) -> None:
    relayed = [(b"Content-Type", b"text/csv"), (b"Accept", b"application/json")]
    request = request_of(body, relayed, [], None)
    assert request.content_type == "text/csv" and request.body == body
    changed = relayed_of(request.__class__(body, content_type, attributes, None), relayed)
    again = request_of(body, changed, [], None)
    assert (again.content_type, again.custom_attributes) == (content_type, attributes)
    assert (b"Accept", b"application/json") in changed


@given(st.dictionaries(TEXT, TEXT))
def test_only_a_nonblank_route_to_makes_a_switch(environment: dict[str, str]) -> None:
    found = route_to(environment)
    value = environment.get("TURNOUT_ROUTE_TO", "").strip()
    assert found == (value or None)


def test_load_hooks(tmp_path: Path) -> None:
    assert load_hooks("") is NO_HOOKS
    assert load_hooks(tmp_path.as_uri()) is NO_HOOKS  # no code/switch.py: no hooks
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "switch.py").write_text("def route(request, variants):\n    return None\n")
    hooks = load_hooks(str(tmp_path))
    assert hooks.route is not None and hooks.preprocess is None and hooks.postprocess is None
    (tmp_path / "code" / "switch.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(HookError, match="boom"):
        load_hooks(str(tmp_path))
    with pytest.raises(HookError, match="not a local directory"):
        load_hooks("s3://bucket/switch.tar.gz")


def test_the_runner_bounds_calls_and_their_time() -> None:
    release = threading.Event()

    async def scenario() -> None:
        runner = HookRunner(threads=1, queue=1, timeout=0.2)
        with pytest.raises(HookTimeout):  # holds the one thread until released
            await runner.call(release.wait, 5)
        waiting = asyncio.ensure_future(runner.call(lambda: 1))  # queued behind it
        await asyncio.sleep(0)
        with pytest.raises(HookBusy):  # one running + one waiting = the bound
            await runner.call(lambda: 2)
        release.set()
        assert await waiting == 1
        with pytest.raises(HookError, match="ZeroDivisionError"):
            await runner.call(lambda: 1 / 0)
        with pytest.raises(HookError, match="SystemExit"):  # never out to the loop
            await runner.call(sys.exit, 3)

    asyncio.run(scenario())
