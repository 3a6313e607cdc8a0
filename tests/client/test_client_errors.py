"""Every error class, produced by the simulator of each profile over real HTTP (spec 2.3, 2.4, 4).

The simulator decides the envelope (relay 400 upstream_error, OpenAI-style errors, TRUEAI 204/404,
open-source 200-with-code ...); the client must map each one to the right class and keep the
server's own words. Faults are switched on a per-module simulator and reset after each test.
"""

from __future__ import annotations

import pytest
from client_support import FAST, MISSING, UNKNOWN_ID, done, new_key, png, route_counts, total, until

import mjnb
import mjnb.sim
from mjnb import (AuthError, BannedPromptError, MjnbError, NotFoundError, ParentNotReadyError,
                  QueueFullError, QuotaError, RateLimitedError, ServerError, TaskFailedError,
                  TaskStatus, TransportError, UnsupportedEndpointError, ValidationError)

# ---------------------------------------------------------------- 401 / 403


def test_wrong_key_is_an_auth_error_401(fault_sim, connect, profile):
    fault_sim.configure(keys=["sk-the-right-key"])
    client = connect(fault_sim, key="sk-a-wrong-key")
    before = total(fault_sim, "imagine")
    for call in (lambda: client.fetch(UNKNOWN_ID), lambda: client.imagine("pig")):
        with pytest.raises(AuthError) as info:
            call()
        err = info.value
        assert err.http_status == 401 and not isinstance(err, QuotaError)
        said = {"relay": "无效的令牌", "trueai": "Authorization header missing.",
                "novicezk": "(empty body)"}[profile]
        assert said in err.server_message
    assert total(fault_sim, "imagine") == before + 1  # a refused submit is not repeated
    # the right key works on the same simulator
    assert connect(fault_sim, key="sk-the-right-key").imagine("pig").id


def test_missing_key_is_an_auth_error_401(fault_sim, connect, profile):
    fault_sim.configure(keys=["sk-the-right-key"])
    client = connect(fault_sim, key="")
    assert client.config.api_key is None
    with pytest.raises(AuthError) as info:
        client.fetch(UNKNOWN_ID)
    assert info.value.http_status == 401
    if profile == "relay":
        assert "未提供令牌" in info.value.server_message


def test_disabled_key_is_an_auth_error_403(fault_sim, connect, profile):
    key = new_key()
    fault_sim.configure(disabled_keys=[key])
    with pytest.raises(AuthError) as info:
        connect(fault_sim, key=key).imagine("pig")
    assert info.value.http_status == 403
    said = {"relay": "用户已被封禁", "trueai": "账号不可用", "novicezk": "(empty body)"}[profile]
    assert said in info.value.server_message


def test_relay_403_model_denied_and_channel_pinned_key(connect):
    """Relay-only 403s (spec 2.2, 2.3): a model the key may not use, a key pinning a channel."""
    sim = mjnb.sim.start(profile="relay", **FAST, keys=["sk-pinned"], denied_models=["mj_blend"])
    try:
        client = connect(sim, key="sk-pinned")
        with pytest.raises(AuthError) as info:
            client.blend([png("red"), png("blue")])
        assert info.value.http_status == 403 and "mj_blend" in info.value.server_message
        assert done(client.imagine("still allowed")).id  # other models still work
        with pytest.raises(AuthError) as info:
            connect(sim, key="sk-pinned-5").fetch(UNKNOWN_ID)
        assert info.value.http_status == 403
    finally:
        sim.stop()


# ---------------------------------------------------------------- quota and limits


def test_daily_limit_is_a_quota_error(fault_sim, connect, profile):
    fault_sim.configure(daily_limit=1)
    client = connect(fault_sim)
    client.imagine("the one allowed")
    with pytest.raises(QuotaError) as info:
        client.imagine("one too many")
    assert isinstance(info.value, AuthError)
    said = "quota_not_enough" if profile == "relay" else "用户今日绘图次数已达上限"
    assert said in info.value.server_message
    if profile == "trueai":
        # TRUEAI's second envelope for the other submits: {"success": false, "code": 0, "message"}
        with pytest.raises(QuotaError) as info:
            client.shorten("a pig")
        assert "用户今日绘图次数已达上限" in info.value.server_message
    if profile == "relay":
        assert info.value.http_status == 400 and info.value.code == 4


