"""The ``http`` target: call an HTTP endpoint, signed, as Cloud Scheduler or QStash would.

Hardened against SSRF, since the URL is the user's: the host must be on the tenant's or the
deployment's allow-list; the name is resolved once, every address it resolves to is checked
(private, loopback, link-local and other non-global addresses are refused unless the
deployment allows them), and the connection goes to the checked address, with the name kept
in the Host header and TLS SNI, so a second resolution cannot rebind it elsewhere. Redirects
are never followed. See docs/targets.md.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import InvalidRequest
from chalicelib.settings import get_settings
from chalicelib.targets.base import TargetContext, TargetFailed, TargetType, register, render
from chalicelib.tenants import SigningSecret, TenantService, host_allowed

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 900.0
#: Stored on the job and copied into each run (DynamoDB items stop at 400 KB), and well under
#: the API's 256 KiB request limit so the 400 can name the field.
MAX_BODY = 64 * 1024
EXCERPT = 1024
MAX_HEADERS = 50
#: Statuses that asking again will not change: the run fails at once. A 3xx (never followed)
#: too; any other status outside ``success_codes`` (429, 5xx, ...) follows the retry policy.
FINAL_STATUSES = frozenset({400, 401, 403, 404, 410})
#: Headers beatless sets itself, which a target may not.
RESERVED = frozenset({"host", "content-length", "transfer-encoding", "connection"})
HEADER_PREFIX = "beatless-"
ADDRESS_KINDS = ("loopback", "private", "link-local")


@dataclass(frozen=True)
class Response:
    status: int
    excerpt: str
    latency_ms: int
    headers: dict[str, str]


class Refused(Exception):
    """The destination is not allowed (allow-list or address); nothing was sent."""


# -- validation -------------------------------------------------------------------------------


def validate(spec: Mapping[str, Any]) -> dict[str, Any]:
    known = ("type", "url", "method", "headers", "body", "timeout_seconds", "success_codes")
    for name in spec:
        if name not in known:
            raise InvalidRequest(
                f"target.{name}", f"is not a field of an http target ({', '.join(known)})"
            )
    url = spec.get("url")
    if not isinstance(url, str) or not url:
        raise InvalidRequest("target.url", "is required: an http:// or https:// URL")
    parts = _split(url)
    method = spec.get("method", "POST")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise InvalidRequest("target.method", f"{method!r} must be one of {', '.join(METHODS)}")
    headers = spec.get("headers") or {}
    if not isinstance(headers, Mapping) or len(headers) > MAX_HEADERS:
        raise InvalidRequest("target.headers", f"must be an object of at most {MAX_HEADERS}")
    for name, value in headers.items():
        if not isinstance(value, str) or not _token(name) or "\r" in value or "\n" in value:
            raise InvalidRequest("target.headers", f"{name!r}: must be a header name and text")
        if name.lower() in RESERVED or name.lower().startswith(HEADER_PREFIX):
            raise InvalidRequest("target.headers", f"{name!r} is set by beatless")
    body = spec.get("body")
    if len(_encode(body)[0]) > MAX_BODY:
        raise InvalidRequest("target.body", f"is larger than {MAX_BODY // 1024} KiB")
    timeout = spec.get("timeout_seconds", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise InvalidRequest("target.timeout_seconds", "must be a number of seconds")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise InvalidRequest("target.timeout_seconds", f"must be > 0 and <= {MAX_TIMEOUT:.0f}")
    codes = spec.get("success_codes", ["2xx"])
    if not isinstance(codes, list) or not codes or not all(_code(c) for c in codes):
        raise InvalidRequest(
            "target.success_codes", 'must be a list of statuses (200) or classes ("2xx")'
        )
    literal = _literal(parts.hostname or "")
    if literal is not None and not _address_allowed(literal):
        raise InvalidRequest("target.url", f"{literal} is {_kind(literal)} address: refused")
    return {
        "type": "http",
        "url": url,
        "method": method.upper(),
        "headers": dict(headers),
        "body": body,
        "timeout_seconds": timeout,
        "success_codes": codes,
    }


def admit(tenant: str, spec: Mapping[str, Any]) -> None:
    """The URL's host must be on the tenant's or the deployment's allow-list."""
    host = _split(spec["url"]).hostname or ""
    if not allowed_host(tenant, host):
        raise InvalidRequest(
            "target.url",
            f"host {host!r} is not on the tenant's allow-list "
            "(an admin adds it with PUT /v1/allowed-hosts)",
        )


def allowed_host(tenant: str, host: str) -> bool:
    deployment = get_settings().http_allowed_hosts
    return host_allowed(host, deployment) or host_allowed(
        host, TenantService().allowed_hosts(tenant)
    )


