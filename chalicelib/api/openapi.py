"""OpenAPI 3.1 documents generated from the routes' own request/response models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from chalicelib.api import models
from chalicelib.api.routing import ROUTES, RouteDoc
from chalicelib.settings import get_settings

_PATH_PARAM = re.compile(r"{(\w+)}")
_ERROR_TEXT = {
    400: "Invalid request: the body names the field and the rule",
    404: "No such resource",
    409: "Conflict: duplicate name or stale version",
    422: "Valid, but with no EventBridge Scheduler equivalent",
    503: "AWS unavailable; nothing was changed, retry after Retry-After seconds",
}


def document(face: str = "native") -> dict[str, Any]:
    """The OpenAPI 3.1 document of one face."""
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel], mode: str) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)  # type: ignore[arg-type]
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    paths: dict[str, dict[str, Any]] = {}
    for doc in (r for r in ROUTES if r.face == face):
        paths.setdefault(doc.path, {})[doc.method.lower()] = _operation(doc, ref)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"beatless {face} API",
            "version": get_settings().version,
            "description": "Scheduled jobs and asynchronous tasks on AWS.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _operation(doc: RouteDoc, ref: Any) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(doc.path)
    ]
    params += [
        {"name": q.name, "in": "query", "required": False, "schema": q.schema}
        | ({"description": q.description} if q.description else {})
        for q in doc.query
    ]
    success: dict[str, Any] = {"description": doc.summary}
    if doc.response is not None:
        success["content"] = {"application/json": {"schema": ref(doc.response, "serialization")}}
    responses: dict[str, Any] = {str(doc.status): success}
    error_schema = ref(models.ErrorOut, "serialization")
    for code in doc.errors:
        if code == 404 and "{" not in doc.path:
            continue
        responses[str(code)] = {
            "description": _ERROR_TEXT[code],
            "content": {"application/json": {"schema": error_schema}},
        }
    if doc.request is not None:
        responses["422"] = {
            "description": _ERROR_TEXT[422],
            "content": {"application/json": {"schema": error_schema}},
        }
    operation: dict[str, Any] = {
        "summary": doc.summary,
        "operationId": _operation_id(doc),
        "responses": responses,
    }
    if params:
        operation["parameters"] = params
    if doc.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(doc.request, "validation")}},
        }
    return operation


def _operation_id(doc: RouteDoc) -> str:
    words = [w for w in re.split(r"[^a-zA-Z0-9]+", doc.path) if w]
    return "_".join([doc.method.lower(), *words])
