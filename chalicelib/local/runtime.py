"""``make run``: the embedded default. Starts moto in server mode on 127.0.0.1, creates the
tables and the schedule group from the app's own definitions, and serves the API on 127.0.0.1.

It also runs local stand-ins (``standins.py``) for what moto stores but never runs: the
EventBridge Scheduler that fires schedules, the SQS event sources that feed the worker, and the
scheduled reaper and reconciler, all calling the worker entry points with AWS's event shapes.

Environment: ``PORT`` (API, default 8000), ``MOTO_PORT`` (emulated AWS, default 5000),
``BEATLESS_API_KEY`` (the admin key of tenant ``default``; generated and printed when unset),
``BEATLESS_TASK_MODULES`` (the user's task modules, reloaded when their files change:
``reload.py``), ``BEATLESS_STATE_DIR`` (where the emulated AWS is kept across restarts, default
``.run/state``: ``state.py``; what a start does about the stop: ``catchup.py``).
Ctrl-C or SIGTERM stops both
servers and leaves nothing running.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib.clock import utcnow
from chalicelib.local.state import Activity

ROOT = Path(__file__).resolve().parents[2]
#: How often the state is saved while it changes: a SIGKILL loses at most this much.
SAVE_SECONDS = 2.0
log = logging.getLogger("local-runtime")  # not under "beatless": Chalice owns that logger


def state_folder() -> Path | None:
    """Where the emulated AWS state is kept: BEATLESS_STATE_DIR, by default ``.run/state`` of
    the checkout; set empty, nothing is kept (everything lives in memory)."""
    value = os.environ.get("BEATLESS_STATE_DIR", str(ROOT / ".run" / "state"))
    return Path(value) if value else None


def _local_aws_env(moto_port: int) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "AWS_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "BEATLESS_AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
    }


def provision(restored: bool = False) -> None:
    """Create the tables, queues and schedule group in the emulated AWS (idempotent), and the
    admin key of tenant ``default``: BEATLESS_API_KEY, else one generated and printed once (a
    restored state keeps the one it has)."""
    from chalicelib import resources, services
    from chalicelib.errors import Unauthorized
    from chalicelib.settings import get_settings

    services.reset()
    settings = get_settings()
    resources.provision(settings)
    log.info("tables, queues and schedule group %r ready", settings.schedule_group)
    chosen = os.environ.get("BEATLESS_API_KEY")
    if chosen:
        try:
            services.keys().authenticate(chosen)
        except Unauthorized:
            services.keys().create("default", "admin", "local admin", key=chosen)
        log.info("admin key of tenant 'default': the BEATLESS_API_KEY you set")
    elif restored:
        log.info(
            "admin key of tenant 'default': the one printed when this state began "
            "(set BEATLESS_API_KEY to add one you choose, or `make reset` to start over)"
        )
    else:
        key = services.keys().create("default", "admin", "local admin").key
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

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except (BrokenPipeError, ConnectionResetError):
                # The client left mid-answer (a closed browser tab): nothing to answer, no trace.
                self.close_connection = True

        def __getattr__(self, name: str) -> Any:
            # Chalice serves the usual methods; any other (TRACE, QUERY, ...) reaches the router
            # too, which answers 405 with Allow, not http.server's HTML 501.
            if name.startswith("do_"):
                return self._generic_handle
            raise AttributeError(name)

    class Server(ThreadedHTTPServer):
        request_queue_size = 128  # the default 5 resets connections under concurrent clients

    return LocalDevServer(app, config, host, port, handler_cls=Handler, server_cls=Server)


def start_standins(
    stop: threading.Event, activity: Activity | None = None, stopped_since: datetime | None = None
) -> list[threading.Thread]:
    """The local EventBridge Scheduler, the SQS event sources and the scheduled upkeep; with
    ``stopped_since`` (a restored state's time), first the misfire rule for the stop
    (``catchup.py``)."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib import maintenance, services
    from chalicelib.local import catchup, console
    from chalicelib.local.reload import TaskModuleWatcher
    from chalicelib.local.standins import LocalScheduler, Loop, SqsPump
    from chalicelib.settings import get_settings
    from chalicelib.tasks import QUEUES, registry

    settings = get_settings()
    watcher = TaskModuleWatcher(registry)
    watcher.start()  # the user's task modules now, so an error in them shows at once
    worker = services.worker()
    pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="worker")
    fire = console.fires(worker.handle)
    scheduler = LocalScheduler(services.scheduler().client, settings.schedule_group, fire, pool)
    if stopped_since is not None:
        done = catchup.catch_up(
            services.scheduler().client,
            settings.schedule_group,
            stopped_since,
            utcnow(),
            lambda event: pool.submit(fire, event),
            services.firing().record_missed,
        )
        if done.fired or done.skipped or done.uncounted:
            log.info(
                "missed while stopped: %d jobs fire once now (their latest missed fire), "
                "%d older fires recorded SKIPPED%s",
                done.fired,
                done.skipped,
                f", {done.uncounted} older still not recorded" if done.uncounted else "",
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
            activity=activity,
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

    from chalicelib.local.state import Gate, Saver, Snapshots, StateError, gated_moto_server

    # No Docker here: a lambda target's function answers with moto's echo of its payload.
    default_user_config["lambda"]["use_docker"] = False
    from chalicelib.local import motofix

    motofix.install()  # transactions without moto's whole-table copies
    gate, activity = Gate(), Activity()
    folder = state_folder()
    snapshots = Snapshots(folder, gate) if folder is not None else None
    try:
        restored = snapshots.restore() if snapshots is not None else None
    except StateError as error:
        log.error("%s", error)
        return 1
    from chalicelib.local import catchup

    # Second-precision fires already in the queues follow the misfire rule too.
    coalesced = catchup.coalesce_planned(restored.saved_at, utcnow()) if restored else []
    moto = gated_moto_server(host, moto_port, gate, activity)
    moto.start()
    log.info("emulated AWS (moto) on http://%s:%d", host, moto_port)
    from chalicelib.local import inprocess

    # This process's own calls reach moto in-process, through the same gate (inprocess.py).
    inprocess.install(moto.app, f"http://{host}:{moto_port}")
    if restored is not None:
        log.info(
            "state restored from %s (saved %s, %d KB; `make reset` starts empty)",
            folder,
            restored.saved_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            restored.size // 1024,
        )
    elif folder is not None:
        log.info("state kept in %s (`make reset` wipes it)", folder)
    saver = Saver(snapshots, moto.app.dirty, SAVE_SECONDS) if snapshots is not None else None
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
        provision(restored=restored is not None)
        if restored is not None:
            from chalicelib import services
            from chalicelib.local.catchup import recover_interrupted

            if queued := recover_interrupted(services.executor()):
                log.info("%d runs interrupted by the stop are queued to run again", queued)
            firing = services.firing()
            if recorded := catchup.record_coalesced(
                coalesced, restored.saved_at, firing.record_missed
            ):
                log.info(
                    "missed while stopped: %d second-precision fires recorded SKIPPED", recorded
                )
        loops = start_standins(stopping, activity, restored.saved_at if restored else None)
        if saver is not None:
            from chalicelib.local.standins import Loop

            loops.append(Loop("state", saver.step, SAVE_SECONDS, stopping))
            loops[-1].start()
        server = serve(host, port)
        log.info(
            "beatless API on http://%s:%d (try: curl http://%s:%d/v1/status); "
            "console on http://%s:%d/console/",
            host,
            port,
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
        if saver is not None:
            try:
                saver.final()
            except Exception:
                log.exception("the state could not be saved at stop")
        moto.stop()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    # Runs still executing in worker threads die with the process, as a Lambda does at its
    # timeout; the saved state has them RUNNING, and the next start queues them again.
    os._exit(code)
