// One endpoint: variants, live charts per variant, alarms, instances.
"use strict";

const NAME = decodeURIComponent(location.pathname.split("/").pop());
const LAYOUT = {
  margin: { l: 48, r: 12, t: 8, b: 32 },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)",
  font: { color: getComputedStyle(document.body).color },
  // Legends below the chart, in small type: two deployments' worth of fleets must fit.
  legend: { orientation: "h", y: -0.2, yanchor: "top", font: { size: 10 } },
  xaxis: { type: "date" },
};
const CONFIG = { displayModeBar: false, responsive: true };

let roles = new Map(); // config → its fleet's role (serving, blue, green, retired)

function lines(series, field, twoFleets, extra = {}) {
  const x = series.starts.map((s) => new Date(s * 1000));
  return series.variants.map((line) => ({
    x, y: line[field], name: `${label(line, roles, twoFleets)}${extra.suffix || ""}`,
    hovertemplate: `%{y}<extra>${line.variant} (${line.config})${extra.suffix || ""}</extra>`,
    type: "scatter", mode: "lines+markers", marker: { size: 4 }, connectgaps: false, ...extra.trace,
  }));
}

let xrange = null; // the charts' common time window: the series' periods, to now

function draw(id, traces, yaxis = {}, extra = {}) {
  // plotly.js loads asynchronously: until it has, the tables show and the charts wait.
  if (!window.Plotly) return;
  // Plotly.react redraws in place: the chart updates without a reload.
  const layout = { ...LAYOUT, ...extra, xaxis: { ...LAYOUT.xaxis, range: xrange }, yaxis: { rangemode: "tozero", ...yaxis } };
  Plotly.react(id, traces, layout, CONFIG);
  document.getElementById(id).dataset.updates = String(Number(document.getElementById(id).dataset.updates || 0) + 1);
}

function errorRates(series) {
  return series.variants.flatMap((v) => [...v.errors_4xx_rate, ...v.errors_5xx_rate]).filter((x) => x !== null);
}

function split(series, twoFleets) {
  // Each variant's true share of the period's invocations, as stacked bars: a period
  // without traffic is a gap, not 0% (copies to shadow variants are not traffic: left out).
  series = { ...series, variants: series.variants.filter((v) => !v.shadow) };
  const totals = series.starts.map((_, i) => series.variants.reduce((sum, v) => sum + v.rps[i], 0));
  return lines(series, "rps", twoFleets).map(({ x, y, name, hovertemplate }) => ({
    x, name, type: "bar",
    y: y.map((v, i) => (totals[i] ? (100 * v) / totals[i] : null)),
    hovertemplate: hovertemplate.replace("%{y}", "%{y:.1f}%"),
  }));
}

function variantRows(data) {
  // A row per fleet and variant, each with its own fleet's weights and routed share (the
  // routing plan's), beside what it served lately.
  const rows = fleetRows(data);
  const calls = rows.filter((r) => !r.shadow).reduce((sum, r) => sum + (r.rps || 0), 0);
  return rows.map((r) => {
    const served = calls && !r.shadow ? (r.rps || 0) / calls : 0;
    const bar = cell("");
    bar.innerHTML = '<div class="bar"><span></span></div>';
    bar.querySelector("span").style.width = `${(100 * served).toFixed(1)}%`;
    bar.title = pct(served);
    bar.dataset.testid = rowId("share", r);
    bar.dataset.share = String(served);
    const routed = cell(r.shadow ? `copy of ${share(r.sampling)}` : share(r.share),
      { num: true, testid: `traffic-${r.config}-${r.variant}` });
    routed.dataset.share = String(r.share);
    return row([
      cell(r.shadow ? `${r.variant} (shadow)` : r.variant, { testid: r.shadow ? `shadow-row-${r.variant}` : undefined }),
      cell(r.config),
      cell(r.role, { cls: `role ${r.role}` }),
      cell(weights(r), { num: true, testid: `weights-${r.config}-${r.variant}` }),
      routed,
      bar,
      cell(instanceCount(r), { num: true }),
      cell(fmt(r.invocations ?? 0, 0), { num: true, testid: rowId("invocations", r) }),
      cell(fmt(r.rps ?? 0), { num: true, testid: rowId("rps", r) }),
      cell(fmt(r.errors_4xx ?? 0, 0), { num: true }),
      cell(fmt(r.errors_5xx ?? 0, 0), { num: true }),
      cell(fmt(r.p50_ms ?? null, 2), { num: true }),
      cell(fmt(r.p99_ms ?? null, 2), { num: true }),
    ], r.role === "retired" ? "muted" : "");
  });
}

