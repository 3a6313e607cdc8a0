"""--state-file: a restarted simulator still knows the tasks an earlier run finished, as a relay's
database does (fetch, images, buttons), and listens on the same port when it is free. Tasks still
running at the stop are not kept (a restart cuts them off, as on a real upstream)."""

from __future__ import annotations

import requests
from conftest import FAST, Client

import mjnb.sim


def test_finished_tasks_survive_a_restart_and_unfinished_do_not(tmp_path):
    state = str(tmp_path / "sim.state")
    with mjnb.sim.start(state_file=state, **FAST) as first:
        c = Client(first, key="sk-state-file-test-1")
        done = c.done(c.imagine("a lighthouse at dusk"))
        first.configure(speed=0.001)  # the next job would take hours: still running at the stop
        running = c.imagine("a red fox in snow")
        url, port = first.url, first.httpd.server_address[1]
    with mjnb.sim.start(state_file=state, **FAST) as second:
        assert second.url == url  # the remembered port was free
        c = Client(second, key="sk-state-file-test-1")
        again = c.latest(done["id"])
        assert again["status"] == "SUCCESS" and again["prompt"] == done["prompt"]
        assert c.image(again["imageUrl"]).size == c.image(done["imageUrl"]).size
        upscale = c.done(c.action(done["id"], c.button(again, "U1")))  # its buttons still work
        assert upscale["status"] == "SUCCESS"
        r = c.post("/mj/task/list-by-condition", {"ids": [running]})
        assert r.status_code == 200 and r.json() == []
        other = Client(second, key="sk-state-file-test-2")  # still only the key that made it sees it
        r = other.post("/mj/task/list-by-condition", {"ids": [done["id"]]})
        assert r.json() == []
    assert port == second.httpd.server_address[1]


def test_a_taken_port_gives_way_and_a_bad_file_starts_empty(tmp_path):
    state = tmp_path / "sim.state"
    with mjnb.sim.start(state_file=str(state), **FAST) as first:
        c = Client(first, key="sk-state-file-test-3")
        c.done(c.imagine("a pig"))
        with mjnb.sim.start(state_file=str(state), **FAST) as second:  # the first still holds the port
            assert second.url != first.url and second.stats()["tasks"] == 1
    state.write_bytes(b"not a state file")
    with mjnb.sim.start(state_file=str(state), **FAST) as fresh:
        assert fresh.stats()["tasks"] == 0
        assert requests.get(fresh.url + "/__sim/stats", timeout=5).status_code == 200
