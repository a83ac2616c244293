"""Per-tenant caps (issue 19 §4): jobs per tenant and runs in flight per tenant, through the
faces' HTTP surface: a 429 with Retry-After naming the limit, in each face's error shape, and a
refused request changes nothing."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from chalicelib import cli, quotas, services, storage
from chalicelib.errors import QuotaExceeded
from chalicelib.ids import new_id
from chalicelib.scheduler import schedule_name
from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage import JobModel, JobNameModel, RunModel, TenantModel
from tests.api.helpers import create, job_body, send
from tests.conftest import drain, queue_depth
from tests.hardening.faults import inconsistencies

CAP = 3


@pytest.fixture
def caps(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Both caps at CAP for the test (settings are read once, so read them again)."""
    monkeypatch.setenv("BEATLESS_MAX_JOBS_PER_TENANT", str(CAP))
    monkeypatch.setenv("BEATLESS_MAX_RUNS_IN_FLIGHT_PER_TENANT", str(CAP))
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def job_count(tenant: str = "default") -> int:
    return int(TenantModel.get(tenant, consistent_read=True).job_count or 0)


def stored_jobs(tenant: str = "default") -> list[JobModel]:
    return list(JobModel.query(tenant))


def queued(queue: str = "default") -> int:
    depth = queue_depth(get_settings().queue_name(queue))
    return depth["visible"] + depth["delayed"]


def assert_quota(response: Any, limit: str, retry_after: str) -> None:
    assert response.status_code == 429, response.body
    assert response.headers["Retry-After"] == retry_after
    assert f"{limit}: tenant " in response.body.decode()
    assert f"the limit is {CAP}" in response.body.decode()


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, (1000, 100)), ("7", (7, 7)), ("0", (0, 0)), ("many", (1000, 100)), ("-1", (1000, 100))],
)
def test_caps_are_read_from_the_environment_with_defaults(monkeypatch, value, expected):
    for name in ("BEATLESS_MAX_JOBS_PER_TENANT", "BEATLESS_MAX_RUNS_IN_FLIGHT_PER_TENANT"):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    reset_settings()
    try:
        settings = get_settings()
        assert (settings.max_jobs_per_tenant, settings.max_runs_in_flight_per_tenant) == expected
    finally:
        monkeypatch.undo()
        reset_settings()


# -- jobs per tenant -----------------------------------------------------------------------------


def test_the_job_over_the_cap_is_a_429_naming_the_limit_and_changes_nothing(
    caps, client, scheduler
):
    made = [create(client, name=f"job-{i}") for i in range(CAP)]
    assert job_count() == CAP
    before = {j.job_id: j.version for j in stored_jobs()}
    schedules_before = scheduler.list_schedules(GroupName="beatless")["Schedules"]

    refused = send(client, "POST", "/v1/jobs", job_body(name="one-too-many"))

    assert_quota(refused, "jobs", "60")
    assert refused.json_body["error"]["code"] == "quota_exceeded"
    assert refused.json_body["error"]["message"] == (
        f"jobs: tenant default has {CAP} jobs, the limit is {CAP}; delete one to create another"
    )
    assert refused.json_body["error"]["details"] == {"limit": "jobs", "count": CAP, "max": CAP}
    assert {j.job_id: j.version for j in stored_jobs()} == before
    assert job_count() == CAP
    assert scheduler.list_schedules(GroupName="beatless")["Schedules"] == schedules_before
    with pytest.raises(JobNameModel.DoesNotExist):
        JobNameModel.get("default", "one-too-many", consistent_read=True)
    # Replacing or pausing a job moves no count: only creates are capped.
    changed = send(client, "PATCH", f"/v1/jobs/{made[0]['id']}", {"description": "d"})
    assert changed.status_code == 200
    assert client.post(f"/v1/jobs/{made[0]['id']}/pause").status_code == 200
    assert job_count() == CAP


def test_deleting_a_job_frees_its_slot(caps, client):
    made = [create(client, name=f"job-{i}") for i in range(CAP)]
    assert send(client, "POST", "/v1/jobs", job_body(name="next")).status_code == 429
    assert client.delete(f"/v1/jobs/{made[1]['id']}").status_code == 204
    assert job_count() == CAP - 1
    create(client, name="next")
    assert job_count() == CAP
    assert len(stored_jobs()) == CAP


def test_the_cap_is_per_tenant(caps, client, new_key):
    for i in range(CAP):
        create(client, name=f"job-{i}")
    other = client.as_key(new_key(tenant="other", role="admin"))
    create(other, name="job-0")
    assert (job_count("default"), job_count("other")) == (CAP, 1)