// The bake's seconds left, ticking between polls.
let countdown = null;
setInterval(() => {
  if (!countdown || countdown.until === null) return;
  countdown.line.textContent = progressText(countdown.progress, (countdown.until - Date.now()) / 1000);
}, 1000);

function time(t) {
  return t ? new Date(t * 1000).toLocaleTimeString() : "–";
}

function policy(config) {
  const routing = config?.BlueGreenUpdatePolicy?.TrafficRoutingConfiguration || {};
  const size = routing.CanarySize || routing.LinearStepSize;
  const amount = size ? ` ${size.Value}${size.Type === "CAPACITY_PERCENT" ? "%" : " inst."}` : "";
  return `${routing.Type || "?"}${amount}, bake ${routing.WaitIntervalInSeconds ?? 0} s`;
}

// The deployment in progress: its steps (done / current / to come), alarms and history.
function currentDeployment(d, p) {
  const box = document.createElement("div");
  const line = document.createElement("p");
  line.className = "progress";
  line.dataset.testid = "deployment-progress";
  countdown = null;
  if (p) {
    line.textContent = progressText(p);
    countdown = { progress: p, until: p.bake_left_s === null ? null : Date.now() + 1000 * p.bake_left_s, line };
  }
  const head = document.createElement("p");
  head.textContent = `${d.blue_config} → ${d.green_config} · ${policy(d.deployment_config)} · ` +
    `phase ${d.phase}${d.paused ? " (paused)" : ""} · green ${pct(d.green_share)}`;
  head.dataset.testid = "deployment-phase";
  head.dataset.phase = d.phase;
  const steps = document.createElement("table");
  steps.appendChild(row(["step", "green share", "bake", "state"].map((t) => {
    const th = document.createElement("th"); th.textContent = t; return th;
  })));
  d.steps.forEach((step, i) => {
    const state = i < d.step ? "done" : i === d.step && d.phase === "Baking" ? "baking" : i === d.step ? d.phase : "to come";
    steps.appendChild(row([cell(String(i + 1)), cell(pct(step.green_share), { num: true }),
      cell(`${step.bake_s} s`, { num: true }), cell(state)]));
  });
  const alarms = Object.entries(d.alarms || {}).map(([name, state]) => `${name}: ${state}`).join(" · ");
  const alarmLine = document.createElement("p");
  alarmLine.textContent = alarms ? `rollback alarms — ${alarms}` : "no rollback alarms";
  const events = document.createElement("ol");
  d.events.slice(-8).forEach((e) => {
    const li = document.createElement("li");
    li.textContent = `${time(e.at)} ${e.kind}: ${e.message}`;
    events.appendChild(li);
  });
  box.append(line, head, steps, alarmLine, events);
  return box;
}

// One experiment: the decision, SRM, users per variant, and each comparison's relative
// lift with its confidence interval as a chart (error bars), plus the numbers as a table.
function splitText(e) {
  // The users per variant against the shares the weights ask for, as the CLI says it.
  const total = Object.values(e.users).reduce((a, b) => a + b, 0);
  const seen = Object.entries(e.users).map(([v, n]) => `${v} ${fmt(n, 0)}${total ? ` (${pct(n / total)})` : ""}`).join(" / ");
  const wanted = Object.values(e.expected_shares || {}).map((x) => pct(x)).join(" / ");
  const phase = e.phase && e.phase.number > 1
    ? ` (phase ${e.phase.number}: users first exposed since ${new Date(e.phase.start * 1000).toLocaleTimeString()}, when the weights or the assignment changed)`
    : "";
  return `users ${seen || "none yet"}${phase}${wanted ? `, expected ${wanted}` : ""}`;
}