def test_rate_limit_is_rate_limited_error_with_retry_after(fault_sim, connect, profile):
    fault_sim.configure(rate_limit=2)
    client = connect(fault_sim)
    for _ in range(2):
        with pytest.raises(NotFoundError):
            client.fetch(UNKNOWN_ID)
    before = route_counts(fault_sim, "imagine")
    with pytest.raises(RateLimitedError) as info:
        client.imagine("pig")
    err = info.value
    assert err.http_status == 429
    assert route_counts(fault_sim, "imagine").get("429", 0) == before.get("429", 0) + 1  # no retry
    fetches = route_counts(fault_sim, "fetch").get("429", 0)
    with pytest.raises(RateLimitedError) as info:
        client.fetch(UNKNOWN_ID)
    retried = route_counts(fault_sim, "fetch").get("429", 0) - fetches
    if profile == "relay":  # new-api: code 30 in its envelope, with Retry-After (spec 2.3, 2.4)
        assert err.code == 30 and 1 <= err.retry_after <= 60
        assert f"{err.retry_after:g} s" in str(err)
        assert retried == 1  # a wait of ~60 s is the caller's decision: raise at once
    else:  # TRUEAI: empty 429; no Retry-After, so idempotent calls back off and retry
        assert err.retry_after is None
        assert retried == 1 + client.config.retries


def test_full_queue_is_queue_full_error_and_queued_submits_say_their_place(fault_sim, connect, profile):
    fault_sim.configure(concurrency=2, queue_size=2, speed=25)  # jobs take >= 1 s: none ends below
    client = connect(fault_sim)
    tasks = [client.imagine(f"queue test {i}") for i in range(4)]  # 2 run, 2 wait
    with pytest.raises(QueueFullError) as info:
        client.imagine("one too many")
    results = [t.submit_result for t in tasks]
    # the open-source proxy counts its queue before adding the job: the first to wait hears
    # "submitted" (spec §13 R8)
    assert [r.queue_ahead for r in results] == [None, None, None if profile == "novicezk" else 0, 1]
    if profile == "relay":  # code 22 rewritten to 1, the queue text kept (spec 2.4, 4)
        assert [r.code for r in results] == [1, 1, 1, 1]
    else:
        assert [r.code for r in results] == [1, 1, 1 if profile == "novicezk" else 22, 22]
    assert "前面还有1个任务" in results[3].description
    # code 23 (open-source proxy, passed through by relays) or TRUEAI's code 9
    assert info.value.code == (9 if profile == "trueai" else 23)
    assert "队列已满" in info.value.server_message


# ---------------------------------------------------------------- banned prompts, failures


def test_banned_prompt(fault_sim, connect, profile):
    client = connect(fault_sim)
    if profile == "trueai":  # TRUEAI checks banned words when the job starts (spec 3.1)
        task = client.imagine("a gore scene")
        with pytest.raises(TaskFailedError) as info:
            task.wait(10)
        assert info.value.fail_reason == "可能包含敏感词" and info.value.task_id == task.id
        return
    with pytest.raises(BannedPromptError) as info:
        client.imagine("a gore scene")
    err = info.value
    assert isinstance(err, ValidationError)
    assert err.code == 24 and err.banned_word == "gore" and err.field == "prompt"
    assert "可能包含敏感词" in err.server_message and "'gore'" in str(err)


def test_failed_task_is_task_failed_error(fault_sim, connect, profile):
    fault_sim.configure(fail_rate=1.0)
    client = connect(fault_sim)
    task = client.imagine("doomed")
    with pytest.raises(TaskFailedError) as info:
        task.wait(10)
    err = info.value
    assert task.status == TaskStatus.FAILURE and err.task_id == task.id
    assert err.fail_reason and err.fail_reason in str(err)
    if profile == "trueai":  # "<title>, <description>" (spec 9.4)
        assert not err.fail_reason.startswith("[") and ", " in err.fail_reason
    else:  # "[<title>] <description>"
        assert err.fail_reason.startswith("[")
    snap = client.fetch(task.id)
    assert snap.progress_text == ("100%" if profile == "relay" else "")  # spec 9.1


# ---------------------------------------------------------------- not found


