"""The gallery without a browser (no kernel: ipywidgets uses a no-op comm), against the simulator."""

import html

from exp_support import make_client, until

from mjnb import Experiment
from mjnb import sim as simulator
from mjnb.gallery import ExperimentGallery, SmallCard
from mjnb.widgets import TaskCard


def test_gallery_counts_progress_thumbnails_and_detail(client):
    exp = Experiment(client, ["a <b>bold</b> cat", "a dog"], {"--ar": ["1:1", "3:2"]}, concurrency=2,
                     name="gallery")
    gallery = exp.gallery
    assert isinstance(gallery, ExperimentGallery) and exp.gallery is gallery
    assert len(gallery.cards) == 4 and all(isinstance(c, SmallCard) for c in gallery.cards)
    assert gallery.progress.max == 4
    exp.wait(timeout=60)
    until(lambda: gallery.progress.value == 4, what="the progress bar to fill")
    assert "0 queued · 0 running · 4 done · 0 failed · 0 stalled" in gallery.counts.value
    until(lambda: all(c.image.value for c in gallery.cards), what="every thumbnail")
    card = gallery.cards[1]
    assert card.bar.value == 100 and card.bar.bar_style == "success"
    assert "ar 3:2" in card.caption.value
    assert "<b>bold</b>" not in card.caption.value and html.escape("<b>bold</b>") in card.caption.value

    card.open_button.click()
    assert exp.items[1].task.card in gallery.detail.children
    assert isinstance(gallery.detail.children[-1], TaskCard)


def test_gallery_shows_eta_while_running_and_failures():
    with simulator.start(speed=60, seed=8) as sim:
        client = make_client(sim)
        try:
            exp = Experiment(client, ["x", "y gore"], {"--seed": list(range(1, 6))}, concurrency=2, name="eta")
            gallery = exp.gallery
            until(lambda: "ETA" in gallery.counts.value, timeout=30, what="an ETA once tasks finished")
            assert exp.eta() > 0
            exp.wait(timeout=60)
            assert "5 failed" in gallery.counts.value and "ETA" not in gallery.counts.value
            failed = gallery.cards[5]
            assert failed.bar.bar_style == "danger" and "banned" in failed.caption.value
            failed.open_button.click()
            assert "banned" in gallery.detail.children[0].value
        finally:
            client.close()


def test_text_repr_and_mimebundle(client):
    exp = Experiment(client, ["a pig"], concurrency=1, name="repr").wait(timeout=30)
    assert repr(exp) == "<Experiment 'repr': 1 items: 0 queued, 0 running, 1 done, 0 failed, 0 stalled>"
    bundle = exp._repr_mimebundle_()
    assert bundle["text/plain"] == repr(exp)
    assert "application/vnd.jupyter.widget-view+json" in bundle