function experimentBox(e, index) {
  const box = document.createElement("div");
  const head = document.createElement("p");
  head.innerHTML = "<strong></strong> · <span></span>";
  head.children[0].textContent = `${e.name} (${e.status})`;
  head.children[1].textContent = e.decision.message;
  head.children[1].dataset.testid = `decision-${e.name}`;
  head.children[1].dataset.verdict = e.decision.verdict;
  const split = document.createElement("p");
  split.dataset.testid = `split-${e.name}`;
  split.className = e.sample_ratio_mismatch ? "state ALARM" : "muted";
  split.textContent = `${splitText(e)} · sample ratio ${e.sample_ratio_mismatch
    ? "MISMATCH: the split is not the one the weights ask for; fix the assignment before reading any result"
    : "ok"} (${e.sample_ratio_test || "chi-square"}, p = ${fmt(e.sample_ratio_p, 4)}${e.looks ? `, ${e.looks} looks` : ""})`;
  const chart = document.createElement("div");
  chart.id = `experiment-chart-${index}`;
  chart.dataset.testid = `experiment-chart-${e.name}`;
  const table = document.createElement("table");
  table.appendChild(row(["metric", "variant", "users", "value (CI)", "lift (CI)", "relative lift (CI)", "p", "p (sequential)", "P(beat control)"].map((t) => {
    const th = document.createElement("th"); th.textContent = t; return th;
  })));
  const metrics = [e.definition.primary, ...e.definition.guardrails];
  const kind = new Map(metrics.map((m) => [m.name, m.kind]));
  const ci = (i, f) => (i && i.value !== null ? `${f(i.value)} (${f(i.low)} – ${f(i.high)})` : "–");
  const num = (x) => fmt(x, 4);
  const points = (x) => (x === null || x === undefined ? "–" : `${x >= 0 ? "+" : ""}${(100 * x).toFixed(2)} pp`);
  const control = e.definition.control;
  metrics.forEach((m) => {
    const rows = e.comparisons.filter((c) => c.metric === m.name);
    if (!rows.length) return;
    const binary = kind.get(m.name) === "binary";
    const value = binary ? pct : num;
    const label = `${m.name}${rows[0].role === "guardrail" ? " (guardrail)" : ""}`;
    table.appendChild(row([
      cell(label), cell(`${control} (control)`, { testid: `control-${e.name}-${m.name}` }),
      cell(fmt(e.users[control] ?? 0, 0), { num: true }),
      cell(ci(rows[0].control, value)), cell(""), cell(""), cell(""), cell(""), cell(""),
    ]));
    rows.forEach((c) => table.appendChild(row([
      cell(label), cell(`${c.variant}${c.significant ? " *" : ""}`),
      cell(fmt(e.users[c.variant] ?? 0, 0), { num: true }),
      cell(ci(c.treatment, value)), cell(ci(c.lift_absolute, binary ? points : num)),
      cell(ci(c.lift_relative, pct)),
      cell(pvalue(c.p_value), { num: true }), cell(pvalue(c.p_value_sequential), { num: true }),
      cell(pct(c.chance_to_beat_control), { num: true }),
    ])));
  });
  const note = document.createElement("p");
  note.className = "muted";
  const counted = e.assumptions ? e.assumptions.metrics.map((m) => `${m.metric}: ${[m.users, m.per_user, m.window, m.cap].filter(Boolean).join("; ")}`).join(" · ") : "";
  note.textContent = `* significant (${e.definition.method}, alpha ${e.definition.alpha})${counted ? ` · ${counted}` : ""}`;
  box.append(head, split, chart, table, note);
  return box;
}

