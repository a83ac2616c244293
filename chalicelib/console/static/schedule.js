// The schedule editor shared by the playground and a job's "edit schedule": one form (any
// accepted schedule form), a live preview through POST /v1/schedules/preview.
import { api } from "./api.js";
import { h, replace, inZone } from "./dom.js";

export const FORMS = {
  schedule: { label: "schedule string", hint: "5- or 6-field cron, @daily, @every 90s, cron(…), rate(…), at(…)" },
  crontab: { label: "crontab (JSON)", hint: '{"minute": "0", "hour": "9", "day_of_week": "mon-fri"}' },
  interval: { label: "interval (JSON)", hint: '{"every": 5, "period": "minutes"}' },
  due_time: { label: "due time", hint: "30s, PT5M or an RFC 3339 instant" },
};

/** The schedule fields a job body or a preview takes, from the form's values; throws on bad JSON. */
export function scheduleFields(form, text, timezone) {
  const value = form === "crontab" || form === "interval" ? JSON.parse(text) : text.trim();
  const fields = { [form]: value };
  if (timezone.trim()) fields.timezone = timezone.trim();
  return fields;
}

/** A job's current schedule as the editor's (form, text). */
export function formOf(job) {
  if (job.crontab) return ["crontab", JSON.stringify(job.crontab)];
  if (job.interval) return ["interval", JSON.stringify(job.interval)];
  if (job.schedule.startsWith("once at ")) return ["due_time", job.schedule.slice(8)];
  return ["schedule", job.schedule];
}

function offsetOf(date, zone) {
  try {
    const part = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" }).formatToParts(date).find((p) => p.type === "timeZoneName");
    return part ? part.value.replace("GMT", "UTC") || "UTC" : "";
  } catch {
    return "";
  }
}

/** The first instant in the next year at which ``zone``'s UTC offset changes, or null. */
export function nextOffsetChange(zone, from = new Date()) {
  let previous = offsetOf(from, zone);
  for (let day = 1; day <= 370; day++) {
    const at = new Date(from.getTime() + day * 86400000);
    const now = offsetOf(at, zone);
    if (now !== previous) return at;
    previous = now;
  }
  return null;
}

/** The next fires as a table: in the schedule's zone, in UTC, and where the offset changes. */
export function firesTable(fires, zone) {
  let previous = null;
  const rows = fires.map((iso, index) => {
    const offset = offsetOf(new Date(iso), zone);
    const changed = previous !== null && offset !== previous;
    previous = offset;
    return h("tr", { class: changed ? "dst" : null },
      h("td", {}, String(index + 1)),
      h("td", {}, inZone(iso, zone)),
      h("td", {}, iso.replace("T", " ").replace("Z", " UTC")),
      h("td", {}, offset, changed ? h("strong", { class: "dst-note" }, " offset changed (DST)") : null));
  });
  return h("table", { class: "fires" },
    h("caption", {}, `Next ${fires.length} fires`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "#"), h("th", { scope: "col" }, `Local (${zone})`), h("th", { scope: "col" }, "UTC"), h("th", { scope: "col" }, "UTC offset"))),
    h("tbody", {}, rows));
}

/**
 * The editor: form select, text, time zone, optional "from" (start_at), and the live preview.
 * ``values()`` gives the schedule fields (for a PATCH); ``changed`` is called after each preview.
 */
export function scheduleEditor({ form = "schedule", text = "", timezone = "UTC", withStart = false, count = 10 } = {}) {
  const id = `se${Math.random().toString(36).slice(2, 8)}`;
  const formSelect = h("select", { id: `${id}-form`, name: "form" }, Object.entries(FORMS).map(([value, f]) => h("option", { value, selected: value === form }, f.label)));
  const input = h("input", { id: `${id}-text`, name: "text", value: text, autocomplete: "off", spellcheck: "false", class: "wide" });
  const hint = h("p", { class: "hint", id: `${id}-hint` }, FORMS[form].hint);
  input.setAttribute("aria-describedby", hint.id);
  const zone = h("input", { id: `${id}-tz`, name: "timezone", value: timezone, autocomplete: "off", list: `${id}-zones` });
  const zones = h("datalist", { id: `${id}-zones` }, (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : ["UTC"]).map((z) => h("option", { value: z })));
  const start = h("input", { id: `${id}-start`, name: "start_at", placeholder: "2030-03-28T00:00:00Z", autocomplete: "off" });
  const dstButton = h("button", { type: "button", class: "secondary" }, "From just before the next DST change");
  const output = h("div", { class: "preview", "aria-live": "polite" });
  let timer = null;
  let sequence = 0;
  let lastGood = null;

  function values() {
    return scheduleFields(formSelect.value, input.value, zone.value);
  }

  async function preview() {
    const mine = ++sequence;
    let fields;
    try {
      fields = values();
    } catch (error) {
      replace(output, h("p", { class: "error", role: "alert" }, `Not valid JSON: ${error.message}`));
      return;
    }
    if (!Object.values(fields)[0] && Object.values(fields)[0] !== 0) {
      replace(output, h("p", { class: "muted" }, "Type a schedule to see what it does."));
      return;
    }
    if (withStart && start.value.trim()) fields.start_at = start.value.trim();
    try {
      const result = await api("/v1/schedules/preview", { method: "POST", body: { ...fields, count } });
      if (mine !== sequence) return;
      lastGood = result;
      replace(output,
        h("p", { class: "description" }, h("strong", {}, "Description: "), result.description),
        h("p", {}, h("strong", {}, "EventBridge: "), result.expressions.length ? result.expressions.map((e, i) => [i ? " and " : "", h("code", {}, e)]) : "none",
          ` (fires through ${result.path === "sqs" ? "SQS delays: sub-minute precision" : "EventBridge Scheduler"})`),
        result.next.length ? firesTable(result.next, result.timezone) : h("p", { class: "muted" }, "It will not fire again."));
    } catch (error) {
      if (mine !== sequence) return;
      lastGood = null;
      const text = error.status === 401 ? "Needs an API key." : error.status === 422 ? `No EventBridge translation: ${error.message}` : error.message;
      replace(output, h("p", { class: "error", role: "alert" }, text));
    }
  }

  function schedulePreview() {
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  }

  formSelect.addEventListener("change", () => {
    hint.textContent = FORMS[formSelect.value].hint;
    schedulePreview();
  });
  for (const field of [input, zone, start]) field.addEventListener("input", schedulePreview);
  dstButton.addEventListener("click", () => {
    const change = nextOffsetChange(zone.value.trim() || "UTC");
    if (!change) {
      replace(output, h("p", { class: "muted" }, `${zone.value} has no offset change in the next year.`));
      return;
    }
    const from = new Date(change.getTime() - 3 * 86400000);
    from.setUTCHours(0, 0, 0, 0);
    start.value = from.toISOString().replace(".000Z", "Z");
    preview();
  });

  const element = h("div", { class: "editor" },
    h("div", { class: "row" },
      h("div", {}, h("label", { for: formSelect.id }, "Form"), formSelect),
      h("div", { class: "grow" }, h("label", { for: input.id }, "Schedule"), input, hint),
      h("div", {}, h("label", { for: zone.id }, "Time zone"), zone, zones)),
    withStart ? h("div", { class: "row" }, h("div", { class: "grow" }, h("label", { for: start.id }, "From (start_at, optional)"), start), h("div", { class: "end" }, dstButton)) : null,
    output);
  preview();
  return { element, values, preview, last: () => lastGood };
}
