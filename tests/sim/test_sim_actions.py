"""Actions on a parent: /action, /modal (code 21, MODAL children, remix), /change, /simple-change,
and their errors per flavour (spec 2.3, 2.4, 3.5, 3.6, 3.11, 8.5)."""

from __future__ import annotations

import re

import pytest
from PIL import Image
from sim_support import body_of, mask_png, relay_error

SLOW = {"speed": 0.001}  # nothing started finishes during a test
UNKNOWN = "1111111111111111"








@pytest.fixture
def grid_and_upscale(request, client_for):
    """A finished grid and its finished U1, on a fresh key of the given profile."""
    c = client_for(request.param)
    grid = c.done(c.imagine("a windmill in tulip fields"))
    up = c.done(c.action(grid["id"], c.button(grid, "U1")))
    return c, grid, up


both = pytest.mark.parametrize("grid_and_upscale", ["relay", "trueai"], indirect=True)


# ---------------------------------------------------------------- plain actions


@both
def test_action_children(grid_and_upscale):
    c, grid, up = grid_and_upscale
    relay = c.profile == "relay"
    assert up["action"] == "UPSCALE" and up["id"] != grid["id"] and re.fullmatch(r"\d{16}", up["id"])
    expect = {  # button -> (relay action, trueai action)
        c.button(grid, "V2"): ("VARIATION", "VARIATION"),
        c.button(grid, custom_prefix="MJ::JOB::reroll::"): ("REROLL", "IMAGINE"),  # TRUEAI: parent's action
        c.button(up, "Vary (Subtle)"): ("LOW_VARIATION", "VARIATION"),
        c.button(up, "Vary (Strong)"): ("HIGH_VARIATION", "VARIATION"),
        c.button(up, "Zoom Out 2x"): ("ZOOM", "ZOOM"),
        c.button(up, custom_prefix="MJ::JOB::pan_left::"): ("PAN", "PAN"),
        c.button(up, "Upscale (Subtle)"): ("UPSCALE", "UPSCALE_HD"),
    }
    for custom_id, actions in expect.items():
        parent = grid if custom_id in [b["customId"] for b in grid["buttons"]] else up
        r = c.post("/mj/submit/action", {"taskId": parent["id"], "customId": custom_id})
        body = body_of(r, 1)
        assert body["description"] == "提交成功" or "排队中" in body["description"], body
        child = c.done(body["result"])
        assert child["action"] == actions[0 if relay else 1], custom_id
        if not relay:
            assert child["parentId"] == parent["id"] and child["customId"] == custom_id
        grid_like = "upsample" not in custom_id
        labels = [b["label"] for b in child["buttons"]]
        assert (labels[:4] == ["U1", "U2", "U3", "U4"]) == grid_like, (custom_id, labels)


@both
def test_custom_zoom_modal(grid_and_upscale):
    c, grid, up = grid_and_upscale
    r = c.post("/mj/submit/action", {"taskId": up["id"], "customId": c.button(up, "Custom Zoom")})
    body = body_of(r, 21)  # not rewritten to 1 by relays: CustomZoom and Inpaint keep 21
    child_id = body["result"]
    assert body["description"] == "Waiting for window confirm"  # the upstream's words, kept by relays
    assert body["properties"]["remix"] is True and "finalPrompt" in body["properties"]
    child = c.wait(child_id, until=lambda t: t["status"] == "MODAL")
    assert child["action"] == ("CUSTOM_ZOOM" if c.profile == "relay" else "ZOOM")
    # the modal needs --zoom between 1 and 2
    for prompt in ("a windmill", "a windmill --zoom 2.5", "a windmill --zoom 0.5", "a windmill --zoom x"):
        body_of(c.post("/mj/submit/modal", {"taskId": child_id, "prompt": prompt}), 4)
    assert c.fetch(child_id)["status"] == "MODAL"
    r = c.post("/mj/submit/modal", {"taskId": child_id, "prompt": "a windmill --zoom 1.8"})
    assert body_of(r, 1)["result"] == child_id  # same task, no new one
    done = c.done(child_id)
    assert [b["label"] for b in done["buttons"]][:4] == ["U1", "U2", "U3", "U4"]


