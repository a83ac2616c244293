"""The console in a real browser (Debian's headless Chromium through Playwright) against `make
run`: what a person sees and does, checked through the API afterwards (issue 18).

One stack and one browser for the module; each test makes its own jobs, named so that no other
test's data can answer for it, and a fresh browser context (an empty sessionStorage)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.local.launch import LOCAL_KEY, call, launched
from tests.console.browser import TASKS, api, require_browser, screenshot, sign_in, until

pytestmark = pytest.mark.slow  # a browser and a make run: a few seconds each

SUCCEEDED_GREEN = "rgb(26, 127, 55)"
FAILED_RED = "rgb(207, 34, 46)"


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    require_browser()
    log = tmp_path_factory.mktemp("console") / "make-run.log"
    with log.open("w") as output, launched(output, env={"BEATLESS_TASK_MODULES": TASKS}) as stack:
        yield stack.port


@pytest.fixture(scope="module")
def browser(port: int) -> Iterator[Any]:
    from tests.console.browser import CHROMIUM

    with require_browser()() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab (no key yet) that fails the test on a script error or a CSP violation."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    tab.set_default_timeout(30_000)
    yield tab
    context.close()
    assert not problems, problems


def expect() -> Any:
    """Playwright's ``expect``, waiting up to 30 s (not its 5): a deadline for a loaded machine,
    not a measure (each assertion passes as soon as the page shows what it should)."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=30_000)
    return playwright_expect


def job(port: int, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "task": "echo", "schedule": "0 9 * * *"} | fields
    return api(port, "POST", "/v1/jobs", body)


def runs_of(port: int, job_id: str) -> list[dict[str, Any]]:
    return api(port, "GET", f"/v1/jobs/{job_id}/runs?limit=100")["items"]


