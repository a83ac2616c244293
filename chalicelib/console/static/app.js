// The console: a hash router over views of the native API (/v1). No data lives here; every
// view asks the API with the tab's key and renders the answer as text.
import { api, key, whenUnauthorized } from "./api.js";
import { h, replace, badge, local, relative, seconds, json, inZone } from "./dom.js";
import { historyStrip, durationChart, timing, describeRun } from "./charts.js";
import { scheduleEditor, formOf } from "./schedule.js";

const main = document.getElementById("main");
const dialog = document.getElementById("key-dialog");
const keyForm = document.getElementById("key-form");
const keyInput = document.getElementById("key-input");
const keyReason = document.getElementById("key-reason");
const signout = document.getElementById("signout");
const LIVE = new Set(["QUEUED", "RUNNING"]);
let generation = 0; // bumped on every navigation: a view's timers stop when it is left

// ---- key prompt -------------------------------------------------------------------------
function askForKey(reason) {
  keyReason.textContent = reason || "Type an API key of your tenant. It is kept in this tab only (sessionStorage) and sent as a bearer token.";
  keyInput.value = "";
  signout.hidden = true;
  if (!dialog.open) dialog.showModal();
  keyInput.focus();
}
whenUnauthorized(() => askForKey("That key was refused (401): it is unknown or revoked. Type another."));
keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!keyInput.value.trim()) return;
  key.set(keyInput.value);
  dialog.close();
  signout.hidden = false;
  render();
});
dialog.addEventListener("cancel", (event) => event.preventDefault()); // no data without a key
signout.addEventListener("click", () => {
  key.clear();
  askForKey();
  replace(main);
});

// ---- shared bits --------------------------------------------------------------------------
function problem(error) {
  if (error.status === 401) return h("p", { class: "error", role: "alert" }, "This needs an API key.");
  if (error.status === 403) return h("p", { class: "error", role: "alert" }, `Not allowed with this key: ${error.message}`);
  return h("p", { class: "error", role: "alert" }, error.message || String(error));
}

function flash(node, text, kind = "ok") {
  replace(node, h("p", { class: kind, role: kind === "error" ? "alert" : "status" }, text));
}

function page(title, ...children) {
  document.title = `${title} · beatless console`;
  replace(main, h("h1", {}, title), ...children);
  main.focus({ preventScroll: true });
}

function work(job) {
  if (job.task) return h("code", {}, job.task);
  if (job.target) return h("span", {}, `target: ${job.target.type || "?"}`);
  return "—";
}

function params() {
  const [, query = ""] = location.hash.split("?");
  return new URLSearchParams(query);
}

function button(label, onclick, attrs = {}) {
  return h("button", { type: "button", ...attrs, onclick }, label);
}

function pager(cursors, next, go) {
  return h("nav", { class: "pager", "aria-label": "Pages" },
    button("← Previous page", () => { cursors.pop(); go(); }, { disabled: cursors.length <= 1 }),
    h("span", {}, `Page ${cursors.length}`),
    button("Next page →", () => { cursors.push(next); go(); }, { disabled: !next }));
}

