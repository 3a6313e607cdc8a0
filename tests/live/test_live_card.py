"""The anywidget card without a browser: driven through its model (synced state, and the custom
messages the browser sends for clicks and form submits) against the simulator over real HTTP.
With no kernel, ipywidgets uses a no-op comm; `recording()` keeps what the card sends."""

import io
import time

import pytest
from PIL import Image
from quick import make_client, until

from mjnb import sim as simulator
from mjnb.models import ButtonKind, TaskStatus
from mjnb.widgets import ROWS, TaskCard, elapsed_window, static_html


def state(card, task=None) -> dict:
    """The card's synced state of `task` (default: the one it shows)."""
    ident = task.id if task is not None else card.selected
    return next(s for s in card.tasks if s["id"] == ident)


def rows_of(card, task=None) -> list[list[str]]:
    rows: dict[int, list] = {}
    for b in state(card, task)["buttons"]:
        rows.setdefault(b["row"], []).append(b["label"])
    return [rows[k] for k in sorted(rows)]


def button(card, label, task=None) -> dict:
    found = [b for b in state(card, task)["buttons"] if b["label"] == label]
    assert found, f"no button {label!r} on the card: {rows_of(card, task)}"
    return found[0]


def message(card, **content) -> None:
    """What the browser sends: a custom message on the card's model."""
    card._handle_custom_msg(content, [])


def press(card, label, task=None) -> None:
    task_id = task.id if task is not None else card.selected
    message(card, type="press", task=task_id, button=button(card, label, task)["id"])


def recording(card) -> list:
    """Keep every (data, buffers) the card sends from now on."""
    sent = []
    card.comm.send = lambda data=None, metadata=None, buffers=None: sent.append((data, buffers or []))
    return sent


def editor_of(card, task) -> dict:
    return until(lambda: state(card, task)["editor"], what="the form on the card")


def test_card_shows_progress_then_image_and_grid_rows(client):
    t = client.imagine("a pig in space")
    card = t.card
    assert isinstance(card, TaskCard) and state(card)["action"] == "IMAGINE" and not card.simulator
    t.wait(20)
    until(lambda: card.picture and state(card)["status"] == "SUCCESS", what="the image on the card")
    s = state(card)
    assert s["progress"] == 100 and s["tone"] == "success" and s["final"]
    assert card.picture[:2] == b"\xff\xd8" and len(card.picture) <= 200_000  # a JPEG at display size
    assert Image.open(io.BytesIO(card.picture)).size[0] <= 512
    assert rows_of(card) == [["U1", "U2", "U3", "U4"], ["🔄", "V1", "V2", "V3", "V4"]]


@pytest.mark.parametrize("version,first_row", [
    ("7", ["Upscale (Subtle)", "Upscale (Creative)"]),
    ("6.1", ["Upscale (Subtle)", "Upscale (Creative)"]),
    ("5.2", ["Upscale (2x)", "Upscale (4x)"]),
])
def test_post_upscale_rows_by_version(client, version, first_row):
    u = client.imagine(f"cat --v {version}").upscale(1)
    u.wait(20)
    card = u.card
    rows = rows_of(card)
    assert rows[0] == first_row
    assert rows[1] == ["🪄 Vary (Subtle)", "🪄 Vary (Strong)", "🖌️ Vary (Region)"]
    assert rows[2] == ["🔍 Zoom Out 2x", "🔍 Zoom Out 1.5x", "🔍 Custom Zoom"]
    assert rows[3] == ["⬅️", "➡️", "⬆️", "⬇️"]
    # relays reject animate and nobody accepts bookmarks: shown, disabled, and the hover says why
    assert "Discord-only" in button(card, "❤️")["why"]
    if version == "7":
        assert "unknown_action" in button(card, "🎞️ Animate (High motion)")["why"]
    assert button(card, "⬅️")["why"] == "" and button(card, "⬅️")["help"] == "Extend the image to the left"


