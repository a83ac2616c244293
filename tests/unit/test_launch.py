"""launched()'s start probe (chalicelib/local/launch.py): a runtime whose port another server took
between choosing and binding is not taken for a serving one (CI met another stack's moto there,
answering S3's XML NoSuchBucket to /v1/status)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chalicelib.local.launch import _serving


class _Foreign(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'<?xml version="1.0"?><Error><Code>NoSuchBucket</Code></Error>'
        self.send_response(404)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def test_a_runtime_that_exits_while_another_server_holds_its_port_is_not_serving():
    foreign = ThreadingHTTPServer(("127.0.0.1", 0), _Foreign)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    try:
        # What a runtime does that finds its port taken: it exits, after a moment.
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])
        started = _serving(process, foreign.server_address[1], time.monotonic() + 30)
        assert started is False
        assert process.poll() is not None
    finally:
        foreign.shutdown()
        foreign.server_close()