def test_unknown_task_is_not_found(client, sim, profile):
    with pytest.raises(NotFoundError) as info:
        client.fetch(UNKNOWN_ID)
    err = info.value
    assert not isinstance(err, UnsupportedEndpointError)
    if profile == "relay":  # 400 upstream_error code 4 task_no_found
        assert (err.http_status, err.code, err.server_message) == (400, 4, "task_no_found")
    elif profile == "trueai":  # 204, empty body
        assert err.http_status == 204
    else:  # 200, empty body
        assert err.http_status == 200 and err.server_message == "(empty body)"
    if "image_seed" not in MISSING[profile]:
        with pytest.raises(NotFoundError) as info:
            client.image_seed(UNKNOWN_ID)
        err = info.value
        if profile == "relay":
            assert err.server_message == "task_no_found"
        else:  # TRUEAI: HTTP 404 with a SubmitResult code 3
            assert (err.http_status, err.code) == (404, 3)
            assert err.server_message == "关联任务不存在或已失效"


def test_missing_parent_is_not_found(client, profile):
    if profile == "novicezk":  # 200 with code 3
        with pytest.raises(NotFoundError) as info:
            client.change(UNKNOWN_ID, "UPSCALE", 1)
        assert (info.value.http_status, info.value.code) == (None, 3)
        return
    with pytest.raises(NotFoundError) as info:
        client.action(UNKNOWN_ID, "MJ::JOB::upsample::1::7c1e2f40-5d7b-4c1a-9e3f-0a1b2c3d4e5f")
    err = info.value
    if profile == "relay":  # 400 code 4 task_not_found
        assert (err.http_status, err.code, err.server_message) == (400, 4, "task_not_found")
    else:  # TRUEAI: 404 with a SubmitResult code 3
        assert (err.http_status, err.code) == (404, 3)
    with pytest.raises(NotFoundError):
        client.modal(UNKNOWN_ID, "pig --zoom 1.5")


def test_relay_hides_other_keys_tasks(sim, connect, profile):
    mine = connect(sim).imagine("private")
    other = connect(sim)
    if profile == "relay":  # relays only show a key its own tasks (spec 3.2)
        with pytest.raises(NotFoundError):
            other.fetch(mine.id)
        assert other.list_by_condition([mine.id]) == []
    else:
        assert other.fetch(mine.id).id == mine.id


def test_expired_or_unsigned_image_url_is_not_found(fault_sim, connect):
    fault_sim.configure(forward_images=False)  # the Discord URL itself, signature and all
    client = connect(fault_sim)
    task = done(client.imagine("a short-lived link"))
    tampered = task.image_url.replace("hm=", "hm=0")
    with pytest.raises(NotFoundError) as info:
        client.download(tampered)
    assert info.value.http_status == 404
    assert "no longer available" in info.value.server_message


def test_relay_image_route_of_unknown_task_is_not_found(sims, connect):
    """RELAY GET /mj/image/{id}: 400 {"error": "midjourney_task_not_found"} (spec 3.15)."""
    client = connect(sims["relay"])
    with pytest.raises(NotFoundError) as info:
        client.download(f"{client.config.base_url}/mj/image/{UNKNOWN_ID}")
    assert "midjourney_task_not_found" in info.value.server_message
    task = done(client.imagine("proxied image"))
    assert client.download(f"{client.config.base_url}/mj/image/{task.id}").startswith(b"\x89PNG")


# ---------------------------------------------------------------- validation


def test_server_validation_code_4(client, profile):
    grid = done(client.imagine("a grid"))
    if profile == "novicezk":  # only grids may be changed: code 4 关联任务不允许执行变化
        up = done(client.change(grid.id, "UPSCALE", 1))
        with pytest.raises(ValidationError) as info:
            client.change(up.id, "VARIATION", 1)
        assert info.value.code == 4 and "关联任务不允许执行变化" in info.value.server_message
        return
    # a customId the parent never offered: a relay's upstream refuses it, trueai trusts it (R9)
    stranger = "MJ::JOB::upsample::1::00000000-0000-4000-8000-000000000000"
    if profile == "trueai":
        assert done(client.action(grid.id, stranger)).status == TaskStatus.SUCCESS
    else:
        with pytest.raises(ValidationError) as info:
            client.action(grid.id, stranger)
        assert info.value.code == 4 and info.value.server_message == "参数错误"
        assert not isinstance(info.value, ParentNotReadyError)
    # Custom Zoom needs --zoom between 1 and 2 at the modal step
    up = done(grid.upscale(1))
    child = up.click("Custom Zoom")
    with pytest.raises(ValidationError) as info:  # (the client's own check would refuse it first)
        client.modal(child.id, "pig --zoom 5", validate=False)
    assert info.value.code == 4 and "--zoom" in info.value.server_message


