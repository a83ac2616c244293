"""A tenant's settings for HTTP targets: the signing secret (rotatable) and the allowed hosts.

The secret signs every delivery of the tenant's HTTP targets. It is made on first use (one
conditional write: two first uses at once keep the same secret) and stored in the tenants
table, as it must be read back to sign (DynamoDB encrypts it at rest). A rotation keeps the
previous secret valid for ``PREVIOUS_VALID`` so receivers can switch without losing deliveries:
meanwhile both sign.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.clock import utcnow
from chalicelib.errors import Conflict, InvalidRequest, condition_failed
from chalicelib.storage import TenantModel

PREVIOUS_VALID = timedelta(hours=24)
SECRET_PREFIX = "whsec_"
MAX_HOSTS = 100
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.:[]")


@dataclass(frozen=True)
class SigningSecret:
    secret: str
    created_at: datetime | None
    expires_at: datetime | None  # None: the current secret, valid until the next rotation


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def normalise_host(entry: object, field: str) -> str:
    """An allow-list entry: a host name or IP literal, or ``*.domain`` for its subdomains, or
    ``*`` for any host; lower-case, no scheme, port or path."""
    if not isinstance(entry, str) or not entry.strip():
        raise InvalidRequest(field, "must be a host name, *.domain or *")
    host = entry.strip().lower().rstrip(".")
    if host == "*":
        return host
    bare = host[2:] if host.startswith("*.") else host
    if not bare or len(bare) > 253 or set(bare) - _HOST_CHARS or "*" in bare:
        raise InvalidRequest(field, f"{entry!r} is not a host name, *.domain or *")
    return host


def host_allowed(host: str, entries: Iterable[str]) -> bool:
    """Whether ``host`` matches an entry: itself, ``*.`` + a domain it is under, or ``*``."""
    host = host.lower().rstrip(".")
    for entry in entries:
        if entry == "*" or entry == host:
            return True
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
    return False


class TenantService:
    """Reads and conditional writes of the tenants table."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock

    def _get(self, tenant: str) -> TenantModel | None:
        try:
            return TenantModel.get(tenant, consistent_read=True)
        except DoesNotExist:
            return None

    # -- signing -----------------------------------------------------------------------------

    def signing_secrets(self, tenant: str) -> list[SigningSecret]:
        """The secrets that sign now: the current one first, then the previous one until it
        expires. The first call for a tenant makes its secret."""
        return self._secrets_of(self._with_secret(tenant))

    def delivery(self, tenant: str) -> tuple[list[str], list[SigningSecret]]:
        """What an HTTP delivery needs, in one read: the tenant's allow-list and its secrets."""
        item = self._with_secret(tenant)
        return list(item.allowed_hosts or []), self._secrets_of(item)

    def _with_secret(self, tenant: str) -> TenantModel:
        item = self._get(tenant)
        return item if item is not None and item.signing_secret else self._create_secret(tenant)

    def _secrets_of(self, item: TenantModel) -> list[SigningSecret]:
        now = self._clock()
        found = [SigningSecret(item.signing_secret, item.signing_created_at, None)]
        if item.previous_secret and item.previous_expires_at and item.previous_expires_at > now:
            found.append(SigningSecret(item.previous_secret, None, item.previous_expires_at))
        return found

    def _create_secret(self, tenant: str) -> TenantModel:
        """Set a secret if none is set: a concurrent first use loses the condition and both
        sign with the one that won."""
        item = TenantModel(tenant)
        try:
            item.update(
                actions=[
                    TenantModel.signing_secret.set(new_secret()),
                    TenantModel.signing_created_at.set(self._clock()),
                ],
                condition=TenantModel.signing_secret.does_not_exist(),
            )
        except UpdateError as error:
            if not condition_failed(error):
                raise
            item = TenantModel.get(tenant, consistent_read=True)
        return item

    def rotate(self, tenant: str) -> list[SigningSecret]:
        """A new current secret; the one it replaces keeps signing for PREVIOUS_VALID. Refused
        (409) if another rotation changed the secret meanwhile."""
        current = self.signing_secrets(tenant)[0].secret
        now = self._clock()
        item = TenantModel(tenant)
        try:
            item.update(
                actions=[
                    TenantModel.signing_secret.set(new_secret()),
                    TenantModel.signing_created_at.set(now),
                    TenantModel.previous_secret.set(current),
                    TenantModel.previous_expires_at.set(now + PREVIOUS_VALID),
                ],
                condition=TenantModel.signing_secret == current,
            )
        except UpdateError as error:
            if condition_failed(error):
                raise Conflict("the signing secret was rotated concurrently; reload it") from None
            raise
        return self._secrets_of(item)  # the update read the item back

    # -- allowed hosts -----------------------------------------------------------------------

    def allowed_hosts(self, tenant: str) -> list[str]:
        """The tenant's own allow-list (the deployment's is in the settings)."""
        item = self._get(tenant)
        return list(item.allowed_hosts or []) if item is not None else []

    def set_allowed_hosts(self, tenant: str, hosts: list[object]) -> list[str]:
        """Replace the tenant's allow-list: conditional on the list read just before (the
        secret is untouched), so two admins' concurrent changes cannot interleave unseen."""
        if len(hosts) > MAX_HOSTS:
            raise InvalidRequest("hosts", f"has {len(hosts)} entries; at most {MAX_HOSTS}")
        normalised = sorted({normalise_host(h, f"hosts.{i}") for i, h in enumerate(hosts)})
        item = self._get(tenant)
        condition = (
            TenantModel.allowed_hosts == item.allowed_hosts
            if item is not None and item.allowed_hosts is not None
            else TenantModel.allowed_hosts.does_not_exist()
        )
        try:
            TenantModel(tenant).update(
                actions=[TenantModel.allowed_hosts.set(normalised)], condition=condition
            )
        except UpdateError as error:
            if condition_failed(error):
                raise Conflict("the allowed hosts changed concurrently; reload them") from None
            raise
        return normalised
