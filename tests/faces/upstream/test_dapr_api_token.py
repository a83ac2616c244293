"""Dapr's API token check, ported (upstream: ``dapr/dapr``, ``pkg/api/http/middlewares_test.go``,
``TestAPITokenAuthMiddleware``), against the jobs routes.

daprd's ``APITokenAuthMiddleware`` answers a missing or wrong ``dapr-api-token`` with 401 (never
403) and ``http.Error``'s plain-text body ``invalid api token``. beatless answers 401 too, with the
face's Dapr error body (``ERR_UNAUTHORIZED``); ``docs/dapr.md`` says why. The ``healthz``
subtests are not ported: the face serves the jobs routes only (no ``/v1.0/healthz``).
"""

from __future__ import annotations

from tests.api.helpers import send
from tests.faces.upstream.test_dapr_jobs_http import assert_dapr_error


# pkg/api/http/middlewares_test.go: TestAPITokenAuthMiddleware, "no token required"
# Documented difference: daprd without an API token lets every call through; beatless always
# needs a key (the key picks the tenant), so a call without one is 401.
def test_api_token_no_token_required(client):
    response = client.as_key(None).get("/v1.0/jobs/foo")
    assert_dapr_error(response, 401, "ERR_UNAUTHORIZED")


# pkg/api/http/middlewares_test.go: TestAPITokenAuthMiddleware, "required token not provided"
# 401 as upstream; documented difference: the body is Dapr's JSON error, not the plain text
# "invalid api token\n". A wrong token is the same 401.
def test_api_token_required_token_not_provided(client):
    anonymous = client.as_key(None)
    for headers in ({}, {"dapr-api-token": "rosebud"}):
        response = anonymous.get("/v1.0/jobs/foo", headers=headers)
        assert_dapr_error(response, 401, "ERR_UNAUTHORIZED")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


# pkg/api/http/middlewares_test.go: TestAPITokenAuthMiddleware, "with valid token"
def test_api_token_with_valid_token(client, new_key):
    token = {"dapr-api-token": new_key(role="user")}
    anonymous = client.as_key(None)
    body = '{"schedule": "@daily"}'
    assert send(anonymous, "POST", "/v1.0/jobs/foo", body, **token).status_code == 204
    assert anonymous.get("/v1.0/jobs/foo", headers=token).status_code == 200
