"""Credentials, banned users, model and channel restrictions, rate limits (spec 2.2, 2.3, 2.4)."""

from __future__ import annotations

import re

import pytest
from PIL import Image

import mjnb.sim

GOOD, BANNED = "sk-good0key", "sk-banned0key"
LIMITS = {"keys": [GOOD, BANNED], "disabled_keys": [BANNED]}
IMAGINE = {"prompt": "a paper boat"}
REQUEST_ID = re.compile(r" \(request id: [0-9a-z]+\)$")


def assert_openai_error(r, status: int, message: str) -> None:
    """new-api's own envelope: {"error": {"message": "<msg> (request id: …)", "type": "new_api_error"}}."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and body["error"]["type"] == "new_api_error"
    text = body["error"]["message"]
    assert text.startswith(message) and REQUEST_ID.search(text), text


# ---------------------------------------------------------------- relay


def test_relay_credentials(make_sim):
    c = make_sim(profile="relay", key=GOOD, **LIMITS)
    url = "/mj/submit/imagine"
    assert_openai_error(c.post(url, IMAGINE, headers={}), 401, "未提供令牌")
    assert_openai_error(c.post(url, IMAGINE, headers={"Authorization": "Bearer sk-wrong"}), 401, "无效的令牌")
    assert_openai_error(c.post(url, IMAGINE, headers={"mj-api-secret": "sk-wrong"}), 401, "无效的令牌")
    accepted = [
        {"Authorization": f"Bearer {GOOD}"},
        {"Authorization": GOOD},  # Bearer optional
        {"Authorization": GOOD[3:]},  # sk- optional
        {"mj-api-secret": GOOD},
        {"Authorization": "midjourney-proxy", "mj-api-secret": GOOD},
    ]
    for headers in accepted:
        r = c.post(url, IMAGINE, headers=headers)
        assert r.status_code == 200 and r.json()["code"] == 1, (headers, r.text)
    # every spelling is the same key: all five tasks are visible to it and counted under it
    ids = c.sim.stats()["tasks_by_key"]
    assert list(ids) == [mjnb.sim.key_id(GOOD)] and len(ids[next(iter(ids))]) == 5
    # queries are authenticated too
    assert_openai_error(c.get("/mj/task/1732601955123407/fetch", headers={}), 401, "未提供令牌")
    assert_openai_error(c.post("/mj/task/list-by-condition", {"ids": []}, headers={}), 401, "未提供令牌")


def test_relay_banned_user_denied_model_and_pinned_channel(make_sim):
    c = make_sim(profile="relay", key=GOOD, denied_models=["mj_blend", "mj_describe"], **LIMITS)
    assert_openai_error(c.post("/mj/submit/imagine", IMAGINE, headers=c.headers(BANNED)), 403, "用户已被封禁")
    blend = {"base64Array": [c.data_url(img) for img in _two_images()]}
    assert_openai_error(c.post("/mj/submit/blend", blend), 403, "该令牌无权访问模型 mj_blend")
    assert_openai_error(c.post("/mj/submit/describe", {"base64": blend["base64Array"][0]}), 403,
                        "该令牌无权访问模型 mj_describe")
    assert c.post("/mj/submit/imagine", IMAGINE).json()["code"] == 1  # other models still allowed
    # sk-<key>-<channel id> pins a channel: admins only, so a user's key gets 403
    r = c.post("/mj/submit/imagine", IMAGINE, headers=c.headers(GOOD + "-12"))
    assert r.status_code == 403 and r.json()["error"]["type"] == "new_api_error", r.text


def _two_images():
    return [Image.new("RGB", (64, 64), (250, 20, 20)), Image.new("RGB", (64, 64), (20, 20, 250))]


# ---------------------------------------------------------------- trueai


def test_trueai_credentials(make_sim):
    c = make_sim(profile="trueai", key=GOOD, **LIMITS)
    url = "/mj/submit/imagine"
    for headers in ({}, {"Authorization": "sk-wrong"}, {"Authorization": f"Bearer {GOOD}"}):
        # the raw Authorization value is the token: "Bearer <key>" is not the key
        r = c.post(url, IMAGINE, headers=headers)
        assert r.status_code == 401 and r.text == "Authorization header missing.", (headers, r.text)
        assert r.headers["Content-Type"].startswith("text/plain")
    for headers in ({"Authorization": GOOD}, {"mj-api-secret": GOOD}):
        r = c.post(url, IMAGINE, headers=headers)
        assert r.status_code == 200 and r.json()["code"] == 1, (headers, r.text)
    r = c.post(url, IMAGINE, headers={"Authorization": BANNED})
    assert r.status_code == 403 and r.text == "账号不可用"
    assert c.get("/mj/task/1732601955123407/fetch", headers={}).status_code == 401


def test_trueai_bearer_token_works_when_stored_with_bearer(make_sim):
    c = make_sim(profile="trueai", keys=["Bearer xyz"])
    assert c.post("/mj/submit/imagine", IMAGINE, headers={"Authorization": "Bearer xyz"}).json()["code"] == 1
    assert c.post("/mj/submit/imagine", IMAGINE, headers={"Authorization": "xyz"}).status_code == 401


# ---------------------------------------------------------------- novicezk


def test_novicezk_credentials(make_sim):
    c = make_sim(profile="novicezk", key=GOOD, **LIMITS)
    url = "/mj/submit/imagine"
    for headers in ({}, {"mj-api-secret": "sk-wrong"}, {"Authorization": GOOD},
                    {"Authorization": f"Bearer {GOOD}"}):
        r = c.post(url, IMAGINE, headers=headers)
        assert r.status_code == 401 and r.content == b"", (headers, r.text)
    r = c.post(url, IMAGINE, headers={"mj-api-secret": GOOD})
    assert r.status_code == 200 and r.json()["code"] == 1
    r = c.post(url, IMAGINE, headers={"mj-api-secret": BANNED})
    assert r.status_code == 403
    assert c.get("/mj/task/1732601955123407/fetch", headers={}).status_code == 401


def test_no_keys_configured_accepts_any_key_but_keeps_tasks_apart(any_client):
    other = type(any_client)(any_client.sim)  # a second, different key
    task_id = any_client.imagine()
    assert any_client.fetch(task_id)["id"] == task_id
    r = other.get(f"/mj/task/{task_id}/fetch")
    if any_client.profile == "relay":  # relays only show a caller their own tasks
        assert r.status_code == 400 and r.json()["description"] == "task_no_found "
    else:
        assert r.status_code == 200 and r.json()["id"] == task_id


# ---------------------------------------------------------------- rate limit


@pytest.mark.parametrize("profile", ["relay", "trueai", "novicezk"])
def test_rate_limit_per_key(make_sim, profile):
    c = make_sim(profile=profile, rate_limit=3)
    other = type(c)(c.sim)
    for _ in range(3):
        assert c.get("/mj/task/1732601955123407/fetch").status_code in (200, 204, 400)
    r = c.post("/mj/submit/imagine", IMAGINE)
    assert r.status_code == 429, r.text
    if profile == "relay":
        assert r.json() == {"description": "当前分组负载已饱和，请稍后再试 ", "type": "upstream_error",
                            "code": 30}
        assert 1 <= int(r.headers["Retry-After"]) <= 60
    else:
        assert r.content == b""
    assert other.post("/mj/submit/imagine", IMAGINE).json()["code"] == 1  # limits are per key
    assert c.sim.stats()["by_route_status"]["imagine"]["429"] == 1


def test_relay_action_models_follow_the_custom_id(make_sim):
    """spec 3.5: a relay bills (and checks) actions by what the customId does, not by route."""
    c = make_sim(profile="relay", denied_models=["mj_upscale", "mj_custom_zoom"])
    grid = c.done(c.imagine("a windmill"))
    gid = grid["id"]
    for path, body in (("/mj/submit/action", {"taskId": gid, "customId": c.button(grid, "U1")}),
                       ("/mj/submit/change", {"taskId": gid, "action": "UPSCALE", "index": 1}),
                       ("/mj/submit/simple-change", {"content": f"{gid} U2"})):
        assert_openai_error(c.post(path, body), 403, "该令牌无权访问模型 mj_upscale")
    variation = c.done(c.submit("/mj/submit/change", {"taskId": gid, "action": "VARIATION", "index": 1}))
    assert variation["action"] == "VARIATION"  # other actions are allowed
    c.sim.configure(denied_models=["mj_custom_zoom"])
    up = c.done(c.action(gid, c.button(grid, "U2")))
    assert_openai_error(c.post("/mj/submit/action", {"taskId": up["id"], "customId": c.button(up, "Custom Zoom")}),
                        403, "该令牌无权访问模型 mj_custom_zoom")
    assert c.action(up["id"], c.button(up, "Zoom Out 2x"))  # mj_zoom is another model
    c.sim.configure(denied_models=[], outage="no-channel")
    r = c.post("/mj/submit/action", {"taskId": gid, "customId": c.button(grid, "U3")})
    assert r.status_code == 503 and "模型 mj_upscale 无可用渠道" in r.json()["error"]["message"]
