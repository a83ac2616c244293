"""``beatless``: a command line for beatless's HTTP API (``make run`` or a deployed stage).

Standard library only (argparse, urllib, json), so it starts fast and installs without
dependencies. The URL and key come from ``--url``/``--key`` or ``BEATLESS_URL`` (default
http://127.0.0.1:8000) and ``BEATLESS_API_KEY``. Tables for people, ``--json`` for scripts.
Exit codes: 0 done, 1 the API refused or could not be reached, 2 a usage mistake.
``beatless admin ...`` is the operator CLI (``python -m chalicelib.cli``), which writes the keys
table directly instead of calling the API.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8000"
#: Run statuses after which a run's log grows no more.
ENDED = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "SKIPPED"}


class CliError(Exception):
    """A failure to report in one line (no traceback), with the exit code to leave with."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ApiError(CliError):
    """An HTTP error answer of the API: its status, code, message and field."""

    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        self.status = status
        self.api_code = str(error.get("code") or "")
        details = error.get("details") if isinstance(error.get("details"), dict) else {}
        self.field = details.get("field")
        message = str(error.get("message") or (body if isinstance(body, str) else "")).strip()
        text = f"{message or 'the API answered ' + str(status)} (HTTP {status}"
        text += f" {self.api_code}" if self.api_code else ""
        text += f", field: {self.field})" if self.field else ")"
        super().__init__(text)


class Client:
    """A JSON client of the native API (``Authorization: Bearer <key>``)."""

    def __init__(self, url: str, key: str | None, timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None
    ) -> Any:
        """The decoded JSON answer (None for an empty one); ApiError or CliError otherwise."""
        params = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        headers = {"Accept": "application/json", "User-Agent": "beatless-cli"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _decode(response.read())
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, _decode(error.read(), lenient=True)) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            hint = ""
            if isinstance(reason, ConnectionRefusedError):
                hint = " — is `make run` going? (or set --url / BEATLESS_URL)"
            raise CliError(f"cannot reach {self.url}: {reason}{hint}") from None

    def pages(self, path: str, query: dict[str, Any], every: bool) -> Iterator[dict[str, Any]]:
        """One page, or with ``every`` each page in turn, following the API's cursors."""
        query = dict(query)
        while True:
            page = self.request("GET", path, query=query)
            yield page
            if not every or not page.get("cursor"):
                return
            query["cursor"] = page["cursor"]


def _decode(raw: bytes, lenient: bool = False) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        if lenient:
            return raw.decode(errors="replace")
        raise CliError(f"the API answered something that is not JSON: {raw[:200]!r}") from None