def test_relay_400_for_buttons_it_cannot_route(sims, connect):
    """new-api rejects PicReader & co. in its routing middleware: OpenAI-style 400 (spec 3.5)."""
    client = connect(sims["relay"])
    described = done(client.describe(png("teal")))
    pick = next(b for b in described.buttons if b.index == 1)
    assert not pick.relay_supported
    with pytest.raises(ValidationError) as info:
        client.action(described.id, pick.custom_id)
    err = info.value
    assert err.http_status == 400 and err.field == "custom_id"
    assert "unknown_action:MJ::Job::PicReader::1" in err.server_message


CLIENT_CHECKS = [  # (call on a client, the field the error must name)
    (lambda c: c.imagine("   "), "prompt"),
    (lambda c: c.imagine(None), "prompt"),
    (lambda c: c.imagine("pig", bot="dalle"), "bot"),
    (lambda c: c.imagine("pig", state=""), "state"),
    (lambda c: c.imagine("pig", account_filter=["FAST"]), "account_filter"),
    (lambda c: c.imagine("pig", images=[b"not an image"]), "images[0]"),
    (lambda c: c.imagine("pig", images="a.png"), "images"),
    (lambda c: c.blend([png()]), "images"),
    (lambda c: c.blend([png(), png(), png(), png(), png(), png()]), "images"),
    (lambda c: c.blend([png(), png()], dimensions="WIDE"), "dimensions"),
    (lambda c: c.describe(b"\x00" * 100), "image"),
    (lambda c: c.swap_face(png(), "no/such/file.png"), "target"),
    (lambda c: c.action("", "MJ::JOB::upsample::1::x"), "task_id"),
    (lambda c: c.action("../../etc", "MJ::JOB::upsample::1::x"), "task_id"),
    (lambda c: c.action(UNKNOWN_ID, "  "), "custom_id"),
    (lambda c: c.modal(UNKNOWN_ID, mask=b"junk"), "mask"),
    (lambda c: c.change(UNKNOWN_ID, "ZOOM", 1), "action"),
    (lambda c: c.change(UNKNOWN_ID, "UPSCALE", 5), "index"),
    (lambda c: c.change(UNKNOWN_ID, "VARIATION"), "index"),
    (lambda c: c.simple_change("U1 please"), "content"),
    (lambda c: c.fetch(None), "task_id"),
    (lambda c: c.list_by_condition([UNKNOWN_ID, 3.5]), "ids"),
    (lambda c: c.download("ftp://example.com/a.png"), "url"),
]


def test_client_side_checks_name_the_field_and_send_nothing(client, sim, profile):
    before = sim.stats()["requests"]
    for call, field in CLIENT_CHECKS:
        with pytest.raises(ValidationError) as info:
            call(client)
        assert info.value.field == field, (field, info.value)
        assert field.split("[")[0] in str(info.value)
    assert sim.stats()["requests"] == before  # refused before any request


# ---------------------------------------------------------------- parent not ready


def test_action_on_an_unfinished_parent_is_parent_not_ready(fault_sim, connect, profile):
    fault_sim.configure(speed=15)  # a grid takes ~2 s: it is surely unfinished below
    client = connect(fault_sim)
    grid = client.imagine("still rendering")
    if profile == "novicezk":
        call = lambda: client.change(grid.id, "UPSCALE", 1)  # noqa: E731
    else:
        call = lambda: client.action(grid.id, "MJ::JOB::upsample::1::7c1e2f40")  # noqa: E731
    with pytest.raises(ParentNotReadyError) as info:
        call()
    err = info.value
    assert isinstance(err, ValidationError) and err.field == "task_id"
    if profile == "relay":  # new-api: 400 task_status_not_success
        assert (err.http_status, err.code, err.server_message) == (400, 4, "task_status_not_success")
    else:
        assert err.code == 4 and err.server_message == "关联任务状态错误"
    if profile == "relay":  # the seed of an unfinished task: code 4 关联任务状态错误 too
        with pytest.raises(ParentNotReadyError):
            client.image_seed(grid.id)
    if profile == "trueai":  # TRUEAI knows the seed it appended from the start (spec 3.4)
        assert client.image_seed(grid.id).isdigit()


