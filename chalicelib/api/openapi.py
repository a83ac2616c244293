"""OpenAPI 3.1 documents generated from the routes' own request/response models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from chalicelib.api import models
from chalicelib.api.lazy import LazyModel, resolve
from chalicelib.api.routing import ROUTES, RouteDoc
from chalicelib.settings import get_settings

_PATH_PARAM = re.compile(r"{(\w+)}")
_ERROR_TEXT = {
    400: "Invalid request: the body names the field and the rule",
    401: "No key, or an unknown or revoked one",
    403: "Refused to this key: an admin key's operation, or what another key created",
    404: "No such resource",
    409: "Conflict: duplicate name or stale version",
    412: "A required header is missing",
    413: "The body, or one of its payload fields, is too large",
    422: "Valid, but with no EventBridge Scheduler equivalent",
    429: "A per-tenant limit is reached (the body names it); nothing was changed, retry after "
    "Retry-After seconds",
    503: "AWS unavailable; nothing was changed, retry after Retry-After seconds",
}
#: What an idempotent operation's error statuses also mean.
_IDEMPOTENT_TEXT = {
    400: ", or an Idempotency-Key that is not 1-255 printable ASCII characters",
    409: ", or a request with this Idempotency-Key still in progress (retry after Retry-After)",
    422: ", or an Idempotency-Key already used with another request",
}
#: The header of every operation that creates something (``route(..., idempotent=True)``).
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    "description": "Retry safely: the same key with the same request within 24 h answers the "
    "first answer again (header Idempotent-Replayed: true) without doing it twice",
}
#: Every face, in the order ``/openapi`` lists them.
FACES = ("native", "udata", "dapr", "alteryx", "vitam")
_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
    "vitamKey": {"type": "apiKey", "in": "header", "name": "X-Vitam-Key"},
    "daprApiToken": {"type": "apiKey", "in": "header", "name": "dapr-api-token"},
}


def document(face: str = "native") -> dict[str, Any]:
    """The OpenAPI 3.1 document of one face, from the routes registered for it."""
    schemas: dict[str, Any] = {}

    def ref(named: type[BaseModel] | LazyModel, mode: str) -> dict[str, str]:
        model = resolve(named)
        assert model is not None
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)  # type: ignore[arg-type]
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    paths: dict[str, dict[str, Any]] = {}
    routes = [r for r in ROUTES if r.face == face]
    ids = [_operation_id(r) for r in routes]
    if len(set(ids)) != len(ids):
        raise ValueError(f"operation ids of the {face} face repeat: {sorted(ids)}")
    tags: list[str] = []
    for doc in routes:
        operation = _operation(doc, ref)
        if links := _links(doc, routes):
            operation["responses"][str(doc.status)]["links"] = links
        paths.setdefault(doc.path, {})[doc.method.lower()] = operation
        tags += [tag for tag in operation["tags"] if tag not in tags]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"beatless {face} API",
            "version": get_settings().version,
            "description": "Scheduled jobs and asynchronous tasks on AWS.",
        },
        # Relative: the deployment (or ``make run``) that serves the document serves the API.
        "servers": [{"url": "/", "description": "the server this document was fetched from"}],
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": _SCHEMES},
        "security": [{name: []} for name in _SCHEMES],
    }


def _operation(doc: RouteDoc, ref: Any) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(doc.path)
    ]
    params += [
        {"name": q.name, "in": q.location, "required": q.required, "schema": q.schema}
        | ({"description": q.description} if q.description else {})
        for q in doc.query
    ]
    if doc.idempotent:
        params.append(IDEMPOTENCY_KEY)
    success: dict[str, Any] = {"description": doc.summary}
    if doc.response is not None:
        success["content"] = {"application/json": {"schema": ref(doc.response, "serialization")}}
    responses: dict[str, Any] = {str(doc.status): success}
    error_schema = ref(doc.error_model or models.ErrorOut, "serialization")
    for code in sorted(_error_codes(doc)):
        extra = _IDEMPOTENT_TEXT.get(code, "") if doc.idempotent else ""
        responses[str(code)] = {
            "description": _ERROR_TEXT[code] + extra,
            "content": {"application/json": {"schema": error_schema}},
        }
    operation: dict[str, Any] = {
        "tags": [_tag(doc)],
        "summary": doc.summary,
        "operationId": _operation_id(doc),
        "responses": responses,
    }
    if doc.access == "public":
        operation["security"] = []
    if params:
        operation["parameters"] = params
    if doc.request is not None:
        operation["requestBody"] = {
            "required": not doc.body_optional,
            "content": {doc.request_media: {"schema": ref(doc.request, "validation")}},
        }
    return operation


def _links(doc: RouteDoc, routes: list[RouteDoc]) -> dict[str, Any]:
    """OpenAPI links from an operation that creates something to the ones that address it, so a
    client (or a stateful fuzzer) can follow an id from one answer into the next request.

    ``POST .../jobs`` answering an ``id`` links to every ``.../jobs/{param}...`` of the face; an
    operation on ``/{name}`` links to the others on the same path (the name is the id, as in Dapr).
    """
    if doc.method != "POST" or not 200 <= doc.status < 300:
        return {}
    links: dict[str, Any] = {}
    literal = [s for s in doc.path.split("/") if s and not s.startswith("{")]
    response = resolve(doc.response)
    creates = response is not None and "id" in response.model_fields and literal
    for other in routes:
        if other is doc:
            continue
        if other.path == doc.path:
            names = _PATH_PARAM.findall(doc.path)
            parameters = {name: f"$request.path.{name}" for name in names}
        elif creates:
            match = re.match(rf"^(.*)/{re.escape(literal[-1])}/{{(\w+)}}(/.*)?$", other.path)
            if not match or not doc.path.startswith(match.group(1) + "/"):
                continue
            parameters = {match.group(2): "$response.body#/id"}
        else:
            continue
        if parameters and set(parameters) == set(_PATH_PARAM.findall(other.path)):
            links[_operation_id(other)] = {
                "operationId": _operation_id(other),
                "parameters": parameters,
            }
    return links


def _error_codes(doc: RouteDoc) -> set[int]:
    """The error statuses an operation can answer: its face's, narrowed by what it takes."""
    codes = set(doc.errors)
    if "{" not in doc.path:
        codes.discard(404)
    if doc.request is None:
        codes -= {413, 422}
    if doc.access != "public":
        codes.add(401)
    if doc.access == "admin" or doc.owned:
        codes.add(403)
    if doc.method == "GET":
        codes.discard(409)  # a read writes nothing that could conflict
    if doc.limited:
        codes.add(429)  # a per-tenant cap (docs/operations.md, "Limits")
    if doc.idempotent:  # a bad key, one in progress, one reused (422: if the face answers it)
        codes |= {400, 409} | ({422} & set(doc.errors))
    return codes


def _operation_id(doc: RouteDoc) -> str:
    return doc.operation_id or "_".join(
        [doc.method.lower(), *(w for w in re.split(r"[^a-zA-Z0-9]+", doc.path) if w)]
    )


_VERSION = re.compile(r"^v\d+(\.\d+)*(-\w+)?$")


def _tag(doc: RouteDoc) -> str:
    """The operation's tag: given, or the resource its path names after the face's prefix
    (``/v1/jobs/{job_id}/pause``: ``jobs``), or the prefix's last one (Dapr's ``/v1.0/jobs``)."""
    if doc.tag:
        return doc.tag
    words = [w for w in doc.path[len(doc.prefix) :].split("/") if w and "{" not in w]
    words = [w for w in words if not _VERSION.match(w)]
    return words[0] if words else doc.prefix.rstrip("/").rsplit("/", 1)[-1]
