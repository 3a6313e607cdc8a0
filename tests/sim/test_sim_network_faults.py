"""Faults real networks add on top of a relay (spec 13, last paragraph): a submit whose answer is lost
after the task was created, bodies that trickle a byte at a time, redirects to another origin, and JSON
answers of unbounded size -- each observed over raw HTTP, plus their CLI flags."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
import requests
from PIL import Image

import mjnb.sim
from sim_support import cli_start

FAITHFUL = {"profile": "relay", "speed": 300.0, "sync_interval": 15.0, "seed": 31}
UNKNOWN = "1111111111111111"
JSON_WHITESPACE = b" \t\r\n"
NEW_FLAGS = ["--sync-interval", "--give-up-after", "--forward-images", "--no-forward-images",
             "--server-address", "--lose-answer-rate", "--lose-answer-as", "--trickle-ms",
             "--trickle-routes", "--redirect-rate", "--redirect-status", "--redirect-routes",
             "--oversize-mb", "--oversize-routes"]


# ---------------------------------------------------------------- helpers


def my_task_ids(c) -> set[str]:
    """The ids of every task the simulator holds for this client's key (its own view, not the API's)."""
    rows = requests.get(c.url + "/__sim/tasks", timeout=10).json()
    return {row["id"] for row in rows if row["key"] == mjnb.sim.key_id(c.key)}


def lose(c, path: str, body: dict, kind: str = "any") -> str:
    """POST a submit whose answer must be lost; returns how: "502" or "reset"."""
    try:
        r = c.post(path, body)
    except requests.ConnectionError:
        assert kind in ("any", "reset"), f"{path}: connection reset, expected a {kind}"
        return "reset"
    assert kind in ("any", "502"), f"{path}: got HTTP {r.status_code}, expected a reset"
    assert r.status_code == 502, (path, r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("text/html"), r.headers["Content-Type"]
    assert "<h1>502 Bad Gateway</h1>" in r.text and "nginx" in r.text, r.text
    return "502"


def rows_for(c, task_id: str) -> list[dict]:
    r = c.post("/mj/task/list-by-condition", {"ids": [task_id]})
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


def lost_submit_left_a_task(c, path: str, body: dict, kind: str = "any") -> tuple[str, str]:
    """Lose one submit's answer; the one task it created is there for the same key. -> (id, how)"""
    before = my_task_ids(c)
    how = lose(c, path, body, kind)
    new = my_task_ids(c) - before
    assert len(new) == 1, (path, new)
    task_id = new.pop()
    assert [t["id"] for t in rows_for(c, task_id)] == [task_id], path
    assert c.fetch(task_id)["id"] == task_id
    return task_id, how


def timed_read(method: str, url: str, **kw) -> tuple[requests.Response, bytes, float, float]:
    """(response, body, seconds until the headers, seconds until the last byte)."""
    t0 = time.monotonic()
    r = requests.request(method, url, stream=True, timeout=10, **kw)
    headers_at = time.monotonic() - t0
    body = b"".join(r.iter_content(chunk_size=1))
    return r, body, headers_at, time.monotonic() - t0




# ---------------------------------------------------------------- a lost answer


@pytest.mark.parametrize("kind", ["502", "reset"])
def test_lost_answer_the_task_exists_anyway(make_sim, kind):
    c = make_sim(**FAITHFUL, lose_answer_rate=1.0, lose_answer_as=kind)
    task_id, how = lost_submit_left_a_task(c, "/mj/submit/imagine", {"prompt": "a lighthouse at dusk"}, kind)
    assert how == kind
    # the task is a real one: it runs to the end and the same key can follow it
    task = c.done(task_id)
    assert task["prompt"] == "a lighthouse at dusk" and task["action"] == "IMAGINE"
    # only the caller's key sees it
    other = type(c)(c.sim)
    assert other.post("/mj/task/list-by-condition", {"ids": [task_id]}).json() == []
    # queries are not submits: their answers arrive
    assert c.post("/mj/task/list-by-condition", {}).json() == []
    r = c.get(f"/mj/task/{UNKNOWN}/fetch")
    assert r.status_code == 400 and r.json()["description"] == "task_no_found "
    assert c.sim.stats()["tasks"] == 1


def test_lost_answer_mixed_is_the_default_and_mixes_both(make_sim):
    c = make_sim(**FAITHFUL, lose_answer_rate=1.0)
    assert requests.get(c.url + "/__sim/options", timeout=10).json()["lose_answer_as"] == "mixed"
    hows, ids = [], set()
    for i in range(12):
        task_id, how = lost_submit_left_a_task(c, "/mj/submit/imagine", {"prompt": f"lost {i}"})
        hows.append(how)
        ids.add(task_id)
    assert set(hows) == {"502", "reset"}, hows
    assert len(ids) == 12 and my_task_ids(c) == ids


