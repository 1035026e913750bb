"""The operator's view during a deployment, in Chromium against a real `turnout serve`.

The blue config weighs A:B as 1:1 and the green one as 3:1, so a page that looked weights
up by variant name would show one fleet's weights on the other's rows. The canary bakes for
ten minutes, long enough for every check; an alarm of the endpoint sits in ALARM (it is
not one of the deployment's rollback alarms, so the deployment goes on).
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import Artifacts, Deploy
from tests.dashboard.conftest import SHOTS
from tests.support.endpoints import VariantOf, bake_canary, poll_until
from tests.support.load import LoadProcess
from turnout.cli.background import BackgroundServer
from turnout.client import Client, Variant

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Route

pytestmark = pytest.mark.e2e

NAME = "ops"
GREEN = f"{NAME}-green"
BLUE = f"{NAME}-config"
ALARM = f"{NAME}-busy"  # ALARM from the start: fewer than a billion invocations


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """A fresh page per test: routes and init scripts of one test stay out of the others."""
    new = browser.new_page()
    new.set_viewport_size({"width": 1280, "height": 900})
    try:
        yield new
    finally:
        new.close()


@pytest.fixture(scope="module")
def deploying(client: Client, deploy: Deploy, artifacts: Artifacts) -> str:
    """The endpoint, baking a 10% canary of GREEN (A:B 3:1) over BLUE (A:B 1:1)."""
    deploy(NAME, [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)])
    client.create_endpoint_config(
        GREEN, [Variant("A", f"{NAME}-A", weight=3.0), Variant("B", f"{NAME}-B", weight=1.0)]
    )
    client.create_alarm(
        ALARM, NAME, "Invocations", "Sum", 1e9, "LessThanThreshold",
        treat_missing_data="breaching",
    )  # fmt: skip
    bake_canary(client, NAME, GREEN)
    # Green's B routes 2.5%: with 40 requests it got none 36% of the time (and the split
    # chart drew 3 bars); with 400, one run in 25,000.
    for _ in range(400):
        client.invoke(NAME, [[0.0] * 64])
    return NAME


def cell_text(page: Page, testid: str) -> str:
    return page.get_by_test_id(testid).inner_text()


def test_each_fleet_shows_its_own_weights_and_the_canary_share(
    server: BackgroundServer, deploying: str, page: Page
) -> None:
    page.goto(f"{server.url}/dashboard/endpoints/{deploying}")
    canary = page.get_by_test_id("canary-share")
    poll_until(canary.inner_text, lambda t: t == "canary 10%", 15, "the canary share")
    # Each fleet's own weights: blue 1 / 1 for both; green 3 for A, 1 for B.
    assert cell_text(page, f"weights-{BLUE}-A") == "1 / 1"
    assert cell_text(page, f"weights-{BLUE}-B") == "1 / 1"
    assert cell_text(page, f"weights-{GREEN}-A") == "3 / 3"
    assert cell_text(page, f"weights-{GREEN}-B") == "1 / 1"
    # Routed shares: blue's 90% split 1:1, green's 10% split 3:1.
    shares = {
        (config, v): cell_text(page, f"traffic-{config}-{v}")
        for config in (BLUE, GREEN)
        for v in ("A", "B")
    }
    assert shares == {
        (BLUE, "A"): "45%", (BLUE, "B"): "45%", (GREEN, "A"): "7.5%", (GREEN, "B"): "2.5%",
    }  # fmt: skip
    progress = page.get_by_test_id("deployment-progress").inner_text()
    assert f"→ {GREEN} · step 1 of 2 · green 10% · Baking" in progress
    assert "s left" in progress
    # The alarm table: threshold, comparison and the value it judges.
    assert cell_text(page, f"threshold-{ALARM}") == "< 1,000,000,000"
    poll_until(
        functools.partial(cell_text, page, f"value-{ALARM}"),
        lambda t: t not in ("", "\N{EN DASH}"),
        15, "the alarm's current value",
    )  # fmt: skip
    assert cell_text(page, f"alarm-{ALARM}") == "ALARM"
    # The charts drew (plotly.js loads on its own) and no render failed.
    split = page.get_by_test_id("chart-split")
    poll_until(
        lambda: int(split.get_attribute("data-updates") or 0), lambda n: n >= 2, 15,
        "the split chart drawn twice",
    )  # fmt: skip
    assert page.locator("#problem").inner_text() == ""
    bars = page.evaluate("document.getElementById('chart-split').data.map((t) => t.type)")
    assert bars == ["bar"] * 4
    # Compact legends: short names ("A · green"), inside their chart's box.
    names = page.evaluate("document.getElementById('chart-latency').data.map((t) => t.name)")
    assert "A · green p99" in names and max(len(n) for n in names) <= 24
    for chart in ("chart-rps", "chart-latency", "chart-errors"):
        box = page.locator(f"#{chart}").bounding_box()
        legend = page.locator(f"#{chart} g.legend").bounding_box()
        assert box is not None and legend is not None
        assert legend["y"] + legend["height"] <= box["y"] + box["height"] + 1, chart
        assert legend["x"] + legend["width"] <= box["x"] + box["width"] + 1, chart
    page.screenshot(path=str(SHOTS / "operator-deployment.png"), full_page=True)
    # The top of the page, small: docs/dashboard-deployment.png is a copy of this one.
    page.set_viewport_size({"width": 1100, "height": 700})
    page.screenshot(path=str(SHOTS / "dashboard-deployment.png"), type="png")


def test_the_overview_shows_progress_alarms_and_the_endpoint_error_rate(
    server: BackgroundServer, deploying: str, page: Page
) -> None:
    page.goto(f"{server.url}/")
    progress = page.get_by_test_id(f"deployment-{deploying}")
    progress.wait_for(timeout=15_000)
    text = progress.inner_text()
    assert f"→ {GREEN} · step 1 of 2 · green 10% · Baking" in text and "s left" in text
    assert page.get_by_test_id(f"config-{deploying}").inner_text() == f"{BLUE} → {GREEN}"
    alarm = page.get_by_test_id(f"alarm-{ALARM}")
    assert alarm.inner_text() == "ALARM"
    assert "ALARM" in (alarm.get_attribute("class") or "")
    # The endpoint's error rate: all its errors over all its invocations (none failed).
    assert cell_text(page, f"errors-{deploying}") == "0.0%"
    assert cell_text(page, f"weights-{deploying}-{GREEN}-A") == "3 / 3"
    assert cell_text(page, f"weights-{deploying}-{BLUE}-A") == "1 / 1"
    page.screenshot(path=str(SHOTS / "operator-overview.png"), full_page=True)


# Records, from the first script on, whether "No deployment" was ever visible and whether
# the loading note was shown at first paint.
WATCH = """
window.__seen = { noDeployment: false, loading: false };
document.addEventListener("DOMContentLoaded", () => {
  const note = document.querySelector('[data-testid="deployment-loading"]');
  window.__seen.loading = Boolean(note && !note.hidden);
  const check = () => {
    const empty = document.getElementById("no-deployment");
    if (empty && !empty.hidden) window.__seen.noDeployment = true;
  };
  check();
  new MutationObserver(check).observe(
    document.body, { attributes: true, subtree: true, childList: true });
});
"""


def test_first_paint_under_load_shows_loading_never_a_false_empty_state(
    server: BackgroundServer, deploying: str, page: Page, tmp_path: Path
) -> None:
    held: list[Route] = []
    released = [False]

    def hold(route: Route) -> None:
        if released[0]:
            route.continue_()
        else:
            held.append(route)

    # The page's data endpoint answers late, as under load: hold its first answers back.
    page.route("**/dashboard/api/endpoints/**", hold)
    page.add_init_script(WATCH)
    with LoadProcess(tmp_path / "load.json", server.url, deploying, concurrency=4,
                     duration=60) as load:  # fmt: skip
        load.wait_for(50)
        page.goto(f"{server.url}/dashboard/endpoints/{deploying}", wait_until="domcontentloaded")
        page.get_by_test_id("loading").first.wait_for(state="visible", timeout=15_000)
        poll_until(lambda: page.wait_for_timeout(50) or len(held), bool, 15, "the data fetch")
        assert page.get_by_test_id("no-deployment").is_hidden()
        assert page.get_by_test_id("deployment-progress").count() == 0
        released[0] = True
        for route in held:
            route.continue_()
        page.get_by_test_id("deployment-progress").wait_for(timeout=15_000)
        seen = page.evaluate("window.__seen")
        load.stop()
    assert seen == {"noDeployment": False, "loading": True}
    assert page.get_by_test_id("loading").first.is_hidden()


def test_plotly_is_served_compressed_and_cached_for_good(server: BackgroundServer) -> None:
    page = httpx.get(f"{server.url}/dashboard/endpoints/{NAME}", timeout=10).text
    src = page.split('src="/dashboard/static/plotly.min.js?v=', 1)[1].split('"', 1)[0]
    url = f"{server.url}/dashboard/static/plotly.min.js?v={src}"
    raw = httpx.get(url, headers={"accept-encoding": "identity"}, timeout=30)
    assert raw.status_code == 200 and "content-encoding" not in raw.headers
    with httpx.stream("GET", url, headers={"accept-encoding": "gzip, br"}, timeout=30) as zipped:
        compressed = b"".join(zipped.iter_raw())
        assert zipped.headers["content-encoding"] == "gzip"
        assert "immutable" in zipped.headers["cache-control"]
        etag = zipped.headers["etag"]
    assert len(compressed) < len(raw.content) / 3
    assert gzip.decompress(compressed) == raw.content
    again = httpx.get(url, headers={"if-none-match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    refused = httpx.get(url, headers={"accept-encoding": "gzip;q=0"}, timeout=30)
    assert "content-encoding" not in refused.headers


def test_an_unknown_endpoint_is_a_clear_404_page(server: BackgroundServer, page: Page) -> None:
    answer = page.goto(f"{server.url}/dashboard/endpoints/nope")
    assert answer is not None and answer.status == 404
    assert "No such endpoint" in page.get_by_test_id("no-such-endpoint").inner_text()


def test_tables_fit_a_900_px_window(server: BackgroundServer, deploying: str, page: Page) -> None:
    page.set_viewport_size({"width": 900, "height": 800})
    page.goto(f"{server.url}/dashboard/endpoints/{deploying}")
    page.get_by_test_id("deployment-progress").wait_for(timeout=15_000)
    # Wide tables scroll inside their cards; the page itself never scrolls sideways.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.goto(f"{server.url}/")
    page.get_by_test_id(f"deployment-{deploying}").wait_for(timeout=15_000)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
