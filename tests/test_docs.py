"""Every ```sh block of docs/*.md, pasted into bash as written, against one real ``make run`` on
ports other than the defaults (issue 17).

Each doc's blocks run in order in one bash (``set -euo pipefail``), as a reader pastes them into
one terminal: a later block may use what an earlier one set. The shell starts as the README's
walk-through leaves it: ``BEATLESS_API_KEY`` exported (the key ``make run`` was given), and
``PORT``/``MOTO_PORT`` exported as ``make run PORT=… MOTO_PORT=…`` was started with. A block that
cannot run here carries ``<!-- not-run: reason -->`` on the line before it; a doc whose blocks
another test pastes is listed in ``COVERED_ELSEWHERE``. Any other block runs here, so a new block
nobody runs cannot slip in."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from chalicelib.local.launch import LOCAL_KEY

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))

#: Docs whose every sh block another test pastes against ``make run``: doc → file::test.
COVERED_ELSEWHERE = {
    # It needs a fresh copy of the checkout (it creates tasks/ and edits it under make run).
    "docs/tasks.md": "tests/test_tasks_doc.py::test_docs_tasks_md_works_as_pasted",
}

FENCE = re.compile(r"^(?P<indent>[ ]*)```sh\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.M | re.S)
NOT_RUN = re.compile(r"<!--\s*not-run:(?P<reason>.*?)-->")


@dataclass(frozen=True)
class Block:
    doc: str  #: relative path, ``docs/api.md``
    number: int  #: 1-based, in the doc's order
    line: int
    script: str
    not_run: str | None  #: the marker's reason, or None if the block must run


def blocks(path: Path) -> list[Block]:
    """A doc's sh blocks, dedented, each with the not-run marker of the line before it."""
    text = path.read_text()
    found = []
    for number, match in enumerate(FENCE.finditer(text), start=1):
        before = text[: match.start()].rstrip("\n").rpartition("\n")[2]
        marker = NOT_RUN.search(before)
        found.append(
            Block(
                doc=path.relative_to(ROOT).as_posix(),
                number=number,
                line=text.count("\n", 0, match.start()) + 1,
                script=textwrap.dedent(match["body"]),
                not_run=marker["reason"].strip() if marker else None,
            )
        )
    return found


ALL = {path.relative_to(ROOT).as_posix(): blocks(path) for path in DOCS}
HERE = [doc for doc in ALL if doc not in COVERED_ELSEWHERE and any(not b.not_run for b in ALL[doc])]


def test_every_block_is_run_somewhere_and_every_skip_says_why():
    for doc, test in COVERED_ELSEWHERE.items():
        file, _, name = test.partition("::")
        source = (ROOT / file).read_text()
        functions = {
            node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)
        }
        assert name in functions, f"{test} (covering {doc}) does not exist"
        assert Path(doc).name in source, f"{test} does not read {doc}"
        assert ALL.get(doc), f"{doc} has no sh block left to cover"
    for doc, found in ALL.items():
        for block in found:
            assert block.not_run != "", (
                f"{doc} block {block.number}: a not-run marker needs a reason"
            )
    for path in DOCS:  # a shell block fenced otherwise would escape this test
        assert not re.search(r"^ *```(bash|shell|console|zsh)\b", path.read_text(), re.M), path
    skipped = [(b.doc, b.number) for found in ALL.values() for b in found if b.not_run]
    assert len(skipped) <= 6, f"keep the blocks that cannot run here few: {skipped}"
    # Every marker sits right before a block (a stray one would silently mark nothing).
    for path in DOCS:
        markers = len(NOT_RUN.findall(path.read_text()))
        assert markers == sum(1 for b in ALL[path.relative_to(ROOT).as_posix()] if b.not_run)


#: curl as pasted, but an HTTP error (4xx, 5xx) fails the block: a 401 is not a working example.
CURL_FAILS = 'curl() { command curl --fail-with-body "$@"; }\n'


def script_of(doc: str, port: int, moto_port: int, scratch: Path) -> str:
    """The doc's runnable blocks, each announced on stderr so a failure names its block."""
    parts = []
    for block in ALL[doc]:
        if block.not_run:
            continue
        text = block.script.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        text = text.replace("127.0.0.1:5000", f"127.0.0.1:{moto_port}")
        text = text.replace("/tmp/", f"{scratch}/")
        parts.append(f"echo '@@ block {block.number} (line {block.line})' >&2\n{text}")
    return "set -euo pipefail\n" + CURL_FAILS + "\n".join(parts)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the docs use curl")
@pytest.mark.parametrize("doc", HERE)
def test_doc_blocks_work_as_pasted(doc: str, shared_stack, tmp_path: Path):
    _, port, moto_port = shared_stack
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BEATLESS_"))}
    env.update(BEATLESS_API_KEY=LOCAL_KEY, PORT=str(port), MOTO_PORT=str(moto_port))
    done = subprocess.run(
        ["bash", "-c", script_of(doc, port, moto_port, tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode:
        block = re.findall(r"^@@ (block \d+ \(line \d+\))$", done.stderr, flags=re.M)
        stderr = done.stderr.rpartition("@@ ")[2].partition("\n")[2]
        where = block[-1] if block else "before its first block"
        pytest.fail(
            f"{doc} {where} failed (exit {done.returncode}):\n"
            f"stderr:\n{stderr}\nstdout:\n{done.stdout[-3000:]}"
        )