// ---- jobs ---------------------------------------------------------------------------------
const jobCursors = [null];
async function jobsView() {
  const query = params();
  const nameFilter = h("input", { id: "f-name", name: "name", value: query.get("name") || "", autocomplete: "off" });
  const statusFilter = h("select", { id: "f-status", name: "status" },
    [["", "all"], ["enabled", "enabled"], ["paused", "paused"]].map(([value, label]) => h("option", { value, selected: (query.get("status") || "") === value }, label)));
  const filters = h("form", { class: "filters row", role: "search" },
    h("div", {}, h("label", { for: "f-name" }, "Name starts with"), nameFilter),
    h("div", {}, h("label", { for: "f-status" }, "Status"), statusFilter),
    h("div", { class: "end" }, h("button", { type: "submit" }, "Filter")));
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    jobCursors.splice(1);
    const next = new URLSearchParams();
    if (nameFilter.value) next.set("name", nameFilter.value);
    if (statusFilter.value) next.set("status", statusFilter.value);
    location.hash = `#/jobs${next.toString() ? `?${next}` : ""}`;
  });
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  page("Jobs", filters, body);
  const mine = generation;
  const status = query.get("status");
  let result;
  try {
    result = await api("/v1/jobs", { query: { limit: 25, cursor: jobCursors.at(-1), name: query.get("name"), enabled: status ? String(status === "enabled") : "" } });
  } catch (error) {
    replace(body, problem(error));
    return;
  }
  if (mine !== generation) return;
  if (!result.items.length) {
    replace(body, h("p", { class: "muted" }, jobCursors.length > 1 ? "No more jobs." : "No job matches. Create one with POST /v1/jobs or the beatless command."), pager(jobCursors, result.cursor, render));
    return;
  }
  const rows = result.items.map((job) => {
    const last = h("td", { "data-col": "last", "data-label": "Last run" }, job.last_run_id ? "…" : badge(null));
    if (job.last_run_id) {
      api(`/v1/tasks/${encodeURIComponent(job.last_run_id)}`).then(
        (run) => replace(last, h("a", { href: `#/runs/${encodeURIComponent(run.id)}` }, badge(run.status))),
        () => replace(last, "unknown"));
    }
    return h("tr", { "data-job": job.id },
      h("th", { scope: "row" }, h("a", { href: `#/jobs/${encodeURIComponent(job.id)}` }, job.name)),
      h("td", { "data-label": "Task" }, work(job)),
      h("td", { "data-label": "Schedule" }, h("span", { class: "sched" }, job.schedule_description), h("br"), h("small", { class: "muted" }, `${job.schedule} · ${job.timezone}`)),
      h("td", { "data-col": "next", "data-label": "Next fire" }, job.next_run_at ? [h("time", { datetime: job.next_run_at }, local(job.next_run_at)), h("br"), h("small", { class: "muted" }, relative(job.next_run_at))] : "—"),
      last,
      h("td", { class: "nowrap", "data-label": "Status" }, job.enabled ? "enabled" : h("strong", { class: "paused" }, "paused")));
  });
  replace(body,
    h("div", { class: "scroll" }, h("table", { class: "jobs" },
      h("thead", {}, h("tr", {}, ["Name", "Task or target", "Schedule", "Next fire", "Last run", "Status"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))),
    pager(jobCursors, result.cursor, render));
}

// ---- a job --------------------------------------------------------------------------------
async function jobView(id) {
  const mine = generation;
  page("Job");
  let job;
  try {
    job = await api(`/v1/jobs/${encodeURIComponent(id)}`);
  } catch (error) {
    main.append(problem(error));
    return;
  }
  if (mine !== generation) return;
  const notice = h("div", { class: "notice", "aria-live": "polite" });
  const actions = h("div", { class: "actions" },
    button(job.enabled ? "Pause" : "Resume", async () => {
      try {
        await api(`/v1/jobs/${encodeURIComponent(id)}/${job.enabled ? "pause" : "resume"}`, { method: "POST" });
        render();
      } catch (error) { replace(notice, problem(error)); }
    }, { id: "toggle" }),
    button("Trigger now", async () => {
      try {
        const run = await api(`/v1/jobs/${encodeURIComponent(id)}/trigger`, { method: "POST" });
        replace(notice, h("p", { class: "ok", role: "status" }, "Run queued: ", h("a", { href: `#/runs/${encodeURIComponent(run.id)}` }, run.id)));
        loadRuns();
      } catch (error) { replace(notice, problem(error)); }
    }, { id: "trigger" }),
    button("Edit schedule", () => { editor.hidden = !editor.hidden; }, { id: "edit", "aria-controls": "schedule-edit" }),
    button("Delete…", async () => {
      if (!window.confirm(`Delete job "${job.name}" and its schedules? Its runs are kept.`)) return;
      try {
        await api(`/v1/jobs/${encodeURIComponent(id)}`, { method: "DELETE" });
        location.hash = "#/jobs";
      } catch (error) { replace(notice, problem(error)); }
    }, { id: "delete", class: "danger" }));

  const [form, text] = formOf(job);
  const edit = scheduleEditor({ form, text, timezone: job.timezone });
  const editStatus = h("div", { "aria-live": "polite" });
  const editor = h("form", { id: "schedule-edit", class: "panel", hidden: true },
    h("h2", {}, "Edit the schedule"), edit.element,
    h("button", { type: "submit" }, "Save schedule"), " ", button("Cancel", () => { editor.hidden = true; }, { class: "secondary" }), editStatus);
  editor.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const fields = edit.values();
      const clear = Object.fromEntries(["crontab", "interval", "schedule", "due_time"].filter((f) => !(f in fields)).map((f) => [f, null]));
      await api(`/v1/jobs/${encodeURIComponent(id)}`, { method: "PATCH", body: { ...clear, ...fields, timezone: fields.timezone || "UTC", version: job.version } });
      render();
    } catch (error) { replace(editStatus, problem(error)); }
  });

  const facts = h("dl", { class: "facts" },
    h("dt", {}, "Status"), h("dd", {}, job.enabled ? "enabled" : h("strong", { class: "paused" }, "paused")),
    h("dt", {}, "Task or target"), h("dd", {}, work(job), job.target ? h("pre", {}, json(job.target)) : null),
    h("dt", {}, "Schedule"), h("dd", {}, h("span", { class: "sched" }, job.schedule_description), h("br"), h("code", {}, job.schedule), ` · ${job.timezone}`),
    h("dt", {}, "EventBridge"), h("dd", {}, job.expressions.length ? job.expressions.map((e) => h("code", { class: "block" }, e)) : "none", h("small", { class: "muted" }, ` fires through ${job.path === "sqs" ? "SQS delays" : "EventBridge Scheduler"}`)),
    h("dt", {}, "Next fire"), h("dd", {}, job.next_run_at ? `${inZone(job.next_run_at, job.timezone)} (${relative(job.next_run_at)})` : "—"),
    h("dt", {}, "Last run"), h("dd", {}, job.last_run_id ? h("a", { href: `#/runs/${encodeURIComponent(job.last_run_id)}` }, local(job.last_run_at)) : "none yet"),
    h("dt", {}, "Runs"), h("dd", { id: "counters" }, `${job.total_run_count} in all`),
    h("dt", {}, "Id"), h("dd", {}, h("code", {}, job.id)),
    job.description ? [h("dt", {}, "Description"), h("dd", {}, job.description)] : null);
  const fires = h("section", { "aria-labelledby": "fires-title" }, h("h2", { id: "fires-title" }, "Next fires"), h("p", { class: "muted" }, "Loading…"));
  const history = h("section", { "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "Run history (last 100)"), h("p", { class: "muted" }, "Loading…"));
  const durations = h("section", { "aria-labelledby": "durations-title" }, h("h2", { id: "durations-title" }, "Durations"));
  page(job.name, h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "← Jobs")), actions, notice, editor, facts, fires, history, durations);

  const schedule = { ...Object.fromEntries(["crontab", "interval", "start_at", "end_at"].filter((f) => job[f]).map((f) => [f, job[f]])), timezone: job.timezone, count: 10 };
  if (job.schedule.startsWith("once at ")) schedule.due_time = job.schedule.slice(8);
  else if (!job.crontab && !job.interval) schedule.schedule = job.schedule;
  api("/v1/schedules/preview", { method: "POST", body: schedule }).then(
    (result) => {
      const upcoming = job.enabled ? result.next.filter((t) => !job.next_run_at || t >= job.next_run_at) : result.next;
      replace(fires, h("h2", { id: "fires-title" }, "Next fires"), job.enabled ? null : h("p", { class: "paused" }, "Paused: these fire only after a resume."), upcomingTable(upcoming.slice(0, 10), job.timezone));
    },
    (error) => replace(fires, h("h2", { id: "fires-title" }, "Next fires"), job.next_run_at ? h("p", {}, inZone(job.next_run_at, job.timezone)) : problem(error)));

  async function loadRuns() {
    let runs;
    try {
      runs = (await api(`/v1/jobs/${encodeURIComponent(id)}/runs`, { query: { limit: 100 } })).items;
    } catch (error) {
      replace(history, h("h2", { id: "history-title" }, "Run history (last 100)"), problem(error));
      return;
    }
    if (mine !== generation) return;
    replace(history, h("h2", { id: "history-title" }, "Run history (last 100)"), historyStrip(runs));
    replace(durations, h("h2", { id: "durations-title" }, "Durations"), durationChart(runs));
    const failed = runs.filter((r) => ["FAILED", "TIMED_OUT"].includes(r.status)).length;
    const finished = runs.filter((r) => !["QUEUED", "RUNNING"].includes(r.status)).length;
    replace(document.getElementById("counters"), `${job.total_run_count} in all; of the last ${runs.length}: ${finished - failed} without failure, ${failed} failed or timed out`);
    if (runs.some((r) => LIVE.has(r.status))) setTimeout(() => mine === generation && loadRuns(), 1500);
  }
  loadRuns();
}