function shadowBox(r, index) {
  // One shadow variant against production: agreement, both sides' latency and errors, a chart.
  const box = document.createElement("div");
  box.className = "experiment";
  box.dataset.testid = `shadow-${r.shadow_variant}`;
  const title = document.createElement("h3");
  const agreement = r.agreement === null ? "no pair compared yet" : `${pct(r.agreement)} agreement`;
  title.textContent = `${r.shadow_variant} vs ${r.production_variants.join(", ") || "production"}: ${agreement}`;
  title.dataset.testid = `shadow-agreement-${r.shadow_variant}`;
  title.dataset.agreement = String(r.agreement);
  const table = document.createElement("table");
  table.innerHTML = "<thead><tr><th></th><th class='num'>p50 ms</th><th class='num'>p99 ms</th>" +
    "<th class='num'>errors</th><th class='num'>error rate</th></tr></thead>";
  const body = document.createElement("tbody");
  fillTable(body, [["production", r.production], ["shadow", r.shadow]].map(([side, v]) => row([
    cell(side), cell(fmt(v.p50_ms, 2), { num: true }), cell(fmt(v.p99_ms, 2), { num: true }),
    cell(fmt(v.errors, 0), { num: true }), cell(v.error_rate === null ? "–" : pct(v.error_rate), { num: true }),
  ])));
  table.append(body);
  const note = document.createElement("p");
  note.className = "muted";
  note.textContent = `${fmt(r.pairs, 0)} pairs in the last hour, ${fmt(r.compared, 0)} compared` +
    (r.dropped ? `, ${fmt(r.dropped, 0)} copies dropped (the shadow could not keep up)` : "");
  const chart = document.createElement("div");
  chart.className = "chart";
  chart.id = `shadow-chart-${index}`;
  chart.dataset.testid = `shadow-chart-${r.shadow_variant}`;
  box.append(title, note, table, chart);
  return box;
}

function drawShadow(r, index) {
  const x = r.timeline.map((m) => new Date(m.start * 1000));
  const traces = [
    { x, y: r.timeline.map((m) => (m.agreement === null ? null : 100 * m.agreement)), name: "agreement %",
      type: "scatter", mode: "lines+markers", marker: { size: 5 } },
    { x, y: r.timeline.map((m) => m.production_p99_ms), name: "production p99 ms", yaxis: "y2",
      type: "scatter", mode: "lines", line: { dash: "dot" } },
    { x, y: r.timeline.map((m) => m.shadow_p99_ms), name: "shadow p99 ms", yaxis: "y2",
      type: "scatter", mode: "lines", line: { dash: "dash" } },
  ];
  const layout = { ...LAYOUT, yaxis: { range: [0, 100], ticksuffix: "%" },
    yaxis2: { overlaying: "y", side: "right", rangemode: "tozero" } };
  if (window.Plotly) Plotly.react(`shadow-chart-${index}`, traces, layout, CONFIG);
}

function drawDrift(reports) {
  // Per feature, each variant's newest drift distance (KS for numbers, L-infinity for
  // categories) as grouped bars; a violation is outlined in red.
  const traces = reports.map((r) => ({
    x: r.features.map((f) => f.name), y: r.features.map((f) => f.distance),
    name: r.variant, type: "bar",
    marker: { line: { width: r.features.map((f) => (f.violations.length ? 3 : 0)), color: "#d62728" } },
    hovertemplate: `${r.variant} %{x}: %{y:.3f}<extra></extra>`,
  }));
  if (!window.Plotly) return; // plotly.js loads on its own; the table shows meanwhile
  const layout = { ...LAYOUT, barmode: "group", xaxis: { type: "category" },
    yaxis: { rangemode: "tozero", title: { text: "drift distance" } } };
  Plotly.react("chart-drift", traces, layout, CONFIG);
  const chart = document.getElementById("chart-drift");
  chart.dataset.updates = String(Number(chart.dataset.updates || 0) + 1);
}

function pvalue(p) {
  if (p === null || p === undefined) return "–";
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}

