"""The transport keeps the key at the relay's origin, ends every call by its deadline, and caps
what it reads (issue 11: key only to the relay, overall deadlines, size caps).

Faults come from the simulator (redirects to its second listener `elsewhere_url`, which counts the
keys reaching it; trickled and padded answers; a relay advertising another image host). A local
server is used only where the simulator cannot produce the case: a same-origin redirect, a
Location carrying a query, an answer streamed without Content-Length, an image of 81 Mpx.
"""

from __future__ import annotations

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from client_support import NATIVE_AUTH, done, new_key, png, total, until

import mjnb
from mjnb import ServerError, TransportError, ValidationError
from mjnb.images import image_bytes
from mjnb.models import TaskStatus
from mjnb.task import DOWNLOADS

SLACK = 1.0  # seconds a call may overrun its deadline (thread wake-ups, closing sockets)
QUICK_TIMEOUT = 1.5  # the deadline of calls that are made to hang
TRICKLE = dict(trickle_ms=100.0)  # one byte every 100 ms: a task answer takes ~20 s this way
ID = "1730000000000042"
TASK_JSON = {"id": ID, "action": "IMAGINE", "status": "SUCCESS", "progress": "100%", "prompt": "pig",
             "imageUrl": "", "buttons": []}


def elsewhere(sim) -> dict:
    return sim.stats()["elsewhere"]


def carried_key(headers: dict) -> bool:
    return bool(headers.get("Authorization") or headers.get("mj-api-secret"))


def ends_by(seconds: float, call):
    """Run `call`, which must raise TransportError, within `seconds` + SLACK; return the error."""
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        call()
    took = time.monotonic() - started
    assert took <= seconds + SLACK, f"the call took {took:.1f} s, its deadline was {seconds:g} s"
    return info.value


# ---------------------------------------------------------------- the key stays with the relay


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_to_another_origin_is_refused_and_nothing_reaches_it(fault_sim, connect, profile, status):
    """In each profile's own auth style (bearer, authorization, mj-api-secret)."""
    client = connect(fault_sim)
    grid = done(client.imagine("before the redirects"))
    before = elsewhere(fault_sim)
    fault_sim.configure(redirect_rate=1.0, redirect_status=status,
                        redirect_routes=["imagine", "fetch", "list_by_condition"])
    calls = {"imagine": lambda: client.imagine("pig"), "fetch": lambda: client.fetch(grid.id),
             "list": lambda: client.list_by_condition([grid.id])}
    for name, call in calls.items():
        with pytest.raises(TransportError) as info:
            call()
        text = str(info.value)
        assert fault_sim.elsewhere_url in text and "set base_url to that address" in text.lower(), text
        if name == "imagine":  # a 307 says "not done, repeat it there"; after a 302 nobody knows
            assert info.value.maybe_submitted == (status == 302)
    assert elsewhere(fault_sim) == before  # not followed at all: nothing was sent there
    assert elsewhere(fault_sim)["with_key"] == 0


def test_a_polled_task_says_reconnecting_while_the_relay_redirects_elsewhere(fault_sim, connect):
    client = connect(fault_sim)
    fault_sim.configure(hang_rate=1.0)  # stays live, so the tracker keeps polling it
    t = client.imagine("redirected polls")
    fault_sim.configure(redirect_rate=1.0, redirect_routes=["fetch", "list_by_condition"])
    until(lambda: t.connection and "another address" in t.connection, what="reconnecting on the task")
    assert elsewhere(fault_sim)["with_key"] == 0


def test_images_on_another_origin_get_no_key(fault_sim, connect, profile):
    """A relay advertising another image host (new-api's ServerAddress, often plain http), and image
    downloads redirected to another host: fetched, and never with the key."""
    client = connect(fault_sim)
    if profile == "relay":
        fault_sim.configure(server_address=fault_sim.elsewhere_url)
        t = done(client.imagine("an image served elsewhere"))
        assert t.image_url.startswith(fault_sim.elsewhere_url + "/mj/image/")
        assert t.image.size[0] > 0
    else:
        t = done(client.imagine("an image redirected elsewhere"))
    fault_sim.configure(redirect_rate=1.0, redirect_routes=["image", "attachment"])
    assert client.download(t.image_url)  # (download checks that it decodes)
    seen = elsewhere(fault_sim)
    assert seen["requests"] >= 1 and seen["with_key"] == 0


