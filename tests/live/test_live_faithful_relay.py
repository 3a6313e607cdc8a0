"""What the faithful relay (spec §13) forces on live Tasks: a ?rand= that changes on every read,
two rows for one id after a modal, Remix answers with code 1, buttonless novicezk grids, and
new-api's checks that read an id's stale first row."""

import pytest
from quick import make_client, until

import mjnb
from mjnb import sim as simulator
from mjnb.models import TaskStatus
from mjnb.tracker import tracker_for


def test_a_stuck_job_stalls_although_its_forwarded_url_changes_on_every_read():
    # R1: every poll of an unfinished task carries a new ?rand=; that is not a change
    with simulator.start(speed=300, seed=31) as sim:
        client = make_client(sim, stall_after=0.5)
        try:
            sim.configure(hang_rate=1.0)
            t = client.imagine("a kite that never lands")
            until(lambda: t.progress > 0, what="some progress")
            assert "/mj/image/" in t.image_url and "rand=" not in t.image_url
            until(lambda: t.stalled, timeout=10, what="the task to be reported stalled")
            tracker = tracker_for(client)
            before, cycles = tracker.requests, tracker.cycles
            until(lambda: tracker.cycles >= cycles + 4, what="four more tracker cycles")
            assert t.stalled  # no flap back: the volatile URL did not count as news
            # and it backed off: four quiet cycles took fewer requests than one per cycle at full pace
            assert tracker.requests - before <= tracker.cycles - cycles
        finally:
            client.close()


def test_a_modal_child_never_flaps_back_to_modal():
    # R3: after /submit/modal a relay lists the id twice, one row stale in MODAL
    with simulator.start(speed=300, seed=32) as sim:
        client = make_client(sim)
        try:
            up = client.imagine("a harbour").upscale(1)
            up.wait(20)
            seen = []
            child = up.zoom(1.5)
            child.subscribe(lambda task, event: seen.append(task.status))
            child.wait(20)
            rows = client.list_by_condition([child.id])
            assert len(rows) == 2 and {r.status for r in rows} >= {TaskStatus.SUCCESS}
            after_modal = seen[seen.index(TaskStatus.NOT_START):] if TaskStatus.NOT_START in seen else seen
            assert TaskStatus.MODAL not in after_modal, seen
            assert child.status == TaskStatus.SUCCESS and child.prompt.endswith("--zoom 1.5")
            assert client.task(child.id).status == TaskStatus.SUCCESS  # not the stale row fetch reads
        finally:
            client.close()


def test_a_remix_answer_makes_the_child_modal_at_once():
    # R4: the relay answers code 1 but keeps "Waiting for window confirm" and remix: true
    with simulator.start(speed=300, seed=33, remix=True) as sim:
        client = make_client(sim)
        try:
            grid = client.imagine("a red fox")
            grid.wait(20)
            polls = tracker_for(client).requests
            child = grid.click("V1")
            assert child.submit_result.code == 1 and child.status == TaskStatus.MODAL
            assert child.awaiting_input and tracker_for(client).requests == polls  # no poll needed
            child.confirm(prompt="a silver fox")
            child.wait(20)
            assert child.prompt == "a silver fox"
        finally:
            client.close()


def test_novicezk_grids_press_u_v_and_reroll_through_submit_change():
    # R8: no buttons and no /submit/action on the open-source proxy
    with simulator.start(profile="novicezk", speed=300, seed=34) as sim:
        client = make_client(sim)
        try:
            grid = client.imagine("a lighthouse")
            grid.wait(20)
            assert not grid.snapshot.buttons
            assert [b.text for b in grid.buttons] == ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"]
            children = [grid.upscale(2), grid.vary(3), grid.reroll(), grid.click("V1")]
            for child in children:
                child.wait(20)
            assert [c.action.value for c in children] == ["UPSCALE", "VARIATION", "REROLL", "VARIATION"]
            requests = sim.stats()["requests"]
            assert requests["change"] == 4 and "action" not in requests
            assert grid.children == children
        finally:
            client.close()


def test_a_button_on_a_task_finished_through_a_form_says_why_the_relay_refuses():
    # R3 again: new-api's action check reads the id's first row, which stays MODAL
    with simulator.start(speed=300, seed=35) as sim:
        client = make_client(sim)
        try:
            up = client.imagine("a windmill").upscale(1)
            up.wait(20)
            zoomed = up.zoom(1.8)
            zoomed.wait(20)
            with pytest.raises(mjnb.ParentNotReadyError) as info:
                zoomed.upscale(1)
            assert "MjActionCheckSuccessEnabled" in str(info.value)
            assert "task_status_not_success" in info.value.server_message
        finally:
            client.close()