def test_describe_and_shorten_are_formatted_and_their_buttons_say_why(client):
    grid = client.imagine("a teapot").wait(20)
    d = client.describe(grid.image).wait(20)
    assert rows_of(d.card) == [["1️⃣", "2️⃣", "3️⃣", "4️⃣", "🔄", "🎉 Imagine all"]]
    assert all(b["why"] for b in state(d.card)["buttons"])
    s = client.shorten("a very detailed teapot with flowers and gold trim").wait(20)
    text = state(s.card)["text"]
    assert "**" not in text and "<b>" in text, text  # Discord markdown becomes formatting
    assert all("unknown_action" in b["why"] for b in state(s.card)["buttons"])


def test_trueai_describe_pick_opens_a_prompt_form():
    with simulator.start(profile="trueai", speed=300, seed=5) as sim:
        client = make_client(sim)
        grid = client.imagine("a teapot").wait(20)
        d = client.describe(grid.image).wait(20)
        card = d.card
        assert button(card, "2️⃣")["why"] == ""
        press(card, "2️⃣")
        child = until(lambda: d.children and d.children[0], what="the pick's child task")
        until(lambda: child.status == TaskStatus.MODAL, what="the MODAL child")
        form = editor_of(card, child)
        assert form["kind"] == "remix" and form["prompt"] and "1️⃣" not in form["prompt"]
        message(card, type="confirm", task=child.id, prompt=form["prompt"])
        until(lambda: child.status == TaskStatus.SUCCESS, what="the picked prompt's grid")
        client.close()


def test_a_click_adds_a_selected_child_and_marks_the_button_used(client):
    t = client.imagine("a pig").wait(20)
    card = t.card
    press(card, "U1")
    child = until(lambda: t.children and t.children[0], what="the child")
    until(lambda: card.selected == child.id, what="the new child to be selected")
    assert [s["id"] for s in card.tasks] == [t.id, child.id]
    child.wait(20)
    until(lambda: state(card, child)["status"] == "SUCCESS" and card.picture, what="the child's image")
    s = state(card, child)
    assert s["action"] == "UPSCALE" and s["via"] == "U1" and s["parent"] == "…" + t.id[-6:]
    assert button(card, "U1", t)["used"] and not button(card, "U2", t)["used"]
    assert child.id in card.thumbs and t.id in card.thumbs  # the lineage strip's pictures

    # Pressed from code: marked used the same way, listed in the strip, but not put in view here
    # (its own cell shows it in full).
    other = t.upscale(2)
    until(lambda: other.id in {s["id"] for s in card.tasks}, what="the code-made child in the strip")
    assert button(card, "U2", t)["used"] and card.selected == child.id
    message(card, type="select", task=t.id)
    assert card.selected == t.id and state(card)["buttons"]


def test_no_double_submits(sim, client):
    t = client.imagine("a careful pig").wait(20)
    card = t.card
    before = sim.stats()["requests"].get("action", 0)
    press(card, "U1", t)
    assert button(card, "U1", t)["busy"]  # shown busy (disabled) while it submits
    press(card, "U1", t)  # a second click on the busy button is ignored
    until(lambda: not button(card, "U1", t)["busy"], what="the button to come back")
    until(lambda: len(t.children) == 1, what="one child")
    assert sim.stats()["requests"]["action"] - before == 1
    assert len(card.tasks) == 2


def test_custom_zoom_form_waits_says_so_and_checks_the_zoom(sim, client):
    u = client.imagine("a harbour").upscale(1)
    u.wait(20)
    card = u.card
    press(card, "🔍 Custom Zoom")
    child = until(lambda: u.children and u.children[0], what="the Custom Zoom child")
    form = editor_of(card, child)
    s = state(card, child)
    assert form["kind"] == "zoom" and form["prompt"].endswith("--zoom 1.8")
    assert s["status"] == "WAITING FOR YOU" and s["action"] == "🔍 Custom Zoom" and s["tone"] == "modal"
    assert s["start"] is None  # no clock while the form waits for the user
    modals = sim.stats()["requests"].get("modal", 0)
    message(card, type="confirm", task=child.id, prompt="a harbour --zoom 3")
    assert "needs --zoom" in state(card, child)["editor"]["error"]  # refused, not sent
    assert sim.stats()["requests"].get("modal", 0) == modals and child.status == TaskStatus.MODAL
    confirmed = time.time()
    message(card, type="confirm", task=child.id, prompt="a harbour at night --zoom 1.5")
    until(lambda: child.status == TaskStatus.SUCCESS, what="the zoom to finish")
    assert child.prompt == "a harbour at night --zoom 1.5"
    until(lambda: state(card, child)["editor"] is None, what="the form to close")
    start, end = elapsed_window(child)
    assert start >= confirmed * 1000 - 1000 and end >= start  # the clock starts at the confirm
    assert state(card, child)["action"] == "🔍 Custom Zoom"


