"""The timeline as one self-contained web page: ``ChromeTrace.write("trace.html")``.

The page embeds the very Trace Event Format document that ``trace.json`` holds and draws it on a
canvas with a little inline JavaScript: no network, no external files, so it opens offline and
can be attached to a bug report. It reads the events the way Perfetto does (``X`` slices on
``pid``/``tid`` tracks named by ``M`` metadata, ``s``/``f`` flow pairs, ``i`` instants), so it
shows the same timeline.
"""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["render_html"]


def render_html(document: dict[str, Any], *, title: str = "trapline timeline") -> str:
    """The page for a Trace Event Format ``document`` (``{"traceEvents": [...]}``)."""
    # "<" escaped as \u003c: still the same JSON, and no "</script>" can end the block early.
    data = json.dumps(document, separators=(",", ":")).replace("<", "\\u003c")
    return (
        _PAGE.replace("%TITLE%", html.escape(title))
        .replace("%STYLE%", _STYLE)
        .replace("%SCRIPT%", _SCRIPT)
        .replace("%DATA%", data)
    )


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%TITLE%</title>
<style>%STYLE%</style>
</head>
<body>
<header>
  <div class="title"><b>%TITLE%</b> <span id="summary"></span></div>
  <div id="legend"></div>
  <div class="controls">
    <button id="zoom-in" title="zoom in (W)">+</button>
    <button id="zoom-out" title="zoom out (S)">&minus;</button>
    <button id="reset" title="show everything (0)">fit</button>
    <span class="hint">wheel or W/S: zoom &middot; drag or A/D: pan &middot;
      shift+wheel: scroll &middot; hover: details</span>
  </div>
</header>
<main id="view"><canvas id="canvas"></canvas><div id="tip"></div></main>
<script type="application/json" id="trace-data">%DATA%</script>
<script>%SCRIPT%</script>
</body>
</html>
"""

_STYLE = """
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; font: 13px/1.35 system-ui, -apple-system, "Segoe UI",
  Roboto, "DejaVu Sans", sans-serif; color: #1d2330; background: #fff; }