# -- output -----------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, Callable[[dict], Any]]]) -> str:
    """Aligned columns with a header line."""
    cells = [[_cell(get(row)) for _, get in columns] for row in rows]
    widths = [
        max([len(title)] + [len(r[i]) for r in cells]) for i, (title, _) in enumerate(columns)
    ]
    lines = ["  ".join(t.upper().ljust(w) for (t, _), w in zip(columns, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def record(item: dict[str, Any]) -> str:
    """One object as ``field  value`` lines (the fields that have a value)."""
    shown = {k: v for k, v in item.items() if v not in (None, [], {}, "")}
    width = max((len(k) for k in shown), default=0)
    return "\n".join(f"{k.ljust(width)}  {_cell(v)}" for k, v in shown.items())


JOB_COLUMNS: list[tuple[str, Callable[[dict], Any]]] = [
    ("id", lambda j: j.get("id")),
    ("name", lambda j: j.get("name")),
    ("task", lambda j: j.get("task") or (j.get("target") or {}).get("type")),
    ("schedule", lambda j: j.get("schedule")),
    ("enabled", lambda j: j.get("enabled")),
    ("next run", lambda j: j.get("next_run_at")),
    ("runs", lambda j: j.get("total_run_count")),
]
RUN_COLUMNS: list[tuple[str, Callable[[dict], Any]]] = [
    ("id", lambda r: r.get("id")),
    ("job", lambda r: r.get("job_id")),
    ("task", lambda r: r.get("task") or (r.get("target") or {}).get("type")),
    ("status", lambda r: r.get("status")),
    ("attempt", lambda r: r.get("attempt")),
    ("trigger", lambda r: r.get("trigger")),
    ("queued", lambda r: r.get("queued_at")),
    ("ended", lambda r: r.get("ended_at")),
]
KEY_COLUMNS: list[tuple[str, Callable[[dict], Any]]] = [
    ("id", lambda k: k.get("id")),
    ("role", lambda k: k.get("role")),
    ("owner", lambda k: k.get("owner")),
    ("disabled", lambda k: k.get("disabled")),
    ("created", lambda k: k.get("created_at")),
]


def emit(args: argparse.Namespace, value: Any, human: Callable[[Any], str]) -> None:
    """``value`` as JSON with ``--json``, else as ``human`` renders it."""
    if args.json:
        print(json.dumps(value, indent=2))
    else:
        print(human(value))


def listing(
    args: argparse.Namespace,
    client: Client,
    path: str,
    query: dict[str, Any],
    columns: list[tuple[str, Callable[[dict], Any]]],
) -> None:
    """A list route's page (``--cursor``, ``--limit``) or, with ``--all``, every page."""
    query = {**query, "limit": args.limit, "cursor": args.cursor}
    items: list[dict[str, Any]] = []
    cursor = None
    for page in client.pages(path, query, every=args.all):
        items += page.get("items", [])
        cursor = page.get("cursor")
    if args.json:
        print(json.dumps({"items": items, "cursor": cursor}, indent=2))
        return
    print(table(items, columns))
    if cursor:
        print(f"more: --cursor {cursor} (or --all)", file=sys.stderr)


# -- commands ---------------------------------------------------------------------------------


def _json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from None


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def cmd_jobs(args: argparse.Namespace, client: Client) -> None:
    if args.action == "list":
        enabled = None if args.enabled is None else str(args.enabled == "true").lower()
        query = {"enabled": enabled, "task": args.task, "name": args.name}
        listing(args, client, "/v1/jobs", query, JOB_COLUMNS)
    elif args.action == "create":
        body = dict(args.body or {})
        fields = {
            "name": args.name,
            "task": args.task,
            "target": args.target,
            "description": args.description,
            "schedule": args.schedule,
            "crontab": args.crontab,
            "interval": args.interval,
            "due_time": args.due_time,
            "timezone": args.tz,
            "args": args.args,
            "kwargs": args.kwargs,
            "queue": args.queue,
            "overlap": args.overlap,
        }
        body.update({k: v for k, v in fields.items() if v is not None})
        if args.paused:
            body["enabled"] = False
        emit(args, client.request("POST", "/v1/jobs", body), record)
    elif args.action == "delete":
        client.request("DELETE", f"/v1/jobs/{_quote(args.id)}")
        emit(args, {"id": args.id, "deleted": True}, lambda _: f"deleted job {args.id}")
    elif args.action == "trigger":
        run = client.request("POST", f"/v1/jobs/{_quote(args.id)}/trigger")
        emit(args, run, record)
    else:
        method, suffix = ("GET", "") if args.action == "show" else ("POST", f"/{args.action}")
        emit(args, client.request(method, f"/v1/jobs/{_quote(args.id)}{suffix}"), record)


def cmd_runs(args: argparse.Namespace, client: Client) -> None:
    if args.action == "list":
        query = {"status": args.status, "task": args.task, "since": args.since, "until": args.until}
        path = f"/v1/jobs/{_quote(args.job)}/runs" if args.job else "/v1/tasks"
        listing(args, client, path, query, RUN_COLUMNS)
        return
    path = f"/v1/tasks/{_quote(args.id)}"
    if args.action == "show":
        run = client.request("GET", path)
    elif args.action == "cancel":
        run = client.request("DELETE", path)
    else:
        run = client.request("POST", path + "/retry")
    emit(args, run, record)


def cmd_logs(args: argparse.Namespace, client: Client) -> None:
    """Print a run's log; with ``--follow``, poll the messages route until the run has ended.

    The cursor of the last full page is kept: the final page (cursor null) is read again from
    it, skipping the lines already printed, so each line prints once."""
    path = f"/v1/tasks/{_quote(args.id)}"
    base: str | None = None
    printed = 0  # lines printed from the page that starts at ``base``
    while True:
        ended = None
        if args.follow:
            status = client.request("GET", path).get("status")
            ended = status if status in ENDED else None
        while True:
            page = client.request("GET", path + "/messages", query={"limit": 1000, "cursor": base})
            for message in page.get("items", [])[printed:]:
                if args.json:
                    print(json.dumps(message), flush=True)
                else:
                    line = f"{message['at']} {message['level']:<7} [{message['step']}] "
                    print(line + message["text"], flush=True)
            if not page.get("cursor"):
                printed = len(page.get("items", []))
                break
            base, printed = page["cursor"], 0
        if not args.follow or ended:
            if ended and not args.json:
                print(f"run {args.id} ended {ended}", file=sys.stderr)
            return
        time.sleep(args.interval)


def cmd_schedule(args: argparse.Namespace, client: Client) -> None:
    body = {"schedule": args.expression, "timezone": args.tz, "count": args.count}
    preview = client.request("POST", "/v1/schedules/preview", {k: v for k, v in body.items() if v})

    def human(p: dict[str, Any]) -> str:
        lines = [
            f"schedule     {p.get('schedule')}",
            f"description  {p.get('description')}",
            f"timezone     {p.get('timezone')}",
            f"expressions  {', '.join(p.get('expressions', []))}",
            f"path         {p.get('path')}",
            "next:",
        ]
        return "\n".join(lines + [f"  {t}" for t in p.get("next", [])])

    emit(args, preview, human)


def cmd_keys(args: argparse.Namespace, client: Client) -> None:
    if args.action == "list":
        keys = client.request("GET", "/v1/keys")
        emit(args, keys, lambda k: table(k.get("items", []), KEY_COLUMNS))
    elif args.action == "create":
        created = client.request("POST", "/v1/keys", {"role": args.role, "owner": args.owner})
        if args.json:
            print(json.dumps(created, indent=2))
        else:  # the secret alone on stdout (shown once), as the operator CLI does
            print(created["key"])
            details = {k: v for k, v in created.items() if k != "key"}
            print(json.dumps(details), file=sys.stderr)
    else:
        client.request("DELETE", f"/v1/keys/{_quote(args.id)}")
        emit(args, {"id": args.id, "revoked": True}, lambda _: f"revoked key {args.id}")


def cmd_admin(argv: list[str]) -> int:
    """The operator CLI (chalicelib/cli.py), ``--local`` accepted anywhere."""
    root = str(Path(__file__).resolve().parent)
    if root not in sys.path:
        sys.path.insert(0, root)  # chalicelib beside this file, wherever beatless is run from
    from chalicelib import cli

    local = [a for a in argv if a == "--local"]
    return cli.main(local + [a for a in argv if a != "--local"])


# -- parser -----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)  # accepted before or after the command
    s = argparse.SUPPRESS
    common.add_argument("--url", default=s, help=f"API URL (BEATLESS_URL, default {DEFAULT_URL})")
    common.add_argument("--key", default=s, help="API key (BEATLESS_API_KEY)")
    common.add_argument("--json", action="store_true", default=s, help="JSON output, for scripts")

    root = argparse.ArgumentParser(
        prog="beatless",
        description="Talk to beatless's API (make run, or a deployed stage).",
        parents=[common],
    )
    groups = root.add_subparsers(dest="group", required=True, metavar="COMMAND")

    def paged(p: argparse.ArgumentParser) -> None:
        p.add_argument("--limit", type=int, help="page size (the API's default: 50)")
        p.add_argument("--cursor", help="the cursor a previous page printed")
        p.add_argument("--all", action="store_true", help="every page")

    def sub(parent: Any, name: str, help: str) -> argparse.ArgumentParser:
        return parent.add_parser(name, help=help, description=help, parents=[common])

    jobs = sub(groups, "jobs", "jobs: list, show, create, pause, resume, trigger, delete")
    jobs_do = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub(jobs_do, "list", "list jobs")
    paged(p)
    p.add_argument("--enabled", choices=("true", "false"))
    p.add_argument("--task")
    p.add_argument("--name", help="a name prefix")
    for action, text in [
        ("show", "show a job"),
        ("pause", "pause a job"),
        ("resume", "resume a job"),
        ("trigger", "run a job now (prints the new run)"),
        ("delete", "delete a job and its schedules"),
    ]:
        sub(jobs_do, action, text).add_argument("id")
    p = sub(jobs_do, "create", "create a job (fields as flags, or a whole body with --body)")
    p.add_argument("--body", type=_json_arg, help="a JSON job body; flags override its fields")
    p.add_argument("--name")
    p.add_argument("--task")
    p.add_argument("--target", type=_json_arg, help='JSON, e.g. \'{"type": "http", ...}\'')
    p.add_argument("--description")
    p.add_argument("--schedule", help="cron, @daily, '@every 30s', cron()/rate()/at()")
    p.add_argument("--crontab", type=_json_arg, help='JSON, e.g. \'{"minute": "0"}\'')
    p.add_argument("--interval", type=_json_arg, help="JSON, e.g. '{\"every\": 5, ...}'")
    p.add_argument("--due-time", help="30s, PT5M or an RFC 3339 instant")
    p.add_argument("--tz", help="IANA time zone (default UTC)")
    p.add_argument("--args", type=_json_arg, help="a JSON list")
    p.add_argument("--kwargs", type=_json_arg, help="a JSON object")
    p.add_argument("--queue", choices=("high", "default", "low"))
    p.add_argument("--overlap", choices=("allow", "skip"))
    p.add_argument("--paused", action="store_true", help="create it paused")

    runs = sub(groups, "runs", "runs: list, show, cancel, retry")
    runs_do = runs.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub(runs_do, "list", "list runs, newest first")
    paged(p)
    p.add_argument("--job", help="one job's runs")
    p.add_argument("--status")
    p.add_argument("--task")
    p.add_argument("--since", help="RFC 3339")
    p.add_argument("--until", help="RFC 3339")
    for action, text in [
        ("show", "show a run"),
        ("cancel", "cancel a queued or running run"),
        ("retry", "queue a FAILED or TIMED_OUT run again"),
    ]:
        sub(runs_do, action, text).add_argument("id")

    p = sub(groups, "logs", "a run's log (--follow: until the run ends)")
    p.add_argument("id", metavar="RUN_ID")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between polls")

    schedule = sub(groups, "schedule", "schedules: preview")
    schedule_do = schedule.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub(schedule_do, "preview", "what a schedule expression would do")
    p.add_argument("expression", metavar="EXPR")
    p.add_argument("--tz", help="IANA time zone (default UTC)")
    p.add_argument("--count", type=int, help="how many next fire times (default 5)")

    keys = sub(groups, "keys", "API keys of your tenant (an admin key): list, create, revoke")
    keys_do = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub(keys_do, "list", "list keys (never their secrets)")
    p = sub(keys_do, "create", "create a key and print it (shown once)")
    p.add_argument("--role", choices=("admin", "user"), default="user")
    p.add_argument("--owner", default="")
    sub(keys_do, "revoke", "disable a key").add_argument("id")

    groups.add_parser(
        "admin",
        help="operator commands on the tables directly: admin [--local] keys create|list|revoke",
        add_help=False,
    )
    return root


COMMANDS: dict[str, Callable[[argparse.Namespace, Client], None]] = {
    "jobs": cmd_jobs,
    "runs": cmd_runs,
    "logs": cmd_logs,
    "schedule": cmd_schedule,
    "keys": cmd_keys,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["admin"]:
        return cmd_admin(argv[1:])
    args = parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    url = getattr(args, "url", None) or os.environ.get("BEATLESS_URL") or DEFAULT_URL
    key = getattr(args, "key", None) or os.environ.get("BEATLESS_API_KEY")
    try:
        COMMANDS[args.group](args, Client(url, key))
    except CliError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
