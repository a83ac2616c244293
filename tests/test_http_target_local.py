"""An http target under ``make run``: a scheduled job really calls a server on this machine."""

from __future__ import annotations

import time

from tests.stack import call
from tests.worker.test_http_target import Receiver, verify_from_doc


def test_make_run_delivers_a_scheduled_http_target_to_a_local_server(stack):
    _, port, _ = stack
    receiver = Receiver()
    try:
        # make run allows loopback and localhost by default (a deploy does not).
        target = {"type": "http", "url": receiver.url(host="localhost"), "body": {"hello": 1}}
        status, job = call(
            port, "POST", "/v1/jobs", {"name": "hook", "target": target, "due_time": "1s"}
        )
        assert status == 201, job
        deadline = time.monotonic() + 20
        runs: list = []
        while time.monotonic() < deadline:
            runs = call(port, "GET", f"/v1/jobs/{job['id']}/runs")[1]["items"]
            if runs and runs[0]["status"] not in ("QUEUED", "RUNNING"):
                break
            time.sleep(0.2)
        assert runs and runs[0]["status"] == "SUCCEEDED", runs
        assert runs[0]["result"]["status"] == 200
        [request] = receiver.requests
        assert request["headers"]["beatless-job-id"] == job["id"]
        assert request["headers"]["beatless-run-id"] == runs[0]["id"]
        secret = call(port, "GET", "/v1/signing-secret")[1]["secrets"][0]["secret"]
        assert verify_from_doc()(secret, request["headers"], request["body"])
    finally:
        receiver.close()
