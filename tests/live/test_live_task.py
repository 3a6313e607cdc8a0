"""The live Task handle and the tracker, against the simulator over real HTTP."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from quick import make_client, until

import mjnb
from mjnb import sim as simulator
from mjnb.models import ButtonKind, TaskStatus
from mjnb.tracker import tracker_for


def test_imagine_returns_at_once_then_wait_gives_the_full_image(client):
    t = client.imagine("a lighthouse at dusk --ar 3:2")
    assert not t.done  # the call returned before the job finished
    assert t.wait(20) is t
    assert t.status == TaskStatus.SUCCESS and t.progress == 100
    img = t.image
    assert img.size == (512, 340)  # a 2x2 grid of 256x170 tiles: full size, not the card's thumbnail
    assert [b.text for b in t.buttons][:5] == ["U1", "U2", "U3", "U4", "🔄"]


def test_wait_raises_on_failure_naming_the_task(sim, client):
    sim.configure(fail_rate=1.0)
    t = client.imagine("doomed")
    with pytest.raises(mjnb.TaskFailedError) as err:
        t.wait(20)
    assert t.id in str(err.value) and err.value.task_id == t.id
    assert err.value.fail_reason and err.value.fail_reason in str(err.value)


def test_wait_timeout_names_the_task(sim, client):
    sim.configure(hang_rate=1.0)
    t = client.imagine("never ends")
    with pytest.raises(mjnb.TaskTimeoutError) as err:
        t.wait(0.5)
    assert t.id in str(err.value)


def test_await_task(client):
    t = client.imagine("awaited pig")

    async def main():
        return await t

    # a fresh thread: the browser tests' Playwright keeps a loop running on the main thread
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, main()).result(30) is t and t.status == TaskStatus.SUCCESS


def test_grid_buttons_and_lineage(client):
    t = client.imagine("pig --v 6.1")
    u = t.upscale(2)  # waits for the grid to finish, then presses U2
    v = t.vary(3)
    r = t.reroll()
    for child in (u, v, r):
        child.wait(20)
    assert [c.id for c in t.children] == [u.id, v.id, r.id]
    assert u.parent is t and u.button_text == "U2" and v.button_text == "V3" and r.button_text == "🔄"
    assert str(u.action) == "UPSCALE" and str(v.action) == "VARIATION" and str(r.action) == "REROLL"
    labels = {b.label for b in u.buttons}
    assert {"Upscale (Subtle)", "Upscale (Creative)", "Vary (Region)", "Custom Zoom"} <= labels


def test_every_post_upscale_button_method(client):
    u = client.imagine("castle --v 7").upscale(1)
    u.wait(20)
    made = [u.vary_subtle(), u.vary_strong(), u.zoom_out(2), u.zoom_out(1.5), u.upscale_subtle(),
            u.upscale_creative(), u.zoom(1.3, prompt="castle at night"),
            u.vary_region(box=(0.1, 0.1, 0.4, 0.5), prompt="a dragon")]
    made += [u.pan(d) for d in ("left", "right", "up", "down")]
    for child in made:
        child.wait(20)
    kinds = [u.snapshot.button(c.snapshot.custom_id).kind for c in made]
    assert kinds == [ButtonKind.VARY_SUBTLE, ButtonKind.VARY_STRONG, ButtonKind.ZOOM_OUT, ButtonKind.ZOOM_OUT,
                     ButtonKind.UPSCALE_SUBTLE, ButtonKind.UPSCALE_CREATIVE, ButtonKind.CUSTOM_ZOOM,
                     ButtonKind.VARY_REGION] + [ButtonKind.PAN] * 4
    assert made[6].prompt.endswith("--zoom 1.3") and made[7].prompt == "a dragon"


def test_click_by_label_emoji_or_custom_id_and_clear_errors(client):
    t = client.imagine("kitten").wait(20)
    assert t.click("u1").button_text == "U1"
    assert t.click("🔄").button_text == "🔄"
    assert t.click(t.buttons[6].custom_id).button_text == "V2"
    with pytest.raises(mjnb.ValidationError, match="no button 'Z9'"):
        t.click("Z9")
    with pytest.raises(mjnb.ValidationError, match="index must be 1, 2, 3 or 4"):
        t.upscale(5)
    with pytest.raises(mjnb.ValidationError, match="factor must be a number from 1 to 2"):
        t.upscale(1).wait(20).zoom(3)
    with pytest.raises(mjnb.ValidationError, match="has no Vary \\(Region\\) button"):
        t.vary_region(box=(0, 0, 0.5, 0.5))


def test_remix_children_are_modal_and_take_a_new_prompt():
    with simulator.start(speed=300, remix=True, seed=3) as sim:
        client = make_client(sim)
        t = client.imagine("a red fox").wait(20)
        v = t.vary(1, prompt="a blue fox")
        assert v.wait(20).prompt == "a blue fox"
        plain = t.vary(2)  # no prompt: it parks in MODAL for the card's form or confirm()
        until(lambda: plain.status == TaskStatus.MODAL, what="the remix child to show MODAL")
        with pytest.raises(mjnb.MjnbError, match="waits for your input"):
            plain.wait(5)
        assert plain.confirm().wait(20).status == TaskStatus.SUCCESS
        client.close()


def test_seed_is_fetched_once(sim, client):
    t = client.imagine("pig --seed 1234").wait(20)
    assert t.seed == "1234"
    before = sim.stats()["requests"]["image_seed"]
    assert t.seed == "1234" and sim.stats()["requests"]["image_seed"] == before == 1


def test_tracker_batches_all_live_tasks_into_one_request_per_cycle(sim, client):
    tasks = [client.imagine(f"batch {i}") for i in range(8)]
    for t in tasks:
        t.wait(30)
    tracker = tracker_for(client)
    until(lambda: not tracker.running, what="the tracker to stop with nothing live")
    stats = sim.stats()["requests"]
    assert stats.get("fetch", 0) == 0
    assert stats["list_by_condition"] == tracker.requests == tracker.cycles
    # a new task starts it again
    client.imagine("again").wait(20)


def test_tracker_falls_back_to_fetch_when_the_server_has_no_list(sim, client, monkeypatch):
    def no_list(ids):
        raise mjnb.UnsupportedEndpointError("this server has no such endpoint")

    monkeypatch.setattr(client, "list_by_condition", no_list)  # no flavour lacks it; the rule must hold
    t = client.imagine("fetched one by one").wait(20)
    assert t.status == TaskStatus.SUCCESS and sim.stats()["requests"]["fetch"] >= 1


def test_tracker_survives_errors_and_recovers(sim, client):
    t = client.imagine("through a storm")
    until(lambda: t.status in (TaskStatus.NOT_START, TaskStatus.SUBMITTED, TaskStatus.IN_PROGRESS,
                               TaskStatus.PENDING), what="the task to be tracked")
    sim.configure(error_rate=1.0, hang_rate=0.0)
    until(lambda: t.connection and t.connection.startswith("reconnecting"), what="reconnecting")
    sim.configure(error_rate=0.0)
    t.wait(20)
    until(lambda: t.connection is None, what="the connection note to clear")


def test_stalled_tasks_are_flagged_and_refresh_clears_it(sim):
    sim.configure(hang_rate=1.0)
    client = make_client(sim, stall_after=0.3)
    t = client.imagine("stuck")
    until(lambda: t.stalled, what="the stall flag")
    t.refresh()
    assert not t.stalled
    client.close()
