"""The Task object per flavour (spec 3.2, 5, 7, 9), task queries (3.2-3.4) and button sets (8)."""

from __future__ import annotations

import re
import time

import pytest
import requests
from PIL import Image

RELAY_KEYS = {"id", "action", "customId", "botType", "prompt", "promptEn", "description", "state",
              "submitTime", "startTime", "finishTime", "imageUrl", "status", "progress", "failReason",
              "buttons", "maskBase64", "properties"}  # exactly the keys of spec 3.2's example
NOVICEZK_KEYS = {"id", "action", "status", "prompt", "promptEn", "description", "state", "submitTime",
                 "startTime", "finishTime", "imageUrl", "progress", "failReason", "properties"}
TRUEAI_SOME_KEYS = {"buttons", "seed", "botType", "parentId", "customId", "jobId", "messageId", "nonce",
                    "instanceId", "mode", "requestMode", "version", "promptFull", "width", "height", "url",
                    "proxyUrl", "contentType", "size", "thumbnailUrl", "imageUrls", "videoUrl", "videoUrls",
                    "accountFilter", "isCompleted", "useTime", "displays", "maskBase64"} | NOVICEZK_KEYS
RANK = {"": 0, "NOT_START": 0, "SUBMITTED": 1, "IN_PROGRESS": 2, "SUCCESS": 3, "FAILURE": 3}
SLOW = {"speed": 0.001}  # nothing started finishes during a test
HASH = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_relay_task_before_first_sync_and_after(make_sim):
    # a relay that never syncs shows its own row only: status "" and progress "0%", promptEn ""
    # and properties null (R5); the state only arrives with the first sync
    c = make_sim(profile="relay", sync_interval=360000)
    task_id = c.imagine("a lighthouse at dusk", state="order-77")
    task = c.fetch(task_id)
    assert set(task) == RELAY_KEYS and len(task) == 18
    assert task == {
        "id": task_id, "action": "IMAGINE", "customId": "", "botType": "", "prompt": "a lighthouse at dusk",
        "promptEn": "", "description": "提交成功", "state": "",
        "submitTime": task["submitTime"], "startTime": 0, "finishTime": 0, "imageUrl": "", "status": "",
        "progress": "0%", "failReason": "", "buttons": None, "maskBase64": "",
        "properties": None}
    assert abs(task["submitTime"] - time.time() * 1000) < 60_000
    c.sim.configure(sync_interval=0.02)
    done = c.done(task_id)
    assert set(done) == RELAY_KEYS
    assert done["progress"] == "100%" and done["failReason"] == "" and done["description"] == "提交成功"
    assert done["customId"] == done["botType"] == done["maskBase64"] == ""
    assert set(done["properties"]) == {"finalPrompt", "finalZhPrompt"}
    assert done["properties"]["finalPrompt"] == "a lighthouse at dusk --v 7"
    assert done["submitTime"] <= done["startTime"] <= done["finishTime"]
    assert done["state"] == "order-77" and done["promptEn"] == "a lighthouse at dusk"


def _watch(client, task_id):
    """Every distinct (status, progress, imageUrl) a poller sees until the task ends."""
    seen, deadline = [], time.monotonic() + 15
    while time.monotonic() < deadline:
        task = client.fetch(task_id)
        key = (task["status"], task["progress"], task["imageUrl"])
        if not seen or seen[-1] != key:
            seen.append(key)
        if task["status"] in ("SUCCESS", "FAILURE"):
            return task, seen
        time.sleep(0.005)
    raise AssertionError(f"task {task_id} did not finish: {seen}")