function drawExperiment(e, index) {
  const shown = e.comparisons.filter((c) => c.lift_relative && c.lift_relative.value !== null);
  const labels = shown.map((c) => `${c.metric}: ${c.variant}`);
  const trace = {
    type: "scatter", mode: "markers", x: shown.map((c) => 100 * c.lift_relative.value), y: labels,
    error_x: {
      type: "data", symmetric: false,
      array: shown.map((c) => 100 * (c.lift_relative.high - c.lift_relative.value)),
      arrayminus: shown.map((c) => 100 * (c.lift_relative.value - c.lift_relative.low)),
    },
    marker: { size: 10 }, name: "relative lift vs control",
  };
  const height = 70 + 40 * shown.length;
  document.getElementById(`experiment-chart-${index}`).style.height = `${height}px`;
  const layout = { ...LAYOUT, height, xaxis: { ticksuffix: "%", zeroline: true },
    yaxis: { automargin: true }, showlegend: false };
  if (window.Plotly) Plotly.react(`experiment-chart-${index}`, [trace], layout, CONFIG);
}

function missing(message) {
  // Deleted while shown: say so instead of showing stale numbers.
  const main = document.querySelector("main");
  const box = document.createElement("section");
  box.dataset.testid = "no-such-endpoint";
  box.innerHTML = '<h2>No such endpoint</h2><p></p><p><a href="/">Every endpoint</a></p>';
  box.querySelector("p").textContent = `${message}: it was deleted, or the name is wrong.`;
  main.replaceChildren(box);
}