@pytest.mark.parametrize("auth", sorted(set(NATIVE_AUTH.values())))
def test_image_urls_on_the_relays_own_host_get_no_key_either(fake, auth):
    """new-api's /mj/image/<id> needs no key, so none is sent, even to the relay's own host."""
    client = mjnb.Client(fake.url, new_key(), auth_header=auth, retries=0, announce=False, history=False)
    fake.on(f"/mj/image/{ID}", (200, png(), {"Content-Type": "image/png"}))
    assert client.download(f"{fake.url}/mj/image/{ID}?rand=1").startswith(b"\x89PNG")
    assert not carried_key(fake.requests[-1][2])
    client.close()


@pytest.mark.parametrize("auth", sorted(set(NATIVE_AUTH.values())))
def test_a_same_origin_redirect_is_followed_with_the_key(fake, auth):
    key = new_key()
    client = mjnb.Client(fake.url, key, auth_header=auth, retries=0, announce=False, history=False)
    fake.on(f"/mj/task/{ID}/fetch", (307, b"", {"Location": f"/v2/mj/task/{ID}/fetch"}))
    fake.on(f"/v2/mj/task/{ID}/fetch", (200, TASK_JSON, {}))
    assert client.fetch(ID).status == TaskStatus.SUCCESS
    assert [r[1] for r in fake.requests] == [f"/mj/task/{ID}/fetch", f"/v2/mj/task/{ID}/fetch"]
    assert all(key in r[2].get("Authorization", "") + r[2].get("mj-api-secret", "") for r in fake.requests)
    client.close()


def test_the_refusal_names_the_origin_only(fake):
    """The other origin is named without its path or query (they may carry tokens), and a
    same-origin redirect of a submit that is not a 307/308 is not repeated."""
    client = mjnb.Client(fake.url, new_key(), retries=0, announce=False, history=False)
    fake.on(f"/mj/task/{ID}/fetch", (302, b"", {"Location": "https://cdn.example:8443/steal?token=abc"}))
    with pytest.raises(TransportError) as info:
        client.fetch(ID)
    assert "https://cdn.example:8443;" in str(info.value) and "steal" not in str(info.value)
    assert "token" not in str(info.value) and fake.hits(f"/mj/task/{ID}/fetch") == 1
    fake.on("/mj/submit/imagine", (302, b"", {"Location": "/mj/submit/imagine2"}))
    with pytest.raises(TransportError, match="redirect") as info:
        client.imagine("pig")
    assert info.value.maybe_submitted and fake.hits("/mj/submit/imagine2") == 0
    client.close()


def test_origins_compare_scheme_host_and_port():
    from mjnb.transport import _origin
    relay = _origin("https://Relay.example/mj")
    assert relay == _origin("https://relay.example:443/other") == ("https", "relay.example", 443)
    assert relay != _origin("http://relay.example/mj")  # never over plain http when the relay is https
    assert relay != _origin("https://relay.example:8443/mj")
    assert relay != _origin("https://relay.example.evil/mj")


# ---------------------------------------------------------------- every call ends by its deadline


@pytest.mark.parametrize("profile", ["relay"])
def test_a_trickled_submit_ends_by_its_deadline_as_maybe_submitted(fault_sim, connect):
    client = connect(fault_sim, timeout=QUICK_TIMEOUT)
    fault_sim.configure(**TRICKLE, trickle_routes=["imagine"])
    err = ends_by(QUICK_TIMEOUT, lambda: client.imagine("a slow answer"))
    assert err.maybe_submitted and "did not finish within 1.5 s" in str(err)