def test_lost_answer_rate_zero_loses_nothing(make_sim):
    c = make_sim(**FAITHFUL, lose_answer_rate=0.0, lose_answer_as="reset")
    for i in range(5):
        assert c.post("/mj/submit/imagine", {"prompt": f"kept {i}"}).json()["code"] == 1


def test_lost_answer_on_every_submit_route(make_sim):
    c = make_sim(**FAITHFUL)
    grid = c.done(c.imagine("a windmill in tulip fields"))
    up = c.done(c.action(grid["id"], c.button(grid, "U1")))
    zoom = c.action(up["id"], c.button(up, "Custom Zoom"), codes=(21,))
    c.wait(zoom, until=lambda t: t["status"] == "MODAL")
    red, blue = c.data_url(Image.new("RGB", (64, 64), (230, 30, 30))), c.data_url(Image.new("RGB", (64, 64), (30, 30, 230)))
    face, target = c.data_url(Image.new("RGB", (64, 64), (240, 200, 160))), c.data_url(Image.new("RGB", (300, 200), (20, 90, 40)))
    c.sim.configure(lose_answer_rate=1.0)
    submits = [
        ("/mj/submit/imagine", {"prompt": "a harbour"}),
        ("/mj/submit/action", {"taskId": grid["id"], "customId": c.button(grid, "U2")}),
        ("/mj/submit/blend", {"base64Array": [red, blue]}),
        ("/mj/submit/describe", {"base64": red}),
        ("/mj/submit/shorten", {"prompt": "a castle on a hill at night, very detailed, dramatic light"}),
        ("/mj/submit/change", {"taskId": grid["id"], "action": "UPSCALE", "index": 3}),
        ("/mj/submit/simple-change", {"content": f"{grid['id']} V1"}),
        ("/mj/insight-face/swap", {"sourceBase64": face, "targetBase64": target}),
    ]
    for path, body in submits:
        lost_submit_left_a_task(c, path, body)
    # a modal creates no new id; its lost answer still confirmed the form: the job runs
    lose(c, "/mj/submit/modal", {"taskId": zoom, "prompt": "a windmill in tulip fields --zoom 1.5"})
    deadline = time.monotonic() + 15
    while not any(row["status"] == "SUCCESS" for row in rows_for(c, zoom)):
        assert time.monotonic() < deadline, rows_for(c, zoom)
        time.sleep(0.01)


# ---------------------------------------------------------------- trickling bodies


def test_trickle_sends_one_byte_every_trickle_ms_on_the_listed_routes(make_sim):
    trickle = 10.0
    c = make_sim(**FAITHFUL, trickle_ms=trickle, trickle_routes=["fetch"])
    r, body, headers_at, total = timed_read("GET", f"{c.url}/mj/task/{UNKNOWN}/fetch", headers=c.headers())
    assert r.status_code == 400
    assert json.loads(body) == {"description": "task_no_found ", "type": "upstream_error", "code": 4}
    floor = (len(body) - 1) * trickle / 1000
    assert total >= 0.9 * floor, (total, len(body))  # ~0.65 s for ~66 bytes
    assert headers_at < 0.25 * floor, (headers_at, floor)  # the headers come at once
    # routes that are not listed answer at once
    r, body, _, total = timed_read("POST", c.url + "/mj/submit/imagine", json={"prompt": "quick"},
                                   headers=c.headers())
    assert r.status_code == 200 and json.loads(body)["code"] == 1
    assert total < 0.3 * len(body) * trickle / 1000, (total, len(body))
    task_id = json.loads(body)["result"]
    r, body, _, total = timed_read("POST", c.url + "/mj/task/list-by-condition", json={"ids": [task_id]},
                                   headers=c.headers())
    assert r.status_code == 200 and [t["id"] for t in json.loads(body)] == [task_id]
    assert total < 0.3 * len(body) * trickle / 1000, (total, len(body))


@pytest.mark.parametrize("profile", ["relay", "trueai", "novicezk"])
def test_trickle_without_routes_trickles_every_route(make_sim, profile):
    trickle = 5.0
    c = make_sim(profile=profile, speed=300.0, sync_interval=15.0, seed=32, trickle_ms=trickle)
    r, body, headers_at, total = timed_read("POST", c.url + "/mj/submit/imagine",
                                            json={"prompt": "a slow answer"}, headers=c.headers())
    assert r.status_code == 200 and json.loads(body)["code"] == 1, body
    floor = (len(body) - 1) * trickle / 1000
    assert total >= 0.9 * floor, (total, len(body))
    assert headers_at < 0.25 * floor, (headers_at, floor)