# ---------------------------------------------------------------- server errors


def test_gateway_html_pages_are_server_errors(fault_sim, connect, profile):
    client = connect(fault_sim)
    fault_sim.configure(error_rate=1.0)
    with pytest.raises(ServerError) as info:
        client.imagine("pig")
    err = info.value
    assert not isinstance(err, TransportError)
    assert err.http_status in (502, 503, 504)
    assert "HTML error page" in str(err)
    assert err.server_message.startswith(str(err.http_status))  # the page's <title>
    assert "<html" not in str(err)
    assert "may or may not have been created" in str(err)  # a submit: look before retrying


@pytest.mark.parametrize("outage", ["crash", "discord-error", "no-account", "no-channel"])
def test_outages_are_server_errors(fault_sim, connect, profile, outage):
    client = connect(fault_sim)
    fault_sim.configure(outage=outage)
    with pytest.raises(ServerError) as info:
        client.imagine("pig")
    err = info.value
    assert not isinstance(err, TransportError)
    if outage == "discord-error":  # code 9 system error (passed through by relays)
        assert err.code == 9 and "系统异常" in err.server_message
    elif outage == "no-account":  # code 3, but about accounts: not a missing task
        assert err.code == 3 and "无可用的账号实例" in err.server_message
        assert not isinstance(err, NotFoundError)
    elif profile == "relay" and outage == "crash":  # new-api: 400 code 5 do_request_failed
        assert (err.http_status, err.code) == (400, 5) and "do_request_failed" in err.server_message
    elif profile == "relay":  # no channel for the model: 503
        assert err.http_status == 503 and "无可用渠道" in err.server_message
    else:  # TRUEAI 500 {"success": false, "message": "操作失败"}; Spring's 500 page as JSON
        assert err.http_status == 500
        assert ("操作失败" if profile == "trueai" else "Internal Server Error") in err.server_message
    assert total(fault_sim, "imagine") >= 1


# ---------------------------------------------------------------- transport


def test_dropped_connection_is_a_transport_error(fault_sim, connect, profile):
    client = connect(fault_sim)
    fault_sim.configure(drop_rate=1.0)
    before = total(fault_sim, "imagine")
    with pytest.raises(TransportError) as info:
        client.imagine("pig")
    assert info.value.maybe_submitted is True
    assert "may exist" in str(info.value)
    assert total(fault_sim, "imagine") == before + 1
    with pytest.raises(TransportError) as info:
        client.fetch(UNKNOWN_ID)
    assert info.value.maybe_submitted is False


def test_nothing_listening_is_a_transport_error():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = mjnb.Client(f"http://127.0.0.1:{port}", "sk-x", retries=1, backoff=0.001, announce=False)
    with pytest.raises(TransportError) as info:
        client.imagine("pig")
    err = info.value
    assert err.maybe_submitted is False and "could not connect" in str(err)
    client.close()


def test_non_json_and_empty_bodies_are_transport_errors(fake):
    """No simulator profile sends these: a scripted server plays a broken relay."""
    client = mjnb.Client(fake.url, "sk-x", retries=0, backoff=0.001, announce=False)
    page = "<html><head><title>Relay Console</title></head><body>log in</body></html>"
    fake.on("/mj/submit/imagine", (200, page, {"Content-Type": "text/html"}))
    fake.on("/mj/task/list-by-condition", (200, "", {}))
    fake.on(f"/mj/task/{UNKNOWN_ID}/fetch", (200, {"no": "id"}, {}))
    with pytest.raises(TransportError) as info:
        client.imagine("pig")
    assert "not JSON" in str(info.value) and info.value.server_message == "Relay Console"
    with pytest.raises(TransportError) as info:
        client.list_by_condition([UNKNOWN_ID])
    assert "empty body" in str(info.value)
    with pytest.raises(TransportError) as info:
        client.fetch(UNKNOWN_ID)
    assert "not a task" in str(info.value)
    fake.on("/mj/task/list-by-condition", (200, {"code": 1}, {}))
    with pytest.raises(TransportError) as info:
        client.list_by_condition([UNKNOWN_ID])
    assert "JSON array" in str(info.value)
    # an accepted submit must carry an id
    fake.on("/mj/submit/imagine", (200, {"code": 1, "description": "提交成功", "result": None}, {}))
    with pytest.raises(ServerError) as info:
        client.imagine("pig")
    assert "no task id" in str(info.value)
    client.close()


