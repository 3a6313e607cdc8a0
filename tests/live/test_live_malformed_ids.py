"""Task ids from a server are untrusted: '../../x', one with a NUL, 10 kB of digits.

The simulator only makes well-formed ids, so a small rewriting relay sits between the client and
the simulator (real HTTP both ways): it passes everything through, but adds hostile rows to every
list-by-condition answer and, for a prompt containing "poison", swaps the id of the submit's
answer for a hostile one (the task was made on the simulator all the same: it was paid for).
Such an id must never escape the cache folder, stop the tracking of other tasks, or break
mjnb.resume().
"""

import http.client
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

import mjnb
from mjnb.models import TaskSnapshot, TaskStatus
from quick import until

KEY = "sk-hostile-ids-13579"
HOSTILE_IDS = ["../../x", "a\x00b", "9" * 10_000]
HOSTILE_ROWS = [{"id": i, "status": "IN_PROGRESS", "progress": "50%", "prompt": "hostile"} for i in HOSTILE_IDS]
HOSTILE_ROWS += ["not a task", None, {"status": "SUCCESS"}, {"id": ["1"]}]


class RewritingRelay:
    """Forwards to `upstream`; rewrites list-by-condition and 'poison' submit answers."""

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.poison_id = HOSTILE_IDS[0]
        self.lists_rewritten = 0
        self.broken: set[str] = set()  # tasks whose rows vanish from lists and come back malformed
        self.submits_poisoned = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.relay = self
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def rewrite(self, path: str, request_body: bytes, data):
        if path.endswith("/mj/task/list-by-condition") and isinstance(data, list):
            self.lists_rewritten += 1
            data = [row for row in data if row.get("id") not in self.broken]
            return HOSTILE_ROWS[:2] + data + HOSTILE_ROWS[2:]
        if path.endswith("/fetch") and isinstance(data, dict) and data.get("id") in self.broken:
            return {**data, "id": "../../x"}
        if path.endswith("/mj/submit/imagine") and b"broken" in request_body and isinstance(data, dict):
            self.broken.add(str(data.get("result")))
        if path.endswith("/mj/submit/imagine") and b"poison" in request_body and isinstance(data, dict):
            self.submits_poisoned += 1
            return {**data, "result": self.poison_id}
        return data

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _forward(self):
        relay = self.server.relay
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        conn = http.client.HTTPConnection(relay.upstream.hostname, relay.upstream.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        conn.request(self.command, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        payload, ctype = resp.read(), resp.getheader("Content-Type") or ""
        conn.close()
        if resp.status == 200 and "json" in ctype:
            payload = json.dumps(relay.rewrite(self.path, body, json.loads(payload))).encode()
        self.send_response(resp.status)
        self.send_header("Content-Type", ctype or "application/octet-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _forward

    def log_message(self, *args):
        pass


@pytest.fixture
def relay(sim):
    r = RewritingRelay(sim.url)
    yield r
    r.stop()


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("MJNB_HOME", str(home))
    yield home
    mjnb.configure()


def use(relay, **settings):
    mjnb.configure(base_url=relay.url, api_key=KEY, poll_interval=0.05, poll_max_interval=0.2, **settings)
    return mjnb.default_client()


def files_outside(root, home):
    return [p for p in root.rglob("*") if p.is_file() and home not in p.parents]


def test_hostile_rows_in_every_poll_do_not_stop_tracking(relay, home, tmp_path):
    client = use(relay)
    tasks = [mjnb.imagine(f"a calm lake {i}") for i in range(3)]
    for t in tasks:
        assert t.wait(30).image.size == (512, 512)
        assert t.connection is None  # never "reconnecting" because of a bad row
    assert relay.lists_rewritten > 0, "the hostile rows were never served"
    assert set(client._tasks.keys()) == {t.id for t in tasks}
    assert files_outside(tmp_path, home) == []
    assert {t.id for t in mjnb.tasks([t.id for t in tasks])} == {t.id for t in tasks}


def test_a_task_whose_answers_are_malformed_does_not_hold_back_the_others(relay, home):
    """Its row is missing from every list and its fetch answers a malformed id: that one task
    makes no progress (a stall will say so), the others finish and no card says reconnecting."""
    use(relay)
    broken = mjnb.imagine("broken record")
    assert relay.broken == {broken.id}
    others = [mjnb.imagine(f"a steady hand {i}") for i in range(2)]
    for t in others:
        assert t.wait(30).image.size == (512, 512) and t.connection is None
    assert not broken.done and broken.connection is None


@pytest.mark.parametrize("poison_id", HOSTILE_IDS, ids=["dotdot", "nul", "10kB"])
def test_a_hostile_submit_id_is_refused_kept_in_view_and_harmless(poison_id, relay, home, tmp_path):
    relay.poison_id = poison_id
    client = use(relay)
    others = [mjnb.imagine(f"a quiet field {i}") for i in range(2)]
    with pytest.raises(mjnb.ServerError, match="no task id came back") as info:
        mjnb.imagine("poison apple")
    assert KEY not in str(info.value) and KEY[3:] not in str(info.value)
    assert relay.submits_poisoned == 1
    # the task exists on the server (paid for): its submit stays visible as an unknown outcome
    [pending] = client.history.unanswered_submits(client.config.host)
    assert pending["body"]["prompt"] == "poison apple"
    for t in others:  # tracking of the other tasks went on
        assert t.wait(30).image.size == (512, 512)
    assert set(client._tasks.keys()) == {t.id for t in others}
    assert files_outside(tmp_path, home) == []


def test_resume_survives_a_poisoned_history(relay, sim, home):
    """Rows an older mjnb stored with hostile ids (unfinished, so resume() asks for them) next to
    one real unfinished task: resume() re-attaches the real one and skips the rest."""
    client = use(relay)
    real = mjnb.imagine("a survivor").wait(30)
    store = client.history
    for ident in HOSTILE_IDS:
        store.task_seen(client.config.host, TaskSnapshot(id=ident, status=TaskStatus.IN_PROGRESS), {})
    store.task_seen(client.config.host, TaskSnapshot(id=real.id, status=TaskStatus.IN_PROGRESS), {})
    mjnb.configure()  # a new kernel

    use(relay)
    resumed = mjnb.resume()
    assert [t.id for t in resumed] == [real.id]
    assert resumed[0].wait(30).status == TaskStatus.SUCCESS
    assert mjnb.resume() == []  # and again: nothing unfinished is left that can be asked for
    until(lambda: mjnb.history().set_index("id").loc[real.id].status == "SUCCESS",
          what="the real task's row to be finished")
    assert os.path.isdir(home / "images")
