"""Images live in the cache, not in RAM: at Midjourney's real size (a 2048 px grid) a finished Task
keeps a display-size picture only, and t.image / t.tiles come from disk on demand."""

import gc

from mjnb import sim as simulator
from mjnb.images import DISPLAY_MAX_SIDE
from quick import until
from test_history_store import client_for


def test_a_finished_real_size_grid_keeps_only_a_display_picture(tmp_path):
    with simulator.start(speed=50, sync_interval=0.2, tile_side=1024, seed=2) as sim:
        client = client_for(sim, tmp_path / "home")
        t = client.imagine("a lighthouse at dusk").wait(60)
        assert t._image_bytes is None  # the disk keeps the full image, not the Task
        held = until(lambda: t._picture_jpeg, what="the display picture")  # made off the waiting thread
        assert len(held) < 1_000_000
        picture = t.latest_picture
        assert max(picture.size) == DISPLAY_MAX_SIDE
        assert t.latest_picture is picture  # the same object while someone holds it (views compare)
        full = t.image
        assert full.size == (2048, 2048)  # from the cache on disk
        assert [tile.size for tile in t.tiles] == [(1024, 1024)] * 4
        sim.configure(image_ttl=0.001)  # the URL is dead: only the cache can answer now
        del full, picture
        gc.collect()
        assert t.image.size == (2048, 2048) and t._image_bytes is None
        assert max(t.latest_picture.size) == DISPLAY_MAX_SIDE  # decoded again from the held JPEG


def test_with_no_history_the_image_stays_in_ram_the_one_place_left(tmp_path):
    import mjnb
    with simulator.start(speed=50, sync_interval=0.2, seed=3) as sim:
        client = mjnb.Client(base_url=sim.url, api_key="sk-x", history=False, poll_interval=0.05,
                             poll_max_interval=0.2)
        t = client.imagine("no disk at all").wait(60)
        assert t._image_bytes is not None
        sim.configure(image_ttl=0.001)
        assert t.image.size == (512, 512)
