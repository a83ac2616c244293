"""Delivery of a triggered Dapr job to its app, as the Dapr runtime does: ``POST
{app}/job/{name}`` with the job's ``data`` as the body.

The tenant's app endpoint comes from ``BEATLESS_DAPR_APP_ENDPOINTS`` and its host must be in
``BEATLESS_DAPR_ALLOWED_HOSTS``: beatless calls nothing else (no SSRF through job data or names).
With ``BEATLESS_DAPR_APP_API_TOKEN`` set, the call carries it as the ``dapr-api-token`` header.
2xx and 404 count as delivered (404, as in Dapr, to avoid re-triggering); redirects are not
followed; anything else raises,
and the job's failure policy (its retry policy) applies. With no endpoint, the run's result is
the data itself.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from chalicelib.settings import get_settings
from chalicelib.tasks.registry import task

TIMEOUT_SECONDS = 5.0


class DeliveryFailed(Exception):
    """The app answered with a status that is neither 2xx nor 404, or could not be reached."""


class DeliveryRefused(Exception):
    """The configured endpoint is not on the allow-list; nothing was called."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """An allow-listed app must not bounce the call elsewhere (a redirect to 169.254.169.254
    would be SSRF through the allow-list): a 3xx is an answer, and not a delivery."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def endpoint_for(tenant: str) -> str | None:
    settings = get_settings()
    endpoint = settings.dapr_app_endpoints.get(tenant)
    if not endpoint:
        return None
    parsed = urllib.parse.urlsplit(endpoint)
    if parsed.scheme not in ("http", "https") or (parsed.hostname or "").lower() not in (
        settings.dapr_allowed_hosts
    ):
        raise DeliveryRefused(f"app endpoint host {parsed.hostname!r} is not allow-listed")
    return endpoint.rstrip("/")


@task("dapr.deliver")
def deliver(ctx: Any, name: str) -> Any:
    """Deliver a Dapr job's data to the tenant's app (POST {app}/job/{name})."""
    endpoint = endpoint_for(ctx.tenant)
    if endpoint is None:
        return ctx.data
    url = f"{endpoint}/job/{urllib.parse.quote(name, safe='')}"
    body = b"" if ctx.data is None else json.dumps(ctx.data, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if token := get_settings().dapr_app_api_token:
        headers["dapr-api-token"] = token  # as Dapr sends its APP_API_TOKEN
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        raise DeliveryFailed(f"app at {endpoint} unreachable: {error}") from None
    if 200 <= status < 300 or status == 404:
        ctx.log(f"delivered to {url}: {status}")
        return {"delivered": url, "status": status}
    raise DeliveryFailed(f"app answered {status} for {url}")