def test_every_error_is_an_mjnb_error():
    import mjnb.errors as E
    for name in E.__all__:
        assert issubclass(getattr(E, name), MjnbError)
    assert issubclass(E.UnsupportedEndpointError, E.NotFoundError)
    assert issubclass(E.TransportError, E.ServerError)
    assert issubclass(E.QuotaError, E.AuthError)
    assert issubclass(E.ParentNotReadyError, E.ValidationError)
    assert issubclass(E.BannedPromptError, E.ValidationError)


def test_until_helper_fails_at_its_deadline():
    with pytest.raises(AssertionError):
        until(lambda: False, timeout=0.05, what="nothing")


def test_spec_envelopes_no_simulator_profile_sends(fake):
    """Answers from spec 2.3, 3.4 and 4 the simulator does not produce, played by a scripted server."""
    client = mjnb.Client(fake.url, "sk-x", retries=0, announce=False)
    seed_path = f"/mj/task/{UNKNOWN_ID}/image-seed"
    cases = [  # (path, reply, call, error class, not this subclass)
        (seed_path, (200, {"code": 3, "description": "未找到 seed", "result": None}, {}),
         lambda: client.image_seed(UNKNOWN_ID), ServerError, NotFoundError),
        (seed_path, (200, {"code": 9, "description": "seed lookup failed"}, {}),
         lambda: client.image_seed(UNKNOWN_ID), ServerError, TransportError),
        ("/mj/submit/imagine", (200, {"code": 3, "description": "No available account instance"}, {}),
         lambda: client.imagine("pig"), ServerError, NotFoundError),
        ("/mj/submit/imagine", (200, {"code": 3, "description": "账号不可用: 1290011223344556677"}, {}),
         lambda: client.imagine("pig"), ServerError, NotFoundError),
        ("/mj/submit/imagine", (200, {"code": 4, "description": "队列数已达上限"}, {}),
         lambda: client.imagine("pig"), QueueFullError, None),
        ("/mj/submit/shorten", (200, {"success": False, "code": 0, "message": "队列数已达上限",
                                      "timestamp": "638700000000000000"}, {}),
         lambda: client.shorten("pig"), QueueFullError, None),
        ("/mj/submit/shorten", (200, {"success": False, "code": 0, "message": "并发数已达上限"}, {}),
         lambda: client.shorten("pig"), QuotaError, None),
        ("/mj/submit/blend", (200, {"success": False, "code": 0, "message": "State参数过长，最大255字符"}, {}),
         lambda: client.blend([png(), png("blue")]), ValidationError, None),
        ("/mj/submit/imagine", (200, {"code": 4, "description": "State参数过长，最大255字符"}, {}),
         lambda: client.imagine("pig"), ValidationError, QuotaError),
        ("/mj/submit/imagine", (401, {"error": {"message": "该令牌额度已用尽 (request id: 1)",
                                                 "type": "new_api_error"}}, {}),
         lambda: client.imagine("pig"), QuotaError, None),
        ("/mj/submit/imagine", (401, "账号已禁用", {"Content-Type": "text/plain"}),
         lambda: client.imagine("pig"), AuthError, QuotaError),
        ("/mj/submit/imagine", (403, b"", {}), lambda: client.imagine("pig"), AuthError, QuotaError),
        ("/mj/submit/imagine", (200, {"code": 30, "description": "当前分组负载已饱和 "}, {}),
         lambda: client.imagine("pig"), RateLimitedError, None),
        ("/mj/submit/imagine", (200, {"code": 42, "description": "something new"}, {}),
         lambda: client.imagine("pig"), ServerError, None),
    ]
    for path, reply, call, cls, not_cls in cases:
        fake.on(path, reply)
        with pytest.raises(cls) as info:
            call()
        if not_cls is not None:
            assert not isinstance(info.value, not_cls), (reply, info.value)
    # accepted codes: 21 (MODAL child) and 22 (queued) with their properties
    fake.on("/mj/submit/imagine", (200, {"code": 22, "description": "排队中，前面还有4个任务",
                                         "result": 1732601955123407, "properties": {"numberOfQueues": 4}}, {}))
    task = client.imagine("pig")
    assert task.id == "1732601955123407" and task.queue_ahead == 4
    client.close()
