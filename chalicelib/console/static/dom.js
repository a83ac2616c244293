// DOM helpers. Every string a user or the API supplied becomes a text node: nothing is parsed
// as HTML anywhere in the console, so a job named <img onerror=…> is just text.
const SVG = "http://www.w3.org/2000/svg";

function build(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** h("a", {href: "#/x"}, "text", otherNode): an HTML element. */
export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);

/** s("rect", {x: 1}): an SVG element. */
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG, tag), attrs, children);

export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

export const STATUS_TEXT = {
  SUCCEEDED: "succeeded",
  FAILED: "failed",
  RUNNING: "running",
  QUEUED: "queued",
  CANCELLED: "cancelled",
  TIMED_OUT: "timed out",
  SKIPPED: "skipped",
};

/** A status badge: the word and a symbol carry it, the colour only repeats it. */
export function badge(status) {
  if (!status) return h("span", { class: "badge none" }, "none yet");
  const symbol = { SUCCEEDED: "✓", FAILED: "✗", TIMED_OUT: "⏱", CANCELLED: "⊘", SKIPPED: "↷", RUNNING: "▶", QUEUED: "…" }[status] || "";
  return h("span", { class: `badge s-${status.toLowerCase()}` }, `${symbol} ${STATUS_TEXT[status] || status}`);
}

export function local(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
}

export function inZone(iso, zone) {
  try {
    return new Date(iso).toLocaleString("en-GB", { timeZone: zone, weekday: "short", year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
  } catch {
    return iso;
  }
}

export function relative(iso) {
  if (!iso) return "";
  const seconds = Math.round((new Date(iso) - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  const [n, unit] = abs < 60 ? [abs, "s"] : abs < 3600 ? [Math.round(abs / 60), "min"] : abs < 86400 ? [Math.round(abs / 3600), "h"] : [Math.round(abs / 86400), "d"];
  return seconds >= 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

export function seconds(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(value < 10 ? 2 : 1)} s`;
  return `${(value / 60).toFixed(1)} min`;
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}