function upcomingTable(fires, zone) {
  if (!fires.length) return h("p", { class: "muted" }, "It will not fire again.");
  return h("table", { class: "fires" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, `Local (${zone})`), h("th", { scope: "col" }, "UTC"), h("th", { scope: "col" }, "When"))),
    h("tbody", {}, fires.map((iso) => h("tr", {}, h("td", {}, inZone(iso, zone)), h("td", {}, iso.replace("T", " ").replace("Z", " UTC")), h("td", {}, relative(iso))))));
}

// ---- runs ---------------------------------------------------------------------------------
const runCursors = [null];
async function runsView() {
  const query = params();
  const statusFilter = h("select", { id: "r-status", name: "status" },
    ["", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", "SKIPPED"].map((value) => h("option", { value, selected: (query.get("status") || "") === value }, value ? value.toLowerCase().replace("_", " ") : "all")));
  statusFilter.addEventListener("change", () => {
    runCursors.splice(1);
    location.hash = statusFilter.value ? `#/runs?status=${statusFilter.value}` : "#/runs";
  });
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  page("Runs", h("div", { class: "filters row" }, h("div", {}, h("label", { for: "r-status" }, "Status"), statusFilter)), body);
  const mine = generation;
  let result;
  try {
    result = await api("/v1/tasks", { query: { limit: 50, cursor: runCursors.at(-1), status: query.get("status") } });
  } catch (error) {
    replace(body, problem(error));
    return;
  }
  if (mine !== generation) return;
  const rows = result.items.map((run) => {
    const { duration } = timing(run);
    return h("tr", {},
      h("th", { scope: "row" }, h("a", { href: `#/runs/${encodeURIComponent(run.id)}` }, run.id)),
      h("td", {}, badge(run.status)),
      h("td", {}, run.job_id ? h("a", { href: `#/jobs/${encodeURIComponent(run.job_id)}` }, "job") : run.trigger || "ad hoc"),
      h("td", {}, run.task ? h("code", {}, run.task) : run.target ? `target: ${run.target.type}` : "steps"),
      h("td", {}, local(run.queued_at)),
      h("td", {}, seconds(duration)));
  });
  replace(body,
    rows.length ? h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["Run", "Status", "From", "Task", "Queued", "Duration"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows))) : h("p", { class: "muted" }, "No run matches."),
    pager(runCursors, result.cursor, render));
}

