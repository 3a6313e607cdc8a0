"""The relay view as the real servers' source has it (spec 13, lines R1-R10).

Written from the spec, not from the simulator: each test names the R-line it checks. The relay tests
run a relay that syncs the way new-api does (every 15 simulated seconds, `sync_interval=15`) at a
speed that keeps a test short: at speed 300 a sync is 0.05 s of wall time and a grid job ~0.1 s.
"""

from __future__ import annotations

import io
import json
import re
import time

import pytest
import requests
from PIL import Image

import mjnb.sim
from sim_support import body_of, cli_start, cli_stop, mask_png

SYNC = 15.0  # new-api's poller, simulated seconds
FAITHFUL = {"profile": "relay", "speed": 300.0, "sync_interval": SYNC, "seed": 13}
TERMINAL = ("SUCCESS", "FAILURE")
UNKNOWN = "1111111111111111"
GIVE_UP_TEXT = "上游任务超时（超过1小时）"
WINDOW = "Waiting for window confirm"
ATTACHMENT = re.compile(r"http://127\.0\.0\.1:\d+/attachments/\d+/\d+/[^/?]+\.png"
                        r"\?ex=[0-9a-f]+&is=[0-9a-f]+&hm=[0-9a-f]+&")


# ---------------------------------------------------------------- helpers








def forwarded(c, task_id: str) -> str:
    """The relay's own image URL for a task, as R1 builds it (the advertised address defaults to sim.url)."""
    return f"{c.url}/mj/image/{task_id}"


def rows_for(c, task_id: str) -> list[dict]:
    r = c.post("/mj/task/list-by-condition", {"ids": [task_id]})
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


def visible(task: dict) -> str:
    """A task's visible state: everything but the per-read ?rand= of a forwarded imageUrl (R1)."""
    shown = dict(task)
    if shown.get("imageUrl"):
        shown["imageUrl"] = shown["imageUrl"].split("?rand=")[0]
    return json.dumps(shown, sort_keys=True, ensure_ascii=False)


def watch(c, ids: list[str], timeout: float = 15.0) -> dict[str, list[tuple[float, dict]]]:
    """Poll fetch for every id as fast as possible until all are terminal.

    Per id: (wall time of the first read that showed it, task) for each distinct visible state."""
    seen: dict[str, list[tuple[float, dict]]] = {i: [] for i in ids}
    last: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        for task_id in ids:
            task = c.fetch(task_id)
            now = time.monotonic()
            state = visible(task)
            if last.get(task_id) != state:
                last[task_id] = state
                seen[task_id].append((now, task))
        if all(seen[i][-1][1]["status"] in TERMINAL for i in ids):
            return seen
        assert time.monotonic() < deadline, {i: [t["status"] for _, t in s] for i, s in seen.items()}
        time.sleep(0.001)






# ---------------------------------------------------------------- defaults


def test_relay_defaults_are_new_apis():
    """R1/R2: forwarding on, a 15 s poller, a 1 h give-up, the advertised address = the sim's URL."""
    with mjnb.sim.start(profile="relay") as sim:
        options = requests.get(sim.url + "/__sim/options", timeout=10).json()
        assert options["sync_interval"] == 15.0 and options["give_up_after"] == 3600.0
        assert options["forward_images"] is True and options["server_address"] == ""
        assert sim.elsewhere_url != sim.url and sim.elsewhere_url.startswith("http://127.0.0.1:")


# ---------------------------------------------------------------- R1 image forwarding