def test_a_zero_cap_is_no_cap(monkeypatch, client):
    monkeypatch.setenv("BEATLESS_MAX_JOBS_PER_TENANT", "0")
    reset_settings()
    try:
        for i in range(4):
            create(client, name=f"job-{i}")
        assert job_count() == 4  # counted all the same, so a cap set later is right at once
    finally:
        monkeypatch.undo()
        reset_settings()


def test_two_creates_racing_for_the_last_slot_exactly_one_wins(caps, client, atomic_aws):
    """Each create reads nothing before its transaction: only the count's condition can stop
    the second, and it must (threads lined up on a barrier, every AWS call atomic)."""
    for i in range(CAP - 1):
        create(client, name=f"job-{i}")
    jobs = services.job_service()
    racers = 6
    barrier = threading.Barrier(racers)

    def race(i: int) -> Any:
        barrier.wait()
        try:
            return jobs.create("default", job_body(name=f"racer-{i}"), created_by="t")
        except QuotaExceeded as error:
            return error

    with ThreadPoolExecutor(racers) as pool:
        outcomes = list(pool.map(race, range(racers)))
    kinds = Counter(type(o).__name__ for o in outcomes)
    assert kinds == {"JobModel": 1, "QuotaExceeded": racers - 1}
    assert len(stored_jobs()) == CAP == job_count()
    assert inconsistencies() == []


def test_udata_dapr_faces_answer_the_jobs_cap_in_their_own_shapes(caps, client):
    for i in range(CAP):
        create(client, name=f"job-{i}")
    udata = send(
        client,
        "POST",
        "/api/1/workers/jobs/",
        {"name": "u", "task": "echo", "crontab": {"minute": "0", "hour": "0"}},
    )
    assert_quota(udata, "jobs", "60")
    assert set(udata.json_body) == {"message"}
    dapr = send(client, "POST", "/v1.0/jobs/d", {"schedule": "@every 1h", "data": {}})
    assert_quota(dapr, "jobs", "60")
    assert {"errorCode", "message"} <= set(dapr.json_body)
    assert len(stored_jobs()) == CAP == job_count()


def test_recount_sets_the_count_of_jobs_made_before_it_existed(caps, client, capsys):
    """An upgrade: jobs created by a version without the count. ``quotas recount`` (the
    operator CLI) counts them, and the cap then holds."""
    for i in range(CAP):
        create(client, name=f"job-{i}")
    TenantModel("default").update(actions=[TenantModel.job_count.remove()])  # as before
    assert cli.main(["quotas", "recount", "--tenant", "default"]) == 0
    assert json.loads(capsys.readouterr().out) == {"tenant": "default", "jobs": CAP}
    assert job_count() == CAP
    assert send(client, "POST", "/v1/jobs", job_body(name="next")).status_code == 429
    assert quotas.recount_jobs("nobody") == 0


# -- runs in flight per tenant -------------------------------------------------------------------


def test_the_run_over_the_cap_is_a_429_and_writes_and_sends_nothing(caps, client):
    for _ in range(CAP):
        assert send(client, "POST", "/v1/tasks", {"task": "echo"}).status_code == 202
    runs, messages = len(list(RunModel.query("default"))), queued()

    refused = send(client, "POST", "/v1/tasks", {"task": "echo"})

    assert_quota(refused, "runs_in_flight", "10")
    assert refused.json_body["error"]["details"] == {
        "limit": "runs_in_flight",
        "count": CAP,
        "max": CAP,
    }
    assert (len(list(RunModel.query("default"))), queued()) == (runs, messages)
    drain()  # the runs end: their slots are free again
    assert send(client, "POST", "/v1/tasks", {"task": "echo"}).status_code == 202


def test_a_trigger_and_a_retry_over_the_cap_are_429s(caps, client):
    job = create(client, name="job")
    failed = send(client, "POST", "/v1/tasks", {"task": "fail"}).json_body
    drain()
    assert client.get(f"/v1/tasks/{failed['id']}").json_body["status"] == "FAILED"
    for _ in range(CAP):
        assert send(client, "POST", "/v1/tasks", {"task": "echo"}).status_code == 202
    assert_quota(client.post(f"/v1/jobs/{job['id']}/trigger"), "runs_in_flight", "10")
    assert_quota(client.post(f"/v1/tasks/{failed['id']}/retry"), "runs_in_flight", "10")
    assert client.get(f"/v1/tasks/{failed['id']}").json_body["status"] == "FAILED"
    assert JobModel.get("default", job["id"]).total_run_count == 0


