"""The dashboard in a real browser (Playwright driving Debian's Chromium) against a real
`turnout serve` with two variants under load from a second process.

Checks what a person would: the per-variant request counts the pages show agree with the
load generator's, a chart redraws by itself, and after a weight change the traffic split
shown follows the new weights. Screenshots go to test-artifacts/dashboard/.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from scipy.stats import binom

from tests.conftest import Artifacts, Deploy
from tests.dashboard.conftest import SHOTS
from tests.support.endpoints import VariantOf, canary, poll_until
from tests.support.load import LoadProcess
from tests.support.models import digits_rows, make_shadow_model
from turnout.cli.background import BackgroundServer
from turnout.client import Client, Variant
from turnout.domain.rollups import PERIOD

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.e2e

REQUESTS = 600


@pytest.fixture(scope="module")
def server_args() -> tuple[str, ...]:
    return ("--scaling-period", "10")  # the Scaling section's test sees an activity in seconds


@pytest.fixture(scope="module")
def page(browser: BrowserContext) -> Page:
    return browser.new_page()


def shown_count(page: Page, testid: str) -> int:
    text = page.get_by_test_id(testid).inner_text()
    return int(text.replace(",", "").replace("\u202f", "") or 0)


def drawn(page: Page, testid: str) -> dict[str, Any]:
    """The first trace of a chart once Plotly drew it (plotly.js loads after the numbers)."""
    script = f"""() => {{
        const chart = document.querySelector('[data-testid="{testid}"]');
        return chart && chart.data && chart.data.length ? chart.data[0] : null;
    }}"""
    trace = poll_until(lambda: page.evaluate(script), bool, 15, f"{testid} drawn")
    return cast(dict[str, Any], trace)


def near(expected: int, shown: int) -> bool:
    """Within 5% of what the load generator counted (the issue's tolerance)."""
    return abs(shown - expected) <= 0.05 * expected


def run_load(server: BackgroundServer, out: Path, endpoint: str) -> dict[str, int]:
    with LoadProcess(out, server.url, endpoint, concurrency=4, requests=REQUESTS) as load:
        result = load.finish()
    assert result.failed == 0, result.describe()
    assert result.ok == REQUESTS
    return result.by_variant


def next_period() -> None:
    """Sleep into a fresh metrics period, so the next load's requests share none with older."""
    time.sleep(PERIOD - time.time() % PERIOD + 0.2)


def test_dashboard_shows_what_the_load_generator_counted(
    server: BackgroundServer,
    client: Client,
    deploy: Deploy,
    artifacts: Artifacts,
    tmp_path: Path,
    page: Page,
) -> None:
    name = "dash"
    deploy(name, [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)])
    counted = run_load(server, tmp_path / "load1.json", name)

    # The overview: each variant's requests of the last 5 minutes, as the load counted them.
    page.goto(f"{server.url}/")
    for variant, expected in counted.items():
        testid = f"invocations-{name}-{variant}"
        shown = poll_until(
            functools.partial(shown_count, page, testid),
            functools.partial(near, expected),
            timeout=15,
            what=f"overview count of {variant} near {expected}",
        )
        assert abs(shown - expected) <= 0.05 * expected
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)

    # The endpoint page: the same counts, and charts that redraw by themselves.
    page.click(f"a:text-is('{name}')")
    page.wait_for_url(f"**/dashboard/endpoints/{name}")
    for variant, expected in counted.items():
        poll_until(
            functools.partial(shown_count, page, f"invocations-{variant}"),
            functools.partial(near, expected),
            timeout=15,
            what=f"endpoint page count of {variant}",
        )
    chart = page.get_by_test_id("chart-rps")
    first = int(chart.get_attribute("data-updates") or 0)
    poll_until(
        lambda: int(chart.get_attribute("data-updates") or 0),
        lambda n: n >= first + 2,
        timeout=15,
        what="the requests/s chart redrawing",
    )
    page.screenshot(path=str(SHOTS / "endpoint-50-50.png"), full_page=True)

    # A weight change: the split chart's newest period follows 90/10.
    client.update_traffic(name, weights={"A": 0.9, "B": 0.1})
    client.wait_for_endpoint(name, timeout=60)
    next_period()
    counted = run_load(server, tmp_path / "load2.json", name)
    low, high = binom.interval(0.999, REQUESTS, 0.9)
    assert low <= counted.get("A", 0) <= high  # the router itself follows (sanity)

    def newest_share_of_a() -> float | None:
        share = page.evaluate(
            """() => {
                const traces = document.getElementById("chart-split").data || [];
                const a = traces.find((t) => t.name === "A");
                if (!a) return null;
                const ys = a.y.filter((y) => y !== null);
                return ys.length ? ys[ys.length - 1] / 100 : null;
            }"""
        )
        return None if share is None else float(share)

    share = poll_until(
        newest_share_of_a,
        lambda s: s is not None and abs(s - counted["A"] / REQUESTS) < 0.02,
        timeout=20,
        what="the split chart showing the new load's share of A",
    )
    assert share is not None and low / REQUESTS - 0.02 <= share <= high / REQUESTS + 0.02
    weights = page.locator("#variants").inner_text()
    assert "0.9 / 0.9" in weights
    page.screenshot(path=str(SHOTS / "endpoint-90-10.png"), full_page=True)


