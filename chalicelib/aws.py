"""boto3 clients, built on first use and cached per process (cold start, testability)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalicelib.settings import Settings


@lru_cache(maxsize=16)
def client(service: str, region: str, endpoint_url: str | None) -> Any:
    import boto3  # deferred: importing the app must not pay for boto3's client machinery

    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint_url)


def client_for(service: str, settings: Settings) -> Any:
    return client(service, settings.region, settings.endpoint_url)