@both
def test_vary_region_modal(grid_and_upscale):
    c, grid, up = grid_and_upscale
    size = c.image(up["imageUrl"]).size
    r = c.post("/mj/submit/action", {"taskId": up["id"], "customId": c.button(up, "Vary (Region)")})
    body = body_of(r, 21)
    child_id = body["result"]
    child = c.wait(child_id, until=lambda t: t["status"] == "MODAL")
    assert child["action"] == ("INPAINT" if c.profile == "relay" else "VARIATION")
    body_of(c.post("/mj/submit/modal", {"taskId": child_id, "prompt": "a mill"}), 4)  # no mask
    wrong = mask_png((size[0] // 2, size[1]), (0, 0, 10, 10))
    body_of(c.post("/mj/submit/modal", {"taskId": child_id, "maskBase64": wrong}), 4)
    body_of(c.post("/mj/submit/modal", {"taskId": child_id, "maskBase64": "data:image/png;base64,@@"}), 4)
    good = mask_png(size, (0, 0, size[0] // 2, size[1] // 2))
    assert body_of(c.post("/mj/submit/modal", {"taskId": child_id, "maskBase64": good}), 1)["result"] == child_id
    c.done(child_id)


def test_modal_unknown_task(client_for):
    relay, trueai = client_for("relay"), client_for("trueai")
    relay_error(relay.post("/mj/submit/modal", {"taskId": UNKNOWN, "prompt": "x"}), 4, "task_not_found")
    relay_error(relay.post("/mj/submit/modal", {"prompt": "x"}), 4, "task_id_is_required")
    body = body_of(trueai.post("/mj/submit/modal", {"taskId": UNKNOWN, "prompt": "x"}), 3, status=404)
    assert body["description"] == "关联任务不存在或已失效"


# ---------------------------------------------------------------- remix


@pytest.mark.parametrize("profile", ["relay", "trueai"])
def test_remix_makes_variation_pan_reroll_children_modal(make_sim, profile):
    c = make_sim(profile=profile, remix=True)
    grid = c.done(c.imagine("a harbour"))
    up = c.done(c.action(grid["id"], c.button(grid, "U1")))  # upscales never need a modal
    assert up["status"] == "SUCCESS"
    buttons = [(grid, c.button(grid, "V1")), (grid, c.button(grid, custom_prefix="MJ::JOB::reroll::")),
               (up, c.button(up, custom_prefix="MJ::JOB::pan_up::")), (up, c.button(up, "Vary (Strong)")),
               (up, c.button(up, "Zoom Out 1.5x"))]
    children = []
    for parent, custom_id in buttons:
        r = c.post("/mj/submit/action", {"taskId": parent["id"], "customId": custom_id})
        outpaint = "Outpaint" in custom_id
        # relays rewrite 21 to 1 here: only the child's status tells the client to send a modal
        expected = 1 if outpaint or profile == "relay" else 21
        child_id = body_of(r, expected)["result"]
        status = c.wait(child_id, until=lambda t: t["status"] not in ("", "NOT_START"))["status"]
        assert (status == "MODAL") == (not outpaint), (custom_id, status)
        if not outpaint:
            children.append(child_id)
    for child_id in children:  # four jobs at once: the fourth may queue (code 22)
        assert c.modal(child_id, prompt="a harbour at night") == child_id
    for child_id in children:  # a relay keeps the prompt it stored; promptEn follows the upstream
        done = c.done(child_id)
        assert done["promptEn" if profile == "relay" else "prompt"] == "a harbour at night"


def test_trueai_enable_remix_forces_the_modal(trueai):
    grid = trueai.done(trueai.imagine("a harbour"))
    r = trueai.post("/mj/submit/action", {"taskId": grid["id"], "customId": trueai.button(grid, "V3"),
                                          "enableRemix": True})
    child_id = body_of(r, 21)["result"]
    assert trueai.fetch(child_id)["status"] == "MODAL"
    body_of(trueai.post("/mj/submit/modal", {"taskId": child_id}), 1)  # empty prompt: the parent's
    assert trueai.done(child_id)["prompt"] == "a harbour"


# ---------------------------------------------------------------- describe / shorten follow-ups


def test_trueai_picreader_is_always_modal_and_imagine_all(trueai):
    desc = trueai.done(trueai.submit("/mj/submit/describe",
                                     {"base64": trueai.data_url(Image.new("RGB", (48, 48), "orange"))}))
    r = trueai.post("/mj/submit/action", {"taskId": desc["id"], "customId": "MJ::Job::PicReader::2"})
    child_id = body_of(r, 21)["result"]
    assert trueai.fetch(child_id)["status"] == "MODAL"
    body_of(trueai.post("/mj/submit/modal", {"taskId": child_id}), 1)
    child = trueai.done(child_id)
    assert child["action"] == "IMAGINE" and child["prompt"] == desc["properties"]["finalPrompt"].split(
        "\n\n")[1][len("2️⃣ "):]
    r = trueai.post("/mj/submit/action", {"taskId": desc["id"], "customId": "MJ::Job::PicReader::all"})
    ids = body_of(r, 1)["result"].split(",")
    assert len(ids) == 4 and all(re.fullmatch(r"\d{16}", i) for i in ids)
    assert all(trueai.done(i)["action"] == "IMAGINE" for i in ids)
    retry = trueai.done(trueai.action(desc["id"], "MJ::Picread::Retry"))
    assert retry["action"] == "DESCRIBE"


def test_relay_rejects_describe_and_shorten_followups(relay):
    desc = relay.done(relay.submit("/mj/submit/describe",
                                   {"base64": relay.data_url(Image.new("RGB", (48, 48), "orange"))}))
    short = relay.done(relay.submit("/mj/submit/shorten", {"prompt": "a castle on a hill at night"}))
    for parent, custom_id in ((desc, "MJ::Job::PicReader::1"), (desc, "MJ::Picread::Retry"),
                              (short, short["buttons"][0]["customId"])):
        r = relay.post("/mj/submit/action", {"taskId": parent["id"], "customId": custom_id})
        assert_unknown_action(r, custom_id)


# ---------------------------------------------------------------- errors


def assert_unknown_action(r, custom_id: str) -> None:
    """Rejected by new-api's routing middleware: the OpenAI-style envelope, HTTP 400."""
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "new_api_error"
    assert re.fullmatch(rf"无效的请求，unknown_action:{re.escape(custom_id)} \(request id: [0-9a-z]+\)",
                        err["message"]), err["message"]


@both
def test_unknown_custom_ids(grid_and_upscale):
    c, grid, up = grid_and_upscale
    job_hash = up["buttons"][-1]["customId"].split("::")[-1]
    for custom_id in (f"MJ::BOOKMARK::{job_hash}", f"MJ::Job::PromptAnalyzer::{job_hash}::1", "nonsense", ""):
        r = c.post("/mj/submit/action", {"taskId": up["id"], "customId": custom_id})
        if c.profile == "relay":
            assert_unknown_action(r, custom_id)
        else:
            body = body_of(r, 4)
            assert body["description"] == ("参数错误" if not custom_id else "未知的 Action 类型")
    # a well-formed id that the parent does not carry: trueai trusts it (R9), a relay's PLUS refuses
    r = c.post("/mj/submit/action", {"taskId": grid["id"], "customId": f"MJ::JOB::upsample::4::{job_hash}"})
    body_of(r, 1 if c.profile == "trueai" else 4)


def test_parent_not_found(client_for):
    relay, trueai, novicezk = client_for("relay"), client_for("trueai"), client_for("novicezk")
    custom_id = "MJ::JOB::upsample::1::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f"
    relay_error(relay.post("/mj/submit/action", {"taskId": UNKNOWN, "customId": custom_id}), 4, "task_not_found")
    relay_error(relay.post("/mj/submit/action", {"customId": custom_id}), 4, "task_id_is_required")
    body = body_of(trueai.post("/mj/submit/action", {"taskId": UNKNOWN, "customId": custom_id}), 3, status=404)
    assert body["description"] == "关联任务不存在或已失效" and body["result"] is None
    for r in (novicezk.post("/mj/submit/change", {"taskId": UNKNOWN, "action": "UPSCALE", "index": 1}),
              novicezk.post("/mj/submit/simple-change", {"content": f"{UNKNOWN} U1"})):
        assert body_of(r, 3)["description"] == "关联任务不存在或已失效"
    relay_error(relay.post("/mj/submit/change", {"taskId": UNKNOWN, "action": "UPSCALE", "index": 1}),
                4, "task_not_found")


def test_relay_parent_of_another_key_is_not_found(relay):
    grid = relay.done(relay.imagine("mine"))
    other = type(relay)(relay.sim)
    r = other.post("/mj/submit/action", {"taskId": grid["id"], "customId": grid["buttons"][0]["customId"]})
    relay_error(r, 4, "task_not_found")


def test_unfinished_parent(make_sim):
    relay = make_sim(profile="relay", **SLOW)
    parent = relay.imagine("still drawing")
    custom_id = "MJ::JOB::upsample::1::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f"
    relay_error(relay.post("/mj/submit/action", {"taskId": parent, "customId": custom_id}),
                4, "task_status_not_success")
    trueai = make_sim(profile="trueai", **SLOW)
    parent = trueai.imagine("still drawing")
    body = body_of(trueai.post("/mj/submit/action", {"taskId": parent, "customId": custom_id}), 4)
    assert body["description"] == "关联任务状态错误"
    novicezk = make_sim(profile="novicezk", **SLOW)
    parent = novicezk.imagine("still drawing")
    r = novicezk.post("/mj/submit/change", {"taskId": parent, "action": "UPSCALE", "index": 1})
    assert body_of(r, 4)["description"] == "关联任务状态错误"


def test_relay_refuses_actions_until_its_own_sync_sees_success(make_sim):
    c = make_sim(profile="relay", sync_interval=3600)  # upstream finishes, the relay never syncs
    parent = c.imagine("finished upstream")
    c.sim.configure(sync_interval=0)  # look at upstream directly to know it is done ...
    grid = c.done(parent)
    c.sim.configure(sync_interval=3600)  # ... then go back to the stale relay view
    assert c.fetch(parent)["status"] == ""
    r = c.post("/mj/submit/action", {"taskId": parent, "customId": grid["buttons"][0]["customId"]})
    relay_error(r, 4, "task_status_not_success")


# ---------------------------------------------------------------- legacy change / simple-change


@pytest.mark.parametrize("profile", ["relay", "novicezk"])
def test_change_and_simple_change(client_for, profile):
    c = client_for(profile)
    grid = c.done(c.imagine("a lantern"))
    gid = grid["id"]
    cases = [("/mj/submit/change", {"taskId": gid, "action": "UPSCALE", "index": 2}, "UPSCALE", "U2"),
             ("/mj/submit/change", {"taskId": gid, "action": "VARIATION", "index": 3}, "VARIATION", "V3"),
             ("/mj/submit/change", {"taskId": gid, "action": "REROLL", "index": 1}, "REROLL", "R"),
             ("/mj/submit/simple-change", {"content": f"{gid} U4"}, "UPSCALE", "U4"),
             ("/mj/submit/simple-change", {"content": f"{gid} v1"}, "VARIATION", "V1"),
             ("/mj/submit/simple-change", {"content": f"{gid} r"}, "REROLL", "R")]
    children = []
    for path, body, action, op in cases:
        children.append((c.submit(path, body), action, op))
    for child_id, action, op in children:
        child = c.done(child_id)
        assert child["action"] == action
        if profile == "relay":  # the submit's answer; six jobs at once, so some were queued
            assert re.fullmatch(r"提交成功|排队中，前面还有\d个任务", child["description"]), child
        else:
            assert child["description"] == f"/up {gid} {op}"
    upscale = children[0][0]
    if profile == "novicezk":
        assert c.submit("/mj/submit/change", {"taskId": gid, "action": "REROLL"})  # no index needed
        bad = [({"taskId": gid, "action": "ZOOM", "index": 1}, "action参数错误"),
               ({"taskId": gid, "action": "UPSCALE", "index": 5}, "index参数错误"),
               ({"taskId": upscale, "action": "UPSCALE", "index": 1}, "关联任务不允许执行变化")]
        for body, text in bad:
            assert body_of(c.post("/mj/submit/change", body), 4)["description"] == text
        for content in ("", f"{gid} X1", f"{gid} U5", "garbage"):
            r = c.post("/mj/submit/simple-change", {"content": content})
            assert body_of(r, 4)["description"] == "content参数错误"
    else:
        relay_error(c.post("/mj/submit/change", {"taskId": gid, "action": "REROLL"}), 4, "index_is_required")
        relay_error(c.post("/mj/submit/change", {"taskId": gid, "index": 1}), 4, "action_is_required")
        relay_error(c.post("/mj/submit/change", {"action": "UPSCALE", "index": 1}), 4, "task_id_is_required")
        relay_error(c.post("/mj/submit/simple-change", {}), 4, "content_is_required")
        relay_error(c.post("/mj/submit/simple-change", {"content": "garbage"}), 4, "content_parse_failed")
        assert body_of(c.post("/mj/submit/change", {"taskId": upscale, "action": "UPSCALE", "index": 1}),
                       4)["description"] == "关联任务不允许执行变化"


@pytest.mark.parametrize("profile", ["relay", "trueai"])
def test_confirmed_modal_child_stays_modal_while_queued(make_sim, profile):
    c = make_sim(profile=profile, concurrency=1, remix=True)
    grid = c.done(c.imagine("a harbour"))
    child_id = c.action(grid["id"], c.button(grid, "V1"))
    c.wait(child_id, until=lambda t: t["status"] == "MODAL")
    c.sim.configure(hang_rate=1.0)
    c.imagine("takes the only slot forever")
    r = c.post("/mj/submit/modal", {"taskId": child_id, "prompt": "a harbour in fog"})
    body = body_of(r, 1 if profile == "relay" else 22)  # queued behind the hung job
    assert body["result"] == child_id and body["description"] == "排队中，前面还有0个任务"
    # spec 3.6 / 7.8: the task stays MODAL while its confirmed job waits, then SUBMITTED -> ...
    prompt = "promptEn" if profile == "relay" else "prompt"  # a relay's prompt column never changes
    assert c.wait(child_id, until=lambda t: t[prompt] == "a harbour in fog")["status"] == "MODAL"
    # its form is in: a second modal is refused
    body_of(c.post("/mj/submit/modal", {"taskId": child_id, "prompt": "again"}), 4)