async function runView(id) {
  const mine = generation;
  page("Run");
  const notice = h("div", { "aria-live": "polite" });
  const summary = h("div");
  const log = h("ol", { class: "log", id: "log", "aria-live": "polite" });
  const follow = h("p", { class: "muted", id: "follow" });
  const outcome = h("div");
  const actions = h("div", { class: "actions" });
  page(`Run ${id}`, h("p", { class: "crumbs" }, h("a", { href: "#/runs" }, "← Runs")), actions, notice, summary,
    h("section", { "aria-labelledby": "log-title" }, h("h2", { id: "log-title" }, "Log"), follow, log), outcome);
  let seen = 0;

  async function messages() {
    const all = [];
    let cursor = null;
    do {
      const result = await api(`/v1/tasks/${encodeURIComponent(id)}/messages`, { query: { limit: 1000, cursor } });
      all.push(...result.items);
      cursor = result.cursor;
    } while (cursor);
    for (const m of all.slice(seen)) {
      log.append(h("li", { class: `lvl-${String(m.level).toLowerCase()}` }, h("time", { datetime: m.at }, new Date(m.at).toLocaleTimeString()), " ", h("span", { class: "level" }, m.level), ` [step ${m.step + 1}] `, h("span", { class: "text" }, m.text)));
    }
    seen = Math.max(seen, all.length);
    if (!log.children.length) replace(log, h("li", { class: "muted empty" }, "No log lines."));
    else log.querySelector(".empty")?.remove();
  }

  async function refresh() {
    let run;
    try {
      run = await api(`/v1/tasks/${encodeURIComponent(id)}`);
      if (mine !== generation) return;
      await messages();
    } catch (error) {
      replace(notice, problem(error));
      return;
    }
    if (mine !== generation) return;
    const { lag, duration } = timing(run);
    replace(summary, h("dl", { class: "facts" },
      h("dt", {}, "Status"), h("dd", { id: "run-status" }, badge(run.status), run.cancel_requested && LIVE.has(run.status) ? " (cancel requested)" : null),
      h("dt", {}, "Job"), h("dd", {}, run.job_id ? h("a", { href: `#/jobs/${encodeURIComponent(run.job_id)}` }, run.job_id) : `none (${run.trigger || "ad hoc"})`),
      h("dt", {}, "Task or target"), h("dd", {}, run.task ? h("code", {}, run.task) : run.target ? `target: ${run.target.type}` : "steps"),
      h("dt", {}, "Scheduled"), h("dd", {}, local(run.scheduled_time)),
      h("dt", {}, "Queued"), h("dd", {}, local(run.queued_at)),
      h("dt", {}, "Started"), h("dd", {}, local(run.started_at), lag !== null ? ` (start lag ${seconds(lag)})` : null),
      h("dt", {}, "Ended"), h("dd", {}, local(run.ended_at), duration !== null ? ` (took ${seconds(duration)})` : null),
      h("dt", {}, "Attempt"), h("dd", {}, String(run.attempt), run.retry_at ? ` · next try ${local(run.retry_at)}` : null),
      run.reason ? [h("dt", {}, "Reason"), h("dd", {}, run.reason)] : null));
    replace(outcome,
      h("h2", {}, "Steps"),
      h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["#", "Action", "Status"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, (run.steps || []).map((step, index) => h("tr", {}, h("td", {}, String(index + 1)), h("td", {}, h("code", {}, step.task || (step.target ? `target:${step.target.type}` : step.name || "?"))), h("td", {}, step.status ? badge(step.status) : "—")))))),
      run.attempts.length ? [h("h2", {}, "Attempts"), h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["#", "Started", "Ended", "Outcome", "Error"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, run.attempts.map((a) => h("tr", {}, h("td", {}, String(a.number)), h("td", {}, local(a.started_at)), h("td", {}, local(a.ended_at)), h("td", {}, badge(a.outcome)), h("td", {}, a.error || "")))))) ] : null,
      run.result !== null && run.result !== undefined ? [h("h2", {}, "Result"), h("pre", { id: "result" }, json(run.result))] : null,
      run.exc || run.error ? [h("h2", {}, "Error"), h("p", { class: "error" }, [run.exc, run.error].filter(Boolean).join(": "))] : null,
      run.traceback ? [h("h2", {}, "Traceback"), h("pre", { class: "traceback" }, run.traceback)] : null);
    replace(actions,
      LIVE.has(run.status) ? button("Cancel run", async () => {
        try { await api(`/v1/tasks/${encodeURIComponent(id)}`, { method: "DELETE" }); flash(notice, "Cancel requested."); refresh(); } catch (error) { replace(notice, problem(error)); }
      }, { id: "cancel", class: "danger" }) : null,
      ["FAILED", "TIMED_OUT"].includes(run.status) ? button("Retry run", async () => {
        try { const again = await api(`/v1/tasks/${encodeURIComponent(id)}/retry`, { method: "POST" }); flash(notice, `Re-queued as ${again.id}.`); if (again.id !== id) location.hash = `#/runs/${encodeURIComponent(again.id)}`; else refresh(); } catch (error) { replace(notice, problem(error)); }
      }, { id: "retry" }) : null);
    if (LIVE.has(run.status)) {
      follow.textContent = `Following live: the run is ${run.status.toLowerCase()}.`;
      setTimeout(() => mine === generation && refresh(), 1000);
    } else {
      follow.textContent = `The run ended: ${describeRun(run)}.`;
    }
  }
  refresh();
}

