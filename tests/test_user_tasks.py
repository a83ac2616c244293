"""User task modules (``BEATLESS_TASK_MODULES``): loaded lazily, once, into their own section of
the registry; listed, validated and executed like the built-ins; loud when broken (issue 14)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chalicelib.settings import reset_settings
from chalicelib.tasks import TaskModuleError, registry
from tests.api.helpers import create, send
from tests.api.helpers import get_task as get
from tests.api.helpers import submit_task as submit
from tests.conftest import drain

GREET = '''
from chalicelib.tasks import task


@task("acme.greet", queue="high")
def greet(ctx, name, punctuation="!"):
    """Greet someone."""
    ctx.log(f"greeting {name}")
    return f"{GREETING}, {name}{punctuation}"


GREETING = "hello"
'''


@pytest.fixture
def user_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """``user_modules(modules="acme_tasks", acme_tasks=source, ...)``: write modules into a
    directory on sys.path (as an installed distribution would be) and name them in
    BEATLESS_TASK_MODULES; the registry forgets them afterwards."""
    written: list[str] = []

    def make(modules: str, **sources: str) -> None:
        for name, source in sources.items():
            (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
            written.append(name)
        monkeypatch.setenv("BEATLESS_TASK_MODULES", modules)
        reset_settings()
        registry.unload_user_modules()

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    registry.unload_user_modules()
    for name in written:
        sys.modules.pop(name, None)
    monkeypatch.delenv("BEATLESS_TASK_MODULES", raising=False)
    reset_settings()


def test_a_user_module_is_listed_validated_and_run_like_a_built_in(client, user_modules):
    user_modules("acme_tasks", acme_tasks=GREET)
    listed = {t["name"]: t for t in client.get("/v1/tasks/registered").json_body["items"]}
    assert listed["acme.greet"] == {
        "name": "acme.greet",
        "queue": "high",
        "doc": "Greet someone.",
        "schedulable": True,
    }
    assert "echo" in listed  # the built-ins are still there

    run = submit(client, task="acme.greet", args=["ann"])
    assert run["queue"] == "high"
    drain()
    done = get(client, run["id"])
    assert (done["status"], done["result"]) == ("SUCCEEDED", "hello, ann!")
    assert (
        create(client, name="greet-daily", task="acme.greet", args=["bob"])["task"] == "acme.greet"
    )


def test_arguments_of_a_user_task_are_checked_when_a_job_or_run_is_made(client, user_modules):
    user_modules("acme_tasks", acme_tasks=GREET)
    job = send(
        client,
        "POST",
        "/v1/jobs",
        {
            "name": "bad",
            "task": "acme.greet",
            "kwargs": {"name": "ann", "punctuaton": "?"},
            "schedule": "@daily",
        },
    )
    assert job.status_code == 400, job.json_body
    assert job.json_body["error"]["details"]["field"] == "kwargs"
    assert "punctuaton" in job.json_body["error"]["message"]
    run = send(client, "POST", "/v1/tasks", {"task": "acme.greet", "args": ["a", "b", "c"]})
    assert run.status_code == 400, run.json_body
    assert run.json_body["error"]["details"]["field"] == "args"
    missing = send(client, "POST", "/v1/tasks", {"task": "acme.greet"})
    assert missing.status_code == 400
    assert "'name'" in missing.json_body["error"]["message"]


def test_modules_are_imported_once_on_first_use_not_before(user_modules):
    counted = "import builtins\nbuiltins.__dict__.setdefault('_acme_loads', []).append(1)\n"
    user_modules("acme_tasks", acme_tasks=GREET + counted)
    import builtins

    builtins.__dict__.pop("_acme_loads", None)
    assert "acme_tasks" not in sys.modules
    assert registry.get("acme.greet") is not None
    assert registry.get("acme.greet") is not None and len(registry.all()) > 3
    assert builtins.__dict__.pop("_acme_loads") == [1]


def test_a_module_that_fails_to_import_is_named_loudly(client, user_modules):
    user_modules(
        "acme_tasks,acme_broken", acme_tasks=GREET, acme_broken="import nowhere_to_be_found\n"
    )
    with pytest.raises(TaskModuleError) as raised:
        registry.get("echo")
    assert "'acme_broken'" in str(raised.value)
    assert "nowhere_to_be_found" in str(raised.value)
    response = client.get("/v1/tasks/registered")
    assert response.status_code == 500
    assert "acme_broken" in response.json_body["error"]["message"]


def test_a_named_module_that_does_not_exist_is_an_error(user_modules):
    user_modules("acme_missing")
    with pytest.raises(TaskModuleError, match="'acme_missing'"):
        registry.all()


def test_the_default_package_is_optional(monkeypatch):
    monkeypatch.delenv("BEATLESS_TASK_MODULES", raising=False)
    reset_settings()
    registry.unload_user_modules()
    assert registry.get("echo") is not None  # no tasks/ in the checkout: nothing to load


def test_a_user_task_named_like_a_built_in_is_refused(user_modules):
    user_modules(
        "acme_clash",
        acme_clash="""
        from chalicelib.tasks import task

        @task("echo")
        def echo(ctx):
            return "mine"
        """,
    )
    with pytest.raises(TaskModuleError, match=r"'echo'.*built-in") as raised:
        registry.get("echo")
    assert "'acme_clash'" in str(raised.value)


def test_reloading_replaces_a_modules_tasks_and_keeps_the_last_good_code(tmp_path, user_modules):
    user_modules("acme_tasks", acme_tasks=GREET)
    first = registry.get("acme.greet")
    (tmp_path / "acme_tasks.py").write_text(
        GREET.replace('"hello"', '"bonjour"').replace("acme.greet", "acme.salute")
    )
    registry.load_user_modules()
    assert registry.get("acme.greet") is None  # dropped with its module's old code
    assert registry.get("acme.salute") is not None
    assert registry.get("echo") is not None
    assert first.module == "acme_tasks"

    (tmp_path / "acme_tasks.py").write_text("raise RuntimeError('half-written')\n")
    with pytest.raises(TaskModuleError, match="half-written"):
        registry.load_user_modules()
    assert registry.get("acme.salute") is not None  # the last good code still serves


@pytest.fixture
def example_tasks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example package of docs/tasks.md, named as a user names theirs."""
    monkeypatch.setenv("BEATLESS_TASK_MODULES", "examples.tasks")
    reset_settings()
    registry.unload_user_modules()
    yield
    registry.unload_user_modules()
    monkeypatch.delenv("BEATLESS_TASK_MODULES")
    reset_settings()