def test_r1_forwarded_image_url_at_success(make_sim):
    c = make_sim(**FAITHFUL)
    task_id = c.imagine("a red barn in snow")
    task = c.done(task_id)
    # exactly <server address>/mj/image/<id>, no query once SUCCESS, the same on every read
    assert task["imageUrl"] == forwarded(c, task_id)
    assert c.fetch(task_id)["imageUrl"] == forwarded(c, task_id)
    assert [t["imageUrl"] for t in rows_for(c, task_id)] == [forwarded(c, task_id)]
    # the proxy needs no key
    r = requests.get(task["imageUrl"], timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/"), (r.status_code, r.text[:200])
    Image.open(io.BytesIO(r.content)).load()
    # and so do the children's: an upscale's URL is its own /mj/image/<id>
    up = c.done(c.action(task_id, c.button(task, "U1")))
    assert up["imageUrl"] == forwarded(c, up["id"])


def test_r1_unfinished_image_url_gets_a_fresh_rand_on_every_read(make_sim):
    # a hung job stops after some progress: an unfinished task whose upstream has a preview image
    c = make_sim(**FAITHFUL, hang_rate=1.0)
    task_id = c.imagine("a slow ship")
    task = c.wait(task_id, until=lambda t: t["imageUrl"] != "")
    assert task["status"] == "IN_PROGRESS", task
    pattern = re.escape(forwarded(c, task_id)) + r"\?rand=(\d+)"
    urls = []
    for _ in range(3):
        urls.append(c.fetch(task_id)["imageUrl"])
        urls += [t["imageUrl"] for t in rows_for(c, task_id)]
    for url in urls:
        m = re.fullmatch(pattern, url)
        assert m, url
        assert abs(int(m[1]) - time.time_ns()) < 60 * 10**9, url  # time.time_ns() of the read
    assert len(set(urls)) == len(urls), urls  # an unchanged task: every read differs
    # the proxy answers with the preview, without a key, whatever the rand
    r = requests.get(urls[-1], timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/"), (r.status_code, r.text[:200])


def test_r1_no_upstream_image_means_an_empty_image_url(make_sim):
    # nothing starts at this speed, so the upstream never has an image; the relay view is upstream's
    c = make_sim(profile="relay", speed=0.001, sync_interval=0, seed=13)
    task_id = c.imagine("never drawn")
    task = c.wait(task_id, until=lambda t: t["status"] != "")
    assert task["imageUrl"] == "" and c.fetch(task_id)["imageUrl"] == "", task
    assert rows_for(c, task_id)[0]["imageUrl"] == ""


def test_r1_server_address_is_what_the_operator_typed(make_sim):
    c = make_sim(**FAITHFUL, server_address="http://localhost:1234")
    task = c.done(c.imagine("a lighthouse at dusk"))
    assert task["imageUrl"] == f"http://localhost:1234/mj/image/{task['id']}"
    assert rows_for(c, task["id"])[0]["imageUrl"] == task["imageUrl"]
    # the route itself is still served where the API is
    assert requests.get(forwarded(c, task["id"]), timeout=10).status_code == 200


def test_r1_hung_task_with_server_address(make_sim):
    c = make_sim(**FAITHFUL, hang_rate=1.0, server_address="http://localhost:1234")
    task_id = c.imagine("a slow ship")
    task = c.wait(task_id, until=lambda t: t["imageUrl"] != "")
    assert re.fullmatch(rf"http://localhost:1234/mj/image/{task_id}\?rand=\d+", task["imageUrl"]), task


def test_r1_forwarding_off_gives_the_discord_url(make_sim):
    c = make_sim(**FAITHFUL, forward_images=False)
    task = c.done(c.imagine("a red barn in snow"))
    assert "/mj/image/" not in task["imageUrl"]
    assert ATTACHMENT.fullmatch(task["imageUrl"]), task["imageUrl"]
    assert c.image(task["imageUrl"]).size == (512, 512)


@pytest.mark.parametrize("profile", ["trueai", "novicezk"])
def test_r1_upstream_flavours_keep_their_raw_urls(client_for, profile):
    c = client_for(profile)
    task = c.done(c.imagine("a red barn in snow"))
    assert "/mj/image/" not in task["imageUrl"] and "?rand=" not in task["imageUrl"]
    assert ATTACHMENT.fullmatch(task["imageUrl"]), task["imageUrl"]


@pytest.mark.parametrize("flags, expect", [
    (("--no-forward-images",), "attachment"),
    (("--server-address", "http://localhost:1234"), "http://localhost:1234/mj/image/"),
])
def test_r1_cli_flags(flags, expect):
    proc, url = cli_start("--sync-interval", "0", *flags)
    try:
        headers = {"Authorization": "Bearer sk-cli-forward"}
        r = requests.post(url + "/mj/submit/imagine", json={"prompt": "from the command line"},
                          headers=headers, timeout=10)
        assert r.status_code == 200 and r.json()["code"] == 1, r.text
        task_id = r.json()["result"]
        deadline = time.monotonic() + 20
        while (task := requests.get(f"{url}/mj/task/{task_id}/fetch", headers=headers,
                                    timeout=10).json())["status"] != "SUCCESS":
            assert time.monotonic() < deadline, task
            time.sleep(0.02)
        if expect == "attachment":
            assert "/mj/image/" not in task["imageUrl"] and "/attachments/" in task["imageUrl"], task
        else:
            assert task["imageUrl"] == expect + task_id, task
    finally:
        cli_stop(proc)


# ---------------------------------------------------------------- R2 the 15 s poller and the 1 h give-up


def test_r2_visible_state_changes_only_at_syncs(make_sim):
    speed = 40.0
    interval = SYNC / speed  # 0.375 s of wall time between syncs
    c = make_sim(profile="relay", speed=speed, sync_interval=SYNC, seed=21)
    task_id = c.imagine("a slow ship")
    seen = watch(c, [task_id])[task_id]
    statuses = [t["status"] for _, t in seen]
    assert statuses[-1] == "SUCCESS", statuses
    # a grid job takes longer than one sync interval: at least "" -> running -> SUCCESS
    assert len(seen) >= 3, statuses
    gaps = [b - a for (a, _), (b, _) in zip(seen, seen[1:])]
    assert all(g >= 0.8 * interval for g in gaps[1:]), (gaps, statuses)
    # before its first sync a relay row is its own insert: status "", progress "0%"
    for _, task in seen:
        if task["status"] == "":
            assert task["progress"] == "0%", task


def test_r2_one_poller_for_all_tasks(make_sim):
    speed = 40.0
    interval = SYNC / speed
    c = make_sim(profile="relay", speed=speed, sync_interval=SYNC, seed=22)
    first = c.imagine("the first ship")
    time.sleep(0.4 * interval)  # the second submit is out of phase with the first
    second = c.imagine("the second ship")
    seen = watch(c, [first, second])
    # the first visible state of each is its submit; every later change happens at a shared sync
    changes = sorted(t for states in seen.values() for t, _ in states[1:])
    assert len(changes) >= 4, changes
    for a, b in zip(changes, changes[1:]):
        gap = b - a
        # the same sync (seen within a poll cycle of each other) or the next one (a whole interval later)
        assert gap < 0.15 * interval or gap >= 0.8 * interval, (gap, changes)


@pytest.mark.parametrize("speed, give_up_after", [(3600.0, None), (1800.0, 900.0)])
def test_r2_relay_gives_up_on_unfinished_tasks(make_sim, speed, give_up_after):
    options = {} if give_up_after is None else {"give_up_after": give_up_after}
    c = make_sim(profile="relay", speed=speed, sync_interval=SYNC, hang_rate=1.0, seed=23, **options)
    started = time.monotonic()
    task_id = c.imagine("stuck upstream forever")
    c.wait(task_id, until=lambda t: t["status"] == "IN_PROGRESS", timeout=5)  # the relay syncs it
    task = c.wait(task_id, timeout=15)
    elapsed = time.monotonic() - started
    limit = (give_up_after or 3600.0) / speed  # 1 s / 0.5 s of wall time
    assert task["status"] == "FAILURE" and task["failReason"] == GIVE_UP_TEXT, task
    assert task["progress"] == "100%", task
    assert elapsed >= 0.9 * limit, (elapsed, limit)


# ---------------------------------------------------------------- R3 a modal inserts a second row


@pytest.mark.parametrize("kind", ["custom_zoom", "vary_region"])
def test_r3_modal_inserts_a_second_row_with_the_same_id(make_sim, kind):
    c = make_sim(**FAITHFUL)
    interval = SYNC / FAITHFUL["speed"]
    grid = c.done(c.imagine("a windmill in tulip fields"))
    up = c.done(c.action(grid["id"], c.button(grid, "U1")))
    if kind == "custom_zoom":
        child_id = c.action(up["id"], c.button(up, "Custom Zoom"), codes=(21,))
        form = {"prompt": "a windmill in tulip fields --zoom 1.5"}
    else:
        size = c.image(up["imageUrl"]).size
        child_id = c.action(up["id"], c.button(up, "Vary (Region)"), codes=(21,))
        form = {"prompt": "a windmill", "maskBase64": mask_png(size, (0, 0, size[0] // 2, size[1] // 2))}
    before = c.wait(child_id, until=lambda t: t["status"] == "MODAL")
    assert c.modal(child_id, **form) == child_id

    # list-by-condition: the id twice, the older row and the modal's own (action MODAL)
    deadline = time.monotonic() + 15
    while True:
        rows = rows_for(c, child_id)
        assert [r["id"] for r in rows] == [child_id, child_id], rows
        newer = [r for r in rows if r["action"] == "MODAL"]
        assert len(newer) == 1, rows
        newer = newer[0]
        older = next(r for r in rows if r is not newer)
        if newer["status"] in TERMINAL:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.01)
    assert newer["status"] == "SUCCESS" and newer["progress"] == "100%", newer
    assert older["action"] == before["action"] and older["submitTime"] == before["submitTime"]
    assert older["submitTime"] <= newer["submitTime"]
    assert older["status"] == "MODAL", older

    # fetch answers the older row, and it stays stale through many more syncs
    deadline = time.monotonic() + 10 * interval
    while time.monotonic() < deadline:
        task = c.fetch(child_id)
        assert task["status"] == "MODAL" and task["action"] == before["action"], task
        assert task["submitTime"] == before["submitTime"]
        time.sleep(0.01)
    assert sorted(r["status"] for r in rows_for(c, child_id)) == ["MODAL", "SUCCESS"]

    # the newer row advertises its image, but the proxy reads the older row: no picture there
    assert newer["imageUrl"] == forwarded(c, child_id), newer
    r = requests.get(forwarded(c, child_id), timeout=10)
    assert r.status_code >= 400 and not r.headers.get("Content-Type", "").startswith("image/"), r.status_code
    assert isinstance(r.json()["error"], str), r.text


# ---------------------------------------------------------------- R4 the upstream's window-confirm answer


def test_r4_remix_child_answer_says_waiting_for_window_confirm(make_sim):
    c = make_sim(**FAITHFUL, remix=True)
    grid = c.done(c.imagine("a harbour at dawn"))
    up = c.done(c.action(grid["id"], c.button(grid, "U1")))  # upscales never need a modal
    for parent, custom_id in ((grid, c.button(grid, "V1")),
                              (grid, c.button(grid, custom_prefix="MJ::JOB::reroll::")),
                              (up, c.button(up, "Vary (Strong)")),
                              (up, c.button(up, custom_prefix="MJ::JOB::pan_left::"))):
        r = c.post("/mj/submit/action", {"taskId": parent["id"], "customId": custom_id})
        body = body_of(r, 1)  # 21 rewritten to 1 ...
        assert body["description"] == WINDOW, (custom_id, body)  # ... but the rest is the upstream's
        assert body["properties"]["remix"] is True, (custom_id, body)
        assert isinstance(body["properties"]["finalPrompt"], str), (custom_id, body)
        assert "a harbour at dawn" in body["properties"]["finalPrompt"], (custom_id, body)
        assert c.wait(body["result"], until=lambda t: t["status"] == "MODAL")["id"] == body["result"]
    for label in ("Custom Zoom", "Vary (Region)"):
        r = c.post("/mj/submit/action", {"taskId": up["id"], "customId": c.button(up, label)})
        assert body_of(r, 21)["description"] == WINDOW, (label, r.text)


def test_r4_custom_zoom_and_vary_region_keep_code_21(make_sim):
    c = make_sim(**FAITHFUL)  # remix off: these two always need their modal
    grid = c.done(c.imagine("a harbour at dawn"))
    up = c.done(c.action(grid["id"], c.button(grid, "U1")))
    for label in ("Custom Zoom", "Vary (Region)"):
        r = c.post("/mj/submit/action", {"taskId": up["id"], "customId": c.button(up, label)})
        body = body_of(r, 21)
        assert body["description"] == WINDOW, (label, body)
        assert c.wait(body["result"], until=lambda t: t["status"] == "MODAL")["id"] == body["result"]
    # without remix a variation is a plain job: code 1, the ordinary answer
    r = c.post("/mj/submit/action", {"taskId": grid["id"], "customId": c.button(grid, "V1")})
    assert body_of(r, 1)["description"] == "提交成功"


# ---------------------------------------------------------------- R5 the row before its first sync


def test_r5_row_before_the_first_sync(make_sim):
    c = make_sim(profile="relay", speed=300.0, sync_interval=1e9, seed=25)  # never syncs
    task_id = c.imagine("a lighthouse at dusk")
    for task in (c.fetch(task_id), *rows_for(c, task_id)):
        assert task["id"] == task_id and task["prompt"] == "a lighthouse at dusk"
        assert task["status"] == "" and task["progress"] == "0%", task
        assert task["promptEn"] == "" and task["properties"] is None, task
        assert task["imageUrl"] == "" and task["buttons"] is None, task
    # once it syncs, the upstream's values arrive
    c.sim.configure(sync_interval=SYNC)
    task = c.done(task_id)
    assert task["promptEn"] != "" and isinstance(task["properties"], dict), task
    assert "finalPrompt" in task["properties"], task


# ---------------------------------------------------------------- R6 unrouted /mj paths


UNROUTED = [("GET", "/mj/task/list"), ("POST", "/mj/task/list-by-ids"), ("GET", "/mj/nothing"),
            ("GET", "/mj/task/queue"), ("POST", "/mj/task/query"), ("POST", "/mj/submit/nonsense"),
            ("POST", f"/mj/task/{UNKNOWN}/cancel")]


@pytest.mark.parametrize("method, path", UNROUTED)
def test_r6_unrouted_mj_paths_answer_the_dashboard_page(relay, method, path):
    for headers in (relay.headers(), {}):  # NoRoute serves the page to anyone
        if method == "GET":
            r = relay.get(path, headers=headers)
        else:
            r = relay.post(path, {"ids": []}, headers=headers)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        assert r.headers["Content-Type"].startswith("text/html"), (path, r.headers["Content-Type"])
        assert "<html" in r.text.lower(), r.text[:200]


@pytest.mark.parametrize("method, path", [("GET", "/v1/nothing"), ("POST", "/v1/nothing"),
                                          ("GET", "/api/nothing")])
def test_r6_v1_and_api_paths_still_answer_a_json_404(relay, method, path):
    r = relay.get(path) if method == "GET" else relay.post(path, {})
    assert r.status_code == 404, (path, r.status_code, r.text[:200])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    assert r.json()["error"]["message"] == f"Invalid URL ({method} {path})", r.text


# ---------------------------------------------------------------- R7 numeric ids


def test_r7_list_by_condition_with_numeric_ids(relay):
    task_id = relay.imagine("counted")
    for ids in ([123], [int(task_id)], [task_id, 123], [1.5]):
        r = relay.post("/mj/task/list-by-condition", {"ids": ids})
        assert r.status_code == 400, (ids, r.status_code, r.text)
        assert r.json() == {"code": 4, "description": "do_request_failed ", "type": "upstream_error"}, ids
    # string ids still work
    assert [t["id"] for t in rows_for(relay, task_id)] == [task_id]


# ---------------------------------------------------------------- R8 novicezk


def test_r8_novicezk_has_no_buttons_and_no_action_route(novicezk):
    grid = novicezk.done(novicezk.imagine("a lantern"))
    for task in (grid, *rows_for(novicezk, grid["id"])):
        assert not task.get("buttons"), task
    custom_id = "MJ::JOB::upsample::1::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f"
    r = novicezk.post("/mj/submit/action", {"taskId": grid["id"], "customId": custom_id})
    assert r.status_code == 404, (r.status_code, r.text)


def test_r8_novicezk_change_and_simple_change(novicezk):
    grid = novicezk.done(novicezk.imagine("a lantern"))
    gid = grid["id"]
    by_change = novicezk.submit("/mj/submit/change", {"taskId": gid, "action": "UPSCALE", "index": 1})
    by_simple = novicezk.submit("/mj/submit/simple-change", {"content": f"{gid} U1"})
    variation = novicezk.submit("/mj/submit/change", {"taskId": gid, "action": "VARIATION", "index": 2})
    reroll = novicezk.submit("/mj/submit/simple-change", {"content": f"{gid} R"})
    for child_id, action, op in ((by_change, "UPSCALE", "U1"), (by_simple, "UPSCALE", "U1"),
                                 (variation, "VARIATION", "V2"), (reroll, "REROLL", "R")):
        child = novicezk.done(child_id)
        assert child["action"] == action and child["description"] == f"/up {gid} {op}", child
        assert not child.get("buttons"), child
        assert child["imageUrl"], child


def test_r8_novicezk_fourth_job_is_code_1_fifth_is_code_22(make_sim):
    c = make_sim(profile="novicezk", speed=0.001, seed=28)  # nothing finishes; concurrency 3 (default)
    bodies = [c.post("/mj/submit/imagine", {"prompt": f"job {i}"}).json() for i in range(6)]
    for body in bodies[:4]:  # the thread pool's queue was empty when the 4th came in
        assert body["code"] == 1 and body["description"] == "提交成功", bodies
    assert bodies[4]["code"] == 22 and bodies[4]["description"] == "排队中，前面还有1个任务", bodies
    assert bodies[4]["properties"]["numberOfQueues"] == 1, bodies
    assert bodies[5]["code"] == 22 and bodies[5]["description"] == "排队中，前面还有2个任务", bodies
    assert len({b["result"] for b in bodies}) == 6


# ---------------------------------------------------------------- R9 trueai's action checks


@pytest.mark.parametrize("custom_id", ["nonsense", "MJ::BOOKMARK::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f",
                                       "MJ::Job::PromptAnalyzer::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f::1"])
def test_r9_trueai_looks_the_parent_up_first(trueai, custom_id):
    r = trueai.post("/mj/submit/action", {"taskId": UNKNOWN, "customId": custom_id})
    body = body_of(r, 3, status=404)
    assert body["description"] == "关联任务不存在或已失效" and body["result"] is None, body


def test_r9_trueai_does_not_check_the_custom_id_is_among_the_parents_buttons(trueai):
    grid = trueai.done(trueai.imagine("a harbour"))
    other_hash = "7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f"
    assert all(other_hash not in b["customId"] for b in grid["buttons"])
    for custom_id in (f"MJ::JOB::upsample::4::{other_hash}", f"MJ::JOB::variation::2::{other_hash}"):
        r = trueai.post("/mj/submit/action", {"taskId": grid["id"], "customId": custom_id})
        body = body_of(r, 1)
        assert re.fullmatch(r"\d{16}", body["result"]), body
        assert trueai.fetch(body["result"])["id"] == body["result"]


# ---------------------------------------------------------------- R10 the proxy breaks with the upstream URL


def test_r10_image_proxy_breaks_when_the_upstream_url_expires(make_sim):
    ttl = 1.5
    c = make_sim(**FAITHFUL, image_ttl=ttl)
    task = c.done(c.imagine("a sandcastle before the tide"))
    url = task["imageUrl"]
    assert url == forwarded(c, task["id"])
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/"), (r.status_code, r.text[:200])
    deadline = time.monotonic() + ttl + 10
    while (r := requests.get(url, timeout=10)).status_code == 200:
        assert time.monotonic() < deadline, "the proxied image never expired"
        time.sleep(0.05)
    assert r.status_code == 404, (r.status_code, r.text[:200])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    assert isinstance(r.json()["error"], str), r.text
    # the task itself still advertises the same (now broken) URL
    assert c.fetch(task["id"])["imageUrl"] == url
