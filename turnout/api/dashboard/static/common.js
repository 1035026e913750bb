// Shared by the dashboard pages: polling, formatting, tables.
"use strict";

const POLL_MS = 2000;

class NotFoundError extends Error {}

async function getJSON(url) {
  const answer = await fetch(url, { cache: "no-store" });
  const body = await answer.json();
  if (answer.status === 404) throw new NotFoundError(body?.error?.message || "not found");
  if (!answer.ok) throw new Error(body?.error?.message || `HTTP ${answer.status}`);
  return body;
}

// Call `render(data)` now and every POLL_MS; show failures in #problem, keep polling.
// Until the first answer arrives the page shows its loading notes (.loading), never an
// empty state: "No deployment" before the data says so would be a lie. A 404 calls
// `missing(message)` instead of `render`.
function poll(url, render, missing = null) {
  const problem = document.getElementById("problem");
  const updated = document.getElementById("updated");
  async function tick() {
    try {
      const data = await getJSON(url);
      render(data);
      loaded();
      problem.textContent = "";
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (err instanceof NotFoundError && missing) missing(err.message);
      else problem.textContent = `cannot reach turnout: ${err.message}`;
    }
    setTimeout(tick, POLL_MS);
  }
  tick();
}

function loaded() {
  if (document.body.dataset.loaded) return;
  document.body.dataset.loaded = "true";
  document.querySelectorAll(".loading").forEach((p) => { p.hidden = true; });
}

function fmt(value, digits = 1) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits });
}

function pct(value) {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;
}

// A traffic share as people write it: "10%", "33.3%", "100%" (as `turnout top` does).
function share(value) {
  if (value === null || value === undefined) return "–";
  const p = 100 * value;
  return Math.abs(p - Math.round(p)) < 0.05 ? `${Math.round(p)}%` : `${p.toFixed(1)}%`;
}

// A deployment in progress in one line, e.g. "→ v2 · step 1 of 2 · green 10% · Baking · 42 s left".
function progressText(p, bakeLeft = p.bake_left_s) {
  let text = `→ ${p.target} · step ${p.step} of ${p.steps} · green ${share(p.green_share)} · ${p.phase}`;
  if (p.paused) text += " (paused)";
  if (bakeLeft !== null && bakeLeft !== undefined) text += ` · ${Math.max(0, Math.round(bakeLeft))} s left`;
  return text;
}

// Weights as SageMaker shows them: "current / desired", "–" for a fleet no longer planned.
function weights(v) {
  if (v.current_weight === null && v.desired_weight === null) return "–";
  return `${fmt(v.current_weight, 3)} / ${fmt(v.desired_weight, 3)}`;
}

// A <td> with text (never HTML: names come from users) and optional class / test id.
function cell(text, { num = false, cls = "", testid = "", title = "" } = {}) {
  const td = document.createElement("td");
  td.textContent = text;
  if (num) td.classList.add("num");
  if (cls) td.className += ` ${cls}`;
  if (testid) td.dataset.testid = testid;
  if (title) td.title = title;
  return td;
}

// A <td> spanning `span` columns.
function wide(text, span, opts = {}) {
  const td = cell(text, opts);
  td.colSpan = span;
  return td;
}

function row(cells, cls = "") {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  cells.forEach((c) => tr.appendChild(c));
  return tr;
}

function fillTable(tbody, rows) {
  tbody.replaceChildren(...rows);
}

// Every (fleet, variant) row of an endpoint view: the planned fleets' own weights and
// shares (by config and variant, never by variant name alone), joined to the recent
// numbers of that same fleet's variant.
// "ready / running"; a serverless variant (ADR 0038) at 0 is idle, not broken.
function instanceCount(r) {
  const ready = r.instances.filter((i) => i.ready).length;
  if (!r.serverless) return `${ready} / ${r.instances.length}`;
  return r.instances.length ? `${ready} / ${r.instances.length} (serverless)` : "0 (serverless, idle)";
}

function fleetRows(view) {
  const numbers = new Map(view.summary.map((s) => [`${s.config}/${s.variant}`, s]));
  return view.fleets.flatMap((f) => f.variants.map((v) => ({
    ...(numbers.get(`${v.config}/${v.variant}`) || {}), ...v, role: f.role, fleet_share: f.share,
  })));
}

// A test id unique on the page: the serving fleet's rows by variant, others by config too.
function rowId(kind, r) {
  return r.role === "serving" || r.role === "blue" ? `${kind}-${r.variant}` : `${kind}-${r.config}-${r.variant}`;
}

// A short name for charts and legends: "A" alone, or "A · green" while two fleets serve;
// the full "A (config)" goes in the hover text.
function label(line, roles, twoFleets) {
  if (!twoFleets) return line.variant;
  // Blue and green by role; a retired fleet by its config (two of them must not look alike).
  const role = roles.get(line.config);
  const tag = !role || role === "retired" ? line.config : role;
  return `${line.variant} · ${tag.length > 16 ? `${tag.slice(0, 15)}…` : tag}`;
}