# ---------------------------------------------------------------- redirects to another origin


@pytest.mark.parametrize("profile", ["relay", "trueai", "novicezk"])
def test_redirect_leads_to_another_origin(make_sim, profile):
    c = make_sim(profile=profile, speed=300.0, sync_interval=15.0, seed=33, redirect_rate=1.0)
    elsewhere = c.sim.elsewhere_url
    assert elsewhere != c.url and elsewhere.startswith("http://127.0.0.1:")
    r = c.post("/mj/submit/imagine", {"prompt": "redirected"}, allow_redirects=False)
    assert r.status_code == 307, (r.status_code, r.text[:200])  # the default status
    assert r.headers["Location"] == elsewhere + "/mj/submit/imagine"
    path = f"/mj/task/{UNKNOWN}/fetch?a=1&b=two"
    r = c.get(path, allow_redirects=False)
    assert r.status_code == 307 and r.headers["Location"] == elsewhere + path
    assert c.sim.stats()["tasks"] == 0  # a redirected submit never reached the server
    assert c.sim.stats()["elsewhere"] == {"requests": 0, "with_key": 0}
    # the simulator's own routes are never redirected
    assert requests.get(c.url + "/__sim/stats", timeout=10, allow_redirects=False).status_code == 200

    # following it without a key reaches the other origin, which never redirects
    r = requests.get(elsewhere + path, timeout=10, allow_redirects=False)
    assert not 300 <= r.status_code < 400, r.status_code
    assert c.sim.stats()["elsewhere"] == {"requests": 1, "with_key": 0}
    # a client that resends its key there hands it to another origin, and that is counted
    r = requests.get(elsewhere + path, headers=c.headers(), timeout=10, allow_redirects=False)
    assert not 300 <= r.status_code < 400, r.status_code
    assert c.sim.stats()["elsewhere"] == {"requests": 2, "with_key": 1}
    # over HTTP too
    assert requests.get(c.url + "/__sim/stats", timeout=10).json()["elsewhere"] == {"requests": 2, "with_key": 1}


@pytest.mark.parametrize("profile, keeps_key", [("relay", False), ("trueai", False), ("novicezk", True)])
def test_requests_following_a_redirect(make_sim, profile, keeps_key):
    # requests drops Authorization on a cross-origin redirect but keeps mj-api-secret
    c = make_sim(profile=profile, speed=300.0, sync_interval=15.0, seed=34, redirect_rate=1.0)
    r = c.post("/mj/submit/imagine", {"prompt": "followed"})
    assert not 300 <= r.status_code < 400 and r.url.startswith(c.sim.elsewhere_url), (r.status_code, r.url)
    assert c.sim.stats()["elsewhere"] == {"requests": 1, "with_key": int(keeps_key)}


