"""Per-key concurrency and wait queue: codes 1, 22 (relay: 1 with the queue text), 23 / TRUEAI 9
(spec 2.5, 4, 11)."""

from __future__ import annotations

import pytest

SLOW = {"speed": 0.001}  # nothing started finishes during a test


@pytest.mark.parametrize("profile", ["relay", "trueai", "novicezk"])
def test_three_running_ten_waiting_then_refused(make_sim, profile):
    c = make_sim(profile=profile, **SLOW)  # defaults: concurrency 3, queue_size 10
    answers = [c.post("/mj/submit/imagine", {"prompt": f"job {i}"}) for i in range(14)]
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    bodies = [r.json() for r in answers]
    for body in bodies[:3]:
        assert body["code"] == 1 and body["description"] == "提交成功", body
        assert "numberOfQueues" not in body["properties"]
    for ahead, body in enumerate(bodies[3:13]):
        if profile == "novicezk" and ahead == 0:  # it reads its queue before adding the job (R8)
            assert body["code"] == 1 and body["description"] == "提交成功", body
            continue
        text = f"排队中，前面还有{ahead}个任务"
        # relays rewrite code 22 to 1 but keep the text and the properties
        assert body["code"] == (1 if profile == "relay" else 22), body
        assert body["description"] == text and body["properties"]["numberOfQueues"] == ahead, body
        assert len(body["result"]) == 16
    refused = bodies[13]
    if profile == "trueai":
        assert refused["code"] == 9 and refused["description"] == "提交失败，队列已满，请稍后重试"
    else:
        assert refused["code"] == 23 and refused["description"] == "队列已满，请稍后尝试"
    assert refused["result"] is None
    # the refused submit left no task behind; the queue is per key
    assert c.sim.stats()["tasks"] == 13
    other = type(c)(c.sim)
    assert other.post("/mj/submit/imagine", {"prompt": "mine"}).json()["code"] == 1
    # the relay keeps the submit's text as the task's description
    queued = c.fetch(bodies[5]["result"])
    if profile == "relay":
        assert queued["description"] == "排队中，前面还有2个任务"
    assert queued["status"] in ("", "NOT_START") and not queued["startTime"]


def test_queue_options_and_release(make_sim):
    # the first job hangs until the job timeout ends it, so the queue is full for a while
    c = make_sim(profile="novicezk", concurrency=1, queue_size=1, hang_rate=1.0, job_timeout=0.5)
    first = c.imagine("first")
    c.sim.configure(hang_rate=0.0)
    second = c.imagine("second")
    assert c.post("/mj/submit/imagine", {"prompt": "third"}).json()["code"] == 23
    assert c.fetch(second)["status"] == "NOT_START"
    # when the running job ends the waiting one starts; then there is room again
    assert c.wait(first)["failReason"] == "任务超时"
    c.wait(second, until=lambda t: t["status"] != "NOT_START")
    assert c.post("/mj/submit/imagine", {"prompt": "fourth"}).json()["code"] in (1, 22)
    c.done(second)


def test_modal_children_do_not_take_a_slot(make_sim):
    c = make_sim(profile="trueai", concurrency=1)
    grid = c.done(c.imagine("a harbour"))
    modal = c.action(grid["id"], c.button(grid, "V1"), enableRemix=True)
    assert c.fetch(modal)["status"] == "MODAL"
    # the MODAL child waits for its form, not for a slot: the next submit still runs at once
    assert c.post("/mj/submit/imagine", {"prompt": "next"}).json()["code"] == 1
