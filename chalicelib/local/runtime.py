"""``make run``: the embedded default. Starts moto in server mode on 127.0.0.1, creates the
tables and the schedule group from the app's own definitions, and serves the API on 127.0.0.1.

It also runs local stand-ins (``standins.py``) for what moto stores but never runs: the
EventBridge Scheduler that fires schedules, the SQS event sources that feed the worker, and the
scheduled reaper and reconciler, all calling the worker entry points with AWS's event shapes.

Environment: ``PORT`` (API, default 8000), ``MOTO_PORT`` (emulated AWS, default 5000),
``BEATLESS_API_KEY`` (the admin key of tenant ``default``; generated and printed when unset),
``BEATLESS_TASK_MODULES`` (the user's task modules, reloaded when their files change:
``reload.py``).
Ctrl-C or SIGTERM stops both
servers and leaves nothing running.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("local-runtime")  # not under "beatless": Chalice owns that logger


def _local_aws_env(moto_port: int) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "AWS_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "BEATLESS_AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
    }


def provision() -> None:
    """Create the tables, queues and schedule group in the emulated AWS (idempotent)."""
    from chalicelib import resources, services
    from chalicelib.auth import generate_key
    from chalicelib.settings import get_settings

    services.reset()
    settings = get_settings()
    resources.provision(settings)
    log.info("tables, queues and schedule group %r ready", settings.schedule_group)
    key = os.environ.get("BEATLESS_API_KEY") or generate_key()
    services.keys().create("default", "admin", "local admin", key=key)
    if os.environ.get("BEATLESS_API_KEY"):
        log.info("admin key of tenant 'default': the BEATLESS_API_KEY you set")
    else:
        log.info("admin key of tenant 'default' (set BEATLESS_API_KEY to choose it): %s", key)


def serve(host: str, port: int) -> Any:
    """A threaded HTTP server running the Chalice app through beatless's local gateway."""
    from http.server import BaseHTTPRequestHandler

    from chalice.config import Config
    from chalice.local import ChaliceRequestHandler, LocalDevServer, ThreadedHTTPServer

    from app import app
    from chalicelib.local.gateway import BeatlessLocalGateway

    config = Config(
        chalice_stage="dev",
        config_from_disk=json.loads((ROOT / ".chalice" / "config.json").read_text()),
    )

    class Handler(ChaliceRequestHandler):
        def __init__(self, request: Any, client_address: Any, server: Any, **_: Any) -> None:
            # The base handler serves the request inside __init__: set the gateway first.
            self.local_gateway = BeatlessLocalGateway(app, config)
            BaseHTTPRequestHandler.__init__(self, request, client_address, server)

        def log_message(self, format: str, *args: Any) -> None:
            logging.getLogger("local-runtime.http").info(
                "%s %s", self.address_string(), format % args
            )

        def __getattr__(self, name: str) -> Any:
            # Chalice serves the usual methods; any other (TRACE, QUERY, ...) reaches the router
            # too, which answers 405 with Allow, not http.server's HTML 501.
            if name.startswith("do_"):
                return self._generic_handle
            raise AttributeError(name)

    class Server(ThreadedHTTPServer):
        request_queue_size = 128  # the default 5 resets connections under concurrent clients

    return LocalDevServer(app, config, host, port, handler_cls=Handler, server_cls=Server)


def start_standins(stop: threading.Event) -> list[threading.Thread]:
    """The local EventBridge Scheduler, the SQS event sources and the scheduled upkeep."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib import maintenance, services
    from chalicelib.local import console
    from chalicelib.local.reload import TaskModuleWatcher
    from chalicelib.local.standins import LocalScheduler, Loop, SqsPump
    from chalicelib.settings import get_settings
    from chalicelib.tasks import QUEUES, registry

    settings = get_settings()
    watcher = TaskModuleWatcher(registry)
    watcher.start()  # the user's task modules now, so an error in them shows at once
    worker = services.worker()
    pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="worker")
    scheduler = LocalScheduler(
        services.scheduler().client, settings.schedule_group, console.fires(worker.handle), pool
    )
    loops = [
        Loop("scheduler-refresh", scheduler.refresh, 0.5, stop),
        Loop("scheduler-tick", scheduler.tick, 0.05, stop),
        Loop("reaper", maintenance.reap, 15, stop),
        Loop("reconciler", maintenance.reconcile, 60, stop),
        Loop("task-modules", watcher.poll, 0.5, stop),
    ]
    queues = services.queues()
    for queue in QUEUES:
        pump = SqsPump(
            queues.client,
            queues.url(settings.queue_name(queue)),
            console.handoffs(queue, worker.handle_sqs),
            pool,
        )
        loops.append(Loop(f"sqs-{queue}", pump.poll, 0, stop))
    for loop in loops:
        loop.start()
    return loops


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("werkzeug", "botocore", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    host = "127.0.0.1"
    port = int(os.environ.get("PORT", "8000"))
    moto_port = int(os.environ.get("MOTO_PORT", "5000"))
    os.environ.update(_local_aws_env(moto_port))
    # HTTP targets may call servers on this machine (docs/targets.md); a deploy never does.
    os.environ.setdefault("BEATLESS_ALLOW_PRIVATE_TARGETS", "loopback")
    os.environ.setdefault("BEATLESS_HTTP_ALLOWED_HOSTS", "localhost,127.0.0.1")
    from chalicelib.local import console

    console.configure(console.level_from_env())  # BEATLESS_LOG_LEVEL: quiet, default, verbose
    console.install()

    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer

    # No Docker here: a lambda target's function answers with moto's echo of its payload.
    default_user_config["lambda"]["use_docker"] = False
    moto = ThreadedMotoServer(ip_address=host, port=moto_port, verbose=False)
    moto.start()
    log.info("emulated AWS (moto) on http://%s:%d", host, moto_port)
    server = None
    stopping = threading.Event()
    loops: list[threading.Thread] = []

    def stop(signum: int, _frame: Any) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log.info("signal %d: stopping", signum)
        if server is not None:
            threading.Thread(target=server.server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        provision()
        loops = start_standins(stopping)
        server = serve(host, port)
        log.info(
            "beatless API on http://%s:%d (try: curl http://%s:%d/v1/status)",
            host,
            port,
            host,
            port,
        )
        if not stopping.is_set():
            server.server.serve_forever(poll_interval=0.2)
    finally:
        stopping.set()
        for loop in loops:
            loop.join(timeout=5)
        if server is not None:
            server.server.server_close()
        moto.stop()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    # Runs still executing in worker threads die with the process, as a Lambda does at its
    # timeout; everything lived in the emulator's memory anyway.
    os._exit(code)