def region_child(card, u):
    press(card, "🖌️ Vary (Region)", u)
    child = until(lambda: [c for c in u.children if c.awaiting_input], what="the Vary Region child")[-1]
    assert editor_of(card, child)["kind"] == "region"
    until(lambda: card.selected == child.id and card.editor_picture, what="the parent's picture in the editor")
    return child


def server_mask(sim, child) -> Image.Image:
    until(lambda: sim.engine.tasks[child.id].tiles, what="the job on the server")
    return Image.open(io.BytesIO(sim.engine.tasks[child.id].tiles[0].mask_png)).convert("L")


def test_vary_region_rectangle_and_lasso_reach_the_server_at_full_size(sim, client):
    u = client.imagine("a meadow --ar 1:1").upscale(1)
    u.wait(20)
    card = u.card
    full = u.image.size

    child = region_child(card, u)
    message(card, type="confirm", task=child.id, prompt="a tiger")
    assert "Choose a region" in state(card, child)["editor"]["error"]  # nothing drawn: refused
    message(card, type="confirm", task=child.id, prompt="a tiger", box=[0, 0, 0.5, 0.5])
    until(lambda: child.status == TaskStatus.SUCCESS, what="the region to be varied")
    mask = server_mask(sim, child)
    w, h = mask.size
    assert mask.size == full
    assert mask.getpixel((w // 4, h // 4)) == 255 and mask.getpixel((3 * w // 4, 3 * h // 4)) == 0
    # new-api's image proxy reads the id's first row, which the form left without an image
    # (spec §13 R3): the card says so and what to ask the relay for
    until(lambda: child.error, what="the card to explain the missing image")
    assert "MjForwardUrlEnabled" in child.error

    message(card, type="select", task=u.id)
    lasso = region_child(card, u)
    triangle = [[0.1, 0.9], [0.5, 0.1], [0.9, 0.9]]
    message(card, type="confirm", task=lasso.id, prompt="a lion", lasso=triangle)
    until(lambda: lasso.status == TaskStatus.SUCCESS, what="the lasso region to be varied")
    mask = server_mask(sim, lasso)
    assert mask.size == full
    assert mask.getpixel((w // 2, h // 2)) == 255  # inside the triangle
    assert mask.getpixel((w // 10, h // 5)) == 0 and mask.getpixel((9 * w // 10, h // 5)) == 0  # beside its tip


def test_failure_is_shown_on_the_card(sim, client):
    sim.configure(fail_rate=1.0)
    t = client.imagine("doomed")
    card = t.card
    until(lambda: t.status == TaskStatus.FAILURE, what="FAILURE")
    until(lambda: state(card)["notices"], what="the failure text")
    s = state(card)
    assert s["tone"] == "failure" and s["notices"][0] == {"tone": "error", "text": f"Failed: {t.fail_reason}"}


def test_reconnect_is_shown_and_recovers(sim, client):
    sim.configure(hang_rate=1.0)
    t = client.imagine("stormy")
    card = t.card
    sim.configure(error_rate=1.0)
    until(lambda: any("Reconnecting" in n["text"] for n in state(card)["notices"]), what="reconnecting")
    sim.configure(error_rate=0.0)
    until(lambda: not any("Reconnecting" in n["text"] for n in state(card)["notices"]), what="recovery")


def test_stall_is_shown_with_refresh(sim):
    sim.configure(hang_rate=1.0)
    client = make_client(sim, stall_after=1.0)
    t = client.imagine("stuck")
    card = t.card
    until(lambda: state(card)["stalled"], what="the stall")
    assert any("No change for over" in n["text"] for n in state(card)["notices"])
    message(card, type="refresh", task=t.id)
    until(lambda: not state(card)["stalled"], what="refresh to clear the stall")
    client.close()


def test_hostile_prompt_is_text_not_html(client):
    evil = "<img src=x onerror=alert(1)>"
    t = client.imagine(f"{evil} pig")
    card = t.card
    for text in (state(card)["text"], static_html(t)):
        assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    t.wait(20)
    assert "<img src=x" not in state(card)["text"]


def test_full_size_is_sent_on_request_only(client):
    t = client.imagine("a big pig").wait(20)
    card = t.card
    sent = recording(card)
    message(card, type="full", task=t.id)
    full = until(lambda: [m for m in sent if m[0].get("method") == "custom"], what="the full image")[0]
    content, buffers = full[0]["content"], full[1]
    assert content["type"] == "full" and (content["width"], content["height"]) == t.image.size
    assert Image.open(io.BytesIO(buffers[0])).size == t.image.size


def test_blend_card_shows_its_sources_not_links(client):
    a = client.imagine("red").wait(20)
    b = client.imagine("blue").wait(20)
    blend = client.blend([a.image, b.image])
    card = blend.card
    s = state(card)
    assert s["text"].startswith("Blend of 2 images") and "http" not in s["text"] and s["sources"] == 2
    assert {f"{blend.id}:src0", f"{blend.id}:src1"} <= set(card.thumbs)


def test_static_fallback_is_updated_when_the_task_ends(client):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    InteractiveShell.instance()
    t = client.imagine("a static pig")
    with capture_output() as captured:
        t._ipython_display_()
        t.wait(20)
        until(lambda: t.latest_picture is not None and len(captured.outputs) >= 2, what="an update at the end")
    first, last = captured.outputs[0], captured.outputs[-1]
    assert first.data["text/html"] and "SUCCESS" not in first.data["text/html"]
    assert "SUCCESS" in last.data["text/html"] and "data:image/jpeg;base64," in last.data["text/html"]
    assert last.transient["display_id"] == first.transient["display_id"] == t.card.display_id
    assert "application/vnd.jupyter.widget-view+json" in last.data
    assert last.data["text/plain"].startswith(f"<Task {t.id} IMAGINE SUCCESS 100%")


def test_every_button_kind_has_a_row():
    placed = set().union(*ROWS)
    assert placed == set(ButtonKind)


def test_remix_child_card_offers_an_editable_prompt():
    with simulator.start(speed=300, remix=True, seed=12) as sim:
        client = make_client(sim)
        t = client.imagine("a red fox").wait(20)
        card = t.card
        press(card, "V1")
        child = until(lambda: t.children and t.children[0], what="the V1 child")
        form = editor_of(card, child)
        assert form["kind"] == "remix" and form["prompt"] == "a red fox"
        message(card, type="confirm", task=child.id, prompt="a silver fox")
        until(lambda: child.status == TaskStatus.SUCCESS, what="the remixed variation")
        assert child.prompt == "a silver fox" and sim.engine.tasks[child.id].prompt == "a silver fox"
        until(lambda: state(card, child)["editor"] is None, what="the form to close")
        client.close()


@pytest.mark.parametrize("on,label,action", [
    ("grid", "🔄", "REROLL"), ("grid", "V2", "VARIATION"),
    ("upscale", "Upscale (Subtle)", "UPSCALE"), ("upscale", "🪄 Vary (Strong)", "HIGH_VARIATION"),
    ("upscale", "🔍 Zoom Out 2x", "ZOOM"), ("upscale", "⬆️", "PAN"),
])
def test_every_button_family_pressed_on_the_card_makes_its_child(client, on, label, action):
    grid = client.imagine("a family portrait --v 6.1").wait(20)
    task = grid.upscale(1).wait(20) if on == "upscale" else grid
    card = task.card
    press(card, label)
    child = until(lambda: task.children and task.children[-1], what=f"the {label} child")
    until(lambda: card.selected == child.id, what="the child in view")
    child.wait(20)
    until(lambda: state(card, child)["status"] == "SUCCESS", what="the child's card")
    assert state(card, child)["via"] == label and button(card, label, task)["used"]
    assert state(card, child)["action"] == action
