"""``make run``'s memory across restarts: the emulated AWS (every moto backend: tables, schedules,
queues and their messages, secrets) written to one file and read back at the next start.

The file is written whole, to a temporary name, fsynced and renamed over the last one, so a
crash (SIGKILL) at any moment leaves either the previous snapshot or the new one, never a torn
file. A snapshot is taken under an exclusive gate that every request to moto passes shared
(``Gate``, ``GatedApp``), so it never sees half of a request's change: the state it saves is one
moto really was in. Precedents: LocalStack's persistence pickles moto's backends the same way;
Celery beat keeps its schedule file; Temporal's dev server takes ``--db-filename``.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("local-runtime")

#: Bumped when the file's layout changes; a file of another format is refused, not guessed at.
FORMAT = 1
FILENAME = "aws.pickle"
#: Requests that change nothing moto keeps (a received message becomes visible again anyway
#: when the state is restored: ``Snapshots.restore``).
_READS = ("Get", "List", "Describe", "Query", "Scan", "BatchGet", "Receive")


class Gate:
    """A readers-writer lock that favours the writer: requests pass together, a snapshot waits
    for the requests in flight and holds new ones back until it is taken."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting_writers = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class Activity:
    """A counter bumped by every message sent to a queue, so the local SQS event sources can
    sleep until something arrives instead of long-polling moto (a long poll would hold the gate
    and stall every snapshot for its whole wait)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def bump(self) -> None:
        with self._cond:
            self._count += 1
            self._cond.notify_all()

    def seen(self) -> int:
        return self._count

    def wait(self, seen: int, timeout: float) -> None:
        """Return once something was sent after ``seen`` was read, or after ``timeout``."""
        with self._cond:
            self._cond.wait_for(lambda: self._count != seen, timeout=timeout)


def _action(environ: dict[str, Any]) -> str:
    """The API action of a request to moto: the JSON protocols' target, else the HTTP method
    (the REST protocols, such as EventBridge Scheduler's, read with GET)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return target.rsplit(".", 1)[-1] if target else environ.get("REQUEST_METHOD", "GET")


class GatedApp:
    """The moto WSGI application behind the gate; remembers whether anything changed since the
    last snapshot, and tells ``activity`` about messages sent to queues."""

    def __init__(self, app: Callable[..., Any], gate: Gate, activity: Activity) -> None:
        self._app = app
        self._gate = gate
        self._activity = activity
        self.dirty = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        action = _action(environ)
        with self._gate.shared():
            # The body is built inside the gate: moto's responses are lists, not generators.
            response = list(self._app(environ, start_response))
        if not (action in ("GET", "HEAD") or action.startswith(_READS)):
            self.dirty.set()
        if action.startswith("SendMessage") or action == "ChangeMessageVisibility":
            self._activity.bump()
        return response


def gated_moto_server(host: str, port: int, gate: Gate, activity: Activity) -> Any:
    """moto's threaded server with every request passing ``gate``; ``.app`` is the GatedApp."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    gated = GatedApp(DomainDispatcherApplication(create_backend_app), gate, activity)

    class Server(ThreadedMotoServer):
        app = gated

        def _server_entry(self) -> None:
            self._server = make_server(
                self._ip_address, self._port, gated, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return Server(ip_address=host, port=port, verbose=False)


class _Pickler(pickle.Pickler):
    """Locks and conditions (SQS queues hold one) are saved as new, unheld ones."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        if isinstance(obj, type(threading.RLock())):
            return threading.RLock, ()
        if isinstance(obj, type(threading.Lock())):
            return threading.Lock, ()
        return NotImplemented


def _backends() -> dict[str, dict[str, dict[str, Any]]]:
    from moto.core.base_backend import BackendDict

    found: dict[str, dict[str, dict[str, Any]]] = {}
    for service in list(BackendDict._instances):
        for account, region, backend in service.iter_backends():
            found.setdefault(service.service_name, {}).setdefault(account, {})[region] = backend
    return found


@dataclass(frozen=True)
class Restored:
    saved_at: datetime
    size: int


class Snapshots:
    """The state file under ``folder``: ``save`` (atomic) and ``restore`` (before moto serves)."""

    def __init__(self, folder: Path, gate: Gate) -> None:
        self.folder = folder
        self.path = folder / FILENAME
        self._gate = gate
        self._saving = threading.Lock()

    def save(self) -> int:
        """Write the state of every moto backend; returns the bytes written."""
        import moto

        with self._saving:
            with self._gate.exclusive():
                saved_at = datetime.now(UTC)
                backends = _backends()
                buffer = io.BytesIO()
                _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(
                    {
                        "format": FORMAT,
                        "moto": moto.__version__,
                        "saved_at": saved_at,
                        "backends": backends,
                    }
                )
            data = buffer.getvalue()
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            with open(temporary, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
            directory = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(directory)  # the rename itself survives a power cut
            finally:
                os.close(directory)
            return len(data)

    def restore(self) -> Restored | None:
        """Load the last snapshot into moto's backends (call before moto serves); None if
        there is none. Raises StateError for a file this version cannot read."""
        import moto
        from moto.backends import get_backend

        if not self.path.exists():
            return None
        data = self.path.read_bytes()
        try:
            state = pickle.loads(data)
        except Exception as error:
            raise StateError(
                f"{self.path} cannot be read ({error}); `make reset` wipes it"
            ) from None
        if state.get("format") != FORMAT or state.get("moto") != moto.__version__:
            raise StateError(
                f"{self.path} was written by another version (format {state.get('format')}, "
                f"moto {state.get('moto')}; this is format {FORMAT}, moto {moto.__version__}); "
                "`make reset` wipes it"
            )
        for service, accounts in state["backends"].items():
            backend_dict = get_backend(service)  # type: ignore[call-overload]
            for account, regions in accounts.items():
                per_account = backend_dict[account]
                for region, backend in regions.items():
                    dict.__setitem__(per_account, region, backend)
        _wake_messages()
        return Restored(state["saved_at"], len(data))


class StateError(Exception):
    """The state file exists but cannot be restored."""


def _wake_messages() -> None:
    """Messages received but not deleted when the runtime stopped were being worked on by a
    worker that is gone: make them visible again at once, as SQS would after their timeout."""
    from moto.backends import get_backend

    for _account, _region, backend in get_backend("sqs").iter_backends():  # type: ignore[call-overload]
        for queue in backend.queues.values():
            queue.pending_messages.clear()
            for message in queue._messages:
                message.visible_at = 0.0


class Saver:
    """Saves a snapshot every ``interval`` seconds while something changed, and once at stop.

    A snapshot holds moto still while it is taken: when the state grows so large that taking it
    is slow, snapshots are spaced to keep moto held at most ``1 / SPACING`` of the time."""

    SPACING = 10

    def __init__(
        self,
        snapshots: Snapshots,
        dirty: threading.Event,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._snapshots = snapshots
        self._dirty = dirty
        self._interval = interval
        self._clock = clock
        self._next = 0.0

    def step(self) -> None:
        if not self._dirty.is_set() or self._clock() < self._next:
            return
        self._dirty.clear()
        began = self._clock()
        try:
            self._snapshots.save()
        except Exception:
            self._dirty.set()  # try again at the next step
            raise
        took = self._clock() - began
        self._next = began + max(self._interval, self.SPACING * took)

    def final(self) -> None:
        self._dirty.clear()
        size = self._snapshots.save()
        log.info("state saved to %s (%d KB)", self._snapshots.path, size // 1024)