def test_vitam_and_alteryx_faces_answer_the_runs_cap_in_their_own_shapes(caps, client, new_key):
    for _ in range(CAP):
        assert send(client, "POST", "/v1/tasks", {"task": "echo"}).status_code == 202
    job = create(client, name="workflow")
    alteryx = send(client, "POST", f"/webapi/v3/workflows/{job['id']}/jobs", {})
    assert_quota(alteryx, "runs_in_flight", "10")
    key = new_key(tenant="default", role="admin", owner="vitam")
    step = {"Step": "ingest", "actions": [{"action": "echo"}]}
    headers = {"X-Vitam-Key": key, "X-Tenant-Id": "default", "X-Application-Id": "S-1"}
    vitam = send(client.as_key(None), "POST", "/vitam/v1/tasks", step, **headers)
    assert_quota(vitam, "runs_in_flight", "10")
    assert (vitam.json_body["httpCode"], vitam.json_body["state"]) == (429, "Too_Many_Requests")


def test_scheduled_fires_are_counted_but_never_refused(caps, client):
    """Decided in docs/operations.md: a tenant's ad-hoc runs must not skip its schedules."""
    job = create(client, name="every-minute", schedule="* * * * *")
    for _ in range(CAP):
        assert send(client, "POST", "/v1/tasks", {"task": "echo"}).status_code == 202
    event = {
        "job_id": job["id"],
        "tenant": "default",
        "schedule": schedule_name(job["id"], ""),
        "scheduled_time": JobModel.get("default", job["id"]).next_run_at.strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
    }
    services.worker().handle(event)
    fired = [r for r in RunModel.query("default") if r.job_id == job["id"]]
    assert [r.status for r in fired] == ["SUCCEEDED"]
    assert RunModel.in_flight.count("default") == CAP


def test_the_in_flight_index_holds_exactly_the_queued_and_running_runs(caps, client):
    ids = [send(client, "POST", "/v1/tasks", {"task": "echo"}).json_body["id"] for _ in range(2)]
    assert client.delete(f"/v1/tasks/{ids[0]}").status_code == 200  # cancelled while QUEUED
    assert RunModel.in_flight.count("default") == 1
    drain()
    assert RunModel.in_flight.count("default") == 0
    quotas.admit_run("default")  # room again: no error
    assert RunModel.in_flight.count(new_id()) == 0


def test_a_runs_table_kept_from_before_the_index_gets_it(aws):
    """``make run``'s restored state has the runs table without ``in-flight``: provisioning adds
    it (as a deploy does), and the runs already there are counted."""
    client = boto3.client("dynamodb")
    name = get_settings().runs_table
    client.delete_table(TableName=name)
    schema = RunModel._get_schema()
    old = [i for i in schema["global_secondary_indexes"] if i["index_name"] != "in-flight"]
    keys = {k["AttributeName"] for i in old for k in i["key_schema"]} | {"tenant", "run_id"}
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=schema["key_schema"],
        AttributeDefinitions=[
            a for a in schema["attribute_definitions"] if a["AttributeName"] in keys
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": i["index_name"],
                "KeySchema": i["key_schema"],
                "Projection": i["projection"],
            }
            for i in old
        ],
    )
    RunModel("default", new_id(), status="QUEUED", lease_shard="QUEUED#1").save()
    storage.create_tables(get_settings())
    indexes = client.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]
    assert "in-flight" in {i["IndexName"] for i in indexes}
    assert RunModel.in_flight.count("default") == 1
    storage.create_tables(get_settings())  # idempotent


# -- the documents -------------------------------------------------------------------------------

LIMITED = {
    ("native", "POST", "/v1/jobs"),
    ("native", "POST", "/v1/jobs/{job_id}/trigger"),
    ("native", "POST", "/v1/tasks"),
    ("native", "POST", "/v1/tasks/{run_id}/retry"),
    ("udata", "POST", "/api/1/workers/jobs"),
    ("dapr", "POST", "/v1.0/jobs/{name}"),
    ("dapr", "POST", "/v1.0-alpha1/jobs/{name}"),
    ("alteryx", "POST", "/webapi/v3/workflows/{workflow_id}/jobs"),
    ("vitam", "POST", "/vitam/v1/tasks"),
    ("vitam", "POST", "/worker/v1/tasks"),
}


def test_exactly_the_capped_operations_document_a_429_in_their_faces_error_shape():
    import app  # noqa: F401  (registers every face's routes)
    from chalicelib.api.openapi import FACES, document

    found = set()
    for face in FACES:
        doc = document(face)
        for path, item in doc["paths"].items():
            for method, operation in item.items():
                if "429" not in operation["responses"]:
                    continue
                found.add((face, method.upper(), path))
                errors = {c for c in operation["responses"] if c.startswith("4") and c != "429"}
                shapes = {
                    str(operation["responses"][c]["content"]["application/json"]["schema"])
                    for c in errors | {"429"}
                }
                assert len(shapes) == 1, (face, path)  # the face's one error shape
    assert found == LIMITED
