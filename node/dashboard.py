"""The dashboard page served at ``/``: the group at a glance, refreshed every two seconds
from ``/status`` (which needs no token). One self-contained page: no external scripts,
fonts or styles, so it works on a machine with no internet and leaks nothing."""

from __future__ import annotations

DASHBOARD_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>swapnet node</title>
<link rel="icon" href="data:,">
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
<h2>Members</h2>
<table>
  <thead><tr><th>member</th><th>balances</th><th>state</th><th>revokes</th></tr></thead>
  <tbody id="members"><tr><td colspan="4">no group yet</td></tr></tbody>
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
function short(hex) { return hex.slice(0, 16); }
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
  text("title", g ? "swapnet: " + g.name : "swapnet node");
  text("who", "member " + s.member + " | peer " + (s.peer_id || "-") + " | v" + s.version);
  text("ready", s.ready ? "yes" : "no");
  document.getElementById("ready").className = "v " + (s.ready ? "ok" : "bad");
  text("height", s.ledger_height);
  if (!g) { return; }
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
setInterval(refresh, 2000);
</script>
</body>
</html>
"""