def test_an_unknown_endpoint_page_says_so(server: BackgroundServer, page: Page) -> None:
    answer = page.goto(f"{server.url}/dashboard/endpoints/nope")
    assert answer is not None and answer.status == 404
    assert "No such endpoint" in page.get_by_test_id("no-such-endpoint").inner_text()


def test_a_deployment_shows_its_steps_then_its_outcome(
    server: BackgroundServer,
    client: Client,
    deploy: Deploy,
    artifacts: Artifacts,
    page: Page,
) -> None:
    name = "dash-deploy"
    deploy(name, [VariantOf("A", artifacts.sklearn)])
    client.create_endpoint_config(f"{name}-green", [Variant("A", f"{name}-A")])
    alarm = f"{name}-green-5xx"  # the green fleet's error rate; no traffic: OK
    client.create_alarm(
        alarm, name, "Invocation5XXErrors", "Average", 0.1, "GreaterThanThreshold",
        config=f"{name}-green", treat_missing_data="notBreaching",
    )  # fmt: skip
    page.goto(f"{server.url}/dashboard/endpoints/{name}")
    client.update_endpoint(name, f"{name}-green", canary(10, 3, [alarm]))
    # While it runs: the phase and the plan's two steps (10%, then 100%).
    phase = page.get_by_test_id("deployment-phase")
    phase.wait_for(timeout=30_000)
    shown = page.get_by_test_id("deployment").inner_text()
    assert f"{name}-config → {name}-green" in shown and "CANARY 10%" in shown
    assert "10.0%" in shown and "100.0%" in shown
    alarm_row = page.get_by_test_id(f"alarm-{alarm}").locator("xpath=..")
    poll_until(
        alarm_row.inner_text,
        lambda text: f"all variants of {name}-green" in text and "OK" in text,
        15, "the alarm's row",
    )  # fmt: skip
    client.wait_for_endpoint(name, timeout=120)
    past = page.locator("#past-deployments")
    poll_until(past.inner_text, lambda text: "Succeeded" in text, 15, "the past deployment")
    # The variants are now the green fleet's; blue took no traffic, so it has no row left
    # (its instances' CPU/memory rollups alone do not make one).
    variants = page.locator("#variants")
    poll_until(
        variants.inner_text,
        lambda text: f"{name}-green" in text and f"{name}-config" not in text,
        15, "the green fleet's variants",
    )  # fmt: skip
    page.screenshot(path=str(SHOTS / "deployment.png"), full_page=True)


