"""Short-lived bearer tokens for OAuth2 clients (the Alteryx face's client credentials grant).

A token is self-contained: ``bt_<tenant>.<key id>.<expiry>.<mac>``, the MAC an HMAC-SHA256 over
the rest under a key derived from the server secret and the key's stored hash. The server secret
is ``BEATLESS_TOKEN_SECRET``, or, deployed, the Secrets Manager secret the stack generates
(``BEATLESS_TOKEN_SECRET_ARN``, read once per process): a reader of the keys table alone cannot
mint tokens. Nothing is stored, so there is nothing to leak in clear; the key is looked up on
every use (cached like keys), so a token dies with its key, and a token for a key whose secret
was replaced does not verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from functools import lru_cache

from chalicelib.aws import client_for
from chalicelib.settings import get_settings

PREFIX = "bt_"
LIFETIME_SECONDS = 3600


def server_secret() -> bytes:
    """The secret every token's MAC depends on; empty only where neither setting is given (the
    local runtime and tests, whose keys table nobody else reads)."""
    settings = get_settings()
    if settings.token_secret or not settings.token_secret_arn:
        return settings.token_secret.encode()
    return _stored_secret(settings.token_secret_arn)


@lru_cache(maxsize=4)
def _stored_secret(arn: str) -> bytes:
    """One GetSecretValue per process and secret: tokens are checked on every request."""
    answer = client_for("secretsmanager", get_settings()).get_secret_value(SecretId=arn)
    return str(answer["SecretString"]).encode()


def _mac(body: str, key_hash: str) -> str:
    secret = server_secret()
    key = hmac.new(secret, b"beatless-token|" + key_hash.encode(), hashlib.sha256).digest()
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(tenant: str, key_id: str, key_hash: str, now: float | None = None) -> str:
    """A token for the key, valid LIFETIME_SECONDS from ``now``."""
    expiry = int(now if now is not None else time.time()) + LIFETIME_SECONDS
    body = f"{tenant}.{key_id}.{expiry}"
    return f"{PREFIX}{body}.{_mac(body, key_hash)}"


def claims(token: str) -> tuple[str, str, int] | None:
    """(tenant, key id, expiry) as the token says, unverified; None if it is not one."""
    parts = token[len(PREFIX) :].split(".") if token.startswith(PREFIX) else []
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


def verify(token: str, key_hash: str, now: float | None = None) -> bool:
    """Whether ``token`` was issued for the key whose stored hash is ``key_hash`` and is
    unexpired."""
    found = claims(token)
    if found is None:
        return False
    body, _, mac = token[len(PREFIX) :].rpartition(".")
    fresh = found[2] > (now if now is not None else time.time())
    return hmac.compare_digest(mac, _mac(body, key_hash)) and fresh
