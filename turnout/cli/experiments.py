"""`turnout routing ...`, `turnout feedback ...` and `turnout experiment ...`: sticky
assignment settings, targeting rules, outcome events and A/B experiment reports."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from turnout.cli.common import (
    DEFAULT_URL,
    CredentialsFile,
    Json,
    Url,
    connect,
    console,
    fail,
    print_json,
)
from turnout.cli.fit import fitted_table
from turnout.cli.models import format_time

routing_app = typer.Typer(
    help="Sticky assignment: where the user's key comes from, and targeting rules.",
    no_args_is_help=True,
)
experiment_app = typer.Typer(
    help="A/B experiments on an endpoint's variants, analysed from feedback events.",
    no_args_is_help=True,
)

Endpoint = Annotated[str, typer.Argument(help="Endpoint name.")]
Experiment = Annotated[str, typer.Argument(help="Experiment name.")]
VERDICT_COLOUR = {
    "winner": "green", "control_wins": "yellow", "keep_running": "cyan",
    "no_difference": "yellow", "stop_srm": "red", "stop_guardrail": "red",
}  # fmt: skip


# --- routing --------------------------------------------------------------------------
def _show_routing(endpoint: str, settings: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(settings)
        return
    key = settings["assignment_key"]
    field = key.get("custom_attribute")
    sources = [
        f"header {key['header']}" if key.get("header") else None,
        f"CustomAttributes field {field}" if field else None,
        f"cookie {key['cookie']} (set for browsers)" if key.get("cookie") else None,
    ]
    on = [s for s in sources if s] or ["none: every request is assigned at random"]
    console.print(f"[bold]{escape(endpoint)}[/] assignment key, in order: {escape(', '.join(on))}")
    if not settings["rules"]:
        console.print("targeting rules: none")
        return
    table = Table("#", "when", "variant", title="targeting rules (first match wins)")
    for i, rule in enumerate(settings["rules"], start=1):
        if rule["type"] == "users":
            users = rule["users"]
            shown = ", ".join(users[:5]) + (f" (+{len(users) - 5} more)" if len(users) > 5 else "")
            when = f"user in [{shown}]"
        else:
            values = rule.get("values") or [rule.get("value")]
            when = f"{rule['header']} in [{', '.join(values)}]"
        table.add_row(str(i), escape(when), escape(rule["variant"]))
    console.print(table)


@routing_app.command("show")
def show_routing(
    endpoint: Endpoint,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """The endpoint's assignment key sources and targeting rules."""
    with connect(url, credentials) as client:
        settings = client.routing(endpoint)
    _show_routing(endpoint, settings, as_json)


