"""Every face through a client generated from its own OpenAPI document (openapi-python-client),
served by ``make run``'s runtime: what a user of a document gets, not only what raw JSON does.
Each answer is then checked field by field (formats included) against pydantic models generated
from the same document (datamodel-code-generator). Nothing generated is kept (issue 20).

Issue 13, item 7: the document gave ``JobPatch`` the create defaults, so a generated client sent
``enabled: true``, ``description: ""``, ``overlap: "allow"`` and ``timeout_seconds: 300`` with every
PATCH, and patching only the schedule of a paused job resumed it and reset those fields.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from chalicelib.api.openapi import FACES
from chalicelib.local.launch import LOCAL_KEY
from tests.api.generated import Generated, finish, imported, start_generators
from tests.stack import call

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def generated(
    shared_stack: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Generated]]:
    """Each face's generated client and models, made once for the module from the document
    the stack serves."""
    _, port, _ = shared_stack
    root = tmp_path_factory.mktemp("generated")
    documents, running = {}, {}
    for face in FACES:
        status, documents[face] = call(port, "GET", f"/openapi/{face}.json")
        assert status == 200, documents[face]
        running[face] = start_generators(face, documents[face], root)
    for face in FACES:
        client_output, _ = finish(running[face])
        assert "warning" not in client_output.lower(), client_output
    with ExitStack() as stack:
        yield {
            face: stack.enter_context(
                imported(root, face, f"http://127.0.0.1:{port}", documents[face])
            )
            for face in FACES
        }


@pytest.fixture(scope="module")
def native(generated: dict[str, Generated]) -> Generated:
    return generated["native"]


def _unique(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC):%H%M%S%f}"


def _until(read: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _user_key(native: Generated) -> Any:
    """A new user key of the default tenant (``KeyOut``: its ``id`` and secret ``key``)."""
    schemas = native.schemas
    return native.op("createKey").sync(
        client=native.client(LOCAL_KEY),
        body=schemas.KeyIn(role=schemas.KeyInRole.USER, owner="generated client"),
    )


def test_the_generated_patch_model_sends_only_what_is_set(native):
    schemas = native.schemas
    patch = schemas.JobPatch(schedule="0 3 * * *")
    assert patch.to_dict() == {"schedule": "0 3 * * *"}
    empty = schemas.JobPatch()
    defaults = {f.name: getattr(empty, f.name) for f in attrs.fields(type(empty))}
    assert all(value is native.package.types.UNSET for value in defaults.values()), defaults


def test_patching_the_schedule_of_a_paused_job_through_the_generated_client(native):
    schemas, client = native.schemas, native.client(LOCAL_KEY)
    created = native.op("createJob").sync_detailed(
        client=client,
        body=schemas.JobIn(
            name=_unique("generated"),
            task="echo",
            schedule="0 2 * * *",
            description="keep me",
            timeout_seconds=60,
            overlap=schemas.Overlap.SKIP,
        ),
    )
    assert created.status_code == 201, created.content
    job_id = created.parsed.id
    paused = native.op("pauseJob").sync(job_id, client=client)
    assert paused.enabled is False

    patched = native.op("patchJob").sync_detailed(
        job_id, client=client, body=schemas.JobPatch(schedule="0 3 * * *")
    )
    assert patched.status_code == 200, patched.content

    job = native.op("getJob").sync(job_id, client=client)
    assert job.schedule == "0 3 * * *"
    assert job.enabled is False  # still paused
    assert job.next_run_at is None
    assert job.description == "keep me"
    assert job.timeout_seconds == 60
    assert job.overlap is schemas.Overlap.SKIP
    assert native.check_answers() == 4


def test_the_generated_client_sends_the_documented_filters_as_the_api_takes_them(native):
    """A generated client sends ``name``, ``since`` and ``until`` as the document types them
    (``since`` as ``datetime.isoformat()``, with ``+00:00``); none of them is a 400."""
    client = native.client(LOCAL_KEY)
    name = _unique("filtered")
    native.op("createJob").sync(
        client=client, body=native.schemas.JobIn(name=name, task="echo", schedule="0 2 * * *")
    )
    jobs = native.op("listJobs").sync(client=client, name=name[:-3], limit=100)
    assert [j.name for j in jobs.items] == [name]
    run = native.op("submitTask").sync(client=client, body=native.schemas.TaskIn(task="echo"))
    hour = timedelta(hours=1)
    now = datetime.now(UTC)
    runs = native.op("listTasks").sync(client=client, since=now - hour, until=now + hour, limit=100)
    assert run.id in [r.id for r in runs.items]
    later = native.op("listTasks").sync(client=client, since=now + hour)
    assert later.items == []
    assert native.check_answers() == 5


def test_the_native_flow_through_its_generated_client(native):
    """Create, read, list with the cursor, change, pause/resume, trigger, run and poll, cancel,
    delete; the 400, 403 and 404 answers parsed into ``ErrorOut``; every answer typed."""
    s, client, op = native.schemas, native.client(LOCAL_KEY), native.op
    status = op("getStatus").sync(client=native.client())  # public
    assert isinstance(status.start_date, datetime)

    prefix = _unique("flow")
    first, second = (
        op("createJob").sync(
            client=client,
            body=s.JobIn(
                name=f"{prefix}-{n}",
                task="echo",
                crontab=s.Crontab(minute="0", hour=n),
                retry=s.RetryPolicy(max_attempts=2),
                queue=s.Queue.LOW,
            ),
        )
        for n in (1, 2)
    )
    assert isinstance(first.created_at, datetime) and first.created_at.tzinfo is not None
    assert first.crontab.to_dict() == {"minute": "0", "hour": 1}  # as sent, a Crontab
    assert (first.retry.max_attempts, first.queue) == (2, s.Queue.LOW)
    assert op("getJob").sync(first.id, client=client).name == f"{prefix}-1"

    page = op("listJobs").sync(client=client, name=prefix, limit=1)
    names = [j.name for j in page.items]
    while page.cursor:
        page = op("listJobs").sync(client=client, name=prefix, limit=1, cursor=page.cursor)
        names += [j.name for j in page.items]
    assert names == [f"{prefix}-1", f"{prefix}-2"]

    changed = op("patchJob").sync(first.id, client=client, body=s.JobPatch(description="d"))
    assert (changed.description, changed.version) == ("d", first.version + 1)
    replaced = op("replaceJob").sync(
        first.id,
        client=client,
        body=s.JobIn(name=f"{prefix}-1", task="echo", schedule="0 4 * * *"),
    )
    assert (replaced.schedule, replaced.crontab) == ("0 4 * * *", None)
    assert op("pauseJob").sync(first.id, client=client).enabled is False
    resumed = op("resumeJob").sync(first.id, client=client)
    assert resumed.enabled is True and isinstance(resumed.next_run_at, datetime)
    preview = op("previewSchedule").sync(
        client=client, body=s.PreviewIn(schedule="0 9 * * *", count=2)
    )
    assert len(preview.next_) == 2 and all(isinstance(t, datetime) for t in preview.next_)

    final = {s.RunStatus.SUCCEEDED, s.RunStatus.FAILED, s.RunStatus.CANCELLED}
    triggered = op("triggerJob").sync(first.id, client=client)
    assert triggered.trigger is s.Trigger.MANUAL
    run = _until(
        lambda: op("getTask").sync(triggered.id, client=client), lambda r: r.status in final
    )
    assert run.status is s.RunStatus.SUCCEEDED and isinstance(run.ended_at, datetime)
    runs = op("listJobRuns").sync(first.id, client=client)
    assert [r.id for r in runs.items] == [triggered.id]

    submitted = op("submitTask").sync(
        client=client, body=s.TaskIn(task="echo", args=["hello"], data={"k": 1})
    )
    done = _until(
        lambda: op("getTask").sync(submitted.id, client=client), lambda r: r.status in final
    )
    assert done.status is s.RunStatus.SUCCEEDED, done.to_dict()
    assert done.attempts[0].outcome is s.AttemptOutOutcome.SUCCEEDED
    messages = op("listTaskMessages").sync(submitted.id, client=client)
    assert all(isinstance(m.at, datetime) for m in messages.items)

    later = op("submitTask").sync(client=client, body=s.TaskIn(task="echo", delay_seconds=600))
    cancelled = op("cancelTask").sync(later.id, client=client)
    assert cancelled.status is s.RunStatus.CANCELLED

    invalid = op("createJob").sync_detailed(client=client, body=s.JobIn(name=prefix, task="echo"))
    assert invalid.status_code == 400 and isinstance(invalid.parsed, s.ErrorOut)
    assert invalid.parsed.error.code == "invalid_request"

    key = _user_key(native)
    refused = op("pauseJob").sync_detailed(second.id, client=native.client(key.key))
    assert refused.status_code == 403 and isinstance(refused.parsed, s.ErrorOut)
    assert refused.parsed.error.code == "forbidden"
    assert op("revokeKey").sync_detailed(key.id, client=client).status_code == 204

    for job in (first, second):
        assert op("deleteJob").sync_detailed(job.id, client=client).status_code == 204
    missing = op("getJob").sync_detailed(first.id, client=client)
    assert missing.status_code == 404 and isinstance(missing.parsed, s.ErrorOut)
    assert native.check_answers() >= 23  # each answer with a body (more as polls repeat)


def test_the_udata_flow_through_its_generated_client(generated, native):
    udata = generated["udata"]
    s, client, op = udata.schemas, udata.client(LOCAL_KEY), udata.op
    name = _unique("udata")
    created = op("createJob").sync(
        client=client,
        body=s.UdataJobIn(name=name, task="echo", crontab=s.UdataCrontab(minute="0", hour="3")),
    )
    assert created.schedule == "0 3 * * *"
    assert op("getJob").sync(created.id, client=client).name == name
    assert name in [j.name for j in op("listJobs").sync(client=client)]
    assert "echo" in op("listSchedulables").sync(client=client)
    updated = op("updateJob").sync(
        created.id, client=client, body=s.UdataJobIn(description="changed")
    )
    assert (updated.description, updated.name) == ("changed", name)

    native_client = native.client(LOCAL_KEY)
    run = native.op("triggerJob").sync(created.id, client=native_client)
    task = _until(
        lambda: op("getTask").sync(run.id, client=client), lambda t: t.status == "SUCCESS"
    )
    assert task.status == "SUCCESS"
    job = op("getJob").sync(created.id, client=client)
    assert isinstance(job.last_run_at, datetime) and job.last_run_id == run.id

    invalid = op("createJob").sync_detailed(client=client, body=s.UdataJobIn(task="echo"))
    assert invalid.status_code == 400 and isinstance(invalid.parsed, s.UdataErrorOut)
    key = _user_key(native)
    refused = op("listJobs").sync_detailed(client=udata.client(key.key))
    assert refused.status_code == 403 and isinstance(refused.parsed, s.UdataErrorOut)
    native.op("revokeKey").sync(key.id, client=native_client)
    assert op("deleteJob").sync_detailed(created.id, client=client).status_code == 204
    missing = op("getJob").sync_detailed(created.id, client=client)
    assert missing.status_code == 404 and isinstance(missing.parsed, s.UdataErrorOut)
    assert udata.check_answers() >= 10
    native.check_answers()


def test_the_dapr_flow_through_its_generated_client(generated, native):
    dapr = generated["dapr"]
    s, client, op = dapr.schemas, dapr.client(LOCAL_KEY), dapr.op
    name = _unique("dapr")
    for schedule in ("@every 1h", "@every 2h"):
        scheduled = op("scheduleJob").sync_detailed(
            name,
            client=client,
            body=s.DaprJobIn(schedule=schedule, data={"value": 1}, overwrite=True),
        )
        assert scheduled.status_code == 204, scheduled.content
    job = op("getJob").sync(name, client=client)
    assert (job.name, job.schedule) == (name, "@every 2h")
    assert op("getJobAlpha1").sync(name, client=client).name == name

    duplicate = op("scheduleJob").sync_detailed(
        name, client=client, body=s.DaprJobIn(schedule="@every 3h")
    )
    assert duplicate.status_code == 409 and isinstance(duplicate.parsed, s.DaprErrorOut)
    invalid = op("scheduleJob").sync_detailed(_unique("dapr"), client=client, body=s.DaprJobIn())
    assert invalid.status_code == 400 and isinstance(invalid.parsed, s.DaprErrorOut)
    key = _user_key(native)
    refused = op("deleteJob").sync_detailed(name, client=dapr.client(key.key))
    assert refused.status_code == 403 and isinstance(refused.parsed, s.DaprErrorOut)
    native.op("revokeKey").sync(key.id, client=native.client(LOCAL_KEY))

    assert op("deleteJob").sync_detailed(name, client=client).status_code == 204
    missing = op("getJob").sync_detailed(name, client=client)
    assert missing.status_code == 404 and isinstance(missing.parsed, s.DaprErrorOut)
    assert dapr.check_answers() == 6  # the 204s have no body
    native.check_answers()


def test_the_alteryx_flow_through_its_generated_client(generated, native):
    alteryx = generated["alteryx"]
    s, op = alteryx.schemas, alteryx.op
    key = _user_key(native)
    token = op("requestToken").sync(
        client=alteryx.client(),
        body=s.TokenIn(
            grant_type="client_credentials",  # a const: a Literal in the client
            client_id=key.id,
            client_secret=key.key,
        ),
    )
    assert token.token_type == "bearer" and token.expires_in > 0
    client = alteryx.client(token.access_token)
    name = _unique("workflow")
    workflow_id = (
        native.op("createJob")
        .sync(
            client=native.client(key.key),
            body=native.schemas.JobIn(name=name, task="echo", schedule="0 2 * * *"),
        )
        .id
    )

    assert workflow_id in [w.id for w in op("listWorkflows").sync(client=client)]
    workflow = op("getWorkflow").sync(workflow_id, client=client)
    assert workflow.name == name and isinstance(workflow.date_created, datetime)
    op("listWorkflowQuestions").sync(workflow_id, client=client)
    job = op("runWorkflow").sync(workflow_id, client=client, body=s.RunIn())
    assert isinstance(job.create_date_time, datetime)
    done = _until(
        lambda: op("getJob").sync(job.id, client=client), lambda j: j.status == "Completed"
    )
    assert (done.status, done.disposition) == ("Completed", "Success")
    assert [j.id for j in op("listWorkflowJobs").sync(workflow_id, client=client)] == [job.id]
    (summary,) = [j for j in op("listJobs").sync(client=client).data if j.job_id == job.id]
    assert isinstance(summary.queue_time, datetime)

    finished = op("cancelJob").sync_detailed(job.id, client=client)
    assert finished.status_code == 400 and isinstance(finished.parsed, s.AlteryxErrorOut)
    refused = op("listJobMessages").sync_detailed(job.id, client=client)  # not a Curator
    assert refused.status_code == 401 and isinstance(refused.parsed, s.AlteryxErrorOut)
    missing = op("getJob").sync_detailed("0" * 26, client=client)
    assert missing.status_code == 404 and isinstance(missing.parsed, s.AlteryxErrorOut)
    native.op("deleteJob").sync(workflow_id, client=native.client(LOCAL_KEY))
    native.op("revokeKey").sync(key.id, client=native.client(LOCAL_KEY))
    assert alteryx.check_answers() >= 10
    native.check_answers()


def test_the_vitam_flow_through_its_generated_client(generated, native):
    vitam = generated["vitam"]
    s, op = vitam.schemas, vitam.op
    client = vitam.client(LOCAL_KEY)
    tenant = {"x_tenant_id": "default"}
    assert op("getStatus").sync(client=vitam.client()).status == "Active"
    step = s.StepIn.from_dict(
        {"Step": "generated", "actions": [{"action": "echo", "arguments": {"n": 1}}]}
    )
    task = op("submitTask").sync(client=client, body=step, **tenant)
    assert isinstance(task.expiration_date, datetime)
    done = _until(
        lambda: op("getTask").sync(task.id, client=client, **tenant),
        lambda t: t.state == "done",
    )
    assert done.state == "done" and isinstance(done.end_date, datetime)
    op("listTasks").sync(client=client, **tenant)

    waiting = op("submitTask").sync(
        client=client,
        body=s.StepIn.from_dict(
            {"Step": "slow", "actions": [{"action": "sleep", "arguments": {"seconds": 60}}]}
        ),
        **tenant,
    )
    key = _user_key(native)
    refused = op("cancelTask").sync_detailed(waiting.id, client=vitam.client(key.key), **tenant)
    assert refused.status_code == 403 and isinstance(refused.parsed, s.VitamErrorOut)
    native.op("revokeKey").sync(key.id, client=native.client(LOCAL_KEY))
    cancelled = op("cancelTask").sync_detailed(waiting.id, client=client, **tenant)
    assert cancelled.status_code == 200, cancelled.content

    item = op("submitTaskWorker").sync(
        client=client,
        body=s.DescriptionStepIn.from_dict(
            {
                "step": {"stepName": "STP", "actions": [{"action": {"actionKey": "echo"}}]},
                "workParams": {"containerName": "c"},
            }
        ),
        **tenant,
    )
    assert item.global_status in ("OK", "WARNING"), item.to_dict()
    missing = op("getTask").sync_detailed("0" * 26, client=client, **tenant)
    assert missing.status_code == 404 and isinstance(missing.parsed, s.VitamErrorOut)
    invalid = op("submitTask").sync_detailed(
        client=client, body=s.StepIn.from_dict({"Step": "x", "actions": []}), **tenant
    )
    assert invalid.status_code == 400 and isinstance(invalid.parsed, s.VitamErrorOut)
    assert vitam.check_answers() >= 8
    native.check_answers()
