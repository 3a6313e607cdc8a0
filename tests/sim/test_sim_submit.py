"""Submit routes: accepted answers, validation (code 4), outages (3, 9, crash, no channel),
quota, banned words (24), bad JSON -- each in its flavour's envelope (spec 2.3, 2.4, 3, 4)."""

from __future__ import annotations

import base64
import io
import re

import pytest
import requests
from PIL import Image

INSTANCE = "1290011223344556677"
RED, BLUE = Image.new("RGB", (64, 64), (230, 30, 30)), Image.new("RGB", (64, 64), (30, 30, 230))


def relay_error(r, code: int, text: str, status: int = 400) -> None:
    """new-api's MJ envelope; `description` is '<msg> <result>', so a trailing space when result is empty."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json() == {"description": f"{text} ", "type": "upstream_error", "code": code}


def submit_result(r, code: int, description: str | None = None, status: int = 200) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"code", "description", "result", "properties"}, body
    assert body["code"] == code, body
    if description is not None:
        assert body["description"] == description, body
    assert isinstance(body["properties"], dict)
    return body


# ---------------------------------------------------------------- accepted


def test_imagine_accepted_answer(any_client):
    r = any_client.post("/mj/submit/imagine", {"prompt": "a lighthouse at dusk --ar 3:2", "state": "order-77"})
    body = submit_result(r, 1, "提交成功")
    assert isinstance(body["result"], str) and re.fullmatch(r"\d{16}", body["result"])
    assert body["properties"]["discordInstanceId"] == INSTANCE
    if any_client.profile == "trueai":
        assert body["properties"]["discordChannelId"] == INSTANCE
    task = any_client.done(body["result"])
    assert task["state"] == "order-77" and task["prompt"] == "a lighthouse at dusk --ar 3:2"
    assert task["properties"]["finalPrompt"].startswith("a lighthouse at dusk --ar 3:2")
    img = any_client.image(task["imageUrl"])
    assert img.width / img.height == pytest.approx(1.5, rel=0.03)  # --ar 3:2


def test_whitespace_and_blank_prompts(any_client):
    r = any_client.post("/mj/submit/imagine", {"prompt": "   "})
    submit_result(r, 4, "prompt不能为空")  # relays only check for empty; upstream answers blank
    for body in ({"prompt": ""}, {}):
        r = any_client.post("/mj/submit/imagine", body)
        if any_client.profile == "relay":
            relay_error(r, 4, "prompt_is_required")
        else:
            submit_result(r, 4, "prompt不能为空")


def test_imagine_with_reference_image(any_client):
    r = any_client.post("/mj/submit/imagine", {"prompt": "a fox", "base64Array": [any_client.data_url(RED)]})
    task = any_client.done(submit_result(r, 1)["result"])
    # the reference is uploaded and its URL prepended to the prompt; MJ shortens it in finalPrompt
    link, rest = task["prompt"].split(" ", 1)
    assert rest == "a fox" and "/attachments/" in link
    assert any_client.image(link).getpixel((5, 5)) == (230, 30, 30)
    assert task["properties"]["finalPrompt"].startswith("<https://s.mj.run/")


def test_bad_base64_everywhere(any_client):
    bad = "data:image/png;base64,not-base64!!"
    not_image = "data:image/png;base64," + base64.b64encode(b"hello, not a picture").decode()
    for payload in (bad, not_image):
        submit_result(any_client.post("/mj/submit/imagine", {"prompt": "x", "base64Array": [payload]}),
                      4, "base64格式错误")
        submit_result(any_client.post("/mj/submit/blend", {"base64Array": [payload, payload]}),
                      4, "base64格式错误")
        submit_result(any_client.post("/mj/submit/describe", {"base64": payload}), 4, "base64格式错误")


def test_bare_base64_only_outside_novicezk(any_client):
    buf = io.BytesIO()
    RED.save(buf, "PNG")
    bare = base64.b64encode(buf.getvalue()).decode()
    r = any_client.post("/mj/submit/describe", {"base64": bare})
    if any_client.profile == "novicezk":  # OSS requires the full data URL
        submit_result(r, 4, "base64格式错误")
    else:
        submit_result(r, 1)


# ---------------------------------------------------------------- blend


def test_blend_accepted(any_client):
    r = any_client.post("/mj/submit/blend", {"base64Array": [any_client.data_url(RED), any_client.data_url(BLUE)],
                                             "dimensions": "PORTRAIT"})
    task_id = submit_result(r, 1, "提交成功")["result"]
    task = any_client.done(task_id)
    assert task["action"] == "BLEND"
    if any_client.profile == "relay":
        assert task["prompt"] == "" and task["description"] == "提交成功"
    else:
        assert not task["prompt"] and task["description"] == f"/blend {task_id} 2"
    img = any_client.image(task["imageUrl"])
    assert img.width / img.height == pytest.approx(2 / 3, rel=0.03)  # PORTRAIT


@pytest.mark.parametrize("count", [0, 1, 6])
def test_blend_needs_two_to_five_images(any_client, count):
    images = [any_client.data_url(RED)] * count
    text = "图片参数错误，2~5张图片" if any_client.profile == "trueai" else "base64List参数错误"
    submit_result(any_client.post("/mj/submit/blend", {"base64Array": images}), 4, text)


def test_blend_dimensions(any_client):
    images = [any_client.data_url(RED), any_client.data_url(BLUE)]
    submit_result(any_client.post("/mj/submit/blend", {"base64Array": images, "dimensions": None}),
                  4, "dimensions参数错误")
    submit_result(any_client.post("/mj/submit/blend", {"base64Array": images, "dimensions": "HUGE"}), 4)
    submit_result(any_client.post("/mj/submit/blend", {"base64Array": images * 2, "dimensions": "landscape"}), 1)


# ---------------------------------------------------------------- describe, shorten, swap


def test_describe(any_client):
    r = any_client.post("/mj/submit/describe", {"base64": any_client.data_url(BLUE)})
    task_id = submit_result(r, 1, "提交成功")["result"]
    task = any_client.done(task_id)
    assert task["action"] == "DESCRIBE"
    # imageUrl is the uploaded picture
    assert any_client.image(task["imageUrl"]).getpixel((1, 1)) == (30, 30, 230)
    candidates = task["properties"]["finalPrompt"].split("\n\n")
    assert [c[:3] for c in candidates] == ["1️⃣", "2️⃣", "3️⃣", "4️⃣"]
    assert all("blue" in c for c in candidates)
    expected = {"relay": "提交成功", "trueai": "/describe", "novicezk": f"/describe {task_id}.png"}
    assert task["description"] == expected[any_client.profile]
    missing = any_client.post("/mj/submit/describe", {})
    submit_result(missing, 4, "base64或link不能为空" if any_client.profile == "trueai" else "base64不能为空")


def test_trueai_describe_by_link(trueai):
    grid = trueai.done(trueai.imagine("a green valley"))
    r = trueai.post("/mj/submit/describe", {"link": grid["imageUrl"]})
    assert trueai.done(submit_result(r, 1)["result"])["action"] == "DESCRIBE"
    submit_result(trueai.post("/mj/submit/describe", {"link": "ftp://example.com/x.png"}), 4)


@pytest.mark.parametrize("profile", ["relay", "trueai"])
def test_shorten(client_for, profile):
    c = client_for(profile)
    prompt = "a very beautiful painting of a lighthouse with dramatic waves --ar 3:2"
    task = c.done(submit_result(c.post("/mj/submit/shorten", {"prompt": prompt}), 1)["result"])
    assert task["action"] == "SHORTEN" and task["prompt"] == prompt
    text = task["properties"]["finalPrompt"]
    assert "## Important tokens" in text and "## Shortened prompts" in text
    assert "**lighthouse**" in text and "~~a~~" in text
    assert all(k in text for k in ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣"])
    assert not task["imageUrl"]  # no image ("" at relays, null upstream)
    if profile == "trueai":
        assert task["description"] == f"/shorten {prompt}"
        submit_result(c.post("/mj/submit/shorten", {"prompt": ""}), 4, "prompt不能为空")
    else:
        relay_error(c.post("/mj/submit/shorten", {}), 4, "prompt_is_required")


@pytest.mark.parametrize("profile", ["relay", "trueai"])
def test_swap_face(client_for, profile):
    c = client_for(profile)
    face, target = Image.new("RGB", (64, 64), (240, 200, 160)), Image.new("RGB", (300, 200), (20, 90, 40))
    r = c.post("/mj/insight-face/swap", {"sourceBase64": c.data_url(face), "targetBase64": c.data_url(target)})
    task = c.done(submit_result(r, 1, "提交成功")["result"])
    assert task["action"] == "SWAP_FACE"
    img = c.image(task["imageUrl"])
    assert img.width / img.height == pytest.approx(1.5, rel=0.03)  # the target's shape
    assert img.getpixel((img.width // 2, int(img.height * 0.35))) != img.getpixel((3, 3))  # a face pasted
    if profile == "relay":
        assert task["prompt"] == "InsightFace"
        relay_error(c.post("/mj/insight-face/swap", {"sourceBase64": c.data_url(face)}), 4,
                    "sour_base64_and_target_base64_is_required")
    else:
        assert task["botType"] == "INSIGHT_FACE"
        submit_result(c.post("/mj/insight-face/swap", {"sourceBase64": c.data_url(face)}), 4)
        same = c.data_url(face)
        submit_result(c.post("/mj/insight-face/swap", {"sourceBase64": same, "targetBase64": same}), 4,
                      "人脸图片和目标图片不能相同")


# ---------------------------------------------------------------- outages


def test_outage_no_account_and_discord_error(make_sim):
    for profile in ("relay", "trueai", "novicezk"):
        c = make_sim(profile=profile, outage="no-account")
        body = submit_result(c.post("/mj/submit/imagine", {"prompt": "x"}), 3, "无可用的账号实例")
        assert body["result"] is None
        c.sim.configure(outage="discord-error")
        submit_result(c.post("/mj/submit/imagine", {"prompt": "x"}), 9, "提交失败，系统异常")
        submit_result(c.post("/mj/submit/blend", {"base64Array": [c.data_url(RED), c.data_url(BLUE)]}), 9)
        assert c.sim.stats()["tasks"] == 0


def test_outage_crash(make_sim):
    for profile in ("relay", "trueai", "novicezk"):
        c = make_sim(profile=profile, outage="crash")
        r = c.post("/mj/submit/imagine", {"prompt": "x"})
        if profile == "relay":
            relay_error(r, 5, "do_request_failed")
        elif profile == "trueai":
            assert r.status_code == 500
            body = r.json()
            assert body["success"] is False and body["message"] == "操作失败"
        else:
            assert r.status_code == 500 and r.json()["error"] == "Internal Server Error"
        # queries keep working during an outage
        assert c.post("/mj/task/list-by-condition", {"ids": []}).json() == []


def test_outage_no_channel_is_a_relay_503(make_sim):
    c = make_sim(profile="relay", outage="no-channel")
    for route, model in (("/mj/submit/imagine", "mj_imagine"), ("/mj/submit/shorten", "mj_shorten")):
        r = c.post(route, {"prompt": "x"})
        assert r.status_code == 503, r.text
        msg = r.json()["error"]["message"]
        assert msg.startswith(f"当前分组 default 下对于模型 {model} 无可用渠道"), msg


# ---------------------------------------------------------------- quota


def test_daily_limit(make_sim):
    images = {"base64Array": [RED, BLUE]}
    for profile in ("relay", "trueai", "novicezk"):
        c = make_sim(profile=profile, daily_limit=1)
        blend = {"base64Array": [c.data_url(i) for i in images["base64Array"]]}
        submit_result(c.post("/mj/submit/imagine", {"prompt": "x"}), 1)
        r_imagine = c.post("/mj/submit/imagine", {"prompt": "x"})
        r_blend = c.post("/mj/submit/blend", blend)
        if profile == "relay":
            relay_error(r_imagine, 4, "quota_not_enough")
            relay_error(r_blend, 4, "quota_not_enough")
        elif profile == "trueai":
            submit_result(r_imagine, 4, "用户今日绘图次数已达上限")
            # the other submits answer in TRUEAI's second envelope
            assert r_blend.status_code == 200
            body = r_blend.json()
            assert body["success"] is False and body["code"] == 0
            assert body["message"] == "用户今日绘图次数已达上限" and body["timestamp"].isdigit()
        else:
            submit_result(r_imagine, 4, "用户今日绘图次数已达上限")
        other = type(c)(c.sim)  # quota is per key
        submit_result(other.post("/mj/submit/imagine", {"prompt": "x"}), 1)


# ---------------------------------------------------------------- banned words


def test_banned_word_refused_at_submit(client_for):
    for profile in ("relay", "novicezk"):
        c = client_for(profile)
        body = submit_result(c.post("/mj/submit/imagine", {"prompt": "a Gore scene"}), 24, "可能包含敏感词")
        assert body["properties"]["bannedWord"] == "gore"
        assert body["properties"]["promptEn"] == "a Gore scene"


def test_trueai_banned_word_fails_at_start(trueai):
    task_id = submit_result(trueai.post("/mj/submit/imagine", {"prompt": "an nsfw poster"}), 1)["result"]
    task = trueai.wait(task_id)
    assert task["status"] == "FAILURE" and task["failReason"] == "可能包含敏感词"
    assert task["progress"] == "" and task["startTime"] is not None


def test_banned_words_option(make_sim):
    c = make_sim(profile="novicezk", banned_words="kraken,ghost")
    body = submit_result(c.post("/mj/submit/imagine", {"prompt": "the kraken wakes"}), 24)
    assert body["properties"]["bannedWord"] == "kraken"
    submit_result(c.post("/mj/submit/imagine", {"prompt": "gore is allowed here"}), 1)


# ---------------------------------------------------------------- bad JSON


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\"text\""])
def test_bad_json_bodies(any_client, body):
    headers = {**any_client.headers(), "Content-Type": "application/json"}
    for route in ("/mj/submit/imagine", "/mj/task/list-by-condition"):
        r = requests.post(any_client.url + route, data=body, headers=headers, timeout=10)
        if any_client.profile == "relay":
            relay_error(r, 4, "bind_request_body_failed")
        elif any_client.profile == "trueai":
            assert r.status_code == 400
            problem = r.json()
            assert problem["status"] == 400 and problem["title"] == "One or more validation errors occurred."
        else:
            assert r.status_code == 400
            assert r.json()["error"] == "Bad Request" and r.json()["path"] == route


def test_trueai_rejects_long_state(trueai):
    long_state = "s" * 256
    submit_result(trueai.post("/mj/submit/imagine", {"prompt": "x", "state": long_state}), 4,
                  "State参数过长，最大255字符")
    r = trueai.post("/mj/submit/shorten", {"prompt": "x", "state": long_state})
    assert r.json()["success"] is False and r.json()["message"] == "State参数过长，最大255字符"
    assert trueai.fetch(trueai.imagine("x", state="s" * 255))["state"] == "s" * 255
