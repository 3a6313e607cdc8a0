"""Tolerant parsing of what every flavour sends (spec 4, 5, 6, 8), on the spec's own examples.

Pure model tests: no I/O. The last test also parses each simulator profile's live answers.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests
from client_support import NATIVE_AUTH, done

from mjnb import Button, ButtonKind, SubmitResult, TaskAction, TaskSnapshot, TaskStatus

HASH = "3785da15-4f70-4034-9128-f3ff1ac634fa"


def _b(custom_id, label="", emoji=""):
    return {"customId": custom_id, "emoji": emoji, "label": label, "type": 2, "style": 2}


# GET /mj/task/1730621826053455/fetch at a relay (the seed's own example), rebuilt field by field
SEED_FETCH = {
    "id": "1730621826053455", "action": "IMAGINE", "customId": "", "botType": "",
    "prompt": "pig --v 6.1", "promptEn": "pig --v 6.1", "description": "Submit success", "state": "",
    "submitTime": 1730621826053, "startTime": 1730621828024, "finishTime": 1730621855817,
    "imageUrl": "https://cdnmjp.oneabc.org/attachments/1300842274347028520/1302547211321741343/"
                "kennedyhernandez46715_74108_pig_3785da15-4f70-4034-9128-f3ff1ac634fa.png?ex=6728831f"
                "&is=6727319f&hm=f6d701914d608e4da9298d2290b3616317264a70635fbf08a37ca6c1bb671b50&",
    "status": "SUCCESS", "progress": "100%", "failReason": "",
    "buttons": [_b(f"MJ::JOB::upsample::{i}::{HASH}", f"U{i}") for i in range(1, 5)]
    + [_b(f"MJ::JOB::reroll::0::{HASH}::SOLO", "", "🔄")]
    + [_b(f"MJ::JOB::variation::{i}::{HASH}", f"V{i}") for i in range(1, 5)],
    "maskBase64": "",
    "properties": {"finalPrompt": "pig --v 6.1", "finalZhPrompt": ""},
}

SPEC_3_2 = json.loads("""
{"id":"1732601955123407","action":"IMAGINE","customId":"","botType":"","prompt":"a lighthouse at dusk, oil painting --ar 3:2",
 "promptEn":"a lighthouse at dusk, oil painting --ar 3:2 --v 6.1","description":"提交成功","state":"order-77",
 "submitTime":1732601955123,"startTime":1732601957004,"finishTime":1732601988310,
 "imageUrl":"https://cdn.discordapp.com/attachments/1290011223344556677/1310077788990011223/user_a_lighthouse_at_dusk_7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f.png?ex=67a21550&is=67a0c3d0&hm=3f9a&",
 "status":"SUCCESS","progress":"100%","failReason":"",
 "buttons":[
  {"customId":"MJ::JOB::upsample::1::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f","emoji":"","label":"U1","type":2,"style":2},
  {"customId":"MJ::JOB::upsample::2::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f","emoji":"","label":"U2","type":2,"style":2},
  {"customId":"MJ::JOB::upsample::3::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f","emoji":"","label":"U3","type":2,"style":2},
  {"customId":"MJ::JOB::upsample::4::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f","emoji":"","label":"U4","type":2,"style":2},
  {"customId":"MJ::JOB::reroll::0::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f::SOLO","emoji":"🔄","label":"","type":2,"style":2},
  {"customId":"MJ::JOB::variation::1::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f","emoji":"","label":"V1","type":2,"style":2},
  {"customId":"MJ::JOB::variation::2::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f","emoji":"","label":"V2","type":2,"style":2},
  {"customId":"MJ::JOB::variation::3::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f","emoji":"","label":"V3","type":2,"style":2},
  {"customId":"MJ::JOB::variation::4::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f","emoji":"","label":"V4","type":2,"style":2}],
 "maskBase64":"","properties":{"finalPrompt":"a lighthouse at dusk, oil painting --ar 3:2 --v 6.1","finalZhPrompt":""}}
