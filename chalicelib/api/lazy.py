"""Pydantic models named at import, loaded at their first use (cold start, issue 19).

Importing pydantic and creating the faces' model classes cost more than ``import boto3``
itself, and a Lambda function pays it on every cold start, though a request uses one or two
models and a fire none. So each face keeps its models in a module of their own, and names them
through ``Models``: ``m.JobOut`` is a ``LazyModel`` that imports the module only when it is
called, validated with or asked for its schema (a request, or the OpenAPI document). Route
registration (which Chalice needs at import) stores the reference, not the class.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from pydantic import BaseModel


class LazyModel:
    """One model of a models module, resolved (the module imported) on first real use."""

    __slots__ = ("_model", "_module", "_name")

    def __init__(self, module: str, name: str) -> None:
        self._module = module
        self._name = name
        self._model: type[BaseModel] | None = None

    def resolve(self) -> type[BaseModel]:
        """The class itself (importing its module, and pydantic, the first time)."""
        if self._model is None:
            self._model = getattr(importlib.import_module(self._module), self._name)
        return self._model

    @property
    def __name__(self) -> str:  # type: ignore[override]
        return self._name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and inspect probe dunders: not the model's
            raise AttributeError(name)
        return getattr(self.resolve(), name)

    def __repr__(self) -> str:
        return f"<lazy {self._module}.{self._name}>"


class Models:
    """A face's models module by name: ``Models("chalicelib.api.models").JobOut`` is a
    ``LazyModel`` (one per name), so naming a model at import imports nothing."""

    def __init__(self, module: str) -> None:
        self._module = module
        self._models: dict[str, LazyModel] = {}

    def __getattr__(self, name: str) -> LazyModel:
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in self._models:
            self._models[name] = LazyModel(self._module, name)
        return self._models[name]


def resolve(model: type[BaseModel] | LazyModel | None) -> type[BaseModel] | None:
    """The class behind a route's model reference (a class is its own)."""
    return model.resolve() if isinstance(model, LazyModel) else model


#: What a route names as its request, response or error body: a class, or a lazy one.
ModelRef: TypeAlias = "type[BaseModel] | LazyModel"