@pytest.mark.parametrize("profile", ["relay"])
def test_trickled_queries_and_downloads_end_by_their_deadline(fault_sim, connect):
    client = connect(fault_sim, timeout=QUICK_TIMEOUT)
    t = done(client.imagine("answers that trickle"))
    fault_sim.configure(**TRICKLE, trickle_routes=["fetch", "list_by_condition", "image", "attachment"])
    for call in (lambda: client.fetch(t.id), lambda: client.list_by_condition([t.id]),
                 lambda: client.download(t.image_url), lambda: client.download(t.image_url, timeout=0.5)):
        err = ends_by(QUICK_TIMEOUT, call)
        assert "did not finish within" in str(err) and not err.maybe_submitted


@pytest.mark.parametrize("profile", ["relay"])
def test_wait_timeout_covers_the_final_download(fault_sim, connect):
    client = connect(fault_sim, timeout=4.0)  # the download alone could take 4 s
    fault_sim.configure(**TRICKLE, trickle_routes=["image", "attachment"])
    t = client.imagine("a finished task whose image trickles")
    started = time.monotonic()
    assert t.wait(timeout=2.0).status == TaskStatus.SUCCESS  # finished; its image still on the way
    assert time.monotonic() - started <= 2.0 + SLACK


@pytest.mark.parametrize("profile", ["relay"])
def test_a_hung_poll_shows_reconnecting_on_the_card(fault_sim, connect):
    client = connect(fault_sim, timeout=QUICK_TIMEOUT)
    fault_sim.configure(hang_rate=1.0)
    t = client.imagine("polls that trickle")
    card = t.card
    until(lambda: t.status == TaskStatus.IN_PROGRESS, what="the task to run")
    fault_sim.configure(**TRICKLE, trickle_routes=["fetch", "list_by_condition"])
    until(lambda: t.connection and "did not finish within" in t.connection, timeout=4 * QUICK_TIMEOUT,
          what="reconnecting on the task")
    assert any("Reconnecting" in n["text"] for s in card.tasks for n in s["notices"])
    fault_sim.configure(trickle_ms=0.0)
    until(lambda: t.connection is None, what="the card to recover")


@pytest.mark.parametrize("profile", ["relay"])
def test_four_slow_downloads_do_not_hold_up_a_click(fault_sim, connect):
    client = connect(fault_sim, timeout=5.0)
    grid = done(client.imagine("a grid to upscale"))  # its image kept before the trickle starts
    fault_sim.configure(trickle_ms=200.0, trickle_routes=["image", "attachment"])
    before = total(fault_sim, "image")
    slow = [DOWNLOADS.submit(client.download, grid.image_url) for _ in range(4)]  # every download worker
    until(lambda: total(fault_sim, "image") - before >= 4, what="four downloads in flight")
    card = grid.card
    u1 = next(b for b in card.tasks[0]["buttons"] if b["label"] == "U1")
    card._handle_custom_msg({"type": "press", "task": grid.id, "button": u1["id"]}, [])  # a click in the page
    # a click queued behind the downloads would wait for their 5 s deadline; it must not wait at all
    child = until(lambda: grid.children and grid.children[0], timeout=client.config.timeout, what="the child")
    assert not any(f.done() for f in slow), "the click went through only after a download ended"
    fault_sim.configure(trickle_ms=0.0)  # let the child's own previews through
    for f in slow:
        with pytest.raises(TransportError, match="did not finish"):
            f.result(timeout=client.config.timeout + SLACK)
    assert done(child).status == TaskStatus.SUCCESS


