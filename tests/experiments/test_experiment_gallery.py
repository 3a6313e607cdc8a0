"""The gallery without a browser: driven through its model (synced state and the browser's custom
messages; no kernel, so ipywidgets uses a no-op comm), against the simulator."""

import html

from exp_support import make_client, until

from mjnb import Experiment
from mjnb import sim as simulator
from mjnb.gallery import ExperimentGallery
from mjnb.widgets import TaskCard


def open_item(gallery, index) -> None:
    gallery._handle_custom_msg({"type": "open", "index": index}, [])


def test_gallery_counts_progress_thumbnails_and_detail(client):
    exp = Experiment(client, ["a <b>bold</b> cat", "a dog"], {"--ar": ["1:1", "3:2"]}, concurrency=2,
                     name="gallery")
    gallery = exp.gallery
    assert isinstance(gallery, ExperimentGallery) and exp.gallery is gallery
    assert len(gallery.items) == 4 and gallery.summary["total"] == 4
    exp.wait(timeout=60)
    until(lambda: gallery.summary["settled"] == 4, what="the progress bar to fill")
    assert gallery.summary["counts"] == "0 queued · 0 running · 4 done · 0 failed · 0 stalled"
    assert gallery.summary["tone"] == "success"
    until(lambda: len(gallery.thumbs) == 4, what="every thumbnail")
    assert all(data[:2] == b"\xff\xd8" and len(data) < 20_000 for data in gallery.thumbs.values())
    item = gallery.items[1]
    assert item["progress"] == 100 and item["tone"] == "success" and item["factors"] == "ar 3:2"
    assert item["prompt"] == "a <b>bold</b> cat"  # plain text: the browser sets it with textContent

    open_item(gallery, 1)
    assert isinstance(gallery.detail, TaskCard) and gallery.detail is exp.items[1].task.card
    assert gallery.detail_caption.startswith("#1 ")


def test_gallery_shows_an_eta_while_running_and_each_failure_with_its_tries():
    with simulator.start(speed=60, seed=8) as sim:
        client = make_client(sim)
        try:
            exp = Experiment(client, ["x", "y gore"], {"--seed": list(range(1, 6))}, concurrency=2, name="eta")
            gallery = exp.gallery
            until(lambda: "left" in gallery.summary["counts"], timeout=30, what="an ETA once tasks finished")
            assert exp.eta() > 0
            exp.wait(timeout=60)
            until(lambda: "5 failed" in gallery.summary["counts"], what="the gallery to show the last event")
            assert "left" not in gallery.summary["counts"]
            failed = gallery.items[5]
            assert failed["tone"] == "failure" and "banned" in failed["reason"] and failed["attempts"] >= 1
            open_item(gallery, 5)
            assert "banned" in html.unescape(gallery.detail_caption) or gallery.detail is not None
        finally:
            client.close()


def test_text_repr_and_mimebundle(client):
    exp = Experiment(client, ["a pig"], concurrency=1, name="repr").wait(timeout=30)
    assert repr(exp) == "<Experiment 'repr': 1 items: 0 queued, 0 running, 1 done, 0 failed, 0 stalled>"
    bundle = exp._repr_mimebundle_()
    assert bundle["text/plain"] == repr(exp)
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_time_left_follows_the_slots():
    from mjnb.experiment import time_left
    # 3 slots, 8 s per item: three items 2 s in, nine queued -> 6 s, then three more rounds of 8 s
    assert time_left(8.0, [2.0, 2.0, 2.0], 9, 3) == 30.0
    # one slot free: the queued item starts now, not after a whole "wave"
    assert time_left(10.0, [9.0, 9.0], 1, 3) == 10.0
    # an overdue item still needs a little time; nothing queued
    assert time_left(10.0, [25.0], 0, 3) == 1.0


def test_static_gallery_is_updated_when_the_experiment_settles(client):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    InteractiveShell.instance()
    exp = Experiment(client, ["a <i>static</i> pig", "a cow"], concurrency=2, name="static-gallery")
    with capture_output() as captured:
        exp._ipython_display_()
        exp.wait(timeout=60)
        until(lambda: len(captured.outputs) >= 2 and captured.outputs[-1].data["text/html"].count("data:image/jpeg")
              == 2, what="an update with both thumbnails once the experiment settled")
    first, last = captured.outputs[0], captured.outputs[-1]
    assert last.transient["display_id"] == first.transient["display_id"]
    assert "2 done" in last.data["text/html"] and last.data["text/html"].count("data:image/jpeg;base64,") == 2
    assert "<i>static</i>" not in last.data["text/html"] and "&lt;i&gt;static&lt;/i&gt;" in last.data["text/html"]


def test_gallery_shows_money_and_over_budget_items(sim):
    client = make_client(sim, prices={"imagine": 0.1})
    try:
        exp = Experiment(client, ["a pig", "a cow", "a hen"], concurrency=1, name="money-gallery", budget=0.2)
        gallery = exp.gallery
        exp.wait(timeout=60)
        until(lambda: gallery.summary["settled"] == 3, what="every item settled")
        assert "1 over budget" in gallery.summary["counts"] and gallery.summary["money"].startswith("spent $0.20")
        assert "remaining $0.00 of $0.20" in gallery.summary["money"]
        assert [i["status"] for i in gallery.items].count("over budget") == 1
        card = exp.items[0].task.card
        assert state_cost(card) == "$0.10"
    finally:
        client.close()


def state_cost(card) -> str:
    return next(s for s in card.tasks if s["id"] == card.selected)["cost"]
