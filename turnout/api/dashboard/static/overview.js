// The endpoints overview: per endpoint, its totals, its deployment's progress and its
// alarms, then one row per variant of each fleet.
"use strict";

const COLUMNS = 10;

function alarmsCell(ep, alarms) {
  const td = wide("", COLUMNS - 1, { testid: `alarms-${ep}` });
  td.append("alarms: ");
  alarms.forEach((a, i) => {
    const state = document.createElement("span");
    state.className = `state ${a.state}`;
    state.textContent = a.state;
    state.dataset.testid = `alarm-${a.name}`;
    td.append(`${i ? " · " : ""}${a.name} `, state);
  });
  return td;
}

function endpointRows(item) {
  const ep = item.endpoint;
  const link = document.createElement("a");
  link.href = `/dashboard/endpoints/${encodeURIComponent(ep.name)}`;
  link.textContent = ep.name;
  const name = cell("");
  name.appendChild(link);
  const rows = fleetRows(item);
  const served = rows.filter((r) => !r.shadow);
  const ready = served.reduce((n, r) => n + r.instances.filter((i) => i.ready).length, 0);
  const instances = served.reduce((n, r) => n + r.instances.length, 0);
  const t = item.totals;
  const found = [row([
    name,
    cell(ep.status, { cls: `status ${ep.status}`, testid: `status-${ep.name}` }),
    cell(ep.pending_config ? `${ep.config} → ${ep.pending_config}` : ep.config, { testid: `config-${ep.name}` }),
    cell(""), cell(""),
    cell(`${ready} / ${instances}`, { num: true }),
    cell(fmt(t.invocations, 0), { num: true, testid: `total-${ep.name}` }),
    cell(fmt(t.rps), { num: true }),
    // All the endpoint's errors over all its invocations, not its worst fleet's rate.
    cell(pct(t.error_rate), { num: true, testid: `errors-${ep.name}` }),
    cell(fmt(t.p99_ms, 2), { num: true }),
  ], "endpoint")];
  if (item.deployment) {
    found.push(row([cell(""), wide(progressText(item.deployment), COLUMNS - 1, { testid: `deployment-${ep.name}` })], "detail"));
  }
  if (item.alarms.length) found.push(row([cell(""), alarmsCell(ep.name, item.alarms)], "detail"));
  rows.forEach((r) => {
    found.push(row([
      cell(r.shadow ? `${r.variant} (shadow)` : r.variant, { cls: "variant" }),
      cell(r.role, { cls: "muted" }),
      cell(r.config),
      cell(weights(r), { num: true, testid: `weights-${ep.name}-${r.config}-${r.variant}` }),
      cell(r.shadow ? "copy" : share(r.share), { num: true, testid: `traffic-${ep.name}-${r.config}-${r.variant}` }),
      cell(instanceCount(r), { num: true }),
      cell(fmt(r.invocations ?? 0, 0), { num: true, testid: rowId(`invocations-${ep.name}`, r) }),
      cell(fmt(r.rps ?? 0), { num: true }),
      cell(pct(r.error_rate ?? null), { num: true }),
      cell(fmt(r.p99_ms ?? null, 2), { num: true }),
    ]));
  });
  return found;
}

poll("/dashboard/api/overview", (data) => {
  fillTable(document.getElementById("endpoints"), data.endpoints.flatMap(endpointRows));
  document.getElementById("empty").hidden = data.endpoints.length > 0;
});
