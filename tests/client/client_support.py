"""Helpers for the client acceptance tests (imported by name; pytest puts this folder on sys.path).

Everything talks real HTTP on loopback: to the simulator, or, for the few answers no simulator
profile gives (non-JSON or empty 200 bodies, a server echoing the key, a short Retry-After), to
`FakeServer`, a scripted stdlib HTTP server.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

import mjnb

PROFILES = ("relay", "trueai", "novicezk")
FAST = dict(speed=300.0, seed=1)
# each flavour's own auth header style (spec 2.2)
NATIVE_AUTH = {"relay": "bearer", "trueai": "authorization", "novicezk": "mj-api-secret"}
QUICK = dict(retries=2, backoff=0.005, timeout=5.0, poll_interval=0.05, poll_max_interval=0.2)
WAIT = 15.0  # deadline for anything polled; a fast job takes ~0.15 s
UNKNOWN_ID = "1730000000000999"  # a well-formed id no simulator ever made (ids use today's clock)
# routes each profile lacks (spec 10): the client must say UnsupportedEndpointError
MISSING = {"relay": set(), "trueai": {"change", "simple_change"},
           "novicezk": {"action", "modal", "shorten", "image_seed", "swap_face"}}


def new_key() -> str:
    return "sk-test-" + uuid.uuid4().hex[:20]


def make_client(sim, key: str | None = None, **settings) -> mjnb.Client:
    """A quick client for `sim`, in the profile's own auth style, with a fresh key."""
    profile = sim.options.profile
    settings = {**QUICK, "auth_header": NATIVE_AUTH[profile], "flavour": profile, **settings}
    return mjnb.Client(base_url=sim.url, api_key=key if key is not None else new_key(),
                       announce=False, **settings)


def until(predicate, timeout: float = WAIT, what: str = "condition"):
    """Poll `predicate` until it is truthy and return it; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


def route_counts(sim, route: str) -> dict:
    """{status: count} the simulator saw for `route` ('0' = dropped connection)."""
    return dict(sim.stats()["by_route_status"].get(route, {}))


def total(sim, route: str) -> int:
    return sum(route_counts(sim, route).values())


def delta(before: dict, after: dict) -> dict:
    keys = set(before) | set(after)
    return {k: after.get(k, 0) - before.get(k, 0) for k in keys if after.get(k, 0) != before.get(k, 0)}


def png(colour="red", size=(64, 64), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, fmt)
    return buf.getvalue()


def done(task, timeout: float = WAIT):
    """Wait for SUCCESS (TaskFailedError/TaskTimeoutError otherwise) and return the task."""
    return task.wait(timeout)


# ---------------------------------------------------------------- a scripted HTTP server


class FakeServer:
    """Answers each request with the next scripted reply for its path (the last one repeats).

    A reply is (status, body bytes or str or JSON-able, headers dict) or the string "drop".
    Every request is recorded as (method, path, headers dict, body bytes)."""

    def __init__(self):
        self.script: dict[str, deque] = {}
        self.requests: list = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _FakeHandler)
        self.httpd.daemon_threads = True
        self.httpd.fake = self
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()

    def on(self, path: str, *replies) -> None:
        self.script[path] = deque(replies)

    def next_reply(self, path: str):
        queue = self.script.get(path.split("?")[0])
        if not queue:
            return (404, b"", {})
        return queue.popleft() if len(queue) > 1 else queue[0]

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r[1].split("?")[0] == path)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake = self.server.fake
        fake.requests.append((self.command, self.path, dict(self.headers), body))
        reply = fake.next_reply(self.path)
        if reply == "drop":
            self.close_connection = True
            import socket
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        status, payload, headers = reply
        if isinstance(payload, str):
            data = payload.encode()
        elif isinstance(payload, bytes):
            data = payload
        else:
            data = json.dumps(payload, ensure_ascii=False).encode()
            headers = {"Content-Type": "application/json", **headers}
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, *args):
        pass
