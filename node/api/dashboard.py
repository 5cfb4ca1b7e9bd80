"""The dashboard page served at ``/``: the group at a glance (the alerts the node raised
among it), refreshed every two seconds from ``/status`` (which needs no token), and a
place to act from: pay, quote and swap forms and our history (filters, CSV export),
driven by a token of the ``pay`` scope that the operator pastes once (kept in the
browser's localStorage for this origin; the control cookie never reaches the page).

One self-contained page: no external scripts, fonts or styles, so it works on a machine
with no internet and leaks nothing. It is served with a Content-Security-Policy that lets
only its own inline script (by hash) and style run, talks only to its own origin and may
not be framed (``DASHBOARD_CSP``), so a page of another site can neither inject into it
nor click its forms for the operator. Everything a peer chose (handles are a strict
pattern anyway) is written with ``textContent``, never as markup.
"""

from __future__ import annotations

import base64
import hashlib
import re

DASHBOARD_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>swapnet node</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/uPlot.min.css">
<script src="/static/uPlot.iife.min.js"></script>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
  body { margin: 0 auto; max-width: 1100px; padding: 1.5rem; }
  h1 { font-size: 1.3rem; margin: 0 0 0.25rem; }
  h2 { font-size: 1rem; margin: 1.5rem 0 0.5rem; }
  .sub { color: #5b6475; font-size: 0.85rem; word-break: break-all; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
           gap: 0.75rem; margin-top: 1rem; }
  .card { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: 0.6rem; }
  .card .k { color: #5b6475; font-size: 0.75rem; text-transform: uppercase; }
  .card .v { font-size: 1.25rem; font-variant-numeric: tabular-nums; }
  table { width: 100%; border-collapse: collapse; background: #fff; font-size: 0.85rem; }
  th, td { text-align: left; padding: 0.4rem 0.5rem; border-bottom: 1px solid #e6e9ef; }
  th { background: #eef0f4; font-weight: 600; }
  td.num { font-variant-numeric: tabular-nums; }
  .bad { color: #b3261e; font-weight: 600; }
  .ok { color: #1b7f3b; }
  code { font-size: 0.8rem; }
  form { display: flex; flex-wrap: wrap; gap: 0.4rem; align-items: center;
         margin: 0.4rem 0; }
  form .label { min-width: 4.5rem; color: #5b6475; font-size: 0.8rem; }
  input, select, button { font: inherit; font-size: 0.85rem; padding: 0.25rem 0.4rem; }
  input.amount { width: 8rem; }
  #result { min-height: 1.2rem; font-size: 0.85rem; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr));
            gap: 0.75rem; }
  .chart { background: #fff; border: 1px solid #dde1e8; border-radius: 6px;
           min-height: 230px; }
</style>
</head>
<body>
<h1 id="title">swapnet node</h1>
<div class="sub" id="who">loading...</div>
<div class="cards">
  <div class="card"><div class="k">ready</div><div class="v" id="ready">-</div></div>
  <div class="card"><div class="k">ledger height</div><div class="v" id="height">-</div></div>
  <div class="card"><div class="k">checkpoint</div><div class="v" id="checkpoint">-</div></div>
  <div class="card"><div class="k">checkpoint age</div><div class="v" id="age">-</div></div>
  <div class="card"><div class="k">orders at risk</div><div class="v" id="risk">-</div></div>
  <div class="card"><div class="k">members online</div><div class="v" id="online">-</div></div>
</div>
<h2>Over time</h2>
<div class="charts">
  <div class="chart" id="chart-orders"></div>
  <div class="chart" id="chart-checkpoint"></div>
  <div class="chart" id="chart-balances"></div>
  <div class="chart" id="chart-pit"></div>
</div>
<h2>Act</h2>
<form id="token-form" autocomplete="off">
  <span class="label">token</span>
  <input id="token" type="password" size="40" autocomplete="off"
         placeholder="paste a pay token: swapnet token mint --scope pay">
  <button id="token-save" type="submit">Use</button>
  <button id="token-forget" type="button">Forget</button>
  <span class="sub" id="token-state">-</span>
</form>
<form id="pay-form" autocomplete="off">
  <span class="label">pay</span>
  <input id="pay-to" list="member-list" placeholder="@handle or member id" required>
  <input id="pay-amount" class="amount" inputmode="numeric" placeholder="amount" required>
  <select id="pay-asset"></select>
  <button id="pay-send" type="submit">Pay</button>
</form>
<form id="quote-form" autocomplete="off">
  <span class="label">quote</span>
  <span class="sub">give</span>
  <input id="quote-give" class="amount" inputmode="numeric" required>
  <select id="quote-give-asset"></select>
  <span class="sub">get</span>
  <input id="quote-get" class="amount" inputmode="numeric" required>
  <select id="quote-get-asset"></select>
  <button id="quote-send" type="submit">Post quote</button>
</form>
<form id="swap-form" autocomplete="off">
  <span class="label">swap</span>
  <input id="swap-with" list="member-list" placeholder="the maker: @handle" required>
  <span class="sub">give</span>
  <input id="swap-give" class="amount" inputmode="numeric" required>
  <select id="swap-give-asset"></select>
  <span class="sub">get</span>
  <input id="swap-get" class="amount" inputmode="numeric" required>
  <select id="swap-get-asset"></select>
  <button id="swap-send" type="submit">Take quote</button>
</form>
<datalist id="member-list"></datalist>
<div id="result" role="status"></div>
<h2>History</h2>
<form id="history-form" autocomplete="off">
  <select id="history-kind">
    <option value="">every kind</option><option>transfer</option><option>swap</option>
    <option>exit</option><option>lend-offer</option><option>mark</option><option>void</option>
  </select>
  <input id="history-member" list="member-list" placeholder="with @handle (all if empty)">
  <button type="submit">Filter</button>
  <button id="history-csv" type="button">Export CSV</button>
</form>
<table>
  <thead><tr><th>when</th><th>kind</th><th>seq</th><th>legs</th><th>for us</th></tr></thead>
  <tbody id="history"><tr><td colspan="5">paste a token to see the history</td></tr></tbody>
</table>
<h2>Members</h2>
<table>
  <thead><tr><th>member</th><th>balances</th><th>state</th><th>revokes</th></tr></thead>
  <tbody id="members"><tr><td colspan="4">no group yet</td></tr></tbody>
</table>
<h2>Alerts</h2>
<div class="sub" id="alerts-where">-</div>
<table>
  <thead><tr><th>when</th><th>alert</th><th>about</th><th>what happened</th></tr></thead>
  <tbody id="alerts"><tr><td colspan="4">no alerts</td></tr></tbody>
</table>
<h2>Stewards</h2>
<div class="sub" id="margin">-</div>
<table>
  <thead><tr><th>steward</th><th>last vote</th><th>last checkpoint share</th>
  <th>last seen</th><th>signing</th></tr></thead>
  <tbody id="stewards"><tr><td colspan="5">no group yet</td></tr></tbody>
</table>
<div class="sub" id="stalls"></div>
<h2>Notary</h2>
<table>
  <thead><tr><th>claimant</th><th>checkpoint</th><th>claim</th><th>deadline</th>
  <th>crawled back</th></tr></thead>
  <tbody id="claims"><tr><td colspan="5">no open claims</td></tr></tbody>
</table>
<div class="sub" id="evidence"></div>
<h2>S&amp;L pit</h2>
<div class="sub" id="pit">-</div>
<table>
  <thead><tr><th>member</th><th>owes</th><th>lent</th><th>drawn</th><th>equity</th>
  <th>collateral ratio</th><th>margin call</th><th>a revoke pays</th></tr></thead>
  <tbody id="positions"><tr><td colspan="8">no positions</td></tr></tbody>
</table>
<div class="sub" id="updated"></div>
<script>
"use strict";
function text(id, value) { document.getElementById(id).textContent = String(value); }
let handles = {};
let me = "";  // our member id, from /status
function short(hex) {  // an id is never cut without its handle beside it
  return handles[hex] ? "@" + handles[hex] + " (" + hex.slice(0, 8) + ")" : hex.slice(0, 16);
}
function amounts(map) {
  const parts = Object.keys(map).sort().map(function (a) { return map[a] + " " + a; });
  return parts.length ? parts.join(", ") : "-";
}
function cell(row, value, cls) {
  const td = document.createElement("td");
  td.textContent = value;
  if (cls) { td.className = cls; }
  row.appendChild(td);
}
function rows(id, items, columns, empty) {
  const body = document.getElementById(id);
  body.replaceChildren();
  if (!items.length) {
    const row = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = columns;
    td.textContent = empty;
    row.appendChild(td);
    body.appendChild(row);
  }
  return body;
}
function render(s) {
  const g = s.group;
  handles = (g && g.handles) || {};
  me = s.member;
  text("title", g ? "swapnet: " + g.name : "swapnet node");
  const named = handles[s.member] ? "@" + handles[s.member] + " " : "";
  text("who", "member " + named + s.member + " | peer " + (s.peer_id || "-") + " | v" + s.version);
  text("ready", s.ready ? "yes" : "no");
  document.getElementById("ready").className = "v " + (s.ready ? "ok" : "bad");
  text("height", s.ledger_height);
  alerts(s.alerts);
  if (!g) { return; }
  options(g);
  text("checkpoint", g.checkpoint.number);
  text("age", g.checkpoint.age_seconds.toFixed(1) + " s");
  text("risk", g.orders_since_checkpoint);
  text("online", g.members_online + " / " + g.members);
  const members = Object.keys(g.balances).sort();
  const body = rows("members", members, 4, "no members yet");
  members.forEach(function (m) {
    const row = document.createElement("tr");
    const frozen = g.frozen.indexOf(m) >= 0;
    const rec = g.revokes[m];
    cell(row, short(m) + (m === s.member ? " (this node)" : ""));
    cell(row, amounts(g.balances[m]), "num");
    cell(row, frozen ? "frozen" : "active", frozen ? "bad" : "ok");
    cell(row, rec ? rec.revokes + " (" + rec.premature + " premature)" : "-",
         rec && rec.premature ? "bad" : "");
    body.appendChild(row);
  });
  const h = g.stewards;
  text("margin", h.margin < 0 ? "STALLED: fewer than " + h.quorum + " stewards answer"
       : h.margin === 0 ? "one failure from stalling (" + h.quorum + " needed)"
       : h.margin + " stewards may fail before the group stalls (" + h.quorum + " needed)");
  document.getElementById("margin").className = "sub " + (h.margin > 0 ? "ok" : "bad");
  const sbody = rows("stewards", h.stewards, 5, "no stewards");
  h.stewards.forEach(function (st) {
    const row = document.createElement("tr");
    cell(row, short(st.steward) + (st.steward === s.member ? " (this node)" : ""));
    [st.last_vote_seconds, st.last_share_seconds, st.last_seen_seconds].forEach(function (t) {
      cell(row, t === null ? "never" : t + " s ago", "num");
    });
    cell(row, st.not_signing ? "not signing" : "yes", st.not_signing ? "bad" : "ok");
    sbody.appendChild(row);
  });
  text("stalls", h.stalls.slice(-3).map(function (x) {
    return x.what + " waited for " + x.waited_for.map(short).join(", ") + " (" + x.why + ")";
  }).join("; "));
  const claims = g.notary.open_claims;
  const cbody = rows("claims", claims, 5, "no open claims");
  claims.forEach(function (c) {
    const row = document.createElement("tr");
    cell(row, short(c.member));
    cell(row, c.checkpoint, "num");
    cell(row, amounts(c.claim), "num");
    cell(row, c.deadline, "num");
    cell(row, c.crawled_back ? "yes" : "no");
    cbody.appendChild(row);
  });
  text("evidence", g.notary.evidence.length + " revoke evidence held; "
       + g.notary.crawl_backs_sent + " crawl backs sent by this notary");
  const pit = g.pit;
  if (!pit || !pit.on) { text("pit", "no pit in this group"); return; }
  const marks = Object.keys(pit.marks).sort().map(function (a) {
    return a + " " + pit.marks[a] + " " + pit.numeraire;
  });
  text("pit", pit.offers + " offers (" + amounts(pit.offered) + "), " + pit.loans
       + " loans (" + amounts(pit.owed) + "), " + pit.margin_calls.length
       + " margin calls; marks: " + (marks.length ? marks.join(", ") : "none"));
  const held = Object.keys(pit.positions).sort();
  const pbody = rows("positions", held, 8, "no positions");
  held.forEach(function (m) {
    const p = pit.positions[m];
    const row = document.createElement("tr");
    cell(row, short(m) + (m === s.member ? " (this node)" : ""));
    cell(row, amounts(p.owes), "num");
    cell(row, amounts(p.lent), "num");
    cell(row, amounts(p.drawn), "num");
    cell(row, p.equity === null ? "-" : p.equity + " " + pit.numeraire, "num");
    cell(row, p.ratio_bps === null ? "-" : (p.ratio_bps / 100).toFixed(1) + "%", "num");
    const call = p.margin_call_since;
    cell(row, call === null ? "-" : "since checkpoint " + call, call === null ? "" : "bad");
    cell(row, amounts(p.revocable), "num");
    pbody.appendChild(row);
  });
}
function alerts(a) {  // the newest first; they stay listed after their cause has gone
  const hook = a.webhook;
  text("alerts-where", hook ? "posted to " + hook.url + " (sent " + hook.sent + ", failed "
       + hook.failed + (hook.last_error ? ", last error " + hook.last_error : "") + ")"
       : "no webhook: `swapnet alerts set URL` posts them to one");
  const recent = a.recent.slice().reverse();
  const body = rows("alerts", recent, 4, "no alerts");
  recent.forEach(function (x) {
    const row = document.createElement("tr");
    cell(row, new Date(x.at * 1000).toLocaleTimeString());
    cell(row, x.kind, x.kind === "test" ? "" : "bad");
    cell(row, /^[0-9a-f]{64}$/.test(x.subject) ? short(x.subject) : x.subject);
    cell(row, x.detail);
    body.appendChild(row);
  });
}
let assets = [];
let token = localStorage.getItem("swapnet.token") || "";
let lastHistory = null;
function fill(id, values) {
  const el = document.getElementById(id);
  if (el.options.length === values.length) { return; }
  el.replaceChildren();
  values.forEach(function (v) {
    const o = document.createElement("option");
    o.textContent = v;
    el.appendChild(o);
  });
}
function options(g) {
  assets = Object.keys(g.supply).sort();
  ["pay-asset", "quote-give-asset", "quote-get-asset", "swap-give-asset", "swap-get-asset"]
    .forEach(function (id) { fill(id, assets); });
  const list = document.getElementById("member-list");
  const names = Object.keys(handles).sort().map(function (m) { return "@" + handles[m]; });
  if (list.options.length !== names.length) {
    list.replaceChildren();
    names.forEach(function (n) {
      const o = document.createElement("option");
      o.value = n;
      list.appendChild(o);
    });
  }
}
function tokenState() {
  text("token-state", token ? "a token is in use in this browser" : "no token: read-only");
}
function say(message, bad) {
  text("result", message);
  document.getElementById("result").className = bad ? "bad" : "ok";
}
function amountOf(id) {  // an integer the page can carry exactly (the CLI takes any u64)
  const raw = document.getElementById(id).value.trim();
  if (!/^[1-9][0-9]{0,15}$/.test(raw) || Number(raw) > Number.MAX_SAFE_INTEGER) {
    throw new Error("an amount is a whole number of base units, 1 to 2^53 - 1");
  }
  return Number(raw);
}
function call(method, path, body) {
  if (!token) { return Promise.reject(new Error("paste a token first")); }
  const init = { method: method, cache: "no-store",
                 headers: { "Authorization": "Bearer " + token } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(path, init).then(function (r) {
    return r.json().then(function (j) {
      if (!r.ok && r.status !== 202) { throw new Error((j.error || r.status) + ": " + j.detail); }
      return j;
    });
  });
}
function outcome(what) {
  return function (j) {
    say(what + (j.pending ? ": signed, not certified yet (pending)" : ": certified"), false);
    loadHistory();
  };
}
function failed(e) { say(String(e.message || e), true); }
function act(id, handler) {
  document.getElementById(id).addEventListener("submit", function (ev) {
    ev.preventDefault();
    try { handler(); } catch (e) { failed(e); }
  });
}
act("token-form", function () {
  token = document.getElementById("token").value.trim();
  document.getElementById("token").value = "";
  if (token) { localStorage.setItem("swapnet.token", token); }
  tokenState();
  loadHistory();
});
document.getElementById("token-forget").addEventListener("click", function () {
  token = "";
  localStorage.removeItem("swapnet.token");
  tokenState();
});
act("pay-form", function () {
  const to = document.getElementById("pay-to").value.trim();
  const amount = amountOf("pay-amount");
  const asset = document.getElementById("pay-asset").value;
  say("paying...", false);
  call("POST", "/v1/pay", { to: to, asset: asset, amount: amount })
    .then(outcome("paid " + amount + " " + asset + " to " + to)).catch(failed);
});
act("quote-form", function () {
  const body = {
    give: { asset: document.getElementById("quote-give-asset").value,
            amount: amountOf("quote-give") },
    get: { asset: document.getElementById("quote-get-asset").value,
           amount: amountOf("quote-get") } };
  call("POST", "/v1/swap/quote", body).then(function (j) {
    say("quote posted (" + j.quotes + " standing)", false);
  }).catch(failed);
});
act("swap-form", function () {
  const body = {
    counterparty: document.getElementById("swap-with").value.trim(),
    give: { asset: document.getElementById("swap-give-asset").value,
            amount: amountOf("swap-give") },
    get: { asset: document.getElementById("swap-get-asset").value,
           amount: amountOf("swap-get") } };
  say("swapping...", false);
  call("POST", "/v1/swap", body).then(outcome("swap")).catch(failed);
});
act("history-form", loadHistory);
function loadHistory() {
  if (!token) { return; }
  let path = "/v1/activity?limit=500";
  const kind = document.getElementById("history-kind").value;
  const who = document.getElementById("history-member").value.trim();
  if (kind) { path += "&kind=" + encodeURIComponent(kind); }
  if (who) { path += "&member=" + encodeURIComponent(who); }
  call("GET", path).then(function (j) {
    lastHistory = j;
    const hb = rows("history", j.entries, 5, "no orders yet");
    Object.assign(handles, j.handles);
    j.entries.forEach(function (e) {
      const row = document.createElement("tr");
      cell(row, new Date(e.at * 1000).toLocaleString());
      cell(row, e.kind);
      cell(row, e.seq || "-", "num");
      cell(row, e.legs.map(function (l) {
        return short(l.from) + " -> " + short(l.to) + " " + l.amount + " " + l.asset;
      }).join("; "));
      const mine = e.legs.filter(function (l) { return l.to === me || l.from === me; });
      cell(row, mine.map(function (l) {
        return (l.to === me ? "+" : "-") + l.amount + " " + l.asset;
      }).join(", ") || "-", "num");
      hb.appendChild(row);
    });
  }).catch(failed);
}
function csvCell(v) {  // quoted, and never read as a formula by a spreadsheet
  let s = String(v);
  if (/^[=+\\-@\\t\\r]/.test(s)) { s = "'" + s; }
  return '"' + s.replace(/"/g, '""') + '"';
}
document.getElementById("history-csv").addEventListener("click", function () {
  if (!lastHistory) { failed(new Error("load the history first")); return; }
  const lines = [["time", "kind", "seq", "from", "from_handle", "to", "to_handle", "asset",
                  "amount"].join(",")];
  lastHistory.entries.forEach(function (e) {
    e.legs.forEach(function (l) {
      lines.push([new Date(e.at * 1000).toISOString(), e.kind, e.seq, l.from,
                  lastHistory.handles[l.from] || "", l.to, lastHistory.handles[l.to] || "",
                  l.asset, l.amount].map(csvCell).join(","));
    });
  });
  const blob = new Blob([lines.join("\\r\\n") + "\\r\\n"], { type: "text/csv" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "swapnet-history.csv";
  a.id = "csv-link";
  document.body.appendChild(a);
  a.click();
  a.remove();
});
tokenState();
const COLORS = ["#2f6fdf", "#d0582b", "#1b7f3b", "#8a3ffc", "#b3261e", "#5b6475"];
const charts = {};
function plot(id, title, labels, t, columns) {
  if (typeof uPlot === "undefined") { return; }
  const key = labels.join("|");
  let c = charts[id];
  if (c && c.key !== key) { c.plot.destroy(); c = null; }
  if (!c) {
    const el = document.getElementById(id);
    const series = [{}].concat(labels.map(function (l, i) {
      return { label: l, stroke: COLORS[i % COLORS.length], width: 1.5 };
    }));
    const opts = { title: title, width: Math.max(300, el.clientWidth - 8), height: 200,
                   series: series, scales: { x: { time: true } },
                   axes: [{}, { size: 80 }] };
    c = charts[id] = { key: key, plot: new uPlot(opts, [t].concat(columns), el) };
  } else {
    c.plot.setData([t].concat(columns));
  }
}
function drawSeries(d) {
  plot("chart-orders", "orders certified per second", ["orders/s"], d.t, [d.orders_per_s]);
  plot("chart-checkpoint", "checkpoint age (s) and orders at risk", ["age (s)", "at risk"],
       d.t, [d.checkpoint_age, d.at_risk]);
  const held = Object.keys(d.balances).sort();
  plot("chart-balances", "our balances", held, d.t,
       held.map(function (a) { return d.balances[a]; }));
  plot("chart-pit", "our pit equity against the maintenance it needs", ["equity",
       "maintenance"], d.t, [d.equity, d.maintenance]);
}
function refreshSeries() {
  fetch("/series", { cache: "no-store" })
    .then(function (r) { return r.json(); })
    .then(drawSeries)
    .catch(function (e) { text("updated", "cannot draw the charts: " + e); });
}
function refresh() {
  fetch("/status", { cache: "no-store" })
    .then(function (r) { return r.json(); })
    .then(function (s) {
      render(s);
      text("updated", "updated " + new Date().toLocaleTimeString());
    })
    .catch(function (e) { text("updated", "cannot reach the node: " + e); });
}
refresh();
refreshSeries();
setInterval(refresh, 2000);
setInterval(refreshSeries, 5000);
</script>
</body>
</html>
"""


def _inline_hash(tag: str) -> str:
    body = re.search(f"<{tag}>(.*?)</{tag}>", DASHBOARD_HTML, re.S)
    assert body is not None
    digest = hashlib.sha256(body.group(1).encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


DASHBOARD_CSP = (
    "default-src 'none'; "
    f"script-src 'self' {_inline_hash('script')}; "
    f"style-src 'self' {_inline_hash('style')}; "
    "connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Only the page's own script and style (and the charting library the node serves itself,
``/static/``) run; it talks only to its own origin (the node);
it cannot be framed (no click-jacking of its forms) and has no form a browser would post
anywhere."""