def _split(url: str) -> urllib.parse.SplitResult:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as error:
        raise InvalidRequest("target.url", f"is not a URL: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidRequest("target.url", f"scheme {parts.scheme!r} must be http or https")
    if not parts.hostname:
        raise InvalidRequest("target.url", "has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("target.url", "must not carry credentials (use headers)")
    return parts


def _token(name: Any) -> bool:
    allowed = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return isinstance(name, str) and bool(name) and set(name) <= allowed


def _code(code: Any) -> bool:
    if isinstance(code, int) and not isinstance(code, bool):
        return 100 <= code <= 599
    return isinstance(code, str) and len(code) == 3 and code[0] in "12345" and code[1:] == "xx"


def _success(status: int, codes: Sequence[Any]) -> bool:
    return any(status == c if isinstance(c, int) else str(status)[0] == c[0] for c in codes)


def _encode(body: Any) -> tuple[bytes, str | None]:
    """The bytes sent and their default Content-Type: a string as is, JSON otherwise."""
    if body is None:
        return b"", None
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body, separators=(",", ":")).encode(), "application/json"


# -- addresses --------------------------------------------------------------------------------


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """``a loopback``, ``a link-local``, ``a private``, or ``a global``."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        return _kind(mapped)
    if address.is_loopback:
        return "a loopback"
    if address.is_link_local:
        return "a link-local"
    if not address.is_global:  # private, shared, reserved, multicast, unspecified, ...
        return "a private"
    return "a global"


def _address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    kind = _kind(address)
    if kind == "a global" and not address.is_multicast:
        return True
    allowed = get_settings().allow_private_targets
    return "all" in allowed or kind.removeprefix("a ") in allowed


def resolve(host: str, port: int) -> str:
    """The address to connect to: every address ``host`` resolves to must be allowed (one bad
    answer refuses the lot: which one a connection gets is not ours to choose)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise ConnectionError(f"cannot resolve {host!r}: {error}") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        if not _address_allowed(address):
            raise Refused(f"{host!r} resolves to {address}, {_kind(address)} address")
    if not addresses:
        raise ConnectionError(f"cannot resolve {host!r}")
    return str(addresses[0])


class _PinnedHTTP(http.client.HTTPConnection):
    """A connection to a checked address, for a host name kept in the Host header."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As ``_PinnedHTTP``, with TLS verified for the host name (SNI and certificate)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def send(
    method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: float
) -> Response:
    """One request, hardened: the resolved address checked and pinned, no redirect followed,
    at most EXCERPT bytes of the answer read. Raises Refused for a disallowed address, and
    OSError (timeouts included) or http.client.HTTPException when the exchange fails."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve(host, port)
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = kind(host, port, address, timeout)
    path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    started = time.monotonic()
    try:
        connection.request(method, path, body=body or None, headers=dict(headers))
        answer = connection.getresponse()
        excerpt = answer.read(EXCERPT + 1)
        latency = int((time.monotonic() - started) * 1000)
        text = excerpt[:EXCERPT].decode("utf-8", "replace")
        if len(excerpt) > EXCERPT:
            text += "…"
        headers = {k.lower(): v for k, v in answer.getheaders()}
        return Response(answer.status, text, latency, headers)
    finally:
        connection.close()


# -- signing ----------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=`` + hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def delivery_headers(
    ctx: TargetContext, body: bytes, secrets: list[SigningSecret], now: float | None = None
) -> dict[str, str]:
    """What every delivery carries: who it is for, and the signatures over it (one per valid
    secret: during a rotation the receiver may know either)."""
    timestamp = int(now if now is not None else time.time())
    headers = {
        "User-Agent": f"beatless/{get_settings().version}",
        "Beatless-Run-Id": ctx.run_id,
        "Beatless-Attempt": str(ctx.attempt),
        "Beatless-Timestamp": str(timestamp),
        "Beatless-Signature": ",".join(signature(s.secret, timestamp, body) for s in secrets),
    }
    if ctx.job_id:
        headers["Beatless-Job-Id"] = ctx.job_id
    if ctx.scheduled_time is not None:
        headers["Beatless-Scheduled-Time"] = render("<beatless.scheduled-time>", ctx)
    return headers


# -- the call ---------------------------------------------------------------------------------


def call(ctx: TargetContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    url = render(spec["url"], ctx)
    host = urllib.parse.urlsplit(url).hostname or ""
    hosts, secrets = TenantService().delivery(ctx.tenant)  # one read for both
    if not (host_allowed(host, get_settings().http_allowed_hosts) or host_allowed(host, hosts)):
        raise TargetFailed(f"host {host!r} is no longer on the allow-list", retryable=False)
    body, content_type = _encode(render(spec.get("body"), ctx))
    headers = {str(k): str(v) for k, v in render(spec.get("headers") or {}, ctx).items()}
    if content_type and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = content_type
    headers.update(delivery_headers(ctx, body, secrets))
    timeout = min(float(spec.get("timeout_seconds") or DEFAULT_TIMEOUT), ctx.remaining_seconds())
    if timeout <= 0:
        raise TargetFailed("no time left for the call")
    method = spec.get("method", "POST")
    try:
        answer = send(method, url, headers, body, timeout)
    except Refused as error:
        raise TargetFailed(f"refused: {error}", retryable=False) from None
    except TimeoutError:
        ctx.log(f"{method} {url}: no answer in {timeout:g} s", "WARNING")
        raise TargetFailed(f"{method} {url}: timed out after {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as error:
        ctx.log(f"{method} {url}: {error}", "WARNING")
        raise TargetFailed(f"{method} {url}: {type(error).__name__}: {error}") from None
    result = {"status": answer.status, "body": answer.excerpt, "latency_ms": answer.latency_ms}
    ctx.log(f"{method} {url} answered {answer.status} in {answer.latency_ms} ms")
    if _success(answer.status, spec.get("success_codes") or ["2xx"]):
        return result
    final = answer.status in FINAL_STATUSES or 300 <= answer.status < 400
    what = "a redirect (not followed)" if 300 <= answer.status < 400 else "not a success"
    raise TargetFailed(
        f"{method} {url} answered {answer.status}, {what}: {answer.excerpt[:200]}",
        retryable=not final,
    )


HTTP = register(TargetType("http", validate, call, admit))
