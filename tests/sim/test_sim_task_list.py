"""GET /mj/task/list (spec 3.14): novicezk lists every stored task, trueai the newest 100, both
newest first; a new-api relay does not route it and answers with its web page (§13 R6)."""

from __future__ import annotations


def _listed(client) -> list[dict]:
    r = client.get("/mj/task/list")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json"), (r.status_code, r.text[:200])
    return r.json()


def test_novicezk_lists_every_stored_task_newest_first(make_sim):
    c = make_sim(profile="novicezk", concurrency=20, queue_size=20)
    other = type(c)(c.sim)  # novicezk has one secret and no owners: every task is listed
    ids = [c.imagine(f"a fox {n}", state=f"order-{n}") for n in range(6)]
    ids.append(other.imagine("another key's hare", state="order-x"))
    listed = _listed(c)
    assert [t["id"] for t in listed] == ids[::-1]
    assert [t["state"] for t in listed] == ["order-x"] + [f"order-{n}" for n in range(5, -1, -1)]
    assert listed[0]["prompt"] == "another key's hare" and "status" in listed[0]


def test_trueai_lists_the_newest_100(make_sim):
    c = make_sim(profile="trueai", concurrency=110, queue_size=10)
    ids = [c.imagine(f"a hare {n}", state=f"s{n}") for n in range(103)]
    listed = _listed(c)
    assert len(listed) == 100
    assert [t["id"] for t in listed] == ids[:2:-1]  # newest first, the 3 oldest left out
    assert [t["state"] for t in listed[:2]] == ["s102", "s101"]


def test_trueai_listing_finds_a_task_whose_answer_was_lost(make_sim):
    c = make_sim(profile="trueai", lose_answer_rate=1.0, lose_answer_as="reset")
    r = None
    try:
        r = c.post("/mj/submit/imagine", {"prompt": "a lost lynx", "state": "mine-1"})
    except Exception:  # the reset: no answer at all
        pass
    assert r is None or r.status_code == 502
    [task] = [t for t in _listed(c) if t["state"] == "mine-1"]
    assert task["prompt"] == "a lost lynx"


def test_relay_does_not_route_the_listing(make_sim):
    c = make_sim(profile="relay")
    c.imagine("a relay owl", state="r-1")
    r = c.get("/mj/task/list")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), r.headers
    assert b"a relay owl" not in r.content
    assert c.get("/mj/task/list", headers={}).status_code == 200  # the web page needs no key
