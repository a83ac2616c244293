// SVG charts: a job's run-history strip and its duration chart. Colour repeats the status; each
// mark also carries it in words (its title and accessible name) and the legend counts them.
import { h, s, seconds, STATUS_TEXT, local } from "./dom.js";

export function timing(run) {
  const ms = (iso) => (iso ? new Date(iso).getTime() : null);
  const started = ms(run.started_at);
  const ended = ms(run.ended_at);
  const due = ms(run.scheduled_time) ?? ms(run.queued_at);
  return {
    lag: started !== null && due !== null ? (started - due) / 1000 : null,
    duration: started !== null && ended !== null ? (ended - started) / 1000 : null,
  };
}

export function describeRun(run) {
  const { lag, duration } = timing(run);
  return `${STATUS_TEXT[run.status] || run.status} · scheduled ${local(run.scheduled_time || run.queued_at)} · start lag ${seconds(lag)} · duration ${seconds(duration)}`;
}

/** Oldest on the left; a click opens the run, hover or focus shows its times below. */
export function historyStrip(runs) {
  const ordered = [...runs].reverse();
  const cell = 10, gap = 2, height = 28;
  const width = Math.max(ordered.length * (cell + gap), 1);
  const detail = h("p", { class: "strip-detail", "aria-live": "polite" }, ordered.length ? "Hover or focus a run for its times; click it to open it." : "No runs yet.");
  const svg = s("svg", { class: "strip", viewBox: `0 0 ${width} ${height}`, width, height, role: "group", "aria-label": `Last ${ordered.length} runs, oldest first` });
  ordered.forEach((run, index) => {
    const text = describeRun(run);
    const link = s("a", { href: `#/runs/${encodeURIComponent(run.id)}`, "aria-label": text, class: "strip-run", "data-status": run.status, "data-run": run.id });
    link.append(s("rect", { x: index * (cell + gap), y: 2, width: cell, height: height - 4, rx: 2, class: `fill-${run.status.toLowerCase()}` }, s("title", {}, text)));
    const show = () => (detail.textContent = text);
    link.addEventListener("mouseenter", show);
    link.addEventListener("focus", show);
    svg.append(link);
  });
  const counts = {};
  for (const run of runs) counts[run.status] = (counts[run.status] || 0) + 1;
  const legend = h("ul", { class: "legend" }, Object.entries(counts).map(([status, n]) => h("li", {}, h("span", { class: `swatch fill-${status.toLowerCase()}`, "aria-hidden": "true" }), `${STATUS_TEXT[status] || status}: ${n}`)));
  return h("div", { class: "strip-box" }, h("div", { class: "scroll" }, svg), detail, legend);
}

function quantile(sorted, q) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function durationChart(runs) {
  const points = [...runs].reverse().map((run) => ({ run, ...timing(run) })).filter((p) => p.duration !== null);
  if (!points.length) return h("p", { class: "muted" }, "No finished run to chart yet.");
  const sorted = points.map((p) => p.duration).sort((a, b) => a - b);
  const max = sorted[sorted.length - 1] || 0.001;
  const bar = 6, gap = 2, height = 80, axis = 44;
  const width = axis + points.length * (bar + gap);
  const svg = s("svg", { class: "durations", viewBox: `0 0 ${width} ${height + 14}`, width, height: height + 14, role: "img", "aria-label": `Durations of the last ${points.length} finished runs, oldest first; longest ${seconds(max)}` });
  svg.append(s("text", { x: 0, y: 10, class: "axis" }, seconds(max)), s("text", { x: 0, y: height, class: "axis" }, "0"), s("line", { x1: axis - 2, x2: width, y1: height, y2: height, class: "baseline" }));
  points.forEach((p, index) => {
    const tall = Math.max(1, (p.duration / max) * (height - 4));
    svg.append(s("rect", { x: axis + index * (bar + gap), y: height - tall, width: bar, height: tall, class: `fill-${p.run.status.toLowerCase()}` }, s("title", {}, describeRun(p.run))));
  });
  const summary = `median ${seconds(quantile(sorted, 0.5))} · p95 ${seconds(quantile(sorted, 0.95))} · longest ${seconds(max)} · ${points.length} runs`;
  return h("div", {}, h("div", { class: "scroll" }, svg), h("p", { class: "muted" }, summary));
}
