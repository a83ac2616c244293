"""Idempotent requests: the record behind an ``Idempotency-Key`` header.

A create that failed ambiguously (its reply lost after the write, or an AWS call failing
midway) leaves a client unsure whether to send it again. With a key it can: the first request
claims the key by a conditional put (IN_PROGRESS, under a lease), does the work with ids derived
from the key (``ids.derived_ids``, so a retry's conditional writes meet what a failed attempt
wrote instead of duplicating it), and stores its answer (COMPLETED). A retry with the same key
and the same request answers the stored answer; with another request, 422; while the first is
still in progress, 409. A failure (5xx, a lost race, a quota) is not stored: the lease is
released and the retry does the work again, on the same ids.

Keys are scoped to the tenant and the principal's identity (the key's owner label, else its id):
two callers in one tenant who happen to pick the same key never see each other's answers, and one
person's keys (sharing an owner) can retry each other's requests. Records expire after 24 h
(DynamoDB TTL, and a condition that treats an expired record as absent until TTL deletes it).
Draft ``draft-ietf-httpapi-idempotency-key-header`` for the statuses, Stripe for the replay
header.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PynamoDBException

from chalicelib.errors import Conflict, InvalidRequest, Unprocessable, condition_failed
from chalicelib.storage import IdempotencyModel

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
#: Said on a replayed answer (Stripe's name), so a client can tell it from a fresh one.
REPLAYED = "Idempotent-Replayed"
MAX_KEY = 255
RETENTION = timedelta(hours=24)
#: How long an attempt holds its key; an IN_PROGRESS record older than this (its Lambda died or
#: timed out: the API's timeout is 30 s) may be taken over by a retry.
LEASE_SECONDS = 60
IN_PROGRESS, COMPLETED = "IN_PROGRESS", "COMPLETED"
#: Answers that are not stored: the retry does the work again (a lost race, a quota, AWS down).
NOT_STORED = frozenset({409, 429})


class InProgress(Conflict):
    """A request with this key is still being processed: 409, retry after the lease."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"a request with this {HEADER} is still in progress; retry after {retry_after} s",
            {"field": HEADER},
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class Claim:
    """This attempt holds the key: do the work under ``ids.derived_ids(key, started_ms)``."""

    key: str
    token: str
    started_ms: int


@dataclass(frozen=True)
class Replay:
    """The stored answer of the request that completed with this key."""

    status: int
    body: str
    headers: dict[str, Any]


def check_key(value: str) -> str:
    """A key as the draft has it: 1-255 printable ASCII characters (a 400 naming the header)."""
    if not 1 <= len(value) <= MAX_KEY or not all(" " <= c <= "~" for c in value):
        raise InvalidRequest(HEADER, f"must be 1 to {MAX_KEY} printable ASCII characters")
    return value


def fingerprint(method: str, route: str, params: Mapping[str, Any], raw: bytes) -> str:
    """What makes two requests the same: method, route, path parameters and body (JSON bodies
    compared by content, so key order and spacing do not matter)."""
    try:
        body: Any = json.loads(raw) if raw.strip() else None
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = raw
    head = json.dumps([method, route, dict(sorted(params.items()))]).encode()
    return hashlib.sha256(head + b"\n" + canonical).hexdigest()


def _now() -> float:
    return time.time()


def begin(tenant: str, identity: str, key: str, print_: str) -> Claim | Replay:
    """Claim ``key`` for this attempt, or answer why not: a Replay of the completed request,
    Unprocessable (422) for another request under the same key, InProgress (409) while the
    first holds its lease. One conditional PutItem when the key is new."""
    record_key = f"{tenant}#{identity}#{key}"
    now = _now()
    token = secrets.token_hex(8)
    item = IdempotencyModel(
        record_key,
        fingerprint=print_,
        status=IN_PROGRESS,
        token=token,
        lease_until=now + LEASE_SECONDS,
        started_ms=int(now * 1000),
        expires_at=datetime.fromtimestamp(now, UTC) + RETENTION,
    )
    try:
        item.save(
            condition=IdempotencyModel.key.does_not_exist()
            | (IdempotencyModel.expires_at < datetime.fromtimestamp(now, UTC))
        )
        return Claim(record_key, token, item.started_ms)
    except PynamoDBException as error:
        if not condition_failed(error):
            _drop(record_key, token)  # it may have landed with its reply lost: nothing was done
            raise
    try:
        found = IdempotencyModel.get(record_key, consistent_read=True)
    except DoesNotExist:
        raise InProgress(1) from None  # taken back meanwhile: retry at once
    if found.fingerprint != print_:
        raise Unprocessable(
            HEADER,
            "was already used with another request (method, path or body); "
            "use a new key for a new request",
        )
    if found.status == COMPLETED and found.response:
        stored = found.response
        return Replay(int(stored["status"]), str(stored["body"]), dict(stored["headers"]))
    if found.lease_until > now:
        raise InProgress(max(1, int(found.lease_until - now + 0.999)))
    try:  # the holder died (or gave the key back): take it over, keeping its ids' seed
        found.update(
            actions=[
                IdempotencyModel.token.set(token),
                IdempotencyModel.lease_until.set(now + LEASE_SECONDS),
            ],
            condition=(IdempotencyModel.token == found.token)
            & (IdempotencyModel.status == IN_PROGRESS),
        )
    except PynamoDBException as error:
        if condition_failed(error):
            raise InProgress(1) from None  # another retry took it first
        raise
    return Claim(record_key, token, int(found.started_ms))


def complete(claim: Claim, status: int, body: str, headers: Mapping[str, Any]) -> None:
    """Store the answer for replays. If that fails the answer still goes out, and the key is
    given back: a retry then redoes the request on the same ids and finds what it made."""
    stored = {"status": status, "body": body, "headers": dict(headers)}
    try:
        IdempotencyModel(claim.key).update(
            actions=[
                IdempotencyModel.status.set(COMPLETED),
                IdempotencyModel.response.set(stored),
            ],
            condition=(IdempotencyModel.token == claim.token)
            & (IdempotencyModel.status == IN_PROGRESS),
        )
    except PynamoDBException:
        log.warning("could not store the answer of %s %s", HEADER, claim.key, exc_info=True)
        release(claim)


def release(claim: Claim) -> None:
    """Give the key back after a failure (its lease ends now), keeping the record so a retry
    reuses the first attempt's ids. If even this fails, the lease runs out on its own."""
    try:
        IdempotencyModel(claim.key).update(
            actions=[IdempotencyModel.lease_until.set(0)],
            condition=(IdempotencyModel.token == claim.token)
            & (IdempotencyModel.status == IN_PROGRESS),
        )
    except PynamoDBException as error:
        if not condition_failed(error):
            log.warning("could not release %s %s", HEADER, claim.key, exc_info=True)


def _drop(record_key: str, token: str) -> None:
    """Delete a claim whose put failed (a lost reply may have written it; no work was done)."""
    try:
        IdempotencyModel(record_key).delete(condition=IdempotencyModel.token == token)
    except PynamoDBException as error:
        if not condition_failed(error):
            log.warning("could not drop %s %s", HEADER, record_key, exc_info=True)
