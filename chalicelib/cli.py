"""Operator commands. ``python -m chalicelib.cli keys create --tenant T --role admin``.

Works against the deployed tables (AWS credentials and ``BEATLESS_*`` settings from the
environment, as the deploy's outputs give them) or, with ``--local``, against the emulated AWS of
a running ``make run`` (``MOTO_PORT``, default 5000). ``keys create`` prints the new key alone on
stdout (shown once: it is stored only as a hash) and its details on stderr. ``quotas recount
--tenant T`` sets the tenant's job count (the jobs cap's) to the jobs it has, after an upgrade
from a version that did not count them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _local_environment() -> str:
    """Point the AWS clients at ``make run``'s moto; returns its URL."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = os.environ.get("MOTO_PORT", "5000")
    os.environ["BEATLESS_AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    return os.environ["BEATLESS_AWS_ENDPOINT_URL"]


def _unreachable(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps, as PynamoDB does) is a failed connection."""
    from botocore.exceptions import EndpointConnectionError

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, EndpointConnectionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli")
    parser.add_argument("--local", action="store_true", help="use the running make run stack")
    commands = parser.add_subparsers(dest="group", required=True)
    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--role", choices=("admin", "user"), default="user")
    create.add_argument("--owner", default="")
    listing = keys.add_parser("list", help="a tenant's keys (never their secrets)")
    listing.add_argument("--tenant", required=True)
    revoke = keys.add_parser("revoke", help="disable a key")
    revoke.add_argument("--tenant", required=True)
    revoke.add_argument("key_id")
    quotas = commands.add_parser("quotas", help="per-tenant caps").add_subparsers(
        dest="action", required=True
    )
    recount = quotas.add_parser("recount", help="set a tenant's job count to its jobs")
    recount.add_argument("--tenant", required=True)
    args = parser.parse_args(argv)
    local = _local_environment() if args.local else None

    from chalicelib import services
    from chalicelib.errors import BeatlessError

    service = services.keys()
    try:
        if args.group == "quotas":
            from chalicelib import quotas as caps

            print(json.dumps({"tenant": args.tenant, "jobs": caps.recount_jobs(args.tenant)}))
        elif args.action == "create":
            created = service.create(args.tenant, args.role, args.owner)
            print(created.key)
            print(json.dumps(_describe(created.item)), file=sys.stderr)
        elif args.action == "list":
            for item in service.list(args.tenant):
                print(json.dumps(_describe(item)))
        else:
            print(json.dumps(_describe(service.revoke(args.tenant, args.key_id))))
    except BeatlessError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    except Exception as error:
        if not (local and _unreachable(error)):
            raise
        print(
            f"error: no make run answers at {local} (MOTO_PORT, default 5000): start it, or set"
            " MOTO_PORT to the one make run was given (make run MOTO_PORT=5001 → MOTO_PORT=5001)",
            file=sys.stderr,
        )
        return 2
    return 0


def _describe(item: object) -> dict[str, object]:
    return {
        "id": item.key_id,  # type: ignore[attr-defined]
        "tenant": item.tenant,  # type: ignore[attr-defined]
        "role": item.role,  # type: ignore[attr-defined]
        "owner": item.owner,  # type: ignore[attr-defined]
        "disabled": bool(item.disabled),  # type: ignore[attr-defined]
        "created_at": item.created_at.isoformat(),  # type: ignore[attr-defined]
    }


if __name__ == "__main__":
    sys.exit(main())