def test_an_experiment_shows_its_decision_and_lift_chart(
    server: BackgroundServer,
    client: Client,
    deploy: Deploy,
    artifacts: Artifacts,
    page: Page,
) -> None:
    name = "dash-ab"
    deploy(name, [VariantOf("A", artifacts.sklearn), VariantOf("B", artifacts.sklearn)])
    client.create_experiment(
        name,
        {"name": "signup", "variants": ["A", "B"], "control": "A",
         "primary": {"name": "converted"}},
    )  # fmt: skip
    rows = [[0.0] * 64]
    events = []
    for i in range(200):
        user = f"user-{i}"
        variant = client.invoke(name, rows, user=user).variant
        # B converts every other user, A every fifth: a lift the report must show as positive.
        events.append(
            {"user": user, "metric": "converted", "value": i % (2 if variant == "B" else 5) == 0}
        )
    client.send_feedback(name, events)
    expected = poll_until(
        lambda: client.experiment_report(name, "signup"),
        lambda r: sum(r["users"].values()) == 200,
        timeout=15,
        what="all 200 users' exposures recorded",
    )
    page.goto(f"{server.url}/dashboard/endpoints/{name}")
    decision = page.get_by_test_id("decision-signup")
    decision.wait_for(timeout=15_000)
    assert decision.inner_text() == expected["decision"]["message"]
    lift = drawn(page, "experiment-chart-signup")["x"][0]
    shown = next(c for c in expected["comparisons"] if c["role"] == "primary")
    assert lift == pytest.approx(100 * shown["lift_relative"]["value"])
    assert lift > 0
    # The split in words, against the shares the weights ask for, as the CLI prints it.
    split = page.get_by_test_id("split-signup").inner_text()
    assert "expected 50.0% / 50.0%" in split and "sample ratio ok" in split
    total = sum(expected["users"].values())
    assert f"({expected['users']['A'] / total:.1%})" in split
    # A control row, with the control's conversion as a percentage.
    control = shown["control"]["value"]
    row = page.get_by_test_id("control-signup-converted").locator("xpath=..").inner_text()
    assert f"{100 * control:.1f}%" in row
    page.screenshot(path=str(SHOTS / "experiment.png"), full_page=True)


def test_a_shadow_variant_shows_its_agreement_and_chart(
    server: BackgroundServer, client: Client, page: Page, tmp_path: Path
) -> None:
    name = "dash-shadow"
    for model, mode in (("dash-prod", "none"), ("dash-contrary", "contrary")):
        client.create_model(model, str(make_shadow_model(tmp_path / model, mode)))
    client.create_endpoint_config(
        name, [Variant("A", "dash-prod")], shadow_variants=[Variant("S", "dash-contrary")]
    )
    client.create_endpoint(name, name)
    client.wait_for_endpoint(name)
    rows, _ = digits_rows(80, seed=5)
    for row in rows:
        assert client.invoke(name, [row]).variant == "A"
    (expected,) = poll_until(
        lambda: client.shadow_reports(name),
        lambda r: bool(r) and r[0]["compared"] == len(rows),
        timeout=30,
        what="every pair compared",
    )
    page.goto(f"{server.url}/dashboard/endpoints/{name}")
    title = page.get_by_test_id("shadow-agreement-S")
    title.wait_for(timeout=15_000)
    assert float(title.get_attribute("data-agreement") or "nan") == pytest.approx(
        expected["agreement"]
    )
    assert page.get_by_test_id("shadow-row-S").inner_text() == "S (shadow)"
    # Copies are not traffic: production has all of the split.
    assert float(page.get_by_test_id("share-A").get_attribute("data-share") or 0) == 1.0
    assert float(page.get_by_test_id("share-S").get_attribute("data-share") or 1) == 0.0
    # The chart is drawn: Plotly's agreement trace holds the report's points.
    points = drawn(page, "shadow-chart-S")["y"]
    assert points == [pytest.approx(100 * m["agreement"]) for m in expected["timeline"]]
    assert page.locator('[data-testid="shadow-chart-S"] .scatterlayer path').count() > 0
    page.screenshot(path=str(SHOTS / "shadow.png"), full_page=True)


def test_the_scaling_section_lists_an_activity_and_its_cause(
    server: BackgroundServer, deploy: Deploy, artifacts: Artifacts, page: Page
) -> None:
    import boto3  # only this test talks Application Auto Scaling

    deploy("scaled-page", [VariantOf("AllTraffic", artifacts.sklearn)])
    boto3.client(
        "application-autoscaling",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    ).register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/scaled-page/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=2,
        MaxCapacity=2,
    )  # fmt: skip (1 is below the range: the next evaluation raises it to 2)
    page.goto(f"{server.url}/dashboard/endpoints/scaled-page")
    rows = page.get_by_test_id("scaling-activities")
    text = poll_until(lambda: rows.inner_text(), lambda t: "1 → 2" in t, 25, "the activity shown")
    assert "outside the MinCapacity 2" in text
    assert "AllTraffic: 2\u20132 instances" in page.get_by_test_id("scaling-targets").inner_text()
    page.screenshot(path=SHOTS / "scaling.png", full_page=True)