// ---- playground ---------------------------------------------------------------------------
const EXAMPLES = [
  ["schedule", "30 2 * * *", "Europe/Paris"],
  ["schedule", "cron(0 12 L * ? *)", "UTC"],
  ["schedule", "cron(0 9 ? * 6#3 *)", "America/New_York"],
  ["schedule", "cron(0 9 15W * ? *)", "UTC"],
  ["schedule", "0 9 1,15 * 1", "UTC"],
  ["schedule", "*/20 * * * * *", "UTC"],
  ["crontab", '{"minute": "0", "hour": "9", "day_of_week": "mon-fri"}', "Europe/Paris"],
  ["crontab", '{"minute": "0", "hour": "9", "day_of_month": "1-5", "day_of_week": "mon"}', "UTC"],
  ["interval", '{"every": 90, "period": "seconds"}', "UTC"],
  ["due_time", "PT5M", "UTC"],
];

function playgroundView() {
  const holder = h("div");
  const mount = (form, text, timezone) => replace(holder, scheduleEditor({ form, text, timezone, withStart: true, count: 12 }).element);
  page("Schedule playground",
    h("p", {}, "Type any schedule form beatless accepts: its description, where it fires (EventBridge, or SQS for sub-minute precision), the EventBridge expressions or why there are none, and the next fires. Pick a zone with daylight saving time and press “From just before the next DST change” to see how it is crossed."),
    h("p", {}, "Examples: ", EXAMPLES.map(([form, text, zone]) => [button(text, () => mount(form, text, zone), { class: "chip" }), " "])),
    holder);
  mount(...EXAMPLES[0]);
}

