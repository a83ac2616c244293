"""OAuth2 tokens depend on a server secret the stack keeps in Secrets Manager, so a reader of
the keys table (who knows every key's hash) still cannot mint a token."""

from __future__ import annotations

import boto3
import pytest

from chalicelib import services, tokens
from chalicelib.auth import hash_key
from chalicelib.settings import reset_settings

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def stored_secret(aws, monkeypatch):
    """The stack's generated secret, named to the functions by ARN."""
    arn = boto3.client("secretsmanager").create_secret(
        Name="beatless-token-secret", SecretString="s3cret-from-secrets-manager"
    )["ARN"]
    monkeypatch.delenv("BEATLESS_TOKEN_SECRET", raising=False)
    monkeypatch.setenv("BEATLESS_TOKEN_SECRET_ARN", arn)
    reset_settings()
    yield arn
    monkeypatch.delenv("BEATLESS_TOKEN_SECRET_ARN")
    reset_settings()
    tokens._stored_secret.cache_clear()


def test_a_token_minted_from_the_keys_table_alone_is_refused(client, new_key, stored_secret):
    secret = new_key()
    key = services.keys().authenticate(secret)
    body = f"grant_type=client_credentials&client_id={key.key_id}&client_secret={secret}"
    answer = client.as_key(None).post("/webapi/oauth2/token", headers=FORM, body=body)
    issued = answer.json_body["access_token"]
    assert client.as_key(issued).get("/webapi/v3/workflows").status_code == 200

    # What someone holding the table could compute: the MAC under the key's hash alone.
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("BEATLESS_TOKEN_SECRET_ARN")
        reset_settings()
        forged = tokens.issue("default", key.key_id, hash_key(secret))
    reset_settings()
    assert client.as_key(forged).get("/webapi/v3/workflows").status_code == 401
    assert client.as_key(issued).get("/webapi/v3/workflows").status_code == 200


def test_the_stored_secret_is_read_once_per_process(stored_secret, monkeypatch):
    tokens._stored_secret.cache_clear()
    calls = []
    real = tokens.client_for

    def counting(service, settings, **kwargs):
        calls.append(service)
        return real(service, settings, **kwargs)

    monkeypatch.setattr(tokens, "client_for", counting)
    for _ in range(3):
        assert tokens.server_secret() == b"s3cret-from-secrets-manager"
    assert calls == ["secretsmanager"]
