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
            assert "5 failed" in gallery.summary["counts"] and "left" not in gallery.summary["counts"]
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