def test_apply_runs_the_docs_example_through_the_executor_against_moto(example_tasks):
    from chalicelib.testing import apply
    from examples.tasks.reports import daily_report

    assert registry.get("reports.daily").module == "examples.tasks"  # found in the package
    run = apply(daily_report, "ops", items=2)
    assert run.succeeded, run.traceback
    assert run.result == {"greeting": "Hello, ops", "items": ["ops-1", "ops-2"], "attempt": 1}
    assert run.messages == ["item 1 of 2 for ops", "item 2 of 2 for ops"]
    assert apply("reports.daily", "dev", items=0).result["items"] == []


def test_apply_reports_failures_and_refuses_wrong_arguments(example_tasks, aws):
    from chalicelib.errors import InvalidRequest
    from chalicelib.testing import apply, run_task

    with pytest.raises(InvalidRequest, match="kwargs"):
        apply("reports.daily", "ops", itmes=2)
    failed = apply("fail", "boom")
    assert (failed.status, failed.exc, failed.error) == ("FAILED", "TaskFailed", "boom")
    assert "raise TaskFailed" in failed.traceback
    seen = run_task("tests.context", data={"x": 1})  # inside the suite's own moto world
    assert seen.result["data"] == {"x": 1} and seen.result["remaining_positive"]
    with pytest.raises(LookupError):
        apply(lambda ctx: None)


def test_the_worker_runs_nothing_and_names_the_module_when_it_cannot_import(
    client, user_modules, tmp_path, caplog
):
    user_modules("acme_tasks", acme_tasks=GREET)
    run = submit(client, task="acme.greet", args=["ann"])
    (tmp_path / "acme_tasks.py").write_text("import nowhere_to_be_found\n")
    sys.modules.pop("acme_tasks", None)
    registry.unload_user_modules()  # a fresh process (a cold Lambda) with the broken deploy
    drain(rounds=1)
    assert get(client, run["id"])["status"] != "SUCCEEDED"
    assert "task module 'acme_tasks' (BEATLESS_TASK_MODULES) failed to import" in caplog.text
