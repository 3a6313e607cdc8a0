"""Fault injection (gateway 5xx, dropped connections, hung and failed jobs, latency) and the
simulator's own statistics and runtime configuration."""

from __future__ import annotations

import time

import pytest
import requests

import mjnb.sim


@pytest.mark.parametrize("profile", ["relay", "trueai", "novicezk"])
def test_error_rate_answers_gateway_html(make_sim, profile):
    c = make_sim(profile=profile, error_rate=1.0)
    seen = set()
    for _ in range(12):
        r = c.post("/mj/submit/imagine", {"prompt": "x"})
        assert r.status_code in (502, 503, 504), r.status_code
        assert r.headers["Content-Type"].startswith("text/html")
        assert r.text.startswith("<html>") and f"<h1>{r.status_code} " in r.text
        seen.add(r.status_code)
        assert c.get("/mj/task/1111111111111111/fetch").status_code in (502, 503, 504)
    assert len(seen) >= 2  # a mix of gateway errors
    assert c.sim.stats()["tasks"] == 0  # nothing reached the server behind the gateway
    # the simulator's own routes are never faulted
    assert requests.get(c.url + "/__sim/stats", timeout=10).status_code == 200
    c.sim.configure(error_rate=0.0)
    assert c.post("/mj/submit/imagine", {"prompt": "x"}).json()["code"] == 1


def test_drop_rate_closes_the_connection(make_sim):
    c = make_sim(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        c.post("/mj/submit/imagine", {"prompt": "x"})
    with pytest.raises(requests.ConnectionError):
        c.get("/mj/task/1111111111111111/fetch")
    stats = c.sim.stats()
    assert stats["by_route_status"]["imagine"] == {"0": 1} and stats["tasks"] == 0
    c.sim.configure(drop_rate=0.0)
    assert c.post("/mj/submit/imagine", {"prompt": "x"}).json()["code"] == 1


@pytest.mark.parametrize("profile", ["relay", "trueai", "novicezk"])
def test_hang_rate_jobs_never_finish_and_keep_their_slot(make_sim, profile):
    c = make_sim(profile=profile, hang_rate=1.0, concurrency=1)
    hung = c.imagine("stuck forever")
    c.sim.configure(hang_rate=0.0)
    behind = c.imagine("waits behind it")  # same key: needs the hung job's slot
    started = c.wait(hung, until=lambda t: t["status"] == "IN_PROGRESS")
    # a control job on another key, submitted later, runs its whole course ...
    control = type(c)(c.sim)
    control_task = control.done(control.imagine("free"))
    elapsed = (control_task["finishTime"] - control_task["submitTime"]) / 1000
    # ... and for five more of its durations the hung job makes no further progress
    deadline, last = time.monotonic() + 5 * elapsed, None
    while time.monotonic() < deadline:
        now = c.fetch(hung)
        assert now["status"] == "IN_PROGRESS" and now["startTime"] == started["startTime"], now
        last = now
        time.sleep(0.01)
    assert c.fetch(hung)["progress"] == last["progress"] != "100%"
    assert c.fetch(behind)["status"] in ("", "NOT_START")  # its slot is still taken


def test_latency_delays_every_request(make_sim):
    c = make_sim(latency=0.2)
    t0 = time.monotonic()
    c.get("/mj/task/1111111111111111/fetch")
    assert time.monotonic() - t0 >= 0.2


# ---------------------------------------------------------------- stats and configuration


def test_stats_count_routes_statuses_and_tasks_per_key(make_sim):
    c = make_sim(profile="relay", keys=["sk-alpha", "sk-beta"], key="sk-alpha")
    beta = type(c)(c.sim, "sk-beta")
    a1, a2 = c.imagine("one"), c.imagine("two")
    b1 = beta.imagine("three")
    c.get("/mj/task/1111111111111111/fetch")  # 400
    c.post("/mj/submit/imagine", {"prompt": "x"}, headers={})  # 401
    # the same key spelled another way counts as the same key
    a3 = c.post("/mj/submit/imagine", {"prompt": "four"}, headers={"mj-api-secret": "alpha"}).json()["result"]
    stats = c.sim.stats()
    assert stats["requests"]["imagine"] == 5 and stats["requests"]["fetch"] == 1
    assert stats["by_route_status"]["imagine"] == {"200": 4, "401": 1}
    assert stats["by_route_status"]["fetch"] == {"400": 1}
    assert stats["statuses"]["200"] == 4 and stats["statuses"]["400"] == 1 and stats["statuses"]["401"] == 1
    assert stats["tasks"] == 4
    by_key = stats["tasks_by_key"]
    assert sorted(by_key) == sorted([mjnb.sim.key_id("sk-alpha"), mjnb.sim.key_id("sk-beta")])
    assert sorted(by_key[mjnb.sim.key_id("sk-alpha")]) == sorted([a1, a2, a3])
    assert by_key[mjnb.sim.key_id("sk-beta")] == [b1]
    assert "sk-alpha" not in str(stats) and "alpha" not in str(stats)  # keys are never printed
    # the same over HTTP
    assert requests.get(c.url + "/__sim/stats", timeout=10).json() == c.sim.stats()


@pytest.mark.parametrize("profile", ["trueai", "novicezk"])
def test_stats_key_names_for_upstream_flavours(make_sim, profile):
    c = make_sim(profile=profile)
    task_id = c.imagine("counted")
    assert c.sim.stats()["tasks_by_key"] == {mjnb.sim.key_id(c.key): [task_id]}
    anon = c.post("/mj/submit/imagine", {"prompt": "nobody"}, headers={}).json()["result"]
    assert c.sim.stats()["tasks_by_key"]["anonymous"] == [anon]


def test_sim_tasks_and_config_over_http(make_sim):
    c = make_sim(profile="novicezk")
    task_id = c.imagine("introspected")
    rows = requests.get(c.url + "/__sim/tasks", timeout=10).json()
    assert [r["id"] for r in rows] == [task_id] and rows[0]["key"] == mjnb.sim.key_id(c.key)
    assert c.sim.tasks()[0]["id"] == task_id
    r = requests.post(c.url + "/__sim/config", json={"fail_rate": 1.0}, timeout=10)
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert c.wait(c.imagine("now failing"))["status"] == "FAILURE"
    r = requests.post(c.url + "/__sim/config", json={"no_such_option": 1}, timeout=10)
    assert r.status_code == 400 and "no_such_option" in r.json()["error"]
    r = requests.post(c.url + "/__sim/config", json={"fail_rate": 7}, timeout=10)
    assert r.status_code == 400 and "fail_rate" in r.json()["error"]
    r = requests.post(c.url + "/__sim/config", json={"profile": "relay"}, timeout=10)
    assert r.status_code == 400
    options = requests.get(c.url + "/__sim/options", timeout=10).json()
    assert options["fail_rate"] == 1.0 and "keys" not in options  # secrets are not echoed


def test_start_rejects_bad_options():
    with pytest.raises(ValueError, match="profile"):
        mjnb.sim.start(profile="midjourney")
    with pytest.raises(ValueError, match="drop_rate"):
        mjnb.sim.start(drop_rate=2)
    with pytest.raises(TypeError):
        mjnb.sim.start(no_such_option=1)


def test_context_manager_stops_the_server():
    with mjnb.sim.start(speed=400) as sim:
        url = sim.url
        assert requests.post(url + "/mj/task/list-by-condition", json={}, timeout=10).json() == []
    with pytest.raises(requests.ConnectionError):
        requests.post(url + "/mj/task/list-by-condition", json={}, timeout=2)