body { display: flex; flex-direction: column; }
header { padding: 8px 12px 6px; border-bottom: 1px solid #d5d9e0; background: #f6f7f9; }
.title { font-size: 15px; margin-bottom: 4px; }
#summary { color: #5b6475; font-size: 13px; margin-left: 8px; }
#legend { display: flex; flex-wrap: wrap; gap: 4px 12px; margin: 4px 0; }
.key b { font-weight: 600; color: #5b6475; margin-left: 6px; }
.key { display: inline-flex; align-items: center; gap: 5px; white-space: nowrap; }
.swatch { display: inline-block; width: 14px; height: 10px; border-radius: 2px;
  border: 1px solid rgba(0, 0, 0, .25); }
.line { display: inline-block; width: 18px; height: 0; border-top: 2px solid; }
.controls { display: flex; align-items: center; gap: 6px; }
button { font: inherit; min-width: 30px; padding: 1px 8px; border: 1px solid #b8bfcc;
  border-radius: 4px; background: #fff; cursor: pointer; }
button:hover { background: #eef1f6; }
.hint { color: #6b7385; margin-left: 8px; }
main { position: relative; flex: 1; min-height: 0; overflow: hidden; }
canvas { display: block; width: 100%; height: 100%; cursor: grab; }
canvas.dragging { cursor: grabbing; }
#tip { position: absolute; display: none; pointer-events: none; max-width: 460px;
  padding: 6px 9px; background: rgba(24, 28, 38, .94); color: #f2f4f8; border-radius: 5px;
  font-size: 12px; box-shadow: 0 2px 8px rgba(0, 0, 0, .25); white-space: pre-wrap;
  word-break: break-word; }
#tip b { color: #fff; }
"""

_SCRIPT = r"""
"use strict";
const doc = JSON.parse(document.getElementById("trace-data").textContent);
const events = Array.isArray(doc) ? doc : (doc.traceEvents || []);

const WAIT_COLORS = {
  sleep: "#a9cdf0", io: "#f7bf7e", lock: "#f19a9a", queue: "#c4b0ee", event: "#f1dc85",
  task: "#d3d7de", thread: "#aee0bb", other: "#dfe2e7",
};
const WAIT_LABELS = {
  sleep: "sleep", io: "socket / fd", lock: "lock", queue: "queue / channel", event: "event",
  task: "task / group", thread: "thread", other: "other",
};
const STEP_COLOR = "#2150b0", IO_COLOR = "#8d99a8", MARK_COLOR = "#e07b00";
const FLOW_COLORS = { spawn: "#1f9d3a", cancel: "#d62728", wake: "#7a3fc4", timer: "#e07b00",
  "I/O ready": "#0f95a8" };
const FLOW_LABELS = { wake: "task wakes", timer: "timer wakes", "I/O ready": "I/O wakes" };
const LABEL_W = 190, AXIS_H = 26, ROW_H = 24, KERNEL_ROW_H = 18, RUN_H = 22;

// -- the model: runs (pid) holding tracks (tid) holding slices ----------------------------
const runs = new Map();
function run(pid) {
  if (!runs.has(pid)) runs.set(pid, { pid, name: "process " + pid, sort: pid, tracks: new Map() });
  return runs.get(pid);
}
function track(pid, tid) {
  const r = run(pid);
  if (!r.tracks.has(tid)) {
    r.tracks.set(tid, { pid, tid, name: "thread " + tid, sort: tid, slices: [], instants: [] });
  }
  return r.tracks.get(tid);
}
const flowStarts = new Map(), flowEnds = new Map();
let t0 = Infinity, t1 = -Infinity;
for (const e of events) {
  if (e.ph === "M") {
    const args = e.args || {};
    if (e.name === "process_name") run(e.pid).name = String(args.name);
    else if (e.name === "process_sort_index") run(e.pid).sort = args.sort_index;
    else if (e.name === "thread_name") track(e.pid, e.tid).name = String(args.name);
    else if (e.name === "thread_sort_index") track(e.pid, e.tid).sort = args.sort_index;
    continue;
  }
  if (typeof e.ts !== "number") continue;
  const end = e.ts + (e.dur || 0);
  t0 = Math.min(t0, e.ts); t1 = Math.max(t1, end);
  if (e.ph === "X") track(e.pid, e.tid).slices.push(e);
  else if (e.ph === "i" || e.ph === "I") track(e.pid, e.tid).instants.push(e);
  else if (e.ph === "s") flowStarts.set(e.cat + "/" + e.id, e);
  else if (e.ph === "f" || e.ph === "t") flowEnds.set(e.cat + "/" + e.id, e);
}
if (!isFinite(t0)) { t0 = 0; t1 = 1; }
if (t1 <= t0) t1 = t0 + 1;
const flows = [];
for (const [key, s] of flowStarts) {
  const f = flowEnds.get(key);
  if (f) flows.push({ s, f, name: s.name });
}

// Rows, top to bottom: per run a heading, then its tracks (kernel tracks first: lowest tid).
const rows = [];
const rowOf = new Map();
let contentH = 0;
for (const r of [...runs.values()].sort((a, b) => a.sort - b.sort)) {
  rows.push({ kind: "run", run: r, y: contentH, h: RUN_H });
  contentH += RUN_H;
  for (const t of [...r.tracks.values()].sort((a, b) => a.sort - b.sort)) {
    t.slices.sort((a, b) => a.ts - b.ts);
    const kernel = t.name.startsWith("kernel");
    const row = { kind: "track", track: t, kernel, y: contentH, h: kernel ? KERNEL_ROW_H : ROW_H };
    rows.push(row);
    rowOf.set(t.pid + "/" + t.tid, row);
    contentH += row.h;
  }
}
const taskCount = rows.filter((r) => r.kind === "track" && !r.kernel).length;

// -- view state ---------------------------------------------------------------------------
const canvas = document.getElementById("canvas");
const ctx = canvas.getContext("2d");
const tip = document.getElementById("tip");
let W = 0, H = 0, dpr = 1;
let viewStart = t0, viewEnd = t1, scrollY = 0;

function fit() {
  const pad = (t1 - t0) * 0.02;
  viewStart = t0 - pad; viewEnd = t1 + pad; scrollY = 0;
}
function xOf(ts) { return LABEL_W + (ts - viewStart) / (viewEnd - viewStart) * (W - LABEL_W); }
function tsOf(x) { return viewStart + (x - LABEL_W) / (W - LABEL_W) * (viewEnd - viewStart); }
function yOf(row) { return AXIS_H + row.y - scrollY; }

function fmt(us) {
  const a = Math.abs(us);
  if (a >= 1e6) return (us / 1e6).toFixed(a >= 1e7 ? 1 : 3) + " s";
  if (a >= 1e3) return (us / 1e3).toFixed(a >= 1e4 ? 1 : 3) + " ms";
  return us.toFixed(a >= 10 ? 0 : 2) + " µs";
}
function niceStep(span, count) {
  const raw = span / count, p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function resize() {
  dpr = window.devicePixelRatio || 1;
  const box = canvas.parentElement.getBoundingClientRect();
  W = Math.max(300, box.width); H = Math.max(150, box.height);
  canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
  draw();
}

function clampScroll() {
  scrollY = Math.max(0, Math.min(scrollY, Math.max(0, contentH - (H - AXIS_H))));
}

function fitText(text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(text.slice(0, mid) + "…").width <= width) lo = mid; else hi = mid - 1;
  }
  return lo > 0 ? text.slice(0, lo) + "…" : "";
}

// -- drawing ------------------------------------------------------------------------------
function sliceColor(e, row) {
  if (e.cat === "step") return STEP_COLOR;
  if (e.cat === "wait") return WAIT_COLORS[(e.args && e.args.kind) || "other"] || WAIT_COLORS.other;
  if (e.cat === "io") return IO_COLOR;
  if (e.name === "cancel") return FLOW_COLORS.cancel;
  if (row.kernel) return MARK_COLOR;
  return "#9aa3b2";
}

function drawRowBackground(row, index) {
  const y = yOf(row);
  if (y + row.h < AXIS_H || y > H) return;
  ctx.fillStyle = row.kernel ? "#f3f4f7" : index % 2 ? "#ffffff" : "#f9fafc";
  ctx.fillRect(LABEL_W, y, W - LABEL_W, row.h);
  ctx.strokeStyle = "#eceef2"; ctx.beginPath();
  ctx.moveTo(LABEL_W, y + row.h - 0.5); ctx.lineTo(W, y + row.h - 0.5); ctx.stroke();
}

function ticks() {
  const step = niceStep(viewEnd - viewStart, Math.max(2, (W - LABEL_W) / 110));
  const out = [];
  for (let rel = Math.ceil((viewStart - t0) / step) * step; t0 + rel <= viewEnd; rel += step) {
    out.push(Math.abs(rel) < step / 1e6 ? 0 : rel);
  }
  return out;
}

function drawGrid() {
  ctx.strokeStyle = "#e6e9ee";
  for (const rel of ticks()) {
    const x = Math.round(xOf(t0 + rel)) + 0.5;
    ctx.beginPath(); ctx.moveTo(x, AXIS_H); ctx.lineTo(x, H); ctx.stroke();
  }
}

function drawRow(row) {
  const y = yOf(row), t = row.track;
  if (y + row.h < AXIS_H || y > H) return;
  const lo = tsOf(LABEL_W), hi = tsOf(W);
  ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "middle";
  for (const pass of ["wait", "other"]) {
    for (const e of t.slices) {
      const isWait = e.cat === "wait" || e.cat === "io";
      if ((pass === "wait") !== isWait) continue;
      if (e.ts > hi || e.ts + (e.dur || 0) < lo) continue;
      let x0 = xOf(e.ts), x1 = xOf(e.ts + (e.dur || 0));
      x0 = Math.max(x0, LABEL_W - 2); x1 = Math.min(x1, W + 2);
      const w = Math.max(1, x1 - x0);
      ctx.fillStyle = sliceColor(e, row);
      if (e.cat === "step") {
        ctx.fillRect(x0, y + 2, Math.max(w, 1.5), row.h - 4);
      } else if (isWait) {
        ctx.fillRect(x0, y + 5, w, row.h - 10);
        if (w > 40) {
          ctx.fillStyle = "#1d2330";
          const label = e.cat === "wait" ? (e.args && e.args.reason) || e.name : e.name;
          const text = fitText(label, w - 8);
          if (text) ctx.fillText(text, Math.max(x0, LABEL_W) + 4, y + row.h / 2);
        }
      } else {
        // kernel markers: a diamond that stays visible at any zoom
        const cx = x0, cy = y + row.h / 2, r = 4;
        ctx.beginPath();
        ctx.moveTo(cx, cy - r); ctx.lineTo(cx + r, cy); ctx.lineTo(cx, cy + r);
        ctx.lineTo(cx - r, cy); ctx.closePath(); ctx.fill();
      }
    }
  }
  for (const e of t.instants) {
    if (e.ts < lo || e.ts > hi) continue;
    const x = xOf(e.ts), cy = y + row.h / 2;
    const bad = e.name !== "exited";
    ctx.strokeStyle = bad ? "#c0392b" : "#333"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(x, y + 3); ctx.lineTo(x, y + row.h - 3); ctx.stroke();
    ctx.lineWidth = 1;
    ctx.fillStyle = bad ? "#c0392b" : "#333";
    if (x + 6 < W - 40) ctx.fillText(e.name, x + 4, cy);
  }
}

// Arrows are drawn only between rows on screen, and wake-ups (timer, I/O) only when few are in
// view: with hundreds of tasks they would hide everything else. The hovered slice's arrows are
// always drawn, thicker.
const WAKES = new Set(["wake", "timer", "I/O ready"]);
const MAX_ARROWS = 300, MAX_WAKES = 150;
let hovered = null;

function rowVisible(row) { const y = yOf(row); return y + row.h > AXIS_H && y < H; }

// Is point p (a flow's end) in slice e? A wait also owns the arrow that ended it, which lands
// just inside the next step, at most a microsecond after the wait.
function within(p, e) {
  const end = e.ts + (e.dur || 0) + (e.cat === "wait" ? 1 : 0);
  return p.pid === e.pid && p.tid === e.tid && p.ts >= e.ts && p.ts <= end;
}
function touches(fl, e) { return !!e && (within(fl.s, e) || within(fl.f, e)); }

function drawFlow(fl, a, b, bold) {
  const x0 = xOf(fl.s.ts), y0 = yOf(a) + a.h / 2, x1 = xOf(fl.f.ts), y1 = yOf(b) + b.h / 2;
  const color = FLOW_COLORS[fl.name] || "#555";
  ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = bold ? 2.6 : 1.4;
  if (WAKES.has(fl.name)) ctx.setLineDash([4, 3]);
  const bend = Math.max(14, Math.min(60, Math.abs(x1 - x0) / 2 + 10));
  ctx.beginPath(); ctx.moveTo(x0, y0);
  ctx.bezierCurveTo(x0 + bend, y0, x1 - bend, y1, x1, y1); ctx.stroke();
  ctx.setLineDash([]);
  // the curve ends horizontally (its last control point is level with the end): so does the head
  ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x1 - 6, y1 - 3); ctx.lineTo(x1 - 6, y1 + 3);
  ctx.closePath(); ctx.fill();
  ctx.beginPath(); ctx.arc(x0, y0, 2.2, 0, 2 * Math.PI); ctx.fill();
  ctx.lineWidth = 1;
}

let hiddenArrows = 0;
function drawFlows() {
  const lo = tsOf(LABEL_W), hi = tsOf(W);
  const shown = [], wakes = [], bold = [];
  for (const fl of flows) {
    const a = rowOf.get(fl.s.pid + "/" + fl.s.tid), b = rowOf.get(fl.f.pid + "/" + fl.f.tid);
    if (!a || !b) continue;
    const item = [fl, a, b];
    if (touches(fl, hovered)) { bold.push(item); continue; }
    if (Math.max(fl.s.ts, fl.f.ts) < lo || Math.min(fl.s.ts, fl.f.ts) > hi) continue;
    if (!rowVisible(a) || !rowVisible(b)) continue;
    (WAKES.has(fl.name) ? wakes : shown).push(item);
  }
  hiddenArrows = 0;
  if (shown.length > MAX_ARROWS) { hiddenArrows += shown.length; shown.length = 0; }
  if (wakes.length > MAX_WAKES) { hiddenArrows += wakes.length; wakes.length = 0; }
  for (const [fl, a, b] of [...wakes, ...shown]) drawFlow(fl, a, b, false);
  for (const [fl, a, b] of bold) drawFlow(fl, a, b, true);
}

function drawScrollbar() {
  const view = H - AXIS_H;
  if (contentH <= view) return;
  const h = Math.max(24, view * view / contentH), y = AXIS_H + scrollY / contentH * view;
  ctx.fillStyle = "rgba(60, 70, 90, .35)";
  ctx.fillRect(W - 7, y, 5, h);
}

function drawNote() {
  if (!runs.size) {
    ctx.font = "14px system-ui, sans-serif"; ctx.fillStyle = "#5b6475";
    ctx.textAlign = "center"; ctx.textBaseline = "middle";
    ctx.fillText("Nothing was traced: the program made no trapline.run call.", W / 2, H / 2);
    ctx.textAlign = "start";
  }
  if (!hiddenArrows) return;
  const text = hiddenArrows + " arrows hidden: zoom in, or hover a slice";
  ctx.font = "11px system-ui, sans-serif";
  const w = ctx.measureText(text).width + 12;
  ctx.fillStyle = "rgba(255, 255, 255, .92)"; ctx.fillRect(W - w - 8, H - 26, w, 18);
  ctx.strokeStyle = "#d5d9e0"; ctx.strokeRect(W - w - 8.5, H - 26.5, w, 18);
  ctx.fillStyle = "#5b6475"; ctx.textBaseline = "middle";
  ctx.fillText(text, W - w - 2, H - 17);
}

function drawAxis() {
  ctx.fillStyle = "#f6f7f9"; ctx.fillRect(0, 0, W, AXIS_H);
  ctx.strokeStyle = "#d5d9e0"; ctx.beginPath();
  ctx.moveTo(0, AXIS_H - 0.5); ctx.lineTo(W, AXIS_H - 0.5); ctx.stroke();
  ctx.font = "11px system-ui, sans-serif"; ctx.textBaseline = "middle";
  for (const rel of ticks()) {
    const x = Math.round(xOf(t0 + rel)) + 0.5;
    if (x < LABEL_W) continue;
    ctx.strokeStyle = "#9aa3b2"; ctx.beginPath();
    ctx.moveTo(x, AXIS_H - 6); ctx.lineTo(x, AXIS_H); ctx.stroke();
    const label = rel === 0 ? "0" : fmt(rel);
    if (x + 3 + ctx.measureText(label).width < W) {
      ctx.fillStyle = "#3b4252"; ctx.fillText(label, x + 3, AXIS_H / 2);
    }
  }
  ctx.fillStyle = "#f6f7f9"; ctx.fillRect(0, 0, LABEL_W, AXIS_H);
  ctx.fillStyle = "#5b6475"; ctx.fillText("time since start", 10, AXIS_H / 2);
}

function drawLabels() {
  ctx.fillStyle = "#fbfbfc"; ctx.fillRect(0, AXIS_H, LABEL_W, H - AXIS_H);
  ctx.textBaseline = "middle";
  for (const row of rows) {
    const y = yOf(row);
    if (y + row.h < AXIS_H || y > H) continue;
    if (row.kind === "run") {
      ctx.fillStyle = "#e8ebf1"; ctx.fillRect(0, y, W, row.h);
      ctx.fillStyle = "#1d2330"; ctx.font = "bold 12px system-ui, sans-serif";
      ctx.fillText(row.run.name, 8, y + row.h / 2);
      continue;
    }
    ctx.font = row.kernel ? "italic 11px system-ui, sans-serif" : "12px system-ui, sans-serif";
    ctx.fillStyle = row.kernel ? "#5b6475" : "#1d2330";
    ctx.fillText(fitText(row.track.name, LABEL_W - 24), 16, y + row.h / 2);
  }
  ctx.strokeStyle = "#d5d9e0"; ctx.beginPath();
  ctx.moveTo(LABEL_W - 0.5, AXIS_H); ctx.lineTo(LABEL_W - 0.5, H); ctx.stroke();
}

function draw() {
  clampScroll();
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  ctx.save(); ctx.beginPath(); ctx.rect(LABEL_W, AXIS_H, W - LABEL_W, H - AXIS_H); ctx.clip();
  rows.forEach((row, i) => { if (row.kind === "track") drawRowBackground(row, i); });
  drawGrid();
  for (const row of rows) if (row.kind === "track") drawRow(row);
  drawFlows();
  ctx.restore();
  drawLabels();
  drawAxis();
  drawScrollbar();
  drawNote();
}

// -- hover details ------------------------------------------------------------------------
function rowAt(y) {
  const cy = y - AXIS_H + scrollY;
  for (const row of rows) if (cy >= row.y && cy < row.y + row.h) return row;
  return null;
}
function hit(x, y) {
  const row = rowAt(y);
  if (!row || row.kind !== "track" || x < LABEL_W) return null;
  const slop = (viewEnd - viewStart) / (W - LABEL_W) * 4;
  const ts = tsOf(x);
  let best = null;
  for (const e of row.track.slices) {
    const end = e.ts + (e.dur || 0);
    if (ts < e.ts - slop || ts > end + slop) continue;
    const inside = ts >= e.ts && ts <= end;
    const score = (e.cat === "wait" || e.cat === "io" ? 1 : 0) + (inside ? 0 : 2);
    if (!best || score < best.score) best = { e, score };
  }
  for (const e of row.track.instants) {
    if (Math.abs(ts - e.ts) <= slop && (!best || best.score > 0)) best = { e, score: 0 };
  }
  return best ? { row, e: best.e } : null;
}
function esc(s) {
  return String(s).replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]);
}
function describe(h) {
  const e = h.e, lines = ["<b>" + esc(e.name) + "</b>", "track: " + esc(h.row.track.name)];
  lines.push("at " + fmt(e.ts - t0) + (e.dur !== undefined ? ", lasted " + fmt(e.dur) : ""));
  for (const [k, v] of Object.entries(e.args || {})) {
    if (k !== "reason" || e.cat !== "wait") lines.push(esc(k) + ": " + esc(v));
    else lines.push("waiting for: " + esc(v));
  }
  const track = (p) => { const r = rowOf.get(p.pid + "/" + p.tid); return r ? r.track.name : "?"; };
  const arrows = [];
  for (const f of flows) {
    const why = f.s.args && f.s.args.reason ? " (" + esc(f.s.args.reason) + ")" : "";
    if (within(f.f, e)) arrows.push("← " + esc(f.name) + " from " + esc(track(f.s)) + why);
    if (within(f.s, e)) arrows.push("→ " + esc(f.name) + " to " + esc(track(f.f)) + why);
  }
  lines.push(...arrows.slice(0, 8));
  if (arrows.length > 8) lines.push("… and " + (arrows.length - 8) + " more arrows");
  return lines.join("\n");
}