def test_the_key_is_asked_first_and_again_after_a_401(port, page):
    page.goto(f"http://127.0.0.1:{port}/console")  # no slash: redirected
    assert page.url.endswith("/console/")
    dialog = page.get_by_role("dialog")
    expect()(dialog).to_be_visible()
    page.locator("#key-input").fill("bl_not-a-key")
    page.get_by_role("button", name="Use this key").click()
    expect()(page.locator("#key-reason")).to_contain_text("refused (401)")
    expect()(dialog).to_be_visible()
    screenshot(page, "key-prompt")
    page.locator("#key-input").fill(LOCAL_KEY)
    page.get_by_role("button", name="Use this key").click()
    expect()(dialog).to_be_hidden()
    expect()(page.get_by_role("heading", name="Jobs")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('beatless.key')") == LOCAL_KEY


def test_a_job_is_listed_with_its_schedule_in_words_and_next_fire(port, page):
    made = job(port, "listed-report", timezone="Europe/Paris", task="echo")
    sign_in(page, port, "#/jobs?name=listed-")
    row = page.locator(f'tr[data-job="{made["id"]}"]')
    expect()(row).to_contain_text("listed-report")
    expect()(row).to_contain_text("at 09:00 (Europe/Paris)")
    expect()(row.locator("time")).to_have_attribute("datetime", made["next_run_at"])
    expect()(row).to_contain_text("enabled")
    expect()(row.locator('[data-col="last"]')).to_contain_text("none yet")
    screenshot(page, "jobs")


def test_the_job_list_filters_by_status(port, page):
    paused = job(port, "filter-paused")
    api(port, "POST", f"/v1/jobs/{paused['id']}/pause")
    running = job(port, "filter-enabled")
    sign_in(page, port, "#/jobs?name=filter-")
    page.get_by_label("Status").select_option("paused")
    page.get_by_role("button", name="Filter").click()
    expect()(page.locator(f'tr[data-job="{paused["id"]}"]')).to_contain_text("paused")
    expect()(page.locator(f'tr[data-job="{running["id"]}"]')).to_have_count(0)


def test_a_name_with_markup_shows_as_text_and_runs_nothing(port, page):
    name = "<img src=x onerror=alert(1)>"
    made = job(port, name)
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    sign_in(page, port, "#/jobs?name=%3Cimg")
    link = page.locator(f'tr[data-job="{made["id"]}"] th a')
    expect()(link).to_have_text(name)
    assert page.locator("main img").count() == 0
    link.click()
    expect()(page.get_by_role("heading", level=1)).to_have_text(name)
    assert page.locator("main img").count() == 0
    assert alerts == []


def test_the_history_strip_colours_each_fire_by_its_outcome(port, page):
    made = job(port, "strip-fires", schedule="*/1 * * * * *")  # fires every second
    statuses = lambda: [r["status"] for r in runs_of(port, made["id"])]  # noqa: E731
    until(lambda: statuses().count("SUCCEEDED") >= 2, "2 fires")
    api(port, "PATCH", f"/v1/jobs/{made['id']}", {"task": "fail"})
    until(lambda: "FAILED" in statuses(), "a failed fire")
    api(port, "POST", f"/v1/jobs/{made['id']}/pause")
    until(lambda: not {"QUEUED", "RUNNING"} & set(statuses()), "the runs ended")
    runs = runs_of(port, made["id"])

    sign_in(page, port, f"#/jobs/{made['id']}")
    strip = page.locator("svg.strip a.strip-run")
    expect()(strip.nth(len(runs) - 1)).to_be_attached()  # each run has its mark
    ok = page.locator('svg.strip a[data-status="SUCCEEDED"] rect').first
    failed = page.locator('svg.strip a[data-status="FAILED"] rect').first
    assert ok.evaluate("r => getComputedStyle(r).fill") == SUCCEEDED_GREEN
    assert failed.evaluate("r => getComputedStyle(r).fill") == FAILED_RED
    legend = page.locator(".legend")
    expect()(legend).to_contain_text(re.compile(r"succeeded: \d+"))
    expect()(legend).to_contain_text(re.compile(r"failed: \d+"))
    failed.hover()
    detail = re.compile(r"failed · scheduled .* start lag .* duration")
    expect()(page.locator(".strip-detail")).to_contain_text(detail)
    expect()(page.locator("svg.durations")).to_be_visible()
    expect()(page.locator("#counters")).to_contain_text("failed or timed out")
    screenshot(page, "job", full_page=True)
    page.locator('svg.strip a[data-status="FAILED"]').first.focus()  # by keyboard
    page.keyboard.press("Enter")
    expect()(page.locator("#run-status")).to_contain_text("failed")
    expect()(page.locator("main")).to_contain_text("TaskFailed")


def test_pausing_and_resuming_in_the_console_changes_the_job(port, page):
    made = job(port, "pause-me")
    sign_in(page, port, f"#/jobs/{made['id']}")
    page.get_by_role("button", name="Pause").click()
    expect()(page.get_by_role("button", name="Resume")).to_be_visible()
    assert api(port, "GET", f"/v1/jobs/{made['id']}")["enabled"] is False
    expect()(page.locator("main")).to_contain_text("Paused: these fire only after a resume.")
    page.get_by_role("button", name="Resume").click()
    expect()(page.get_by_role("button", name="Pause")).to_be_visible()
    assert api(port, "GET", f"/v1/jobs/{made['id']}")["enabled"] is True


def test_the_next_ten_fires_and_expressions_are_shown(port, page):
    made = job(port, "ten-fires", schedule="30 2 * * *", timezone="Europe/Paris")
    sign_in(page, port, f"#/jobs/{made['id']}")
    fires = page.locator('section[aria-labelledby="fires-title"] table.fires')
    expect()(fires.locator("tbody tr")).to_have_count(10)
    expect()(fires).to_contain_text("UTC")
    for expression in made["expressions"]:
        expect()(page.locator("main")).to_contain_text(expression)


def test_editing_the_schedule_previews_it_live_then_saves_it(port, page):
    made = job(port, "edit-me")
    sign_in(page, port, f"#/jobs/{made['id']}")
    page.get_by_role("button", name="Edit schedule").click()
    editor = page.locator("#schedule-edit")
    editor.get_by_label("Schedule", exact=True).fill("cron(0 12 L * ? *)")
    expect()(editor.locator(".preview")).to_contain_text("on the last day of the month")
    editor.get_by_label("Schedule", exact=True).fill("61 * * * *")
    expect()(editor.locator(".preview .error")).to_contain_text("61")
    editor.get_by_label("Schedule", exact=True).fill("cron(0 12 L * ? *)")
    expect()(editor.locator(".preview")).to_contain_text("cron(0 12 L * ? *)")
    screenshot(page, "edit-schedule")
    editor.get_by_role("button", name="Save schedule").click()
    expect()(page.locator(".facts")).to_contain_text("on the last day of the month")
    saved = api(port, "GET", f"/v1/jobs/{made['id']}")
    assert saved["schedule"] == "cron(0 12 L * ? *)"


def test_triggering_now_opens_a_run(port, page):
    made = job(port, "trigger-me")
    sign_in(page, port, f"#/jobs/{made['id']}")
    page.get_by_role("button", name="Trigger now").click()
    page.locator(".notice a").click()
    expect()(page.locator("#run-status")).to_contain_text("succeeded")
    expect()(page.locator("#result")).to_contain_text('"args"')


def test_deleting_asks_first(port, page):
    made = job(port, "delete-me")
    sign_in(page, port, f"#/jobs/{made['id']}")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete…").click()
    assert api(port, "GET", f"/v1/jobs/{made['id']}")["name"] == "delete-me"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete…").click()
    expect()(page.get_by_role("heading", name="Jobs")).to_be_visible()
    assert call(port, "GET", f"/v1/jobs/{made['id']}", timeout=30)[0] == 404


def test_a_running_runs_log_follows_until_it_ends(port, page):
    ticks = {"task": "console.tick", "kwargs": {"lines": 6, "every": 0.5}}
    run = api(port, "POST", "/v1/tasks", ticks)
    sign_in(page, port, f"#/runs/{run['id']}")
    log = page.locator("#log")
    expect()(log).to_contain_text("tick 1 of 6")
    expect()(page.locator("#follow")).to_contain_text("Following live")
    screenshot(page, "run-live")
    expect()(log).to_contain_text("tick 6 of 6")
    expect()(page.locator("#run-status")).to_contain_text("succeeded")
    expect()(page.locator("#follow")).to_contain_text("The run ended")
    assert log.locator("li").count() == 6
    screenshot(page, "run")


def test_a_run_is_cancelled_from_its_page(port, page):
    run = api(port, "POST", "/v1/tasks", {"task": "sleep", "kwargs": {"seconds": 30}})
    sign_in(page, port, f"#/runs/{run['id']}")
    page.get_by_role("button", name="Cancel run").click()
    expect()(page.locator("#run-status")).to_contain_text("cancelled")
    until(lambda: api(port, "GET", f"/v1/tasks/{run['id']}")["status"] == "CANCELLED", "cancelled")


def test_a_failed_run_is_retried_from_its_page(port, page):
    run = api(port, "POST", "/v1/tasks", {"task": "fail", "kwargs": {"message": "boom"}})
    until(lambda: api(port, "GET", f"/v1/tasks/{run['id']}")["status"] == "FAILED", "failed")
    sign_in(page, port, f"#/runs/{run['id']}")
    expect()(page.locator("main")).to_contain_text("boom")
    expect()(page.locator(".traceback")).to_contain_text("Traceback")
    page.get_by_role("button", name="Retry run").click()
    expect()(page.locator("main")).to_contain_text("Re-queued")
    until(lambda: api(port, "GET", f"/v1/tasks/{run['id']}")["attempt"] >= 2, "a second attempt")


def test_the_runs_page_lists_failed_runs_with_their_status(port, page):
    run = api(port, "POST", "/v1/tasks", {"task": "fail", "kwargs": {"message": "listed"}})
    until(lambda: api(port, "GET", f"/v1/tasks/{run['id']}")["status"] == "FAILED", "failed")
    sign_in(page, port, "#/runs")
    page.get_by_label("Status").select_option("FAILED")
    row = page.locator("tr", has=page.get_by_role("link", name=run["id"]))
    expect()(row).to_contain_text("✗ failed")
    expect()(page.locator("tbody .badge")).not_to_contain_text(["succeeded"])
    row.get_by_role("link", name=run["id"]).click()
    expect()(page.locator("main")).to_contain_text("listed")


def test_the_playground_describes_translates_and_crosses_dst(port, page):
    sign_in(page, port, "#/playground")
    editor = page.locator(".editor")
    editor.get_by_label("Schedule", exact=True).fill("cron(0 9 ? * 6#3 *)")
    editor.get_by_label("Time zone").fill("UTC")
    expect()(editor.locator(".description")).to_contain_text("on the third Friday of the month")
    expect()(editor).to_contain_text("cron(0 9 ? * 6#3 *)")
    editor.get_by_label("Schedule", exact=True).fill("30 2 * * *")
    editor.get_by_label("Time zone").fill("Europe/Paris")
    editor.get_by_role("button", name="From just before the next DST change").click()
    expect()(editor.locator("tr.dst")).to_have_count(1)
    expect()(editor.locator("tr.dst")).to_contain_text("offset changed (DST)")
    screenshot(page, "playground")
    editor.get_by_label("Schedule", exact=True).fill("not a schedule")
    expect()(editor.locator(".error")).to_be_visible()
    # Celery ANDs both day fields; EventBridge cron takes one: the reason, not a translation.
    page.get_by_role("button", name='"day_of_month": "1-5"').click()
    reason = page.locator(".editor .error")
    expect()(reason).to_contain_text("No EventBridge translation")
    expect()(reason).to_contain_text("allows only one day field")


def test_keys_are_created_shown_once_and_revoked(port, page):
    sign_in(page, port, "#/keys")
    page.get_by_label("Role").select_option("user")
    page.get_by_label("Owner").fill("console-ann")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-key")
    expect()(secret).to_have_text(re.compile(r"^bl_"))
    key = secret.inner_text()
    assert api(port, "GET", "/v1/jobs", key=key)["items"] is not None
    row = page.locator("tr", has_text="console-ann")
    expect()(row).to_contain_text("active")
    assert key not in page.locator("table").inner_text()  # listed without its secret
    screenshot(page, "keys")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke…").click()
    expect()(row).to_contain_text("revoked")
    assert call(port, "GET", "/v1/jobs", key=key, timeout=30)[0] == 401


def test_a_user_key_sees_why_it_cannot_list_keys(port, page):
    created = api(port, "POST", "/v1/keys", {"role": "user", "owner": "console-bob"})
    sign_in(page, port, "#/keys", key=created["key"])
    expect()(page.locator("main .error").first).to_contain_text("Not allowed with this key")


def test_the_console_reads_at_phone_width_and_works_by_keyboard(port, page):
    made = job(port, "narrow-" + "x" * 40)
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, port, "#/jobs?name=narrow-")
    expect()(page.locator(f'tr[data-job="{made["id"]}"]')).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "jobs-375")
    page.keyboard.press("Tab")  # from the page's heading to its first control
    assert page.evaluate("document.activeElement.id") == "f-name"
    link = page.locator(f'tr[data-job="{made["id"]}"] th a')
    link.focus()
    page.keyboard.press("Enter")
    expect()(page.get_by_role("heading", level=1)).to_have_text(made["name"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_the_docs_page_renders_the_native_document_without_a_key(port, page):
    page.goto(f"http://127.0.0.1:{port}/docs")
    expect()(page.get_by_role("heading", level=1)).to_contain_text("beatless")
    expect()(page.locator("details.docs-op").first).to_be_visible()
    expect()(page.locator("main")).to_contain_text("/v1/jobs")
    screenshot(page, "docs")
