"""flask-restx ``X-Fields`` masks: parse ``{name,crontab{minute},*}`` and apply it to a body.

Grammar and behaviour as flask-restx (``flask_restx/mask.py``): braces optional at the top
level, nesting with ``field{...}``, ``*`` for every remaining field, unknown names dropped,
a nested mask on a scalar field is an error, a null nested object stays null.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\{|\}|,|[\w:\-*]+")


class MaskError(ValueError):
    """A malformed mask (400 ``Mask parse error: …``) or one inconsistent with the model."""


Mask = dict[str, "Mask | None"]


def parse(text: str) -> Mask:
    tokens = _TOKEN.findall(text.replace(" ", ""))
    if "".join(tokens) != text.replace(" ", ""):
        raise MaskError("Mask parse error: Unexpected characters")
    if not tokens:
        return {}
    wrapped = tokens[0] == "{"
    if wrapped:
        if tokens[-1] != "}":
            raise MaskError("Mask parse error: Missing closing bracket")
        tokens = tokens[1:-1]
    mask, rest = _parse_fields(tokens)
    if rest:
        raise MaskError("Mask parse error: Unexpected closing bracket")
    return mask


def _parse_fields(tokens: list[str]) -> tuple[Mask, list[str]]:
    mask: Mask = {}
    previous: str | None = None
    while tokens:
        token, tokens = tokens[0], tokens[1:]
        if token == ",":
            if previous is None:
                raise MaskError("Mask parse error: Unexpected comma")
            previous = None
        elif token == "{":
            if previous is None:
                raise MaskError("Mask parse error: Unexpected opening bracket")
            nested, tokens = _parse_fields(tokens)
            if not tokens or tokens[0] != "}":
                raise MaskError("Mask parse error: Missing closing bracket")
            tokens = tokens[1:]
            mask[previous] = nested
        elif token == "}":
            return mask, [token, *tokens]
        else:
            if previous is not None:
                raise MaskError("Mask parse error: Unexpected field")
            mask[token] = None
            previous = token
    return mask, []


def apply(mask: Mask, body: dict[str, Any], nested: frozenset[str]) -> dict[str, Any]:
    """``body`` filtered by ``mask``; ``nested`` names the fields that are objects in the model."""
    if not mask:
        return body
    out: dict[str, Any] = {}
    for name, sub in mask.items():
        if name == "*":
            continue
        if name not in body:
            continue  # unknown names are dropped, as flask-restx does
        value = body[name]
        if sub is None:
            out[name] = value
        elif name not in nested:
            raise MaskError("Mask error: Mask is inconsistent with model")
        elif isinstance(value, dict):
            out[name] = apply(sub, value, frozenset())
        else:
            out[name] = value  # a null nested object stays null
    if "*" in mask:
        for name, value in body.items():
            out.setdefault(name, value)
    return out