canvas.addEventListener("mousemove", (ev) => {
  if (drag) return;
  const box = canvas.getBoundingClientRect(), x = ev.clientX - box.left, y = ev.clientY - box.top;
  const h = hit(x, y);
  const e = h ? h.e : null;
  if (e !== hovered) { hovered = e; draw(); }
  if (!h) { tip.style.display = "none"; return; }
  tip.innerHTML = describe(h);
  tip.style.display = "block";
  const tw = tip.offsetWidth, th = tip.offsetHeight;
  tip.style.left = Math.min(x + 14, W - tw - 4) + "px";
  tip.style.top = (y + 16 + th > H ? y - th - 8 : y + 16) + "px";
});
canvas.addEventListener("mouseleave", () => {
  tip.style.display = "none";
  if (hovered) { hovered = null; draw(); }
});

// -- zoom and pan -------------------------------------------------------------------------
function zoom(factor, atX) {
  const at = tsOf(atX === undefined ? (LABEL_W + W) / 2 : Math.max(LABEL_W, atX));
  const span = Math.max(0.05, Math.min((t1 - t0) * 50, (viewEnd - viewStart) * factor));
  const frac = (at - viewStart) / (viewEnd - viewStart);
  viewStart = at - frac * span; viewEnd = viewStart + span;
  draw();
}
function pan(dx) {
  const shift = dx / (W - LABEL_W) * (viewEnd - viewStart);
  viewStart += shift; viewEnd += shift; draw();
}
canvas.addEventListener("wheel", (ev) => {
  ev.preventDefault();
  const box = canvas.getBoundingClientRect();
  if (ev.shiftKey) { scrollY += ev.deltaY; draw(); return; }
  if (Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) { pan(ev.deltaX); return; }
  zoom(Math.exp(ev.deltaY * 0.0025), ev.clientX - box.left);
}, { passive: false });
let drag = null;
canvas.addEventListener("mousedown", (ev) => {
  drag = { x: ev.clientX, y: ev.clientY, start: viewStart, end: viewEnd, scroll: scrollY };
  canvas.classList.add("dragging"); tip.style.display = "none";
});
window.addEventListener("mousemove", (ev) => {
  if (!drag) return;
  const shift = (ev.clientX - drag.x) / (W - LABEL_W) * (drag.end - drag.start);
  viewStart = drag.start - shift; viewEnd = drag.end - shift;
  scrollY = drag.scroll - (ev.clientY - drag.y);
  draw();
});
window.addEventListener("mouseup", () => { drag = null; canvas.classList.remove("dragging"); });
canvas.addEventListener("dblclick", () => { fit(); draw(); });
window.addEventListener("keydown", (ev) => {
  const k = ev.key.toLowerCase();
  if (k === "w" || k === "+" || k === "=") zoom(0.7);
  else if (k === "s" || k === "-") zoom(1 / 0.7);
  else if (k === "a" || k === "arrowleft") pan(-(W - LABEL_W) * 0.15);
  else if (k === "d" || k === "arrowright") pan((W - LABEL_W) * 0.15);
  else if (k === "0") { fit(); draw(); }
});
document.getElementById("zoom-in").onclick = () => zoom(0.6);
document.getElementById("zoom-out").onclick = () => zoom(1 / 0.6);
document.getElementById("reset").onclick = () => { fit(); draw(); };

