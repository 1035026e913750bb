"""`turnout loadtest` against a real `turnout serve` serving the demo's two models: the JSON
report's counts add up, every
instance has its peak RSS, a model that keeps memory it allocates is flagged as leaking, a
person's mistakes get one error line, and the HTML report draws its plots in Chromium.

Runs are short and bounded (a few seconds, --requests caps); nothing here asserts a time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.cli.conftest import one_error_line
from tests.conftest import Artifacts, Deploy
from tests.support.endpoints import VariantOf
from turnout.cli.background import BackgroundServer
from turnout.cli.demo_models import TrainedModel, train

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

_SCRIPT = Path(sys.executable).with_name("turnout")
TURNOUT = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "turnout.cli.main"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "loadtest"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
]
MAX_REQUESTS = 1500


def turnout(server: BackgroundServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "PY_COLORS")}
    env.update(TURNOUT_URL=server.url, NO_COLOR="1", COLUMNS="200")
    return subprocess.run(
        [*TURNOUT, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def load(server: BackgroundServer, *args: str) -> dict[str, Any]:
    done = turnout(server, "loadtest", *args, "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def consistent(report: dict[str, Any]) -> None:
    """Every request sent is answered or failed, in all, per segment and per second."""
    totals = report["totals"]
    assert totals["sent"] == totals["answered"] + totals["failed"], totals
    assert totals["failed"] == sum(totals["errors"].values())
    series = report["series"]
    assert sum(s["sent"] for s in series) == totals["sent"]
    assert sum(s["answered"] for s in series) == totals["answered"]
    assert sum(s["failed"] for s in series) == totals["failed"]
    assert sum(s["sent"] for s in report["segments"]) == totals["sent"]
    assert sum(s["answered"] for s in report["segments"]) == totals["answered"]
    assert sum(report["variants"].values()) == totals["answered"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[TrainedModel], Path]:
    """The demo's two digit classifiers, and its held-out digits as a JSON Lines file."""
    work = tmp_path_factory.mktemp("demo")
    models, holdout = train(work / "artifacts")
    path = work / "rows.jsonl"
    path.write_text("".join(json.dumps([row]) + "\n" for row in holdout.rows[:50]))
    return models, path


@pytest.fixture(scope="module")
def rows_file(demo: tuple[list[TrainedModel], Path]) -> Path:
    return demo[1]


@pytest.fixture(scope="module")
def rate_report(
    server: BackgroundServer,
    deploy: Deploy,
    demo: tuple[list[TrainedModel], Path],
    rows_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Any], Path]:
    """The demo's endpoint (digits-a and digits-b at 50/50) under 50 then 150 req/s."""
    models, _ = demo
    deploy("lt", [VariantOf("A", models[0].path), VariantOf("B", models[1].path)])
    out = tmp_path_factory.mktemp("report")
    report = load(
        server,
        "lt",
        "-d",
        str(rows_file),
        "--rate",
        "50,150",
        "--duration",
        "3s",
        "--requests",
        str(MAX_REQUESTS),
        "-o",
        str(out),
    )
    return report, out


def test_rate_steps_report_adds_up(rate_report: tuple[dict[str, Any], Path]) -> None:
    report, out = rate_report
    assert json.loads((out / "report.json").read_text()) == report
    consistent(report)
    totals = report["totals"]
    # 3 s at 50/s then 3 s at 150/s: 600 requests due, none lost.
    assert totals["sent"] == 600
    assert totals["failed"] == 0, report["error_samples"]
    assert [s["sent"] for s in report["segments"]] == [150, 450]
    assert set(report["variants"]) == {"A", "B"}  # both of the demo's models answered
    assert totals["p50"] is not None and totals["p50"] <= totals["p99"] <= totals["max_ms"]
    instances = report["instances"]
    assert len(instances) == 2
    for instance in instances:
        assert instance["peak_rss_mb"] > 10, instance
        assert instance["peak_rss_mb"] >= instance["end_rss_mb"]
        assert len(instance["samples"]) >= 4
        assert not instance["leak"]["suspected"], instance["leak"]


def test_concurrency_run_stops_at_the_request_count(
    server: BackgroundServer, rate_report: object, rows_file: Path, tmp_path: Path
) -> None:
    report = load(
        server,
        "lt",
        "-d",
        str(rows_file),
        "-c",
        "4",
        "--duration",
        "20s",
        "--requests",
        "400",
        "-o",
        str(tmp_path),
    )
    consistent(report)
    assert report["totals"]["sent"] == 400
    assert report["totals"]["answered"] == 400
    assert report["stopped_early"] == "sent --requests 400"


def test_a_model_that_keeps_its_memory_is_flagged(
    server: BackgroundServer, deploy: Deploy, artifacts: Artifacts, tmp_path: Path
) -> None:
    deploy("lt-leak", [VariantOf("A", artifacts.faulty)])
    data = tmp_path / "leak.jsonl"
    data.write_text('{"leak_mb": 2}\n')
    report = load(
        server, "lt-leak", "-d", str(data), "--rate", "10", "--duration", "7s", "-o", str(tmp_path)
    )
    consistent(report)
    assert report["totals"]["answered"] == 70
    (instance,) = report["instances"]
    assert instance["leak"]["suspected"], instance["leak"]
    assert instance["end_rss_mb"] - instance["start_rss_mb"] > 60  # 2 MB x ~60 requests


def test_mistakes_get_one_error_line(
    server: BackgroundServer, rows_file: Path, tmp_path: Path
) -> None:
    cases = [
        (("nope", "-d", str(rows_file), "-n", "5"), "nope"),
        (("lt", "-d", str(rows_file), "--rate", "fast"), "not a number"),
        (("lt", "-d", str(rows_file), "--rate", "5", "-c", "2"), "not both"),
        (("lt", "-d", str(rows_file), "--duration", "soon"), "not a duration"),
    ]
    bad = tmp_path / "rows.txt"
    bad.write_text("1,2\n")
    cases.append((("lt", "-d", str(bad)), "--content-type"))
    for args, says in cases:
        done = turnout(server, "loadtest", *args, "-o", str(tmp_path / "out"))
        assert done.returncode == 1, (args, done.stderr)
        assert says in one_error_line(done.stderr), args


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine: install Debian's `chromium` (.ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        finally:
            browser.close()


def test_html_report_draws_its_plots(rate_report: tuple[dict[str, Any], Path], page: Page) -> None:
    _, out = rate_report
    page.goto((out / "report.html").as_uri())
    assert "600 sent" in page.get_by_test_id("totals").inner_text()
    for chart, lines in (("throughput", 2), ("latency", 3), ("errors", 1), ("cpu", 2), ("rss", 2)):
        svg = page.get_by_test_id(f"chart-{chart}")
        paths = svg.locator("path.series")
        assert paths.count() >= lines, chart
        for index in range(paths.count()):
            box = paths.nth(index).bounding_box()
            assert box is not None and box["width"] > 100, (chart, index, box)
        if chart in ("throughput", "latency", "cpu"):
            # Lines that move draw with height; the y axis got tick labels.
            heights = [paths.nth(i).bounding_box()["height"] for i in range(paths.count())]  # type: ignore[index]
            assert max(heights) > 5, (chart, heights)
        assert svg.locator("text").count() >= 4
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "report.png"), full_page=True)