// ---- keys ---------------------------------------------------------------------------------
async function keysView() {
  const mine = generation;
  const shown = h("div", { "aria-live": "polite" });
  const list = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const role = h("select", { id: "k-role", name: "role" }, h("option", { value: "user" }, "user"), h("option", { value: "admin" }, "admin"));
  const owner = h("input", { id: "k-owner", name: "owner", autocomplete: "off", required: true, maxlength: 200 });
  const create = h("form", { class: "row panel" },
    h("div", {}, h("label", { for: "k-role" }, "Role"), role),
    h("div", { class: "grow" }, h("label", { for: "k-owner" }, "Owner"), owner),
    h("div", { class: "end" }, h("button", { type: "submit" }, "Create key")));
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const made = await api("/v1/keys", { method: "POST", body: { role: role.value, owner: owner.value } });
      replace(shown, h("div", { class: "once", role: "status" },
        h("p", {}, h("strong", {}, "Copy this key now: it is shown once and stored only as a hash.")),
        h("output", { id: "new-key", class: "secret" }, made.key)));
      owner.value = "";
      load();
    } catch (error) { replace(shown, problem(error)); }
  });
  page("API keys", h("p", {}, "Your tenant's keys (admin keys only)."), create, shown, list);

  async function load() {
    let result;
    try {
      result = await api("/v1/keys");
    } catch (error) {
      replace(list, problem(error));
      return;
    }
    if (mine !== generation) return;
    replace(list, h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Id", "Role", "Owner", "Created", "State", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, result.items.map((item) => h("tr", { "data-key": item.id },
        h("th", { scope: "row" }, h("code", {}, item.id)), h("td", {}, item.role), h("td", {}, item.owner), h("td", {}, local(item.created_at)),
        h("td", {}, item.disabled ? "revoked" : "active"),
        h("td", {}, item.disabled ? "" : button("Revoke…", async () => {
          if (!window.confirm(`Revoke key ${item.id} of ${item.owner || "nobody"}? Calls with it fail at once.`)) return;
          try { await api(`/v1/keys/${encodeURIComponent(item.id)}`, { method: "DELETE" }); load(); } catch (error) { replace(shown, problem(error)); }
        }, { class: "danger" }))))))));
  }
  load();
}

// ---- router -------------------------------------------------------------------------------
const ROUTES = [
  [/^#\/jobs\/([^/?]+)$/, jobView, "jobs"],
  [/^#\/runs\/([^/?]+)$/, runView, "runs"],
  [/^#\/runs(\?.*)?$/, runsView, "runs"],
  [/^#\/playground$/, playgroundView, "playground"],
  [/^#\/keys$/, keysView, "keys"],
  [/^(#\/jobs(\?.*)?|#?\/?)$/, jobsView, "jobs"],
];

function render() {
  generation += 1;
  const hash = location.hash || "#/jobs";
  for (const [pattern, view, nav] of ROUTES) {
    const match = hash.match(pattern);
    if (!match) continue;
    for (const link of document.querySelectorAll("[data-nav]")) {
      if (link.dataset.nav === nav) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (!key.get()) {
      replace(main);
      askForKey();
      return;
    }
    signout.hidden = false;
    view(match[1] && !match[1].startsWith("?") ? decodeURIComponent(match[1]) : undefined);
    return;
  }
  page("Not found", h("p", {}, "No such page in the console. "), h("a", { href: "#/jobs" }, "Go to the jobs."));
}

window.addEventListener("hashchange", render);
render();
