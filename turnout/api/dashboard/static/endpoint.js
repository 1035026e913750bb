// One endpoint: variants, live charts per variant, alarms, instances.
"use strict";

const NAME = decodeURIComponent(location.pathname.split("/").pop());
const LAYOUT = {
  margin: { l: 48, r: 12, t: 8, b: 32 },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)",
  font: { color: getComputedStyle(document.body).color },
  legend: { orientation: "h", y: -0.18 },
  xaxis: { type: "date" },
};
const CONFIG = { displayModeBar: false, responsive: true };

function lines(series, field, twoFleets, extra = {}) {
  const x = series.starts.map((s) => new Date(s * 1000));
  return series.variants.map((line) => ({
    x, y: line[field], name: `${label(line, twoFleets)}${extra.suffix || ""}`,
    type: "scatter", mode: "lines+markers", marker: { size: 4 }, connectgaps: false, ...extra.trace,
  }));
}

function draw(id, traces, yaxis = {}) {
  // Plotly.react redraws in place: the chart updates without a reload.
  Plotly.react(id, traces, { ...LAYOUT, yaxis: { rangemode: "tozero", ...yaxis } }, CONFIG);
  document.getElementById(id).dataset.updates = String(Number(document.getElementById(id).dataset.updates || 0) + 1);
}

function split(series, twoFleets) {
  // Each variant's share of the period's invocations, stacked to 100%.
  const totals = series.starts.map((_, i) => series.variants.reduce((sum, v) => sum + v.rps[i], 0));
  return lines(series, "rps", twoFleets, { trace: { stackgroup: "one" } }).map((trace) => ({
    ...trace, y: trace.y.map((v, i) => (totals[i] ? (100 * v) / totals[i] : null)),
  }));
}

function variantRows(data) {
  const ep = data.endpoint;
  const weights = new Map(ep.variants.map((v) => [v.name, v]));
  const calls = data.summary.reduce((sum, s) => sum + s.rps, 0);
  const rows = data.summary.length ? data.summary : ep.variants.map((v) => ({ variant: v.name, config: ep.config }));
  return rows.map((s) => {
    const v = weights.get(s.variant);
    // Instance ids are endpoint/config/variant/index: count this fleet's only.
    const instances = v ? v.instances.filter((i) => !s.config || i.id.split("/")[1] === s.config) : [];
    const ready = instances.filter((i) => i.ready).length;
    const share = calls ? (s.rps || 0) / calls : 0;
    const bar = cell("");
    bar.innerHTML = '<div class="bar"><span></span></div>';
    bar.querySelector("span").style.width = `${(100 * share).toFixed(1)}%`;
    bar.title = pct(share);
    bar.dataset.testid = `share-${s.variant}`;
    bar.dataset.share = String(share);
    return row([
      cell(s.variant), cell(s.config || ""),
      cell(v ? `${fmt(v.current_weight, 3)} / ${fmt(v.desired_weight, 3)}` : "–", { num: true }),
      bar,
      cell(v ? `${ready} / ${instances.length}` : "–", { num: true }),
      cell(fmt(s.invocations ?? 0, 0), { num: true, testid: `invocations-${s.variant}` }),
      cell(fmt(s.rps ?? 0), { num: true, testid: `rps-${s.variant}` }),
      cell(fmt(s.errors_4xx ?? 0, 0), { num: true }),
      cell(fmt(s.errors_5xx ?? 0, 0), { num: true }),
      cell(fmt(s.p50_ms ?? null, 2), { num: true }),
      cell(fmt(s.p99_ms ?? null, 2), { num: true }),
    ]);
  });
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
  document.getElementById("failure").textContent = ep.failure_reason || "";
  fillTable(document.getElementById("variants"), variantRows(data));

  const twoFleets = new Set(data.series.variants.map((v) => v.config)).size > 1;
  draw("chart-rps", lines(data.series, "rps", twoFleets));
  draw("chart-split", split(data.series, twoFleets), { range: [0, 100], ticksuffix: "%" });
  draw("chart-latency", [
    ...lines(data.series, "p50_ms", twoFleets, { suffix: " p50" }),
    ...lines(data.series, "p99_ms", twoFleets, { suffix: " p99", trace: { line: { dash: "dot" } } }),
  ]);
  draw("chart-errors", [
    ...lines(data.series, "errors_4xx_rate", twoFleets, { suffix: " 4xx" }),
    ...lines(data.series, "errors_5xx_rate", twoFleets, { suffix: " 5xx", trace: { line: { dash: "dot" } } }),
  ], { tickformat: ".0%" });

  const perInstance = (field) => data.usage.map((u) => ({
    x: u.at.map((t) => new Date(t * 1000)), y: u[field], name: u.instance.split("/").slice(1).join("/"),
    type: "scatter", mode: "lines+markers", marker: { size: 3 },
  }));
  draw("chart-cpu", perInstance("cpu_percent"));
  draw("chart-memory", perInstance("memory_mb"));

  fillTable(document.getElementById("alarms"), data.alarms.map((a) => row([
    cell(a.name), cell(a.metric), cell(a.state, { cls: `state ${a.state}`, testid: `alarm-${a.name}` }),
    cell(new Date(a.since * 1000).toLocaleTimeString()), cell(a.reason),
  ])));
  document.getElementById("no-alarms").hidden = data.alarms.length > 0;
  fillTable(document.getElementById("instances"), ep.variants.flatMap((v) => v.instances).map((i) => row([
    cell(i.id), cell(i.state, { cls: i.ready ? "state OK" : "state INSUFFICIENT_DATA" }),
    cell(fmt(i.pid, 0), { num: true }), cell(fmt(i.cpu_percent), { num: true }),
    cell(fmt(i.memory_mb), { num: true }), cell(fmt(i.restarts, 0), { num: true }), cell(i.last_error || ""),
  ])));
});
