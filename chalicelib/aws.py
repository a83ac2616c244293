"""boto3 clients, built on first use and cached per process (cold start, testability)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalicelib.settings import Settings


@lru_cache(maxsize=16)
def client(
    service: str,
    region: str,
    endpoint_url: str | None,
    read_timeout: int | None = None,
    attempts: int | None = None,
) -> Any:
    """``read_timeout``/``attempts`` change botocore's defaults (60 s, retries) for a call that
    may legitimately take long and must not be repeated by botocore (a synchronous Lambda
    invoke: a retried read timeout would run the function again)."""
    import boto3  # deferred: importing the app must not pay for boto3's client machinery

    config = None
    if read_timeout is not None or attempts is not None:
        from botocore.config import Config

        config = Config(
            read_timeout=read_timeout or 60,
            retries={"mode": "standard", "total_max_attempts": attempts or 3},
        )
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint_url, config=config
    )


def client_for(
    service: str,
    settings: Settings,
    *,
    region: str | None = None,
    read_timeout: int | None = None,
    attempts: int | None = None,
) -> Any:
    """The client of ``service`` in ``region`` (default: the settings' own), through the local
    endpoint when one is set."""
    return client(service, region or settings.region, settings.endpoint_url, read_timeout, attempts)
