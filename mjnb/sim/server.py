"""The HTTP side of the simulator: routing, auth, faults, signed image URLs and statistics."""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import socket
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import billing, persist
from .api import Api, Call, relay_model
from .engine import Engine, SimError
from .flavours import FLAVOURS, Reply, empty_reply, json_reply, text_reply
from .options import SimOptions

# (method, pattern, route name, needs auth); patterns are matched after any mode prefix
ROUTES = [
    ("POST", r"/mj/submit/imagine", "imagine"),
    ("POST", r"/mj/submit/action", "action"),
    ("POST", r"/mj/submit/modal", "modal"),
    ("POST", r"/mj/submit/blend", "blend"),
    ("POST", r"/mj/submit/describe", "describe"),
    ("POST", r"/mj/submit/shorten", "shorten"),
    ("POST", r"/mj/submit/change", "change"),
    ("POST", r"/mj/submit/simple-change", "simple_change"),
    ("POST", r"/mj/insight-face/swap", "swap_face"),
    ("GET", r"/mj/task/(?P<id>[^/]+)/fetch", "fetch"),
    ("GET", r"/mj/task/(?P<id>[^/]+)/image-seed", "image_seed"),
    ("POST", r"/mj/task/list-by-condition", "list_by_condition"),
    ("POST", r"/mj/task/list-by-ids", "list_by_ids"),
    ("GET", r"/mj/task/list", "task_list"),  # novicezk/trueai only (spec 3.14)
    ("GET", r"/mj/image/(?P<id>[^/]+)", "image"),
    # new-api's own money routes (spec §13 R11); the raw upstreams have none of them
    ("GET", r"/api/usage/token/", "token_usage"),
    ("GET", r"/api/usage/token", "token_usage_redirect"),  # gin: 301 to the trailing slash
    ("GET", r"/(v1/)?dashboard/billing/subscription", "billing_subscription"),
    ("GET", r"/(v1/)?dashboard/billing/usage", "billing_usage"),
]
MONEY_ROUTES = ("token_usage", "token_usage_redirect", "billing_subscription", "billing_usage")
GATEWAY_PAGES = {
    502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}
EXPIRED_TEXT = "This content is no longer available."
SUBMIT_ROUTES = ("imagine", "action", "modal", "blend", "describe", "shorten", "change",
                 "simple_change", "swap_face")


def key_id(key: str | None) -> str:
    """How statistics name a key without printing it."""
    if not key:
        return "anonymous"
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:10]


def _relay_key(token: str) -> str:
    """new-api's token in one spelling, "sk-<token>": "sk-abc", "abc" and "Bearer sk-abc" are one key."""
    token = token.strip()
    return "sk-" + token.removeprefix("sk-") if token else ""


