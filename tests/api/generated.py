"""Clients and models generated from the faces' OpenAPI documents, as a user of a document makes
them: openapi-python-client for the client, datamodel-code-generator for pydantic models that
check every field (and format) of a live answer. Nothing generated is kept: a temporary folder.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).replace("-", "_").lower()


def start_generators(face: str, document: dict[str, Any], root: Path) -> list[subprocess.Popen]:
    """Start both generators on ``document`` (run side by side: each takes seconds)."""
    (root / f"{face}.json").write_text(json.dumps(document))
    config = root / "config.json"
    config.write_text(json.dumps({"post_hooks": []}))  # no formatter needed
    client = [
        str(BIN / "openapi-python-client"),
        "generate",
        f"--path={root / f'{face}.json'}",
        f"--output-path={root / f'{face}_client'}",
        "--meta=none",
        f"--config={config}",
        "--fail-on-warning",
    ]
    models = [
        str(BIN / "datamodel-codegen"),
        f"--input={root / f'{face}.json'}",
        "--input-file-type=openapi",
        f"--output={root / f'{face}_models.py'}",
        "--output-model-type=pydantic_v2.BaseModel",
        "--target-python-version=3.11",
        "--extra-fields=forbid",  # every field the answer has is documented
        "--output-datetime-class=AwareDatetime",  # date-time with its offset
        "--no-formatters",
        "--disable-timestamp",
    ]
    return [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for command in (client, models)
    ]


def finish(processes: list[subprocess.Popen]) -> list[str]:
    """Wait for the generators; their output (warnings included), one string each."""
    outputs = []
    for process in processes:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output
        outputs.append(output)
    return outputs


@dataclass
class Generated:
    """A face's generated client package and models, and the answers its calls got."""

    face: str
    document: dict[str, Any]
    package: Any
    models: Any
    base_url: str
    seen: list[httpx.Response] = field(default_factory=list)

    def op(self, operation_id: str) -> Any:
        """The generated module of an operation, found by its tag and operationId."""
        for path_item in self.document["paths"].values():
            for operation in path_item.values():
                if operation["operationId"] == operation_id:
                    tag = importlib.import_module(
                        f"{self.package.__name__}.api.{_snake(operation['tags'][0])}"
                    )
                    (name,) = [
                        m.name
                        for m in pkgutil.iter_modules(tag.__path__)
                        if m.name.replace("_", "") == operation_id.lower()
                    ]
                    return importlib.import_module(f"{tag.__name__}.{name}")
        raise KeyError(operation_id)

    @property
    def schemas(self) -> Any:
        return importlib.import_module(f"{self.package.__name__}.models")

    def client(self, token: str | None = None, **headers: str) -> Any:
        """A generated client recording each answer (for ``check_answers``)."""
        hooks = {"response": [self._record]}
        if token is None:
            return self.package.Client(
                base_url=self.base_url, headers=headers, httpx_args={"event_hooks": hooks}
            )
        return self.package.AuthenticatedClient(
            base_url=self.base_url,
            token=token,
            headers=headers,
            httpx_args={"event_hooks": hooks},
        )

    def _record(self, response: httpx.Response) -> None:
        response.read()
        self.seen.append(response)

    def check_answers(self) -> int:
        """Validate every recorded JSON answer against the generated model its operation and
        status document; the number checked."""
        checked = 0
        for response in self.seen:
            schema = self._schema_of(response.request.method, response.request.url.path, response)
            if schema is None:
                assert not response.content, (response.request.url, response.content)
                continue
            name = schema["$ref"].rsplit("/", 1)[-1]
            model = getattr(self.models, name)
            model.model_validate_json(response.content)
            checked += 1
        self.seen.clear()
        return checked

    def _schema_of(self, method: str, path: str, response: httpx.Response) -> Any:
        # Literal paths first: /v1/tasks/registered is not /v1/tasks/{run_id}.
        for template, item in sorted(self.document["paths"].items(), key=lambda p: p[0].count("{")):
            parts = re.split(r"\{\w+\}", template)
            pattern = "^" + "[^/]+".join(re.escape(part) for part in parts) + "$"
            operation = item.get(method.lower())
            if operation is None or not re.match(pattern, path):
                continue
            documented = operation["responses"].get(str(response.status_code))
            assert documented is not None, (method, path, response.status_code, response.text)
            content = documented.get("content", {}).get("application/json")
            return content and content["schema"]
        raise AssertionError(f"{method} {path} is in no path of the {self.face} document")


@contextmanager
def imported(root: Path, face: str, base_url: str, document: dict[str, Any]) -> Iterator[Generated]:
    """The generated package and models of ``face`` under ``root``, importable while open."""
    sys.path.insert(0, str(root))
    names = (f"{face}_client", f"{face}_models")
    try:
        yield Generated(
            face,
            document,
            importlib.import_module(names[0]),
            importlib.import_module(names[1]),
            base_url,
        )
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.split(".")[0] in names]:
            del sys.modules[name]
