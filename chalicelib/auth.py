"""API keys and the principal they stand for.

A key is ``bl_`` + 256 random bits, shown once at creation and stored only as its SHA-256 (a
fast hash is enough for a high-entropy random secret: there is nothing to brute-force). A
request's key is hashed, looked up by hash (one GetItem, cached briefly per process) and the
stored hash compared in constant time. Each key belongs to one tenant and has a role:
``admin`` (everything in its tenant, including keys) or ``user`` (reads everything in its
tenant, creates jobs and runs, changes only what it created).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import DoesNotExist, PynamoDBException

from chalicelib import tokens
from chalicelib.clock import utcnow
from chalicelib.errors import InvalidRequest, NotFound, Unauthorized
from chalicelib.ids import deriving, is_id, new_id
from chalicelib.storage import ApiKeyModel

log = logging.getLogger(__name__)
ROLES = ("admin", "user")
KEY_PREFIX = "bl_"
CACHE_SECONDS = 10.0
TENANT_PATTERN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class Principal:
    """Who is calling: their tenant, role, key id and the owner label recorded as creator."""

    tenant: str
    role: str
    key_id: str
    owner: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def identity(self) -> str:
        """What ``created_by`` records: the owner label (shared by a person's keys), else the
        key id."""
        return self.owner or self.key_id

    def owns(self, created_by: str | None) -> bool:
        return self.is_admin or (created_by is not None and created_by == self.identity)


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_tenant(tenant: str) -> str:
    if not tenant or len(tenant) > 64 or not set(tenant) <= TENANT_PATTERN:
        raise InvalidRequest("tenant", "must be 1-64 characters of a-z, 0-9, - and _")
    return tenant


@dataclass(frozen=True)
class CreatedKey:
    key: str | None  # the secret, shown once (None: an idempotent retry's, already shown)
    item: ApiKeyModel


class KeyService:
    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def create(self, tenant: str, role: str, owner: str = "", key: str | None = None) -> CreatedKey:
        """A new key for ``tenant``; ``key`` imports a chosen secret (the local admin key)."""
        if role not in ROLES:
            raise InvalidRequest("role", f"{role!r} must be admin or user")
        secret = key or generate_key()
        item = ApiKeyModel(
            hash_key(secret),
            key_id=new_id(),
            tenant=check_tenant(tenant),
            role=role,
            owner=owner[:200],
            created_at=self._clock(),
            disabled=False,
        )
        if deriving():  # an idempotent retry: the key its first attempt made, secret not kept
            found = list(
                ApiKeyModel.by_tenant.query(item.tenant, ApiKeyModel.key_id == item.key_id)
            )
            if found:
                return CreatedKey(None, found[0])
        try:
            item.save()
        except PynamoDBException:
            _take_back(item)  # it may have landed with its reply lost: no key the caller lacks
            raise
        self._forget(item.key_hash)
        return CreatedKey(secret, item)

    def authenticate(self, key: str | None) -> Principal:
        """The principal of ``key``; Unauthorized for a missing, unknown or disabled key."""
        if not key:
            raise Unauthorized("an API key is required (Authorization: Bearer <key>)")
        claims = tokens.claims(key)
        if claims is not None and claims[2] <= time.time():
            raise Unauthorized("the access token has expired; ask /webapi/oauth2/token again")
        digest = hash_key(key)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            principal = cached[1]
        else:
            principal = self._load(digest) if claims is None else self._load_token(key, *claims)
            with self._lock:
                self._cache[digest] = (now, principal)
        if principal is None:
            raise Unauthorized("the API key is unknown or disabled")
        return principal

    @staticmethod
    def _load(digest: str) -> Principal | None:
        try:
            item = ApiKeyModel.get(digest)
        except DoesNotExist:
            return None
        if item.disabled or not hmac.compare_digest(item.key_hash, digest):
            return None
        return Principal(item.tenant, item.role, item.key_id, item.owner or "")

    @staticmethod
    def _load_token(token: str, tenant: str, key_id: str, _expiry: int) -> Principal | None:
        """The principal of an access token's key, if the key still exists, is enabled and the
        token was issued for it."""
        found = list(ApiKeyModel.by_tenant.query(tenant, ApiKeyModel.key_id == key_id, limit=1))
        item = found[0] if found else None
        if item is None or item.disabled or not tokens.verify(token, item.key_hash):
            return None
        return Principal(item.tenant, item.role, item.key_id, item.owner or "")

    def issue_token(self, client_id: str, client_secret: str) -> tuple[str, int]:
        """An access token for the key whose id is ``client_id`` and secret ``client_secret``
        (OAuth2 client credentials), and its lifetime in seconds; Unauthorized otherwise."""
        principal = self._load(hash_key(client_secret)) if client_secret else None
        if principal is None or not hmac.compare_digest(principal.key_id, client_id):
            raise Unauthorized("unknown client, or a secret that is not this client's")
        token = tokens.issue(principal.tenant, principal.key_id, hash_key(client_secret))
        return token, tokens.LIFETIME_SECONDS

    def list(self, tenant: str) -> list[ApiKeyModel]:
        return list(ApiKeyModel.by_tenant.query(tenant))

    def revoke(self, tenant: str, key_id: str) -> ApiKeyModel:
        """Disable a key (kept for the record); effective at once in this process and within
        CACHE_SECONDS everywhere else."""
        if not is_id(key_id):
            raise NotFound(f"key {key_id[:100]!r} does not exist", {"id": key_id[:100]})
        found = list(ApiKeyModel.by_tenant.query(tenant, ApiKeyModel.key_id == key_id))
        if not found:
            raise NotFound(f"key {key_id!r} does not exist", {"id": key_id})
        item = found[0]
        item.update(actions=[ApiKeyModel.disabled.set(True)])
        self._forget(item.key_hash, item.key_id)
        return item

    def _forget(self, digest: str, key_id: str | None = None) -> None:
        """Drop the key's cached principal, and those of the access tokens issued for it."""
        with self._lock:
            self._cache.pop(digest, None)
            for cached, (_, principal) in list(self._cache.items()):
                if principal is not None and principal.key_id == key_id:
                    del self._cache[cached]


def _take_back(item: ApiKeyModel) -> None:
    """Delete a key whose put failed; if even that fails it may exist unknown to anyone (its
    secret was never shown): harmless, and listed for an admin to revoke."""
    try:
        item.delete()
    except PynamoDBException:
        log.warning("could not take back key %s", item.key_id, exc_info=True)