@pytest.mark.parametrize("profile", ["relay", "trueai", "novicezk"])
def test_lifecycle_is_monotonic(make_sim, profile):
    c = make_sim(profile=profile, speed=40)  # slow enough to watch the progress
    task_id = c.imagine("a slow ship")
    task, seen = _watch(c, task_id)
    assert task["status"] == "SUCCESS"
    ranks = [RANK[s] for s, _, _ in seen]
    assert ranks == sorted(ranks), seen
    percents = [int(p[:-1]) for s, p, _ in seen if p]
    assert percents == sorted(percents) and percents[-1] == 100, seen
    assert any(s == "IN_PROGRESS" and 0 < int(p[:-1]) < 100 for s, p, _ in seen), seen
    assert all(p == "0%" for s, p, _ in seen if s in ("", "SUBMITTED")), seen
    if c.profile != "relay":
        assert all(p is None and u is None for s, p, u in seen if s == "NOT_START"), seen
        # previews while running: a low-res .webp named after the job hash
        previews = [u for s, _, u in seen if s == "IN_PROGRESS" and u]
        assert previews and all(re.search(rf"/{HASH}_grid_0\.webp\?ex=", u) for u in previews), seen
        job_hash = re.search(rf"({HASH})\.png\?", task["imageUrl"])[1]
        assert previews[-1].split("/")[-1].startswith(job_hash)
        r = requests.get(previews[-1], timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/webp"
    else:  # the relay shows no upstream progress text before its first sync
        assert all(s != "NOT_START" or p == "0%" for s, p, _ in seen), seen


def test_task_json_shape_per_flavour(any_client):
    task_id = any_client.imagine("an orchard in fog")
    assert re.fullmatch(r"\d{16}", task_id)
    task = any_client.done(task_id)
    assert task["id"] == task_id and isinstance(task["submitTime"], int)
    assert abs(int(task_id[:13]) - task["submitTime"]) < 1000  # 13-digit ms timestamp + 3 digits
    profile = any_client.profile
    if profile == "relay":
        assert set(task) == RELAY_KEYS
    elif profile == "novicezk":
        assert set(task) == NOVICEZK_KEYS and "buttons" not in task
        assert task["description"] == "/imagine an orchard in fog" and task["failReason"] is None
    else:
        assert set(task) >= TRUEAI_SOME_KEYS and len(task) >= 40
        assert task["botType"] == "MID_JOURNEY" and re.fullmatch(r"\d+", task["seed"])
        assert task["description"] == "/imagine an orchard in fog" and task["parentId"] is None
        assert task["isCompleted"] is True and task["jobId"] in task["imageUrl"]
        assert task["properties"]["discordChannelId"] == task["properties"]["discordInstanceId"]
    assert task["action"] == "IMAGINE" and task["status"] == "SUCCESS" and task["progress"] == "100%"


def test_upstream_nulls_before_start(make_sim):
    for profile in ("trueai", "novicezk"):
        c = make_sim(profile=profile, **SLOW)
        task = c.fetch(c.imagine("never starts"))
        assert task["status"] == "NOT_START"
        assert task["startTime"] is None and task["finishTime"] is None and task["imageUrl"] is None
        assert task["progress"] is None and task["failReason"] is None
        if profile == "trueai":
            assert task["buttons"] == [] and task["isCompleted"] is False


@pytest.mark.parametrize("profile", ["relay", "trueai", "novicezk"])
def test_failure_shape_per_flavour(make_sim, profile):
    c = make_sim(profile=profile, fail_rate=1.0)
    task = c.wait(c.imagine("doomed"))
    assert task["status"] == "FAILURE" and task["finishTime"]
    reason = task["failReason"]
    if profile == "trueai":
        assert re.fullmatch(r"[A-Z][^\[\],]+, .+", reason), reason  # "<title>, <description>"
        assert task["progress"] == "" and task["buttons"] == []
    else:
        assert re.fullmatch(r"\[[A-Z][^\]]+\] .+", reason), reason  # "[<title>] <description>"
        if profile == "relay":
            assert task["progress"] == "100%" and task["buttons"] is None
        else:
            assert task["progress"] == ""
    titles = ("Request cancelled due to output filters", "Invalid parameter", "Job action restricted")
    assert any(t in reason for t in titles)


def test_job_timeout_fails_hung_jobs_with_the_flavours_text(make_sim):
    for profile, text in (("relay", "任务超时"), ("trueai", "执行超时 5 分钟"), ("novicezk", "任务超时")):
        c = make_sim(profile=profile, hang_rate=1.0, job_timeout=0.2)
        task = c.wait(c.imagine("stuck"))
        assert task["status"] == "FAILURE" and task["failReason"] == text


# ---------------------------------------------------------------- fetch, list, image-seed


def test_fetch_unknown_id(any_client):
    r = any_client.get("/mj/task/1111111111111111/fetch")
    if any_client.profile == "relay":
        assert r.status_code == 400
        assert r.json() == {"description": "task_no_found ", "type": "upstream_error", "code": 4}
    elif any_client.profile == "trueai":
        assert r.status_code == 204 and r.content == b""
    else:
        assert r.status_code == 200 and r.content == b""


def test_list_by_condition(any_client):
    a, b = any_client.imagine("first"), any_client.imagine("second")
    r = any_client.post("/mj/task/list-by-condition", {"ids": [a, "1111111111111111", b, a]})
    assert r.status_code == 200
    tasks = r.json()
    assert sorted(t["id"] for t in tasks) == sorted([a, b])  # unknown dropped; order not guaranteed
    assert all(set(t) == set(any_client.fetch(a)) for t in tasks)  # same shape as fetch
    for body in ({}, {"ids": []}, {"ids": None}):
        assert any_client.post("/mj/task/list-by-condition", body).json() == []
    other = type(any_client)(any_client.sim)
    seen = [t["id"] for t in other.post("/mj/task/list-by-condition", {"ids": [a, b]}).json()]
    if any_client.profile == "relay":
        assert seen == []  # only the caller's own tasks
    else:
        assert sorted(seen) == sorted([a, b])


def test_trueai_list_by_ids_trims_whitespace(trueai):
    a = trueai.imagine("trimmed")
    r = trueai.post("/mj/task/list-by-ids", {"ids": [f"  {a} "]})
    assert r.status_code == 200 and [t["id"] for t in r.json()] == [a]


def test_image_seed(any_client):
    if any_client.profile == "novicezk":
        assert any_client.get("/mj/task/1111111111111111/image-seed").status_code == 404
        return
    task_id = any_client.imagine("seeded sky --seed 4242")
    any_client.done(task_id)
    r = any_client.get(f"/mj/task/{task_id}/image-seed")
    assert r.status_code == 200
    assert r.json() == {"code": 1, "description": "成功", "result": "4242", "properties": {}}
    unknown = any_client.get("/mj/task/1111111111111111/image-seed")
    if any_client.profile == "relay":
        assert unknown.status_code == 400
        assert unknown.json() == {"description": "task_no_found ", "type": "upstream_error", "code": 4}
    else:
        assert unknown.status_code == 404
        assert unknown.json()["code"] == 3 and unknown.json()["description"] == "关联任务不存在或已失效"


def test_image_seed_before_success(make_sim):
    relay = make_sim(profile="relay", **SLOW)
    r = relay.get(f"/mj/task/{relay.imagine('not yet')}/image-seed")
    assert r.json()["code"] == 4 and r.json()["description"] == "关联任务状态错误"
    # TRUEAI appends its own --seed, so it knows the seed at once and answers immediately
    trueai = make_sim(profile="trueai", **SLOW)
    task_id = trueai.imagine("not yet")
    r = trueai.get(f"/mj/task/{task_id}/image-seed")
    assert r.status_code == 200 and r.json()["code"] == 1
    assert r.json()["result"] == trueai.fetch(task_id)["seed"]


# ---------------------------------------------------------------- buttons (spec 8)


def job_hash_of(task) -> str:
    """The Discord job hash: in the image's file name, or (behind a relay's forwarded URL) in the
    first button's customId."""
    m = re.search(rf"({HASH})\.png\?", task["imageUrl"]) or re.search(HASH, task["buttons"][0]["customId"])
    return m[1] if m.groups() else m[0]


def grid_buttons_ok(task):
    job_hash = job_hash_of(task)  # the hash in the file name ...
    buttons = task["buttons"]
    assert [b["label"] for b in buttons] == ["U1", "U2", "U3", "U4", "", "V1", "V2", "V3", "V4"]
    assert [b["emoji"] for b in buttons] == ["", "", "", "", "🔄", "", "", "", ""]
    assert [b["customId"] for b in buttons] == (  # ... is in every customId
        [f"MJ::JOB::upsample::{i}::{job_hash}" for i in range(1, 5)]
        + [f"MJ::JOB::reroll::0::{job_hash}::SOLO"]
        + [f"MJ::JOB::variation::{i}::{job_hash}" for i in range(1, 5)])
    assert all(b["type"] == 2 and b["style"] == 2 for b in buttons)


def upscale_set(version: str, h: str) -> set:
    """(customId, label, emoji) after an upscale, per spec 8.2."""
    kind = {"7": "v7_2x", "6.1": "v6r1_2x", "6": "v6_2x"}.get(version)
    if kind:
        out = {(f"MJ::JOB::upsample_{kind}_subtle::1::{h}::SOLO", "Upscale (Subtle)", "upscale_1"),
               (f"MJ::JOB::upsample_{kind}_creative::1::{h}::SOLO", "Upscale (Creative)", "upscale_1")}
    else:
        out = {(f"MJ::JOB::upsample_v5_2x::1::{h}::SOLO", "Upscale (2x)", "upscale_1"),
               (f"MJ::JOB::upsample_v5_4x::1::{h}::SOLO", "Upscale (4x)", "upscale_1")}
    out |= {(f"MJ::JOB::low_variation::1::{h}::SOLO", "Vary (Subtle)", "🪄"),
            (f"MJ::JOB::high_variation::1::{h}::SOLO", "Vary (Strong)", "🪄"),
            (f"MJ::Inpaint::1::{h}::SOLO", "Vary (Region)", "🖌️"),
            (f"MJ::Outpaint::50::1::{h}::SOLO", "Zoom Out 2x", "🔍"),
            (f"MJ::Outpaint::75::1::{h}::SOLO", "Zoom Out 1.5x", "🔍"),
            (f"MJ::CustomZoom::{h}", "Custom Zoom", "🔍"),
            (f"MJ::JOB::pan_left::1::{h}::SOLO", "", "⬅️"), (f"MJ::JOB::pan_right::1::{h}::SOLO", "", "➡️"),
            (f"MJ::JOB::pan_up::1::{h}::SOLO", "", "⬆️"), (f"MJ::JOB::pan_down::1::{h}::SOLO", "", "⬇️"),
            (f"MJ::BOOKMARK::{h}", "", "❤️")}
    if version == "7":
        out |= {(f"MJ::JOB::animate_high::1::{h}::SOLO", "Animate (High motion)", "🎞️"),
                (f"MJ::JOB::animate_low::1::{h}::SOLO", "Animate (Low motion)", "🎞️")}
    return out


@pytest.mark.parametrize("profile", ["relay", "trueai"])
def test_button_sets(client_for, profile):
    c = client_for(profile)
    prompts = {"7": "a kite", "6.1": "a kite --v 6.1", "6": "a kite --v 6", "5.2": "a kite --version 5.2"}
    grids = {v: c.imagine(p) for v, p in prompts.items()}
    for version, grid_id in grids.items():
        grid = c.done(grid_id)
        grid_buttons_ok(grid)
        up = c.done(c.action(grid_id, grid["buttons"][0]["customId"], codes=(1, 22)))
        job_hash = job_hash_of(up)
        assert job_hash != job_hash_of(grid)  # the upscale is a new Discord message
        got = {(b["customId"], b["label"], b["emoji"]) for b in up["buttons"]}
        assert got == upscale_set(version, job_hash), version
        assert len(up["buttons"]) == len(got) and all(b["type"] == 2 for b in up["buttons"])


@pytest.mark.parametrize("profile", ["relay", "trueai"])
def test_describe_and_shorten_buttons(client_for, profile):
    c = client_for(profile)
    desc = c.done(c.submit("/mj/submit/describe", {"base64": c.data_url(Image.new("RGB", (60, 40), "teal"))}))
    assert [(b["customId"], b["label"], b["emoji"]) for b in desc["buttons"]] == [
        ("MJ::Job::PicReader::1", "", "1️⃣"), ("MJ::Job::PicReader::2", "", "2️⃣"),
        ("MJ::Job::PicReader::3", "", "3️⃣"), ("MJ::Job::PicReader::4", "", "4️⃣"),
        ("MJ::Picread::Retry", "", "🔄"), ("MJ::Job::PicReader::all", "Imagine all", "🎉")]
    short = c.done(c.submit("/mj/submit/shorten", {"prompt": "a castle on a hill at night"}))
    ids = [b["customId"] for b in short["buttons"]]
    analyzers = [i for i in ids if i.startswith("MJ::Job::PromptAnalyzer::")]
    assert [a.rsplit("::", 1)[1] for a in analyzers[:5]] == ["1", "2", "3", "4", "5"]
    assert [b["emoji"] for b in short["buttons"][:5]] == ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣"]
    assert "Show Details" in [b["label"] for b in short["buttons"]]


def test_novicezk_tasks_have_no_buttons(novicezk):
    task = novicezk.done(novicezk.imagine("a kite"))
    assert "buttons" not in task
    child = novicezk.done(novicezk.submit("/mj/submit/change",
                                          {"taskId": task["id"], "action": "UPSCALE", "index": 1}))
    assert "buttons" not in child and child["action"] == "UPSCALE"