@routing_app.command("set")
def set_routing(
    endpoint: Endpoint,
    header: Annotated[
        str | None, typer.Option(help="Read the user's key from this request header.")
    ] = None,
    cookie: Annotated[
        str | None, typer.Option(help="...or this cookie (set for browsers that have none).")
    ] = None,
    custom_attribute: Annotated[
        str | None,
        typer.Option(help="...or this field of X-Amzn-SageMaker-Custom-Attributes (`user=...`)."),
    ] = None,
    no_header: Annotated[bool, typer.Option("--no-header", help="Stop reading a header.")] = False,
    no_cookie: Annotated[bool, typer.Option("--no-cookie", help="Stop using a cookie.")] = False,
    no_custom_attribute: Annotated[
        bool, typer.Option("--no-custom-attribute", help="Stop reading CustomAttributes.")
    ] = False,
    rules: Annotated[
        Path | None,
        typer.Option(
            help="A JSON file with the targeting rules (replaces them all; [] removes them).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Change where the key comes from and/or the targeting rules; the rest stays."""
    key: dict[str, str | None] = {}
    for name, value, off in (
        ("header", header, no_header),
        ("cookie", cookie, no_cookie),
        ("custom_attribute", custom_attribute, no_custom_attribute),
    ):
        if value is not None and off:
            fail(f"--{name.replace('_', '-')} and --no-{name.replace('_', '-')} contradict")
        if value is not None or off:
            key[name] = value
    document = None
    if rules is not None:
        try:
            document = json.loads(rules.read_text())
        except (OSError, ValueError) as exc:
            fail(f"cannot read the rules in {rules}: {exc}")
    if not key and document is None:
        fail(
            "nothing to change: pass --header, --cookie, --custom-attribute (or --no-...) "
            "or --rules"
        )
    with connect(url, credentials) as client:
        settings = client.set_routing(endpoint, key or None, document)
    _show_routing(endpoint, settings, as_json)


@routing_app.command("target")
def add_target(
    endpoint: Endpoint,
    variant: Annotated[str, typer.Argument(help="The variant they get.")],
    users: Annotated[
        str | None,
        typer.Option(help="Assignment keys (user ids), comma-separated, e.g. alice,bob."),
    ] = None,
    header: Annotated[
        str | None,
        typer.Option(help="HEADER=VALUE[,VALUE...]: requests with one of these values."),
    ] = None,
    first: Annotated[
        bool, typer.Option("--first", help="Put the rule first (the first match wins).")
    ] = False,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Add a targeting rule: these users, or requests with this header value, always get
    VARIANT, e.g. `turnout routing target digits B --users alice,bob` or
    `turnout routing target digits B --header X-Country=FR,BE`."""
    if (users is None) == (header is None):
        fail("give exactly one of --users and --header")
    if users is not None:
        rule: dict[str, Any] = {"type": "users", "users": _listed(users), "variant": variant}
    else:
        assert header is not None
        name, sep, values = header.partition("=")
        if not sep or not name.strip():
            fail(f"--header {header!r}: write HEADER=VALUE[,VALUE...], e.g. X-Country=FR,BE")
        rule = {"type": "header", "header": name.strip(), "operator": "in",
                "values": _listed(values), "variant": variant}  # fmt: skip
    # Read, change, write: a rule someone else adds in between would be overwritten.
    with connect(url, credentials) as client:
        rules = client.routing(endpoint)["rules"]
        settings = client.set_routing(endpoint, rules=[rule, *rules] if first else [*rules, rule])
    _show_routing(endpoint, settings, as_json)


@routing_app.command("untarget")
def remove_target(
    endpoint: Endpoint,
    number: Annotated[int, typer.Argument(help="The rule's # in `turnout routing show`.")],
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Remove targeting rule NUMBER (as `turnout routing show` numbers them)."""
    with connect(url, credentials) as client:
        rules = client.routing(endpoint)["rules"]
        if not 1 <= number <= len(rules):
            fail(f"{endpoint} has {len(rules)} targeting rules; `turnout routing show {endpoint}`")
        settings = client.set_routing(endpoint, rules=rules[: number - 1] + rules[number:])
    _show_routing(endpoint, settings, as_json)


def _listed(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        fail(f"{text!r} lists nothing; separate values with commas")
    return items


# --- feedback ---------------------------------------------------------------------------
def feedback_command(
    endpoint: Endpoint,
    metric: Annotated[str | None, typer.Option(help="The metric, e.g. converted.")] = None,
    value: Annotated[str | None, typer.Option(help="1/0, true/false (binary) or a number.")] = None,
    user: Annotated[str | None, typer.Option(help="The user's assignment key.")] = None,
    inference_id: Annotated[
        str | None, typer.Option(help="...or the invocation's inference id.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            help="Events as JSON lines: {metric, value, user|inference_id[, timestamp]}.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Send outcome events for an endpoint's users (one, or a file of them)."""
    if file is not None:
        if metric or value or user or inference_id:
            fail("give either --file or --metric/--value/--user, not both")
        events = _read_events(file)
    else:
        if metric is None or value is None or (user is None) == (inference_id is None):
            fail("give --metric, --value and one of --user / --inference-id (or --file)")
        event: dict[str, Any] = {"metric": metric, "value": _value(value)}
        event.update({"user": user} if user is not None else {"inference_id": inference_id})
        events = [event]
    with connect(url, credentials) as client:
        accepted = client.send_feedback(endpoint, events)
    if as_json:
        print_json({"accepted": accepted})
    else:
        console.print(f"{accepted:,} feedback events recorded for {escape(endpoint)}")


def _value(text: str) -> float:
    lowered = text.strip().lower()
    if lowered in ("true", "yes"):
        return 1.0
    if lowered in ("false", "no"):
        return 0.0
    try:
        number = float(lowered)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number or true/false") from None
    if not math.isfinite(number):
        raise typer.BadParameter("the value must be finite")
    return number


def _read_events(path: Path) -> list[dict[str, Any]]:
    events = []
    try:
        with path.open() as lines:
            for n, line in enumerate(lines, start=1):
                if line.strip():
                    event = json.loads(line)
                    if not isinstance(event, dict):
                        fail(f"{path}:{n}: each line must be a JSON object")
                    events.append(event)
    except ValueError as exc:
        fail(f"{path}: not JSON lines: {exc}")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    if not events:
        fail(f"{path} has no events")
    return events


# --- experiments ------------------------------------------------------------------------
def _metric(text: str) -> dict[str, Any]:
    """`name[:binary|numeric[:higher|lower]]`, or a metric as a JSON object (ADR 0025):
    `{"name": "revenue", "kind": "numeric", "window": 86400, "cap": {"percentile": 0.99}}`."""
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            fail(f"the metric {text!r} is not valid JSON: {exc}")
        if not isinstance(document, dict):
            fail("a metric in JSON must be an object")
        return document
    name, _, rest = text.partition(":")
    kind, _, direction = rest.partition(":")
    return {"name": name, "kind": kind or "binary", "direction": direction or "higher"}


@experiment_app.command("create")
def create_experiment(
    endpoint: Endpoint,
    name: Experiment,
    variants: Annotated[str, typer.Option(help="Comma-separated variants, e.g. A,B.")],
    control: Annotated[str, typer.Option(help="The variant the others are compared with.")],
    metric: Annotated[
        str,
        typer.Option(
            help="Primary metric: name[:binary|numeric[:higher|lower]], or a JSON object "
            "for over, per_user, window, cap, covariate (CUPED) or a ratio (see "
            "docs/experiments.md)."
        ),
    ],
    guardrail: Annotated[
        list[str] | None, typer.Option(help="A guardrail metric, same forms; repeatable.")
    ] = None,
    minimum_sample: Annotated[int, typer.Option(help="Users per variant before deciding.")] = 1000,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    method: Annotated[
        str, typer.Option(help="sequential (peek any time), fixed_horizon or bayesian.")
    ] = "sequential",
    auto_promote: Annotated[
        bool,
        typer.Option(help="Shift 100% of traffic to a winner the sequential test finds."),
    ] = False,
    new_salt: Annotated[
        bool,
        typer.Option(
            help="Re-randomize: a new salt for the endpoint's sticky assignment, so users "
            "are split afresh rather than as in an earlier experiment."
        ),
    ] = False,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Start an experiment: it counts users first exposed from now on, and their events."""
    definition = {
        "name": name,
        "variants": [v.strip() for v in variants.split(",") if v.strip()],
        "control": control,
        "primary": _metric(metric),
        "guardrails": [_metric(g) for g in guardrail or []],
        "minimum_sample": minimum_sample,
        "alpha": alpha,
        "method": method,
        "auto_promote": auto_promote,
        "new_salt": new_salt,
    }
    with connect(url, credentials) as client:
        created = client.create_experiment(endpoint, definition)
    if as_json:
        print_json(created)
    else:
        console.print(f"experiment {escape(name)} running on {escape(endpoint)}")


@experiment_app.command("list")
def list_experiments(
    endpoint: Endpoint,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """The endpoint's experiments."""
    with connect(url, credentials) as client:
        found = client.list_experiments(endpoint)
    if as_json:
        print_json(found)
        return
    table = Table("name", "variants", "primary", "status", "created", "outcome")
    for e in found:
        d = e["definition"]
        table.add_row(
            escape(e["name"]), escape(", ".join(d["variants"])), escape(d["primary"]["name"]),
            e["status"], format_time(e["created_at"]), escape(e["outcome"] or ""),
        )  # fmt: skip
    console.print(table)


@experiment_app.command("report")
def experiment_report(
    endpoint: Endpoint,
    name: Experiment,
    csv: Annotated[
        Path | None, typer.Option(help="Also write the report as CSV to this file.")
    ] = None,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Each variant against the control, with confidence intervals, p-values and a decision."""
    with connect(url, credentials) as client:
        report = client.experiment_report(endpoint, name)
        if csv is not None:
            csv.write_text(client.experiment_report_csv(endpoint, name))
    if as_json:
        print_json(report)
    else:
        print_report(report)


@experiment_app.command("stop")
def stop_experiment(
    endpoint: Endpoint,
    name: Experiment,
    url: Url = DEFAULT_URL,
    credentials: CredentialsFile = None,
    as_json: Json = False,
) -> None:
    """Stop counting; the report stays readable."""
    with connect(url, credentials) as client:
        stopped = client.stop_experiment(endpoint, name)
    if as_json:
        print_json(stopped)
    else:
        console.print(f"experiment {escape(name)} stopped")


_PER = {"day": 1.0, "hour": 24.0, "minute": 1440.0}


def _traffic(text: str) -> float:
    """`1000/day`, `50/hour`, `2/minute` or a plain number (per day): users per day."""
    count, _, unit = text.replace(",", "").partition("/")
    try:
        value = float(count)
    except ValueError:
        fail(f'Traffic "{text}" is not a number of users: write e.g. 1000/day or 50/hour.')
    unit = unit.strip().lower().removesuffix("s") or "day"
    if unit not in _PER:
        fail(f'Traffic "{text}": the unit must be day, hour or minute (e.g. 1000/day).')
    return value * _PER[unit]


@experiment_app.command("plan")
def plan_experiment(
    baseline: Annotated[
        float,
        typer.Option(help="The control's conversion rate (0.10) or, with --numeric, its mean."),
    ],
    mde: Annotated[
        float,
        typer.Option(
            help="Minimum detectable effect: absolute (0.01 = 10% -> 11%), or with --relative"
            " a share of the baseline (0.1 = +10%)."
        ),
    ],
    relative: Annotated[
        bool, typer.Option("--relative", help="Read --mde as a share of the baseline.")
    ] = False,
    alpha: Annotated[
        float, typer.Option(help="Significance level, split among the treatments.")
    ] = 0.05,
    power: Annotated[float, typer.Option(help="Chance to detect an effect of --mde.")] = 0.8,
    variants: Annotated[int, typer.Option(help="Variants, the control included.")] = 2,
    traffic: Annotated[
        str | None,
        typer.Option(help="Users entering the experiment, all variants: 1000/day, 50/hour."),
    ] = None,
    numeric: Annotated[
        bool, typer.Option("--numeric", help="A numeric metric (a mean); needs --sd.")
    ] = False,
    sd: Annotated[
        float | None, typer.Option(help="The numeric metric's standard deviation per user.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Users per variant (and days, given --traffic) to detect an effect: fixed-horizon and
    sequential tests. Computed here; no server needed.

    Example: turnout experiment plan --baseline 0.10 --mde 0.01 --traffic 1000/day
    """
    from turnout.experiments import planning

    if numeric != (sd is not None):
        fail("Give --numeric and --sd together (a numeric metric's standard deviation).")
    question = planning.Question(
        baseline, mde, relative, alpha, power, variants, sd,
        None if traffic is None else _traffic(traffic),
    )  # fmt: skip
    try:
        result = planning.plan(question)
    except ValueError as exc:
        fail(f"Cannot plan: {exc}.")
    rows = [
        ("fixed_horizon", result.fixed_users, None),
        ("sequential", result.sequential_users, result.sequential_median_users),
    ]
    if as_json:
        print_json(
            {
                "question": {
                    **question.__dict__,
                    "effect": question.effect,
                    "alpha_per_comparison": question.comparison_alpha,
                },
                "plans": [
                    {
                        "method": method,
                        "users_per_variant": users,
                        "total_users": None if users is None else users * variants,
                        "days": result.days(users),
                        "median_users_at_detection": median,
                        "median_days_at_detection": result.days(median),
                    }
                    for method, users, median in rows
                ],
            }
        )
        return
    kind = f"mean (sd {sd:g})" if numeric else "conversion"
    console.print(
        f"{kind} {baseline:g} -> {baseline + question.effect:g} ({question.effect:+g}), "
        f"alpha {alpha:g} ({question.comparison_alpha:.3g} per treatment), power {power:g}, "
        f"{variants} variants"
    )
    table_rows = []
    for method, users, median in rows:
        days = result.days(users)
        median_days = result.days(median)
        table_rows.append([
            method,
            "-" if users is None else f"{users:,}",
            "-" if users is None else f"{users * variants:,}",
            "-" if days is None else f"{days:,.1f}",
            "" if median is None
            else f"{median:,}" + ("" if median_days is None else f" ({median_days:,.1f} days)"),
        ])  # fmt: skip
    table = fitted_table(
        ("test", "users per variant", "total users", "days", "median at detection"),
        table_rows,
        console.width,
        header_style="bold underline",
    )
    console.print(table)
    console.print(
        "fixed_horizon: read once at that sample (set it as --minimum-sample). sequential: "
        "peek any time; it stops by that sample with the same power, often sooner."
    )


def _ci(i: dict[str, float | None] | None, form: str = ".4g") -> str:
    """`value [low, high]` in `form` (a format spec, e.g. "+.1%")."""
    if i is None or i["value"] is None:
        return "-"

    def f(x: float | None) -> str:
        return "?" if x is None else format(x, form)

    return f"{f(i['value'])} [{f(i['low'])}, {f(i['high'])}]"


def _p(x: float | None) -> str:
    return "-" if x is None else (f"{x:.2g}" if x < 0.001 else f"{x:.3f}")


def split_line(report: dict[str, Any]) -> str:
    """The users per variant against the expected shares, and the SRM check, in words."""
    users: dict[str, int] = report["users"]
    total = sum(users.values())
    expected: dict[str, float] = report.get("expected_shares") or {}
    seen = " / ".join(
        f"{escape(v)} {n:,}" + (f" ({n / total:.1%})" if total else "") for v, n in users.items()
    )
    wanted = " / ".join(f"{share:.1%}" for share in expected.values())
    test = report.get("sample_ratio_test") or "chi-square"
    phase = report.get("phase")
    since = ""
    if phase and phase["number"] > 1:
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(phase["start"]))
        since = (
            f" (phase {phase['number']}: users first exposed since {at}, when the weights "
            "or the assignment changed)"
        )
    looks = report.get("looks")
    over = f" over {looks:,} looks" if looks else ""
    verdict = (
        "[red]MISMATCH[/]: the split is not the one the weights ask for; fix the assignment "
        "before reading any result"
        if report["sample_ratio_mismatch"]
        else "ok"
    )
    return (
        f"sample ratio: {verdict} — users {seen or 'none yet'}{since}"
        + (f", expected {wanted}" if wanted else "")
        + f"; {test}, p = {_p(report['sample_ratio_p'])}{over}"
    )


def assumption_lines(assumptions: dict[str, Any] | None) -> list[str]:
    """What the numbers count, one line per metric, in the report's words."""
    if not assumptions:
        return []
    lines = [f"counted: {escape(assumptions['users'])}; {escape(assumptions['events'])}"]
    for m in assumptions["metrics"]:
        parts = [m["users"], m["per_user"], m["window"], m.get("cap")]
        lines.append(f"  {escape(m['metric'])}: " + "; ".join(escape(p) for p in parts if p))
    return lines


def _intervals(definition: dict[str, Any]) -> str:
    treatments = max(len(definition["variants"]) - 1, 1)
    alpha = definition["alpha"]
    if definition["method"] == "sequential":
        return (
            f"intervals are confidence sequences at alpha {alpha / treatments:.3g} (alpha "
            f"{alpha:g} over {treatments} treatment(s)), valid at every look"
        )
    return f"intervals at alpha {alpha:g}, read once at the planned sample"


def print_report(report: dict[str, Any], out: Console = console) -> None:
    definition = report["definition"]
    control = definition["control"]
    out.print(
        f"[bold]{escape(report['name'])}[/] on {escape(report['endpoint'])}: "
        f"{report['status']}, {definition['method']}, alpha {definition['alpha']}, "
        f"minimum {definition['minimum_sample']:,} users per variant"
    )
    for metric in (definition["primary"], *definition["guardrails"]):
        rows = [c for c in report["comparisons"] if c["metric"] == metric["name"]]
        role = "primary" if metric is definition["primary"] else "guardrail"
        binary = metric["kind"] == "binary"
        value = "conv." if binary else "mean"
        form, lift = (".1%", "+.2%") if binary else (".4g", "+.4g")
        table_rows: list[list[str]] = []
        if rows:
            table_rows.append([
                f"{escape(control)} (control)", f"{report['users'].get(control, 0):,}",
                _ci(rows[0]["control"], form), "", "", "", "", "",
            ])  # fmt: skip
        for c in rows:
            mark = " *" if c["significant"] else ""
            table_rows.append([
                escape(c["variant"]) + mark, f"{report['users'].get(c['variant'], 0):,}",
                _ci(c["treatment"], form), _ci(c["lift_absolute"], lift),
                _ci(c["lift_relative"], "+.1%"),
                _p(c["p_value"]), _p(c["p_value_sequential"]),
                "-" if c["chance_to_beat_control"] is None
                else f"{c['chance_to_beat_control']:.1%}",
            ])  # fmt: skip
        # short headers: 8 columns fit 80, each interval wrapping under its value
        table = fitted_table(
            ("variant", "users", value, "lift abs", "lift rel", "p", "p seq.", "P(beat)"),
            table_rows,
            out.width,
            title=f"{metric['name']} ({role}, {metric['direction']} is better)",
            title_justify="left",
            header_style="bold underline",
        )
        out.print()
        out.print(table)
    out.print(
        f"* significant; [CI] beside or under each value; p: fixed-sample, p seq.: sequential; "
        f"P(beat): chance to beat the control; {_intervals(definition)}"
    )
    out.print(split_line(report))
    for line in assumption_lines(report.get("assumptions")):
        out.print(line)
    for metric, counts in report["feedback"].items():
        if counts["unmatched"]:
            out.print(
                f"feedback {escape(metric)}: {counts['events']:,} events, "
                f"{counts['unmatched']:,} for users or inference ids never exposed (not counted)"
            )
    decision = report["decision"]
    colour = VERDICT_COLOUR.get(decision["verdict"], "white")
    out.print(f"decision: [bold {colour}]{escape(decision['message'])}[/]")
    if report["outcome"]:
        out.print(f"outcome: {escape(report['outcome'])}")
