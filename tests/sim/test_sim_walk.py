"""A user's walk through the relay, and how the pictures relate to each other (spec 3.5, 3.6, 8).

imagine -> U1 -> Custom Zoom (modal, --zoom 1.8) -> Vary Region (modal with a mask) -> image-seed,
downloading and decoding every image with Pillow along the way.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

PROMPT = "a windmill in tulip fields --seed 99"
UNRELATED = "a neon city street at night --seed 5"


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.float32)


def mad(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255."""
    return float(np.abs(pixels(a) - pixels(b)).mean())


def quarters(img: Image.Image) -> list[Image.Image]:
    """The four tiles of a 2x2 grid, in U1..U4 order."""
    w, h = img.width // 2, img.height // 2
    return [img.crop((x * w, y * h, (x + 1) * w, (y + 1) * h)) for y in (0, 1) for x in (0, 1)]


@pytest.fixture
def sim(make_sim):
    # the pictures are the point here: read the upstream's URLs, since new-api's image proxy
    # cannot serve a task continued by /submit/modal (it reads the stale older row, R3)
    return make_sim(profile="relay", seed=11, forward_images=False)


def test_walk_imagine_upscale_zoom_vary_region_seed(sim):
    c = sim
    # imagine: a 2x2 grid of four different pictures
    grid_task = c.done(c.imagine(PROMPT))
    grid = c.image(grid_task["imageUrl"])
    tiles = quarters(grid)
    pairwise = [mad(tiles[i], tiles[j]) for i in range(4) for j in range(i + 1, 4)]
    assert min(pairwise) > 5, pairwise

    # U1: the top-left tile, at twice the size
    up_task = c.done(c.action(grid_task["id"], c.button(grid_task, "U1")))
    up = c.image(up_task["imageUrl"])
    assert up.size == (2 * tiles[0].width, 2 * tiles[0].height)
    small = up.resize(tiles[0].size, Image.LANCZOS)
    own, others = mad(small, tiles[0]), [mad(small, t) for t in tiles[1:]]
    assert own < 4 and min(others) > max(8.0, 3 * own), (own, others)

    # Custom Zoom: a MODAL child; the prompt must carry --zoom; the centre is the parent, shrunk
    zoom_id = c.action(up_task["id"], c.button(up_task, "Custom Zoom"), codes=(21,))
    assert c.wait(zoom_id, until=lambda t: t["status"] == "MODAL")["action"] == "CUSTOM_ZOOM"
    assert c.modal(zoom_id, prompt="a windmill in tulip fields --zoom 1.8") == zoom_id
    zoom_task = c.done(zoom_id)
    # the relay's second row for the id (R3): action MODAL, the new prompt as promptEn
    assert zoom_task["action"] == "MODAL" and zoom_task["promptEn"].endswith("--zoom 1.8")
    zoom_tiles = quarters(c.image(zoom_task["imageUrl"]))
    side = zoom_tiles[0].width
    inner = int(side / 1.8)
    off = (side - inner) // 2
    for tile in zoom_tiles:
        centre = tile.crop((off, off, off + inner, off + inner))
        shrunk = up.resize((inner, inner), Image.LANCZOS)
        near, far = mad(centre, shrunk), mad(centre, tiles[1].resize((inner, inner), Image.LANCZOS))
        assert near < 4 and far > 3 * near, (near, far)
        # and something new was painted around it
        border = tile.crop((0, 0, side, off))
        assert mad(border, up.resize((side, side), Image.LANCZOS).crop((0, 0, side, off))) > 3

    # Vary Region: a MODAL child; white in the mask = regenerate, same size as the upscale
    mask = Image.new("L", up.size, 0)
    box = (up.width // 4, up.height // 4, up.width * 3 // 4 - 1, up.height * 3 // 4 - 1)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    region_id = c.action(up_task["id"], c.button(up_task, "Vary (Region)"), codes=(21,))
    assert c.wait(region_id, until=lambda t: t["status"] == "MODAL")["action"] == "INPAINT"
    assert c.modal(region_id, prompt="a windmill in tulip fields", maskBase64=c.data_url(mask)) == region_id
    region_task = c.done(region_id)
    region_tiles = quarters(c.image(region_task["imageUrl"]))
    reference = pixels(up.resize(region_tiles[0].size, Image.LANCZOS))
    inside = np.asarray(mask.resize(region_tiles[0].size), dtype=np.uint8) > 127
    # leave out a thin band at the mask's edge, where resampling mixes both sides
    band = np.zeros_like(inside)
    h, w = inside.shape
    band[h // 4 - 3:h * 3 // 4 + 3, w // 4 - 3:w * 3 // 4 + 3] = True
    outside = ~band
    for tile in region_tiles:
        diff = np.abs(pixels(tile) - reference).mean(axis=2)
        changed = diff > 30
        assert diff[inside].mean() > 10 and diff[outside].mean() < 4, (diff[inside].mean(), diff[outside].mean())
        assert changed[inside].mean() > 10 * changed[outside].mean(), (changed[inside].mean(),
                                                                         changed[outside].mean())
    # the four results share the kept outside exactly and differ inside
    first = pixels(region_tiles[0])
    for tile in region_tiles[1:]:
        diff = np.abs(pixels(tile) - first).mean(axis=2)
        assert diff[outside].max() < 1 and diff[inside].mean() > 5, (diff[outside].max(), diff[inside].mean())

    # image-seed of the grid: the --seed it was drawn with
    r = c.get(f"/mj/task/{grid_task['id']}/image-seed")
    assert r.status_code == 200 and r.json()["code"] == 1 and r.json()["result"] == "99"


def test_variation_relates_to_its_parent_more_than_an_unrelated_prompt(sim):
    c = sim
    grid_task = c.done(c.imagine(PROMPT))
    parent = quarters(c.image(grid_task["imageUrl"]))[1]
    var_task = c.done(c.action(grid_task["id"], c.button(grid_task, "V2")))
    variations = quarters(c.image(var_task["imageUrl"]))
    unrelated = quarters(c.image(c.done(c.imagine(UNRELATED))["imageUrl"]))
    to_parent = [mad(v, parent) for v in variations]
    to_unrelated = [mad(u, parent) for u in unrelated]
    assert max(to_parent) < min(to_unrelated), (to_parent, to_unrelated)
    assert min(to_parent) > 1  # but a variation is not a copy
    assert min(mad(variations[i], variations[j]) for i in range(4) for j in range(i + 1, 4)) > 1


def test_same_prompt_and_seed_same_pictures(sim):
    c = sim
    a, b = c.imagine(PROMPT), c.imagine(PROMPT)
    other = c.imagine(PROMPT.replace("--seed 99", "--seed 98"))
    img_a, img_b = c.image(c.done(a)["imageUrl"]), c.image(c.done(b)["imageUrl"])
    assert np.array_equal(pixels(img_a), pixels(img_b))
    assert mad(img_a, c.image(c.done(other)["imageUrl"])) > 5


def test_blend_relates_to_its_inputs(sim):
    c = sim
    red, blue = Image.new("RGB", (80, 80), (220, 30, 30)), Image.new("RGB", (80, 80), (30, 30, 220))
    green, yellow = Image.new("RGB", (80, 80), (30, 200, 40)), Image.new("RGB", (80, 80), (230, 220, 30))
    rb = c.submit("/mj/submit/blend", {"base64Array": [c.data_url(red), c.data_url(blue)]})
    gy = c.submit("/mj/submit/blend", {"base64Array": [c.data_url(green), c.data_url(yellow)]})
    rb_tiles = quarters(c.image(c.done(rb)["imageUrl"]))
    gy_tiles = quarters(c.image(c.done(gy)["imageUrl"]))
    for tile in rb_tiles:
        r, g, b = pixels(tile).mean(axis=(0, 1))
        assert r > 70 and b > 70 and g < 60, (r, g, b)  # both inputs show; nothing green added
    for tile in gy_tiles:
        r, g, b = pixels(tile).mean(axis=(0, 1))
        assert g > 100 and b < 70, (r, g, b)
    assert min(mad(a, b) for a in rb_tiles for b in gy_tiles) > 40