// -- header -------------------------------------------------------------------------------
document.getElementById("summary").textContent =
  runs.size + (runs.size === 1 ? " run, " : " runs, ") + taskCount +
  (taskCount === 1 ? " task, " : " tasks, ") + fmt(t1 - t0);
const usedKinds = new Set();
for (const row of rows) {
  if (row.kind !== "track") continue;
  for (const e of row.track.slices) {
    if (e.cat === "wait") usedKinds.add((e.args || {}).kind || "other");
  }
}
const keys = ['<span class="key"><span class="swatch" style="background:' + STEP_COLOR +
  '"></span>step (running)</span>'];
if (usedKinds.size) keys.push('<span class="key"><b>waits:</b></span>');
for (const kind of Object.keys(WAIT_COLORS)) {
  if (!usedKinds.has(kind)) continue;
  keys.push('<span class="key"><span class="swatch" style="background:' + WAIT_COLORS[kind] +
    '"></span>' + WAIT_LABELS[kind] + "</span>");
}
keys.push('<span class="key"><b>kernel:</b></span>');
keys.push('<span class="key"><span class="swatch" style="background:' + IO_COLOR +
  '"></span>I/O wait</span>');
keys.push('<span class="key"><span class="swatch" style="background:' + MARK_COLOR +
  '"></span>timer fired</span>');
keys.push('<span class="key"><b>arrows:</b></span>');
for (const [name, color] of Object.entries(FLOW_COLORS)) {
  keys.push('<span class="key"><span class="line" style="border-color:' + color +
    (WAKES.has(name) ? ";border-top-style:dashed" : "") +
    '"></span>' + (FLOW_LABELS[name] || name) + "</span>");
}
document.getElementById("legend").innerHTML = keys.join("");

window.addEventListener("resize", resize);
fit();
resize();
"""