def test_redirect_status_302(make_sim):
    c = make_sim(**FAITHFUL, redirect_rate=1.0, redirect_status=302)
    r = c.post("/mj/submit/imagine", {"prompt": "redirected"}, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == c.sim.elsewhere_url + "/mj/submit/imagine"
    r = c.post("/mj/task/list-by-condition", {"ids": []}, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == c.sim.elsewhere_url + "/mj/task/list-by-condition"


def test_redirect_routes_limit_which_requests_redirect(make_sim):
    c = make_sim(**FAITHFUL, redirect_rate=1.0, redirect_routes=["fetch"])
    r = c.post("/mj/submit/imagine", {"prompt": "stays here"}, allow_redirects=False)
    assert r.status_code == 200 and r.json()["code"] == 1, r.text
    task_id = r.json()["result"]
    assert c.post("/mj/task/list-by-condition", {"ids": [task_id]}, allow_redirects=False).status_code == 200
    r = c.get(f"/mj/task/{task_id}/fetch", allow_redirects=False)
    assert r.status_code == 307 and r.headers["Location"] == f"{c.sim.elsewhere_url}/mj/task/{task_id}/fetch"
    # the other origin serves the same routes, with the same tasks, and never redirects
    r = requests.get(r.headers["Location"], headers=c.headers(), timeout=10, allow_redirects=False)
    assert r.status_code == 200 and r.json()["id"] == task_id
    assert c.sim.stats()["elsewhere"] == {"requests": 1, "with_key": 1}


def test_redirect_rate_zero_redirects_nothing(make_sim):
    c = make_sim(**FAITHFUL, redirect_rate=0.0)
    for _ in range(5):
        assert c.post("/mj/submit/imagine", {"prompt": "here"}, allow_redirects=False).status_code == 200
    assert c.sim.stats()["elsewhere"] == {"requests": 0, "with_key": 0}


# ---------------------------------------------------------------- oversized JSON


def assert_padded(r: requests.Response, mb: float) -> None:
    body = r.content
    assert len(body) >= mb * 1_000_000, len(body)
    assert int(r.headers["Content-Length"]) == len(body)
    assert r.headers["Content-Type"].startswith("application/json")
    core = body.rstrip(JSON_WHITESPACE)
    assert core[-1:] in (b"}", b"]") and len(core) < 100_000, core[-50:]  # trailing padding only
    assert json.loads(core) == r.json()


def test_oversize_pads_the_listed_routes(make_sim):
    c = make_sim(**FAITHFUL, oversize_mb=1.0, oversize_routes=["fetch"])
    r = c.post("/mj/submit/imagine", {"prompt": "a big answer"})
    assert r.status_code == 200 and len(r.content) < 10_000 and r.json()["code"] == 1
    task_id = r.json()["result"]
    listed = c.post("/mj/task/list-by-condition", {"ids": [task_id]})
    assert len(listed.content) < 100_000 and listed.json()[0]["id"] == task_id
    r = c.get(f"/mj/task/{task_id}/fetch")
    assert r.status_code == 200
    assert_padded(r, 1.0)
    assert r.json()["id"] == task_id
    r = c.get(f"/mj/task/{UNKNOWN}/fetch")  # an error answer is JSON too
    assert r.status_code == 400
    assert_padded(r, 1.0)


@pytest.mark.parametrize("profile", ["relay", "trueai", "novicezk"])
def test_oversize_without_routes_pads_every_json_answer(make_sim, profile):
    c = make_sim(profile=profile, speed=300.0, sync_interval=15.0, seed=35, oversize_mb=0.5)
    r = c.post("/mj/submit/imagine", {"prompt": "a big answer"})
    assert r.status_code == 200
    assert_padded(r, 0.5)
    task_id = r.json()["result"]
    r = c.post("/mj/task/list-by-condition", {"ids": [task_id]})
    assert_padded(r, 0.5)
    assert [t["id"] for t in r.json()] == [task_id]
    # the simulator's own routes are not API routes
    assert len(requests.get(c.url + "/__sim/stats", timeout=10).content) < 100_000


# ---------------------------------------------------------------- options and CLI


def test_help_lists_the_new_flags():
    out = subprocess.run([sys.executable, "-m", "mjnb.sim", "--help"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    for flag in NEW_FLAGS:
        assert re.search(rf"(^|[\s,]){re.escape(flag)}\b", out, re.M), f"{flag} missing from --help"
    for choice in ("502", "reset", "mixed", "302", "307"):
        assert choice in out


def test_cli_fault_flags_reach_the_server():
    proc, url = cli_start("--lose-answer-rate", "0.5", "--lose-answer-as", "reset", "--trickle-ms", "3",
                     "--trickle-routes", "fetch,image", "--redirect-rate", "0.25", "--redirect-status", "302",
                     "--redirect-routes", "fetch", "--oversize-mb", "0.5", "--oversize-routes",
                     "list_by_condition", "--no-forward-images", "--server-address", "http://localhost:1234",
                     "--give-up-after", "60", "--sync-interval", "5")
    try:
        options = requests.get(url + "/__sim/options", timeout=10).json()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    expected = {"lose_answer_rate": 0.5, "lose_answer_as": "reset", "trickle_ms": 3.0,
                "trickle_routes": ["fetch", "image"], "redirect_rate": 0.25, "redirect_status": 302,
                "redirect_routes": ["fetch"], "oversize_mb": 0.5, "oversize_routes": ["list_by_condition"],
                "forward_images": False, "server_address": "http://localhost:1234", "give_up_after": 60.0,
                "sync_interval": 5.0}
    assert {k: options.get(k) for k in expected} == expected


@pytest.mark.parametrize("options, field", [
    ({"lose_answer_as": "timeout"}, "lose_answer_as"), ({"lose_answer_rate": 2.0}, "lose_answer_rate"),
    ({"redirect_status": 301}, "redirect_status"), ({"redirect_rate": -0.5}, "redirect_rate"),
    ({"trickle_ms": -1.0}, "trickle_ms"), ({"oversize_mb": -1.0}, "oversize_mb"),
    ({"give_up_after": -1.0}, "give_up_after"), ({"sync_interval": -1.0}, "sync_interval"),
])
def test_start_rejects_bad_fault_options(options, field):
    with pytest.raises(ValueError, match=field):
        mjnb.sim.start(**options)