""")

# the open-source proxy: 14 keys, null for everything unset, no buttons (spec 5, 10)
OSS_TASK = {
    "id": "1732601955123407", "action": "IMAGINE", "prompt": "猪", "promptEn": "pig",
    "description": "/imagine 猪", "state": None, "submitTime": 1732601955123, "startTime": None,
    "finishTime": None, "imageUrl": None, "status": "NOT_START", "progress": None, "failReason": None,
    "properties": {"notifyHook": None, "discordInstanceId": "1290011223344556677", "flags": 0,
                   "finalPrompt": None, "messageHash": None, "nonce": "1732601955123407"},
}

# TRUEAI: ~80 keys, nulls, extra fields, a numeric id, a seed, botType at top level (spec 5.2)
TRUEAI_TASK = {
    "id": 1732601955123407, "parentId": None, "botType": "NIJI_JOURNEY", "action": "IMAGINE",
    "status": "IN_PROGRESS", "prompt": "a fox --niji 6", "promptEn": "a fox --niji 6",
    "promptFull": "a fox --niji 6 --seed 2841066731", "description": "/imagine a fox --niji 6",
    "state": None, "submitTime": 1732601955123, "startTime": 1732601957004, "finishTime": None,
    "imageUrl": "https://cdn.discordapp.com/attachments/1/2/fox_grid_0.webp", "progress": "57%",
    "failReason": None, "buttons": [], "seed": "2841066731", "mode": "FAST", "requestMode": None,
    "jobId": None, "messageId": "1310077788990011223", "nonce": "5823412349", "instanceId": "1290",
    "version": "niji 6", "width": 1024, "height": 1024, "url": None, "proxyUrl": None,
    "contentType": None, "size": None, "thumbnailUrl": None,
    "imageUrls": [{"url": "https://cdn.midjourney.com/abc/0_0.png", "thumbnail": None},
                  {"url": "https://cdn.midjourney.com/abc/0_1.png", "thumbnail": None}],
    "videoUrl": None, "videoUrls": None, "accountFilter": {"instanceId": None, "modes": [], "remix": None},
    "isCompleted": False, "useTime": None, "displays": {"status": "执行中"}, "remixAutoSubmit": False,
    "isPartner": False, "isOfficial": False, "maskBase64": None, "isReplicate": False, "userId": None,
    "customId": None, "properties": {"discordChannelId": "1290", "discordInstanceId": "1290",
                                     "botType": "NIJI_JOURNEY", "finalPrompt": None,
                                     "custom_id": None, "remix_u_custom_id": None},
    **{f"extraField{i}": None for i in range(40)},  # fields this client has never heard of
}


def test_seed_fetch_example():
    snap = TaskSnapshot.parse(SEED_FETCH)
    assert snap.id == "1730621826053455"
    assert snap.action == TaskAction.IMAGINE and snap.status == TaskStatus.SUCCESS
    assert snap.prompt == snap.prompt_en == snap.final_prompt == "pig --v 6.1"
    assert snap.final_zh_prompt == "" and snap.description == "Submit success" and snap.state == ""
    assert (snap.custom_id, snap.bot_type, snap.mask_base64, snap.fail_reason) == ("", "", "", "")
    assert snap.progress == 100 and snap.progress_text == "100%"
    assert snap.submit_time == datetime(2024, 11, 3, 8, 17, 6, 53000, tzinfo=timezone.utc)
    assert snap.start_time.timestamp() == 1730621828.024
    assert snap.finish_time.timestamp() == 1730621855.817
    assert snap.image_url == SEED_FETCH["imageUrl"] and snap.image_url.endswith("&")
    assert snap.is_terminal and snap.seed is None and snap.parent_id is None
    assert [b.text for b in snap.buttons] == ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"]
    kinds = [(b.kind, b.index) for b in snap.buttons]
    assert kinds == ([(ButtonKind.UPSCALE, i) for i in range(1, 5)] + [(ButtonKind.REROLL, None)]
                     + [(ButtonKind.VARIATION, i) for i in range(1, 5)])
    for b in snap.buttons:
        assert (b.type, b.style) == (2, 2) and b.relay_supported and not b.needs_modal
        assert HASH in b.custom_id
    reroll = snap.button("🔄")
    assert reroll.custom_id == f"MJ::JOB::reroll::0::{HASH}::SOLO" and reroll.label == ""
    assert reroll.modal_in_remix and reroll.expected_action == TaskAction.REROLL
    assert snap.button("u3").custom_id == f"MJ::JOB::upsample::3::{HASH}"
    assert snap.button("V2").expected_action == TaskAction.VARIATION
    with pytest.raises(KeyError, match="U1"):
        snap.button("Vary (Region)")
    assert snap.raw["maskBase64"] == ""


def test_spec_3_2_example():
    snap = TaskSnapshot.parse(SPEC_3_2)
    assert snap.id == "1732601955123407" and snap.state == "order-77"
    assert snap.prompt_en.endswith("--v 6.1") and snap.final_prompt == snap.prompt_en
    assert snap.description == "提交成功" and len(snap.buttons) == 9
    assert snap.buttons[0].custom_id.endswith("7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f")
    assert (snap.finish_time - snap.submit_time).total_seconds() == pytest.approx(33.187)


def test_oss_task_with_nulls():
    snap = TaskSnapshot.parse(OSS_TASK)
    assert snap.status == TaskStatus.NOT_START and snap.progress == 0 and snap.progress_text == ""
    assert (snap.state, snap.image_url, snap.fail_reason, snap.final_prompt) == ("", "", "", "")
    assert snap.start_time is None and snap.finish_time is None and snap.buttons == ()
    assert snap.prompt == "猪" and snap.prompt_en == "pig"
    assert snap.properties["discordInstanceId"] == "1290011223344556677"
    assert len(OSS_TASK) == 14


def test_trueai_task_with_nulls_and_extra_fields():
    assert len(TRUEAI_TASK) >= 80
    snap = TaskSnapshot.parse(TRUEAI_TASK)
    assert snap.id == "1732601955123407"  # a JSON number, kept as a decimal string
    assert snap.status == TaskStatus.IN_PROGRESS and snap.progress == 57
    assert snap.seed == "2841066731" and snap.bot_type == "NIJI_JOURNEY"
    assert snap.image_urls == ("https://cdn.midjourney.com/abc/0_0.png", "https://cdn.midjourney.com/abc/0_1.png")
    assert snap.custom_id == "" and snap.mask_base64 == "" and snap.video_url == ""
    assert snap.raw["extraField7"] is None and snap.raw["mode"] == "FAST"
    numeric_seed = TaskSnapshot.parse({**TRUEAI_TASK, "seed": 2841066731})
    assert numeric_seed.seed == "2841066731"
    assert TaskSnapshot.parse({**TRUEAI_TASK, "seed": None}).seed is None
    # PLUS puts botType only in properties
    plus = {k: v for k, v in TRUEAI_TASK.items() if k != "botType"}
    assert TaskSnapshot.parse(plus).bot_type == "NIJI_JOURNEY"


def test_relay_status_empty_before_first_sync():
    data = {**SEED_FETCH, "status": "", "progress": "0%", "buttons": None, "imageUrl": "",
            "startTime": 0, "finishTime": 0, "properties": {"finalPrompt": "", "finalZhPrompt": ""}}
    snap = TaskSnapshot.parse(data)
    assert snap.status == TaskStatus.PENDING and str(snap.status) == "PENDING"
    assert not snap.is_terminal and snap.progress == 0 and snap.progress_text == "0%"
    assert snap.buttons == () and snap.start_time is None and snap.finish_time is None


@pytest.mark.parametrize("value", [1730621826053455, 1730621826053455.0, " 1730621826053455 "])
def test_ids_as_json_numbers(value):
    assert TaskSnapshot.parse({**SEED_FETCH, "id": value}).id == "1730621826053455"
    assert SubmitResult.parse({"code": 1, "result": value}).task_id == "1730621826053455"


def test_bad_tasks_are_refused():
    for bad in ({"status": "SUCCESS"}, {"id": None}, {"id": ""}, {"id": True}):
        with pytest.raises(ValueError):
            TaskSnapshot.parse(bad)
    with pytest.raises(TypeError):
        TaskSnapshot.parse(["not", "a", "task"])


def test_statuses_and_actions():
    for text in ("NOT_START", "SUBMITTED", "MODAL", "IN_PROGRESS", "SUCCESS", "FAILURE", "CANCEL"):
        assert TaskStatus.parse(text).value == text
    assert TaskStatus.parse(None) == TaskStatus.PENDING and TaskStatus.parse("success") == TaskStatus.SUCCESS
    assert TaskStatus.parse("PAUSED") == TaskStatus.UNKNOWN
    assert TaskStatus.FAILURE.is_terminal and not TaskStatus.MODAL.is_terminal
    assert TaskAction.parse("BLEAND") == TaskAction.BLEND  # the open-source docs' typo
    assert TaskAction.parse("CUSTOM_ZOOM") == TaskAction.CUSTOM_ZOOM
    assert TaskAction.parse("TELEPORT") == TaskAction.UNKNOWN
    snap = TaskSnapshot.parse({"id": "1", "status": "FAILURE", "progress": "", "failReason": "[Invalid parameter] x"})
    assert snap.progress == 0 and snap.fail_reason == "[Invalid parameter] x"
    assert TaskSnapshot.parse({"id": "1", "status": "SUCCESS", "progress": None}).progress == 100


H = "7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f"
# every family of spec 8: customId -> (kind, index, direction, zoom, needs_modal, modal_in_remix, relay)
FAMILIES = {
    f"MJ::JOB::upsample::2::{H}": (ButtonKind.UPSCALE, 2, None, None, False, False, True),
    f"MJ::JOB::reroll::0::{H}::SOLO": (ButtonKind.REROLL, None, None, None, False, True, True),
    f"MJ::JOB::variation::4::{H}": (ButtonKind.VARIATION, 4, None, None, False, True, True),
    f"MJ::JOB::upsample_v7_2x_subtle::1::{H}::SOLO": (ButtonKind.UPSCALE_SUBTLE, None, None, None, False, False, True),
    f"MJ::JOB::upsample_v7_2x_creative::1::{H}::SOLO": (ButtonKind.UPSCALE_CREATIVE, None, None, None, False, False, True),
    f"MJ::JOB::upsample_v6r1_2x_subtle::1::{H}::SOLO": (ButtonKind.UPSCALE_SUBTLE, None, None, None, False, False, True),
    f"MJ::JOB::upsample_v6_2x_creative::1::{H}::SOLO": (ButtonKind.UPSCALE_CREATIVE, None, None, None, False, False, True),
    f"MJ::JOB::upsample_v5_2x::1::{H}::SOLO": (ButtonKind.UPSCALE_2X, None, None, None, False, False, True),
    f"MJ::JOB::upsample_v5_4x::1::{H}::SOLO": (ButtonKind.UPSCALE_4X, None, None, None, False, False, True),
    f"MJ::JOB::low_variation::1::{H}::SOLO": (ButtonKind.VARY_SUBTLE, None, None, None, False, True, True),
    f"MJ::JOB::high_variation::1::{H}::SOLO": (ButtonKind.VARY_STRONG, None, None, None, False, True, True),
    f"MJ::Inpaint::1::{H}::SOLO": (ButtonKind.VARY_REGION, None, None, None, True, False, True),
    f"MJ::Outpaint::50::1::{H}::SOLO": (ButtonKind.ZOOM_OUT, None, None, 2.0, False, False, True),
    f"MJ::Outpaint::75::1::{H}::SOLO": (ButtonKind.ZOOM_OUT, None, None, 1.5, False, False, True),
    f"MJ::CustomZoom::{H}": (ButtonKind.CUSTOM_ZOOM, None, None, None, True, False, True),
    f"MJ::CustomZoom::1::{H}": (ButtonKind.CUSTOM_ZOOM, None, None, None, True, False, True),  # TRUEAI's form
    f"MJ::JOB::pan_left::1::{H}::SOLO": (ButtonKind.PAN, None, "left", None, False, True, True),
    f"MJ::JOB::pan_right::1::{H}::SOLO": (ButtonKind.PAN, None, "right", None, False, True, True),
    f"MJ::JOB::pan_up::1::{H}::SOLO": (ButtonKind.PAN, None, "up", None, False, True, True),
    f"MJ::JOB::pan_down::1::{H}::SOLO": (ButtonKind.PAN, None, "down", None, False, True, True),
    f"MJ::JOB::animate_high::1::{H}::SOLO": (ButtonKind.ANIMATE, None, "high", None, False, True, False),
    f"MJ::JOB::animate_low::1::{H}::SOLO": (ButtonKind.ANIMATE, None, "low", None, False, True, False),
    f"MJ::BOOKMARK::{H}": (ButtonKind.BOOKMARK, None, None, None, False, False, False),
    "MJ::Job::PicReader::3": (ButtonKind.DESCRIBE_PICK, 3, None, None, True, False, False),
    "MJ::Job::PicReader::all": (ButtonKind.DESCRIBE_ALL, None, None, None, False, False, False),
    "MJ::Picread::Retry": (ButtonKind.DESCRIBE_RETRY, None, None, None, False, False, False),
    f"MJ::Job::PromptAnalyzer::{H}::5": (ButtonKind.SHORTEN_PICK, 5, None, None, True, False, False),
    f"MJ::Job::PromptAnalyzer::{H}::SHOW_DETAILS": (ButtonKind.SHORTEN_DETAILS, None, None, None, False, False, False),
    "MJ::Something::New": (ButtonKind.UNKNOWN, None, None, None, False, False, False),
}


@pytest.mark.parametrize("custom_id", list(FAMILIES))
def test_button_families(custom_id):
    b = Button.parse({"customId": custom_id, "label": "x", "emoji": "🔍", "type": 2, "style": 2})
    kind, index, direction, zoom, needs_modal, remix, relay = FAMILIES[custom_id]
    assert (b.kind, b.index, b.direction, b.zoom) == (kind, index, direction, zoom)
    assert (b.needs_modal, b.modal_in_remix, b.relay_supported) == (needs_modal, remix, relay)


def test_button_edge_cases():
    assert Button.parse({"label": "Web", "style": 5, "url": "https://midjourney.com"}) is None  # link
    assert Button.parse({"customId": None}) is None and Button.parse("U1") is None
    b = Button.parse({"customId": "MJ::JOB::upsample::1::h", "style": None, "type": "2", "label": None})
    assert (b.style, b.type, b.label, b.emoji) == (2, 2, "", "")
    assert Button.parse({"custom_id": "MJ::JOB::upsample::1::h"}).kind == ButtonKind.UPSCALE
    hd = Button.parse({"customId": f"MJ::JOB::upsample_v7_2x_subtle::1::{H}::SOLO",
                       "label": "Upscale (Subtle)", "emoji": "upscale_1"})
    assert hd.text == "Upscale (Subtle)"  # a custom-emoji name is not shown
    zoom = Button.parse({"customId": f"MJ::Outpaint::50::1::{H}::SOLO", "label": "Zoom Out 2x", "emoji": "🔍"})
    assert zoom.text == "🔍 Zoom Out 2x" and zoom.expected_action == TaskAction.ZOOM


def test_submit_results():
    queued = SubmitResult.parse({"code": 22, "description": "排队中，前面还有3个任务", "result": "1732601955123407",
                                 "properties": {"numberOfQueues": 3, "discordInstanceId": "1"}})
    assert queued.task_id == "1732601955123407" and queued.queue_ahead == 3 and not queued.is_modal
    relay = SubmitResult.parse({"code": 1, "description": "排队中，前面还有2个任务", "result": "1732601955123407",
                                "properties": {"discordInstanceId": "1"}})
    assert relay.queue_ahead == 2  # the relay rewrote 22 to 1 but kept the text
    plain = SubmitResult.parse({"code": 1, "description": "提交成功", "result": "1", "properties": None})
    assert plain.queue_ahead is None and dict(plain.properties) == {}
    modal = SubmitResult.parse({"code": 21, "description": "Waiting for window confirm", "result": "1732602099000555",
                                "properties": {"finalPrompt": "a lighthouse", "remix": True}})
    assert modal.is_modal and modal.task_id == "1732602099000555" and modal.properties["remix"] is True
    joined = SubmitResult.parse({"code": 1, "description": "提交成功", "result": "111, 222,333,444"})
    assert joined.ids == ["111", "222", "333", "444"] and joined.task_id == "111"
    listed = SubmitResult.parse({"code": 1, "result": ["https://a/1.png", "https://a/2.png"]})
    # upload-discord-images answers URLs: they stay in `result`, they are not task ids
    assert listed.ids == [] and listed.result == ["https://a/1.png", "https://a/2.png"]
    hostile = SubmitResult.parse({"code": 1, "result": ["../../x", "a\x00b", "9" * 10000, "123", 1e300]})
    assert hostile.ids == ["123"]  # ids from a server are untrusted: malformed ones are dropped
    assert SubmitResult.parse({"code": 1, "result": [111, 222.0]}).ids == ["111", "222"]
    seed = SubmitResult.parse({"code": 1, "description": "成功", "result": "2841066731", "properties": {}})
    assert seed.task_id == "2841066731"
    empty = SubmitResult.parse({"code": "4", "description": None, "result": None})
    assert (empty.code, empty.description, empty.ids, empty.task_id) == (4, "", [], None)
    assert SubmitResult.parse({"success": False, "code": 0, "message": "x"}).code == 0
    with pytest.raises(TypeError):
        SubmitResult.parse({"code": 1}).properties["x"] = 1  # immutable


def test_live_payloads_of_every_profile_parse(sims, connect):
    """Each simulator profile's own wire format, fetched raw, parses to the same meaning."""
    for profile, sim in sims.items():
        client = connect(sim)
        task = done(client.imagine("parse me --v 6.1"))
        headers = client.config.auth_headers()
        assert NATIVE_AUTH[profile] == client.config.auth_header
        raw = requests.get(f"{sim.url}/mj/task/{task.id}/fetch", headers=headers, timeout=5).json()
        snap = TaskSnapshot.parse(raw)
        assert (snap.id, snap.status, snap.progress, snap.action) == (task.id, TaskStatus.SUCCESS, 100,
                                                                       TaskAction.IMAGINE)
        assert len(snap.buttons) == (0 if profile == "novicezk" else 9)
        if profile == "relay":
            assert len(raw) == 18 and raw["customId"] == "" and raw["botType"] == ""
        if profile == "trueai":
            assert len(raw) > 40 and snap.seed
        if profile == "novicezk":
            assert "buttons" not in raw
