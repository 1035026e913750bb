// The endpoints overview: one row per variant of each endpoint.
"use strict";

function endpointRows(item) {
  const ep = item.endpoint;
  // During a deployment both fleets may serve a variant of that name: add them up.
  const byVariant = new Map();
  for (const s of item.summary) {
    const seen = byVariant.get(s.variant);
    if (!seen) { byVariant.set(s.variant, { ...s }); continue; }
    seen.invocations += s.invocations;
    seen.rps += s.rps;
    if (s.p99_ms !== null && (seen.p99_ms === null || s.p99_ms > seen.p99_ms)) seen.p99_ms = s.p99_ms;
    if (s.error_rate !== null) seen.error_rate = Math.max(seen.error_rate ?? 0, s.error_rate);
  }
  return ep.variants.map((v, i) => {
    const s = byVariant.get(v.name) || {};
    const ready = v.instances.filter((x) => x.ready).length;
    const link = document.createElement("a");
    link.href = `/dashboard/endpoints/${encodeURIComponent(ep.name)}`;
    link.textContent = ep.name;
    const name = cell("");
    if (i === 0) name.appendChild(link);
    return row([
      name,
      cell(i === 0 ? ep.status : "", { cls: `status ${ep.status}` }),
      cell(i === 0 ? ep.config : ""),
      cell(v.name),
      cell(`${fmt(v.current_weight, 3)} / ${fmt(v.desired_weight, 3)}`, { num: true }),
      cell(`${ready} / ${v.instances.length}`, { num: true }),
      cell(fmt(s.invocations ?? 0, 0), { num: true, testid: `invocations-${ep.name}-${v.name}` }),
      cell(fmt(s.rps ?? 0), { num: true }),
      cell(pct(s.error_rate ?? null), { num: true }),
      cell(fmt(s.p99_ms ?? null, 2), { num: true }),
    ]);
  });
}

poll("/dashboard/api/overview", (data) => {
  fillTable(document.getElementById("endpoints"), data.endpoints.flatMap(endpointRows));
  document.getElementById("empty").hidden = data.endpoints.length > 0;
});
