"""The task card without a browser: widgets are built, clicked and inspected in plain pytest
(with no kernel, ipywidgets uses a no-op comm), against the simulator over real HTTP."""

import html

import pytest
from quick import make_client, until

from mjnb import sim as simulator
from mjnb.models import ButtonKind, TaskStatus
from mjnb.widgets import ROWS, PromptForm, RegionForm, TaskCard, static_html


def rows_of(card):
    return [[b.description for b in row.children] for row in card.button_rows.children]


def button(card, text):
    for row in card.button_rows.children:
        for b in row.children:
            if b.description == text:
                return b
    raise AssertionError(f"no button {text!r} on the card: {rows_of(card)}")


def test_card_shows_progress_then_image_and_grid_rows(client):
    t = client.imagine("a pig in space")
    card = t.card
    assert isinstance(card, TaskCard) and "IMAGINE" in card.header.value and "simulator" not in card.header.value
    t.wait(20)
    until(lambda: card.image.value, what="the image on the card")
    assert card.bar.value == 100 and card.bar.bar_style == "success" and card.percent.value == "100%"
    assert "SUCCESS" in card.header.value
    assert rows_of(card) == [["U1", "U2", "U3", "U4"], ["🔄", "V1", "V2", "V3", "V4"]]


@pytest.mark.parametrize("version,first_row", [
    ("7", ["Upscale (Subtle)", "Upscale (Creative)"]),
    ("6.1", ["Upscale (Subtle)", "Upscale (Creative)"]),
    ("6", ["Upscale (Subtle)", "Upscale (Creative)"]),
    ("5.2", ["Upscale (2x)", "Upscale (4x)"]),
])
def test_post_upscale_rows_by_version(client, version, first_row):
    u = client.imagine(f"cat --v {version}").upscale(1)
    u.wait(20)
    rows = rows_of(u.card)
    assert rows[0] == first_row
    assert rows[1] == ["🪄 Vary (Subtle)", "🪄 Vary (Strong)", "🖌️ Vary (Region)"]
    assert rows[2] == ["🔍 Zoom Out 2x", "🔍 Zoom Out 1.5x", "🔍 Custom Zoom"]
    assert rows[3] == ["⬅️", "➡️", "⬆️", "⬇️"]
    # relays reject animate and nobody accepts bookmarks: shown, but disabled with a reason
    last = {b.description: b for b in u.card.button_rows.children[-1].children}
    assert last["❤️"].disabled and "Discord-only" in last["❤️"].tooltip
    if version == "7":
        animate = last["🎞️ Animate (High motion)"]
        assert animate.disabled and "unknown_action" in animate.tooltip
    assert not button(u.card, "⬅️").disabled