poll(`/dashboard/api/endpoints/${encodeURIComponent(NAME)}`, (data) => {
  const ep = data.endpoint;
  document.title = `turnout — ${ep.name}`;
  document.getElementById("name").textContent = ep.name;
  const status = document.getElementById("status");
  status.textContent = ep.status;
  status.className = `status ${ep.status}`;
  document.getElementById("config").textContent =
    ep.pending_config ? `${ep.config} → ${ep.pending_config}` : ep.config;
  const canary = document.getElementById("canary");
  canary.hidden = !data.deployment;
  canary.textContent = data.deployment ? `canary ${share(data.deployment.green_share)}` : "";
  canary.dataset.share = data.deployment ? String(data.deployment.green_share) : "";
  roles = new Map(data.fleets.map((f) => [f.config, f.role]));
  document.getElementById("failure").textContent = ep.failure_reason || "";
  // Mark the shadow variants: their invocations are copies, not traffic.
  const shadows = new Set(data.fleets.flatMap((f) => f.variants.filter((v) => v.shadow).map((v) => `${v.config}/${v.variant}`)));
  data.series.variants.forEach((v) => { v.shadow = shadows.has(`${v.config}/${v.variant}`); });
  fillTable(document.getElementById("variants"), variantRows(data));

  const starts = data.series.starts;
  xrange = [new Date(starts[0] * 1000), new Date(data.now * 1000)];
  const twoFleets = new Set(data.series.variants.map((v) => v.config)).size > 1;
  draw("chart-rps", lines(data.series, "rps", twoFleets));
  draw("chart-split", split(data.series, twoFleets), { range: [0, 100], ticksuffix: "%" }, { barmode: "stack", bargap: 0.1 });
  draw("chart-latency", [
    ...lines(data.series, "p50_ms", twoFleets, { suffix: " p50" }),
    ...lines(data.series, "p99_ms", twoFleets, { suffix: " p99", trace: { line: { dash: "dot" } } }),
  ]);
  draw("chart-errors", [
    ...lines(data.series, "errors_4xx_rate", twoFleets, { suffix: " 4xx" }),
    ...lines(data.series, "errors_5xx_rate", twoFleets, { suffix: " 5xx", trace: { line: { dash: "dot" } } }),
  ], { tickformat: ".0%", range: [0, Math.max(0.05, ...errorRates(data.series)) * 1.1] });

  const perInstance = (field) => data.usage.map((u) => ({
    x: u.at.map((t) => new Date(t * 1000)), y: u[field], name: u.instance.split("/").slice(1).join("/"),
    type: "scatter", mode: "lines+markers", marker: { size: 3 },
  }));
  draw("chart-cpu", perInstance("cpu_percent"));
  draw("chart-memory", perInstance("memory_mb"));

  document.getElementById("shadows").replaceChildren(...data.shadows.map(shadowBox));
  data.shadows.forEach(drawShadow);
  document.getElementById("no-shadows").hidden = data.shadows.length > 0;

  const experiments = data.experiments;
  document.getElementById("experiments").replaceChildren(...experiments.map(experimentBox));
  experiments.forEach(drawExperiment);
  document.getElementById("no-experiments").hidden = experiments.length > 0;

  const deployments = data.deployments;
  if (!deployments.current) countdown = null;
  document.getElementById("deployment").replaceChildren(
    ...(deployments.current ? [currentDeployment(deployments.current, data.deployment)] : []));
  document.getElementById("no-deployment").hidden = Boolean(deployments.current);
  fillTable(document.getElementById("past-deployments"), deployments.past.map((d) => row([
    cell(time(d.started_at)), cell(`${d.blue_config} → ${d.green_config}`), cell(policy(d.deployment_config)),
    cell(d.phase, { cls: d.phase === "Succeeded" ? "state OK" : "state ALARM" }),
    cell(time(d.finished_at)), cell(d.failure_reason || "", { cls: "wrap" }),
  ])));

  const scaling = data.scaling;
  document.getElementById("scaling-targets").textContent = scaling.targets.map((t) =>
    `${t.variant}: ${t.min_capacity}–${t.max_capacity} instances` +
    (t.policies.length ? ` (${t.policies.map((p) => `${p.name}: ${p.summary}`).join("; ")})` : "") +
    (t.suspended.length ? `, ${t.suspended.join(" and ")} suspended` : "")).join(" · ");
  fillTable(document.getElementById("scaling-activities"), scaling.activities.map((a) => row([
    cell(time(a.start)), cell(a.variant), cell(`${a.from_count} → ${a.to_count}`, { num: true }),
    cell(a.status, { cls: a.status === "Successful" ? "state OK" : a.status === "Failed" ? "state ALARM" : "state INSUFFICIENT_DATA",
      testid: `scaling-${a.id}` }),
    cell(time(a.end)), cell(a.message ? `${a.cause} — ${a.message}` : a.cause, { cls: "wrap" }),
  ])));
  document.getElementById("no-scaling").hidden = scaling.targets.length + scaling.activities.length > 0;

  const drift = data.drift || [];
  fillTable(document.getElementById("drift"), drift.flatMap((r) => r.features.map((f) => row([
    cell(r.variant), cell(f.name),
    cell(fmt(f.distance, 3), { num: true, cls: f.violations.length ? "state ALARM" : "state OK",
      testid: `drift-${r.variant}-${f.name}` }),
    cell(f.p_value.toPrecision(2), { num: true }), cell(f.psi === null ? "" : fmt(f.psi, 3), { num: true }),
    cell(fmt(f.missing, 0), { num: true }), cell(f.violations.join(", ") || "none"),
    cell(`${time(r.computed_at)}, ${r.rows} rows`),
  ]))));
  document.getElementById("no-drift").hidden = drift.length > 0;
  document.getElementById("chart-drift").hidden = drift.length === 0;
  if (drift.length) drawDrift(drift);

  fillTable(document.getElementById("alarms"), data.alarms.map((a) => row([
    cell(a.name), cell(`${a.metric} (${a.statistic})`), cell(a.watches),
    cell(`${a.operator} ${fmt(a.threshold, 6)}`, { num: true, testid: `threshold-${a.name}`, title: a.comparison }),
    cell(fmt(a.value, 6), { num: true, testid: `value-${a.name}` }),
    cell(a.state, { cls: `state ${a.state}`, testid: `alarm-${a.name}` }),
    cell(new Date(a.since * 1000).toLocaleTimeString()), cell(a.reason, { cls: "wrap" }),
  ])));
  document.getElementById("no-alarms").hidden = data.alarms.length > 0;
  const allInstances = [...ep.variants.flatMap((v) => v.instances), ...data.shadow_instances];
  fillTable(document.getElementById("instances"), allInstances.map((i) => row([
    cell(i.id), cell(i.state, { cls: i.ready ? "state OK" : "state INSUFFICIENT_DATA" }),
    cell(fmt(i.pid, 0), { num: true }), cell(fmt(i.cpu_percent), { num: true }),
    cell(fmt(i.memory_mb), { num: true }), cell(fmt(i.restarts, 0), { num: true }), cell(i.last_error || ""),
  ])));
}, missing);