class Simulator:
    """A running simulator: `.url`, `.stop()`, `.stats()`, `.configure(**options)`; a context manager."""

    def __init__(self, port: int = 0, **options):
        self.options = SimOptions(**options)
        saved = persist.load(self.options.state_file) if self.options.state_file else None
        self.httpd = _bind(port, (saved or {}).get("port", 0))
        self.httpd.sim = self
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # another origin (another port) that serves the same routes and counts the keys reaching
        # it: where redirects lead, and an image host a relay may advertise
        self.elsewhere = _Server(("127.0.0.1", 0), _Handler)
        self.elsewhere.sim, self.elsewhere.is_elsewhere = self, True
        self.elsewhere_url = f"http://127.0.0.1:{self.elsewhere.server_address[1]}"
        self.elsewhere_seen = Counter()
        self.engine = Engine(self.options, self.url)
        self.api = Api(self.engine, FLAVOURS[self.options.profile]())
        if saved is not None:
            persist.restore(saved, self.engine, self.api.relay)
        self._saved = self.engine.finished
        self.fault_rng = random.Random(None if self.options.seed is None else self.options.seed + 1)
        self.stats_lock = threading.Lock()
        self.stopping = threading.Event()
        self.counts: Counter = Counter()
        self.by_status: Counter = Counter()
        self.by_route_status: Counter = Counter()
        self.modes: Counter = Counter()
        self.recent: dict = defaultdict(deque)  # key -> times of recent API requests
        self._threads = [threading.Thread(target=server.serve_forever, name="mjnb-sim",
                                          kwargs={"poll_interval": 0.1}, daemon=True)
                         for server in (self.httpd, self.elsewhere)]
        for thread in self._threads:
            thread.start()

    def configure(self, **changes) -> None:
        """Change options while running (faults, speed, ...); the profile is fixed at start."""
        if "profile" in changes and changes["profile"] != self.options.profile:
            raise ValueError("profile cannot change while the simulator runs; start another one")
        with self.engine.lock:
            self.options.update(**changes)

    def save(self) -> None:
        """Write the finished tasks to the state file (when one is set); after each finish and at stop."""
        if not self.options.state_file:
            return
        with self.engine.lock:
            if self.engine.finished == self._saved:
                return
            self._saved = self.engine.finished
        try:
            persist.save(self.options.state_file, self.httpd.server_address[1], self.engine, self.api.relay)
        except OSError as exc:  # a read-only or full disk: keep serving, say it once, keep nothing
            print(f"mjnb.sim: cannot save finished tasks to {self.options.state_file} ({exc}); "
                  f"they are forgotten when the simulator stops", file=sys.stderr)
            self.options.state_file = None

    def stop(self) -> None:
        self.engine.advance()
        self.save()
        self.stopping.set()
        for server, thread in zip((self.httpd, self.elsewhere), self._threads):
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    def __enter__(self) -> "Simulator":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<mjnb.sim.Simulator {self.options.profile} at {self.url}>"

    # ------------------------------------------------------------ introspection

    def stats(self) -> dict:
        """Request counts per route and status, and the task ids each key created."""
        with self.stats_lock:
            by_route_status: dict = defaultdict(dict)
            for (route, status), n in self.by_route_status.items():
                by_route_status[route][str(status)] = n
            out = {"requests": dict(self.counts), "statuses": {str(k): v for k, v in self.by_status.items()},
                   "by_route_status": dict(by_route_status), "modes": dict(self.modes),
                   "elsewhere": {"requests": self.elsewhere_seen["requests"],
                                 "with_key": self.elsewhere_seen["with_key"]}}
        with self.engine.lock:
            per_key: dict = defaultdict(list)
            for task in self.engine.tasks.values():
                per_key[key_id(task.key)].append(task.id)
            out["tasks_by_key"] = dict(per_key)
            out["tasks"] = len(self.engine.tasks)
        return out

    def tasks(self) -> list[dict]:
        """Every task the simulator holds, as the simulator itself sees it (upstream state)."""
        self.engine.advance()
        with self.engine.lock:
            return [{"id": t.id, "key": key_id(t.key), "action": t.action, "status": t.status,
                     "progress": t.progress, "prompt": t.prompt, "state": t.state,
                     "parent_id": t.parent_id, "custom_id": t.custom_id, "outcome": t.outcome,
                     "submit_time": t.submit_time, "start_time": t.start_time,
                     "finish_time": t.finish_time, "changes": len(t.history)}
                    for t in self.engine.tasks.values()]

    def count_elsewhere(self, headers) -> None:
        carries_key = bool(headers.get("Authorization") or headers.get("mj-api-secret"))
        with self.stats_lock:
            self.elsewhere_seen["requests"] += 1
            self.elsewhere_seen["with_key"] += carries_key

    def count(self, route: str, status: int, mode: str | None) -> None:
        with self.stats_lock:
            self.counts[route] += 1
            self.by_status[status] += 1
            self.by_route_status[(route, status)] += 1
            if mode:
                self.modes[mode] += 1

    # ------------------------------------------------------------ request handling

    def authenticate(self, headers) -> tuple[str | None, Reply | None]:
        """The caller's key (normalised) or the flavour's refusal."""
        opts, flavour = self.options, self.api.flavour
        auth = (headers.get("Authorization") or "").strip()
        secret = (headers.get("mj-api-secret") or "").strip()
        if opts.profile == "relay":
            raw = auth if auth and auth != "midjourney-proxy" else secret
            key = _relay_key(raw[7:].strip() if raw[:7].lower() == "bearer " else raw)
        elif opts.profile == "trueai":
            key = auth or secret  # the raw header: "Bearer x" is not "x" here
        else:
            key = secret
        canon = _relay_key if opts.profile == "relay" else (lambda k: k)
        allowed = {canon(k) for k in opts.keys}
        disabled = {canon(k) for k in opts.disabled_keys}
        if key in disabled:
            return None, flavour.forbidden("disabled")
        if allowed and key not in allowed:
            base, _, channel = key.rpartition("-")
            if opts.profile == "relay" and channel.isdigit() and base in allowed:
                return None, flavour.forbidden("channel")
            return None, flavour.unauthorized(missing=not key)
        return key, None

    def rate_limited(self, key: str, now: float) -> int | None:
        """Seconds to wait when `key` spent its requests for this minute, else None."""
        limit = self.options.rate_limit
        if limit is None:
            return None
        with self.stats_lock:
            window = self.recent[key]
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= limit:
                return max(1, math.ceil(window[0] + 60 - now))
            window.append(now)
        return None

    def serve_attachment(self, path: str, query: str) -> Reply:
        m = re.fullmatch(r"/attachments/\d+/(\d+)/([^/]+)", path)
        q = parse_qs(query)
        att = self.engine.attachments.get(m[1]) if m else None
        try:
            ex, is_ = int(q["ex"][0], 16), int(q["is"][0], 16)
            signed = att is not None and q["hm"][0] == self.engine.sign(att.id, ex, is_)
        except (KeyError, ValueError, IndexError):
            signed = False
        if not signed or m[2] != att.filename or time.time() >= att.expires:
            return text_reply(404, EXPIRED_TEXT)
        data, content_type = self.engine.image_bytes(att)
        return Reply(200, data, content_type, {"Cache-Control": "public, max-age=3600"})

    def relay_image(self, task_id: str) -> Reply:
        """new-api's /mj/image/{id}: streams the upstream URL stored in the id's OLDEST row, so
        it breaks when that URL expires (R10) or that row never got one (after a modal, R3)."""
        task = self.engine.tasks.get(task_id)
        if task is None:
            return json_reply(400, {"error": "midjourney_task_not_found"})
        view = self.api.relay.view(task, self.api.relay.first(task), time.time())
        url = (view or {}).get("image_url")
        if not url:
            return json_reply(500, {"error": "http_get_image_failed"})
        parts = urlsplit(url)
        reply = self.serve_attachment(parts.path, parts.query)
        if reply.status != 200:
            return json_reply(reply.status, {"error": reply.body.decode()})
        return Reply(200, reply.body, reply.content_type)

    def handle(self, method: str, raw_path: str, headers, body: bytes,
               elsewhere: bool = False) -> Reply | None:
        """Answer one request; None means: drop the connection without answering."""
        parts = urlsplit(raw_path)
        path = parts.path
        if elsewhere:
            self.count_elsewhere(headers)
        if path.startswith("/__sim/"):
            return self.introspect(method, path, body)
        opts = self.options
        mode, route, params = (None, None, {}) if path.startswith("/attachments/") else self.match(method, path)
        label = "attachment" if path.startswith("/attachments/") else route or "unknown"
        if not elsewhere and opts.redirect_rate and _listed(label, opts.redirect_routes) and \
                self.fault_rng.random() < opts.redirect_rate:
            reply = Reply(opts.redirect_status, b"", "", {"Location": self.elsewhere_url + raw_path})
            self.count(label, reply.status, mode)
            return reply
        if label == "attachment":
            reply = self.serve_attachment(path, parts.query) if method == "GET" else empty_reply(405)
        else:
            if opts.latency:
                time.sleep(opts.latency)
            roll = self.fault_rng.random()
            if roll < opts.drop_rate:
                self.count(label, 0, mode)
                return None
            if roll < opts.drop_rate + opts.error_rate:
                reply = _gateway_page(self.fault_rng.choice(sorted(GATEWAY_PAGES)))
            else:
                reply = self.dispatch(method, path, route, params, mode, headers, body)
            if opts.lose_answer_rate and route in SUBMIT_ROUTES and reply.status == 200 and \
                    self.fault_rng.random() < opts.lose_answer_rate:
                # the relay forwarded the submit (the task exists), then the answer is lost
                kind = opts.lose_answer_as
                if kind == "mixed":
                    kind = self.fault_rng.choice(("502", "reset"))
                self.count(label, 0 if kind == "reset" else 502, mode)
                return None if kind == "reset" else _gateway_page(502)
        if opts.oversize_mb and label != "attachment" and reply.content_type.startswith("application/json") \
                and _listed(label, opts.oversize_routes):
            reply.padding = max(0, int(opts.oversize_mb * 1024 * 1024) - len(reply.body))
        if opts.trickle_ms and _listed(label, opts.trickle_routes):
            reply.trickle = opts.trickle_ms / 1000
        self.count(label, reply.status, mode)
        if self.engine.finished != self._saved:
            self.save()
        return reply

    def match(self, method: str, path: str) -> tuple[str | None, str | None, dict]:
        """(mode prefix, route name, path parameters) for a path, per flavour."""
        mode = None
        prefix = re.match(r"/(mj-[A-Za-z]+|[A-Za-z0-9_-]+)(?=/mj/)", path)
        if prefix and prefix[1] != "mj":
            profile = self.options.profile
            name = prefix[1]
            rest = path[prefix.end():]
            if profile == "relay":
                mode, path = name, rest  # accepted and stripped; not passed upstream
            elif profile == "trueai" and name in ("mj-fast", "mj-relax", "mj-turbo") and \
                    re.match(r"/mj/(submit|task|insight-face)/", rest):
                mode, path = name, rest
            else:
                return None, None, {}
        for verb, pattern, route in ROUTES:
            m = re.fullmatch(pattern, path)
            if m and verb == method:
                if route in self.api.flavour.routes_missing or \
                        route in MONEY_ROUTES and self.options.profile != "relay":
                    return mode, None, {}
                if route == "list_by_ids":
                    route = "list_by_condition"
                return mode, route, m.groupdict()
        return mode, None, {}

    def dispatch(self, method, path, route, params, mode, headers, body) -> Reply:
        flavour, now = self.api.flavour, time.time()
        if route is None:
            return flavour.route_not_found(method, urlsplit(path).path)
        if route == "image":  # no auth: browsers load these directly
            self.engine.advance(now)
            with self.engine.lock:
                return self.relay_image(params["id"])
        if route in MONEY_ROUTES:
            return self.money(route, headers, now)
        key, refusal = self.authenticate(headers)
        if refusal:
            return refusal
        if self.options.profile == "relay" and self.exhausted(key, now):
            return billing.exhausted()
        wait = self.rate_limited(key, now)
        if wait is not None:
            return flavour.rate_limited(wait)
        data = {}
        if method == "POST":
            try:
                data = json.loads(body or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("body must be a JSON object")
            except ValueError as exc:
                return flavour.error(SimError("bad_json", str(exc)), route, path)
        model = relay_model(route, data) if self.options.profile == "relay" else None
        if model in self.options.denied_models:
            return flavour.forbidden("model", model)
        speed_mode = mode[3:] if mode and mode.startswith("mj-") else None
        call = Call(route=route, path=path, key=key, body=data, now=now, mode=speed_mode)
        self.engine.advance(now)
        with self.engine.lock:
            try:
                handler = getattr(self.api, route)
                return handler(call, params["id"]) if "id" in params else handler(call)
            except SimError as err:
                return flavour.error(err, route, path)

    def exhausted(self, key: str, now: float) -> bool:
        """new-api's TokenAuth refuses a key whose own quota is used up (remain_quota <= 0)."""
        ledger = self.api.ledger
        if not ledger.may_fall_short(self.options, key):
            return False
        self.engine.advance(now)
        with self.engine.lock:
            return self.api.counters(key, now)["key_remain"] <= 0

    def money(self, route: str, headers, now: float) -> Reply:
        """The quota routes, with new-api's own auth for them: the Authorization header only
        (mj-api-secret counts on /mj paths alone)."""
        if route == "token_usage_redirect":
            return Reply(301, b'<a href="/api/usage/token/">Moved Permanently</a>.\n\n',
                         "text/html; charset=utf-8", {"Location": "/api/usage/token/"})
        authorization = (headers.get("Authorization") or "").strip()
        only_authorization = {"Authorization": authorization} if authorization else {}
        if route == "token_usage" and not authorization:
            return json_reply(401, {"success": False, "message": "未提供 Authorization 请求头"})
        key, refusal = self.authenticate(only_authorization)
        if refusal:
            if route == "token_usage":
                return json_reply(401, {"success": False, "message": "无效的令牌"})
            return refusal
        self.engine.advance(now)
        with self.engine.lock:
            counters = self.api.counters(key, now)
        if route == "token_usage":
            return billing.token_usage(counters, authorization)
        if counters["key_remain"] <= 0:  # TokenAuth, as on every relayed route
            return billing.exhausted(counters)
        if route == "billing_subscription":
            return billing.subscription(self.options, counters)
        return billing.usage(self.options, counters)

    def introspect(self, method: str, path: str, body: bytes) -> Reply:
        if path == "/__sim/stats" and method == "GET":
            return json_reply(200, self.stats())
        if path == "/__sim/tasks" and method == "GET":
            return json_reply(200, self.tasks())
        if path == "/__sim/options" and method == "GET":
            opts = {k: v for k, v in vars(self.options).items() if k not in ("keys", "disabled_keys")}
            return json_reply(200, opts)
        if path == "/__sim/config" and method == "POST":
            try:
                self.configure(**json.loads(body or b"{}"))
            except (ValueError, TypeError) as exc:
                return json_reply(400, {"error": str(exc)})
            return json_reply(200, {"ok": True})
        return json_reply(404, {"error": f"no simulator route {method} {path}"})


def _listed(label: str, routes: list) -> bool:
    """Whether a fault limited to `routes` (none listed = every route) applies to this one."""
    return not routes or label in routes


def _gateway_page(status: int) -> Reply:
    title = f"{status} {GATEWAY_PAGES[status]}"
    page = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
    return Reply(status, page.encode(), "text/html")


def _bind(port: int, remembered: int = 0) -> "_Server":
    """A server on 127.0.0.1:port; with port 0, the state file's port when it is free, else any."""
    if not port and remembered:
        try:
            return _Server(("127.0.0.1", remembered), _Handler)
        except OSError:
            pass
    return _Server(("127.0.0.1", port), _Handler)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sim: Simulator
    is_elsewhere = False

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up (a deadline, a refused huge answer) is no error; others are."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real relays
    disable_nagle_algorithm = True  # headers and body go out in two writes: don't wait 40 ms between
    server_version = "nginx"
    sys_version = ""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.sim.handle(self.command, self.path, self.headers, body,
                                       elsewhere=self.server.is_elsewhere)
        if reply is None:  # a dropped connection: no status line, nothing
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body) + reply.padding))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        try:
            self._write_body(reply)
        except OSError:  # the client gave up (a trickle, a huge answer): nothing to tell anyone
            self.close_connection = True

    def _write_body(self, reply) -> None:
        if reply.trickle:  # one byte at a time, as a stalled proxy delivers it
            stop = self.server.sim.stopping
            for i in range(len(reply.body)):
                if stop.wait(reply.trickle):
                    raise OSError("simulator stopping")
                self.wfile.write(reply.body[i:i + 1])
                self.wfile.flush()
            return
        self.wfile.write(reply.body)
        left = reply.padding  # streamed in blocks: the simulator never holds a huge answer
        block = b" " * 65536
        while left > 0:
            self.wfile.write(block[:min(left, len(block))])
            left -= len(block)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format, *args) -> None:  # quiet: tests and notebooks read stdout
        pass