# ---------------------------------------------------------------- size caps


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def rss_growth_mb(call) -> float:
    """How far this process's RSS rose above its start while `call` ran: the peak (VmHWM after
    resetting it through clear_refs) where the kernel allows, else the RSS at the end."""
    base = _status_kb("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        field = "VmHWM"
    except OSError:
        field = "VmRSS"
    call()
    return (_status_kb(field) - base) / 1024


class _EndlessJson(BaseHTTPRequestHandler):
    """A JSON answer with no Content-Length, padded with 300 MB of spaces streamed in blocks."""

    protocol_version = "HTTP/1.0"  # the body ends when the connection closes

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        block = b" " * 65536
        try:
            self.wfile.write(b'{"id": "%s", "status": "SUCCESS"' % ID.encode())
            for _ in range(300 * 16):
                self.wfile.write(block)
            self.wfile.write(b"}")
        except OSError:  # the client stopped reading, as it should
            pass

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("profile", ["relay"])
def test_a_300_mb_answer_is_refused_with_bounded_memory(fault_sim, connect):
    client = connect(fault_sim)
    t = done(client.imagine("a task whose answers swell"))
    fault_sim.configure(oversize_mb=2, oversize_routes=["fetch"])
    assert client.fetch(t.id).id == t.id  # padded, but under max_json_bytes: fine
    fault_sim.configure(oversize_mb=300)
    errors: list = []
    assert rss_growth_mb(lambda: _fetch_from(client, t.id, errors)) < 40
    assert "max_json_bytes" in str(errors[0]) and "MJNB_MAX_JSON_BYTES" in str(errors[0])

    # no Content-Length to refuse it by: the cap holds while it streams
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EndlessJson)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endless = mjnb.Client(f"http://127.0.0.1:{server.server_address[1]}", new_key(), retries=0,
                              announce=False, history=False)
        errors.clear()
        assert rss_growth_mb(lambda: _fetch_from(endless, ID, errors)) < 40
        assert "larger than max_json_bytes (16.8 MB)" in str(errors[0])
        endless.close()
    finally:
        server.shutdown()
        server.server_close()


def _fetch_from(client, ident, errors):
    with pytest.raises(TransportError) as info:
        client.fetch(ident)
    errors.append(info.value)


def test_max_json_bytes_is_a_setting():
    assert mjnb.Config().max_json_bytes == 16 * 1024 * 1024
    config = mjnb.Config.from_env({"MJNB_MAX_JSON_BYTES": "1000", "MJNB_MAX_IMAGE_PIXELS": "5000000"})
    assert (config.max_json_bytes, config.max_image_pixels) == (1000, 5_000_000)
    with pytest.raises(mjnb.ConfigError, match="MJNB_MAX_JSON_BYTES"):
        mjnb.Config.from_env({"MJNB_MAX_JSON_BYTES": "lots"})
    with pytest.raises(mjnb.ConfigError, match="max_image_pixels"):
        mjnb.Config(max_image_pixels=0)


def _huge_png() -> bytes:
    """9000x9000 (81 Mpx, past the 64 Mpx default, under Pillow's own limits), a few KB as a PNG."""
    from PIL import Image
    buf = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buf, "PNG")
    return buf.getvalue()


def test_a_too_large_image_is_refused_before_decoding(fake):
    data = _huge_png()
    fake.on("/huge.png", (200, data, {"Content-Type": "image/png"}))
    client = mjnb.Client(fake.url, new_key(), retries=0, announce=False, history=False)
    with pytest.raises(ServerError, match="9000x9000 .*max_image_pixels.*MJNB_MAX_IMAGE_PIXELS"):
        client.download(fake.url + "/huge.png")
    roomy = mjnb.Client(fake.url, new_key(), retries=0, announce=False, history=False,
                        max_image_pixels=100_000_000)
    assert roomy.download(fake.url + "/huge.png") == data  # the limit is the user's to raise
    with pytest.raises(ValidationError, match="images\\[0\\]: the image is 9000x9000"):
        image_bytes(data, "images[0]", 10 * 1024 * 1024)  # what users send is checked the same way
    client.close()
    roomy.close()


@pytest.mark.parametrize("profile", ["relay"])
def test_a_task_whose_image_is_too_large_says_so(fault_sim, connect, fake):
    """The relay advertises an image host serving an 81 Mpx image: the task still succeeds, its
    card says why there is no picture, and that host never saw the key."""
    data = _huge_png()
    fake.next_reply = lambda path: (200, data, {"Content-Type": "image/png"})
    fault_sim.configure(server_address=fake.url)
    client = connect(fault_sim)
    t = done(client.imagine("a picture too big to open"))
    assert t.status == TaskStatus.SUCCESS
    until(lambda: t.error and "max_image_pixels" in t.error, what="the error on the task")
    with pytest.raises(ServerError, match="max_image_pixels"):
        t.image
    assert fake.requests and not any(carried_key(r[2]) for r in fake.requests)
    assert t.latest_picture is None