def test_describe_and_shorten_buttons_are_grouped_and_disabled_at_relays(client):
    grid = client.imagine("a teapot").wait(20)
    d = client.describe(grid.image).wait(20)
    assert rows_of(d.card) == [["1️⃣", "2️⃣", "3️⃣", "4️⃣", "🔄", "🎉 Imagine all"]]
    assert all(b.disabled for b in d.card.button_rows.children[0].children)
    s = client.shorten("a very detailed teapot with flowers and gold trim").wait(20)
    assert rows_of(s.card) == [["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "Show Details"]]
    assert all("unknown_action" in b.tooltip for b in s.card.button_rows.children[0].children)


def test_trueai_enables_describe_picks_and_they_open_a_prompt_form():
    with simulator.start(profile="trueai", speed=300, seed=5) as sim:
        client = make_client(sim)
        grid = client.imagine("a teapot").wait(20)
        d = client.describe(grid.image).wait(20)
        pick = button(d.card, "2️⃣")
        assert not pick.disabled
        pick.click()
        child = until(lambda: d.children and d.children[0], what="the pick's child task")
        until(lambda: child.status == TaskStatus.MODAL, what="the MODAL child")
        form = until(lambda: child.card.form.children and child.card.form.children[0], what="the form")
        assert isinstance(form, PromptForm) and "teapot" not in form.text.value.split("--")[0] or form.text.value
        form.submit.click()
        until(lambda: child.status == TaskStatus.SUCCESS, what="the picked prompt's grid")
        client.close()


def test_click_spawns_a_child_card_beneath_with_lineage(client):
    t = client.imagine("a pig").wait(20)
    card = t.card
    button(card, "U1").click()
    child_card = until(lambda: card.children_box.children and card.children_box.children[0], what="child card")
    child = child_card.task
    child.wait(20)
    assert child.parent is t and "UPSCALE" in child_card.header.value
    assert "↳ from" in child_card.header.value and t.id[-6:] in child_card.header.value
    assert "U1" in child_card.header.value


def test_no_double_submits(sim, client):
    t = client.imagine("a careful pig").wait(20)
    card = t.card
    u1 = button(card, "U1")
    before = sim.stats()["requests"].get("action", 0)
    u1.click()
    assert u1.disabled  # disabled while it submits
    u1.click()  # a second click on the busy button is ignored
    until(lambda: not u1.disabled, what="the button to come back")
    until(lambda: len(t.children) == 1, what="one child")
    assert sim.stats()["requests"]["action"] - before == 1
    assert len(card.children_box.children) == 1


def test_custom_zoom_form(client):
    u = client.imagine("a harbour").upscale(1)
    u.wait(20)
    button(u.card, "🔍 Custom Zoom").click()
    child = until(lambda: u.children and u.children[0], what="the Custom Zoom child")
    until(lambda: child.status == TaskStatus.MODAL, what="MODAL")
    form = until(lambda: child.card.form.children and child.card.form.children[0], what="the form")
    assert isinstance(form, PromptForm) and form.text.value.endswith("--zoom 1.8")
    form.text.value = "a harbour --zoom 3"
    form.submit.click()
    assert "needs --zoom" in form.status.value and child.status == TaskStatus.MODAL  # refused, not sent
    form.text.value = "a harbour at night --zoom 1.5"
    form.submit.click()
    until(lambda: child.status == TaskStatus.SUCCESS, what="the zoom to finish")
    assert child.prompt == "a harbour at night --zoom 1.5"
    until(lambda: not child.card.form.children, what="the form to close")


def test_vary_region_form_builds_the_mask(sim, client):
    u = client.imagine("a meadow --ar 1:1").upscale(1)
    u.wait(20)
    until(lambda: u.latest_picture is not None, what="the parent's picture")
    button(u.card, "🖌️ Vary (Region)").click()
    child = until(lambda: u.children and u.children[0], what="the Vary Region child")
    until(lambda: child.status == TaskStatus.MODAL, what="MODAL")
    form = until(lambda: child.card.form.children and child.card.form.children[0], what="the form")
    assert isinstance(form, RegionForm) and form.preview.value
    form.left.value, form.top.value, form.right.value, form.bottom.value = 0, 0, 50, 50
    form.text.value = "a tiger"
    form.submit.click()
    until(lambda: child.status == TaskStatus.SUCCESS, what="the region to be varied")
    # new-api's image proxy reads the id's first row, which the form left without an image
    # (spec §13 R3): the card says so and what to ask the relay for
    until(lambda: child.error, what="the card to explain the missing image")
    assert "MjForwardUrlEnabled" in child.error, child.error
    from PIL import Image
    import io
    recipe = sim.engine.tasks[child.id].tiles[0]
    mask = Image.open(io.BytesIO(recipe.mask_png)).convert("L")
    assert mask.size == u.image.size
    w, h = mask.size
    assert mask.getpixel((w // 4, h // 4)) == 255 and mask.getpixel((3 * w // 4, 3 * h // 4)) == 0


def test_failure_is_shown_on_the_card(sim, client):
    sim.configure(fail_rate=1.0)
    t = client.imagine("doomed")
    card = t.card
    until(lambda: t.status == TaskStatus.FAILURE, what="FAILURE")
    until(lambda: "Failed:" in card.notice.value, what="the failure text")
    assert card.bar.bar_style == "danger" and html.escape(t.fail_reason, quote=True) in card.notice.value


def test_reconnect_is_shown_and_recovers(sim, client):
    sim.configure(hang_rate=1.0)
    t = client.imagine("stormy")
    card = t.card
    sim.configure(error_rate=1.0)
    until(lambda: "Reconnecting" in card.notice.value, what="reconnecting on the card")
    assert card.bar.bar_style == "warning"
    sim.configure(error_rate=0.0)
    until(lambda: "Reconnecting" not in card.notice.value, what="the card to recover")


def test_stall_is_shown_with_refresh(sim):
    sim.configure(hang_rate=1.0)
    client = make_client(sim, stall_after=1.0)
    t = client.imagine("stuck")
    card = t.card
    until(lambda: "No change for over" in card.notice.value, what="the stall note")
    assert card.refresh_button.layout.display == ""
    card.refresh_button.click()
    until(lambda: "No change" not in card.notice.value, what="refresh to clear the note")
    client.close()


def test_hostile_prompt_is_text_not_html(client):
    evil = "<img src=x onerror=alert(1)>"
    t = client.imagine(f"{evil} pig")
    card = t.card
    for text in (card.prompt.value, static_html(t)):
        assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    t.wait(20)
    assert "<img src=x" not in card.prompt.value


def test_static_fallback_and_text_repr(client):
    t = client.imagine("a static pig").wait(20)
    until(lambda: t.latest_picture is not None, what="the picture")
    bundle = t._repr_mimebundle_()
    assert bundle["text/plain"].startswith(f"<Task {t.id} IMAGINE SUCCESS 100%")
    assert "data:image/png;base64," in bundle["text/html"] and "U1" in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_every_button_kind_has_a_row():
    placed = set().union(*ROWS)
    assert placed == set(ButtonKind)


def test_remix_child_card_offers_an_editable_prompt():
    with simulator.start(speed=300, remix=True, seed=12) as sim:
        client = make_client(sim)
        t = client.imagine("a red fox").wait(20)
        button(t.card, "V1").click()
        child = until(lambda: t.children and t.children[0], what="the V1 child")
        form = until(lambda: child.card.form.children and child.card.form.children[0], what="the remix form")
        assert isinstance(form, PromptForm) and form.kind != ButtonKind.CUSTOM_ZOOM
        assert form.text.value == "a red fox"
        form.text.value = "a silver fox"
        form.submit.click()
        until(lambda: child.status == TaskStatus.SUCCESS, what="the remixed variation")
        assert child.prompt == "a silver fox" and sim.engine.tasks[child.id].prompt == "a silver fox"
        until(lambda: not child.card.form.children, what="the form to close")
        client.close()
