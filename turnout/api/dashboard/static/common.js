// Shared by the dashboard pages: polling, formatting, tables.
"use strict";

const POLL_MS = 2000;

async function getJSON(url) {
  const answer = await fetch(url, { cache: "no-store" });
  const body = await answer.json();
  if (!answer.ok) throw new Error(body?.error?.message || `HTTP ${answer.status}`);
  return body;
}

// Call `render(data)` now and every POLL_MS; show failures in #problem, keep polling.
function poll(url, render) {
  const problem = document.getElementById("problem");
  const updated = document.getElementById("updated");
  async function tick() {
    try {
      render(await getJSON(url));
      problem.textContent = "";
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      problem.textContent = `cannot reach turnout: ${err.message}`;
    }
    setTimeout(tick, POLL_MS);
  }
  tick();
}

function fmt(value, digits = 1) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString(undefined, { maximumFractionDigits: digits });
}

function pct(value) {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;
}

// A <td> with text (never HTML: names come from users) and optional class / test id.
function cell(text, { num = false, cls = "", testid = "" } = {}) {
  const td = document.createElement("td");
  td.textContent = text;
  if (num) td.classList.add("num");
  if (cls) td.className += ` ${cls}`;
  if (testid) td.dataset.testid = testid;
  return td;
}

function row(cells) {
  const tr = document.createElement("tr");
  cells.forEach((c) => tr.appendChild(c));
  return tr;
}

function fillTable(tbody, rows) {
  tbody.replaceChildren(...rows);
}

// Variant label: "A" alone, or "A (config)" while two fleets serve (a deployment).
function label(line, twoFleets) {
  return twoFleets ? `${line.variant} (${line.config})` : line.variant;
}
