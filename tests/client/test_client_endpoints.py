"""Every endpoint of the client over real HTTP, against each simulator profile (spec 3).

Where a flavour lacks the route (spec 10), the client must raise UnsupportedEndpointError after
asking the server once (the simulator answers its flavour's own 404)."""

from __future__ import annotations

import io
import re

import pytest
from client_support import MISSING, UNKNOWN_ID, WAIT, done, png, route_counts, until
from PIL import Image

from mjnb import (ButtonKind, NotFoundError, TaskAction, TaskSnapshot, TaskStatus,
                  UnsupportedEndpointError)
from mjnb.task import Task


def expect_unsupported(sim, call):
    before = route_counts(sim, "unknown").get("404", 0)
    with pytest.raises(UnsupportedEndpointError) as info:
        call()
    assert info.value.http_status == 404
    assert route_counts(sim, "unknown").get("404", 0) == before + 1  # asked once, not retried
    return info.value


@pytest.fixture
def grid(client):
    """A finished IMAGINE of this profile."""
    return done(client.imagine("pig --v 6.1", state="order-77"))


@pytest.fixture
def upscaled(client, grid, profile):
    if profile == "novicezk":
        return done(client.change(grid.id, "UPSCALE", 1))
    return done(grid.upscale(1))


def test_imagine_fetch_and_task(client, sim, profile):
    task = client.imagine("pig --v 6.1", state="order-77")
    assert isinstance(task, Task)
    assert re.fullmatch(r"\d{16}", task.id)
    assert task.submit_result.code == 1 and task.submit_result.task_id == task.id
    assert task.status in (TaskStatus.NOT_START, TaskStatus.PENDING, TaskStatus.SUBMITTED,
                           TaskStatus.IN_PROGRESS, TaskStatus.SUCCESS)
    first = client.fetch(task.id)
    assert isinstance(first, TaskSnapshot) and first.id == task.id
    assert first.action == TaskAction.IMAGINE and first.prompt == "pig --v 6.1"
    # a relay's row carries the state only from its first sync on (spec §13 R5)
    assert first.state == ("" if first.status == TaskStatus.PENDING else "order-77")
    task.wait(WAIT)
    snap = client.fetch(task.id)
    assert snap.status == TaskStatus.SUCCESS and snap.progress == 100 and snap.state == "order-77"
    if profile == "relay":  # new-api forwards its own image URL (spec §13 R1)
        assert snap.image_url == f"{sim.url}/mj/image/{task.id}"
    else:
        assert snap.image_url.startswith(sim.url + "/attachments/")
    assert snap.submit_time and snap.start_time and snap.finish_time
    assert snap.submit_time <= snap.start_time <= snap.finish_time
    if profile == "novicezk":
        assert snap.buttons == ()  # the open-source proxy sends no buttons
    else:
        assert [b.text for b in snap.buttons] == ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"]
    # task(): the same live handle, refreshed
    assert client.task(task.id) is task
    assert task.status == TaskStatus.SUCCESS


def test_task_for_an_id_made_elsewhere(client, connect, sim, profile):
    made = done(client.imagine("a cat"))
    other = connect(sim, key=client.config.api_key)  # same key, new client: a resumed session
    handle = other.task(made.id)
    assert handle is not made and handle.id == made.id
    assert handle.status == TaskStatus.SUCCESS and handle.action == TaskAction.IMAGINE
    with pytest.raises(NotFoundError):
        other.task(UNKNOWN_ID)


def test_list_by_condition_and_tasks(client, profile):
    a, b = client.imagine("first"), client.imagine("second")
    snaps = client.list_by_condition([b.id, UNKNOWN_ID, a.id, a.id])
    assert sorted(s.id for s in snaps) == sorted([a.id, b.id])  # unknown dropped, duplicate once
    assert client.list_by_condition([]) == []
    handles = client.tasks([b.id, a.id])
    assert handles == [b, a]  # the live handles, in the order asked
    with pytest.raises(NotFoundError) as info:
        client.tasks([a.id, UNKNOWN_ID])
    assert UNKNOWN_ID in str(info.value)


def test_image_seed(client, sim, grid, profile):
    if "image_seed" in MISSING[profile]:
        expect_unsupported(sim, lambda: client.image_seed(grid.id))
        return
    seed = client.image_seed(grid.id)
    assert isinstance(seed, str) and seed.isdigit()
    if profile == "trueai":  # TRUEAI also reports it in the task (spec 3.4, 5.2)
        assert client.fetch(grid.id).seed == seed
    assert grid.seed == seed


def test_download_and_image(client, grid):
    data = client.download(grid.image_url)
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG" and img.size[0] >= 128
    assert grid.image.size == img.size


def test_action_upscale(client, sim, grid, profile):
    if "action" in MISSING[profile]:
        expect_unsupported(sim, lambda: client.action(grid.id, f"MJ::JOB::upsample::1::{'0' * 8}"))
        return
    button = grid.snapshot.button("U2")
    child = client.action(grid.id, button.custom_id)
    assert child.parent_id == grid.id and child.action == TaskAction.UPSCALE
    assert child in grid.children
    done(child)
    assert child.action == TaskAction.UPSCALE
    kinds = {b.kind for b in child.buttons}
    assert {ButtonKind.UPSCALE_SUBTLE, ButtonKind.VARY_REGION, ButtonKind.CUSTOM_ZOOM,
            ButtonKind.ZOOM_OUT, ButtonKind.PAN} <= kinds


def test_modal_custom_zoom(client, sim, profile, request):
    if "modal" in MISSING[profile]:
        expect_unsupported(sim, lambda: client.modal(UNKNOWN_ID, "pig --zoom 1.5"))
        return
    upscaled = request.getfixturevalue("upscaled")
    button = next(b for b in upscaled.buttons if b.kind == ButtonKind.CUSTOM_ZOOM)
    assert button.needs_modal
    child = client.action(upscaled.id, button.custom_id)
    assert child.submit_result.code == 21 and child.status == TaskStatus.MODAL
    same = client.modal(child.id, "pig --v 6.1 --zoom 1.5")
    assert same is child  # the modal step continues the same task
    done(child)
    assert client.latest(child.id).status == TaskStatus.SUCCESS
    if profile == "relay":  # its fetch reads the older row, stale since the modal (spec §13 R3)
        assert client.fetch(child.id).status != TaskStatus.SUCCESS


def test_blend(client, profile):
    task = client.blend([png("red"), png("blue")], dimensions="landscape", state="b1")
    done(task)
    snap = client.fetch(task.id)
    assert snap.action == TaskAction.BLEND and snap.status == TaskStatus.SUCCESS
    assert snap.image_url


def test_describe(client, profile):
    task = client.describe(png("green", (96, 64)))
    done(task)
    snap = client.fetch(task.id)
    assert snap.action == TaskAction.DESCRIBE
    text = snap.final_prompt or snap.prompt_en
    assert "1️⃣" in text and "4️⃣" in text
    if profile != "novicezk":
        kinds = [b.kind for b in snap.buttons]
        assert kinds.count(ButtonKind.DESCRIBE_PICK) == 4 and ButtonKind.DESCRIBE_RETRY in kinds


def test_trueai_imagine_all_gives_comma_joined_ids(sims, connect):
    client = connect(sims["trueai"])
    described = done(client.describe(png("orange")))
    first = described.click("🎉")  # MJ::Job::PicReader::all: four children in one answer
    assert first.submit_result.code == 1 and "," in first.submit_result.result
    assert len(first.submit_result.ids) == 4 and len(first.siblings) == 3
    for task in [first, *first.siblings]:
        done(task)
        assert task.action == TaskAction.IMAGINE


def test_shorten(client, sim, profile):
    if "shorten" in MISSING[profile]:
        expect_unsupported(sim, lambda: client.shorten("a very detailed pig with a hat"))
        return
    task = done(client.shorten("a very detailed pig with a hat"))
    snap = client.fetch(task.id)
    assert snap.action == TaskAction.SHORTEN
    assert "## Shortened prompts" in (snap.final_prompt or snap.prompt_en)
    assert any(b.kind == ButtonKind.SHORTEN_PICK for b in snap.buttons)


def test_swap_face(client, sim, profile):
    if "swap_face" in MISSING[profile]:
        expect_unsupported(sim, lambda: client.swap_face(png("white"), png("black")))
        return
    task = done(client.swap_face(png("white"), png("black", (80, 80))))
    snap = client.fetch(task.id)
    assert snap.action == TaskAction.SWAP_FACE and snap.image_url


def test_change(client, sim, grid, profile):
    if "change" in MISSING[profile]:
        expect_unsupported(sim, lambda: client.change(grid.id, "UPSCALE", 1))
        return
    up = done(client.change(grid.id, "UPSCALE", 3))
    assert client.fetch(up.id).action == TaskAction.UPSCALE
    # REROLL: relays demand a non-zero index (spec 3.11); the client sends 1
    again = done(client.change(grid.id, "reroll"))
    assert client.fetch(again.id).action == TaskAction.REROLL


def test_simple_change(client, sim, grid, profile):
    if "simple_change" in MISSING[profile]:
        expect_unsupported(sim, lambda: client.simple_change(f"{grid.id} U1"))
        return
    vary = done(client.simple_change(f"{grid.id} v2"))
    assert client.fetch(vary.id).action == TaskAction.VARIATION
    assert vary.parent_id == grid.id


def test_unsupported_routes_per_flavour(client, sim, profile):
    """The full matrix of spec 10: each missing route is a clean UnsupportedEndpointError."""
    calls = {
        "action": lambda: client.action(UNKNOWN_ID, "MJ::JOB::upsample::1::abc"),
        "modal": lambda: client.modal(UNKNOWN_ID, "x"),
        "shorten": lambda: client.shorten("x"),
        "image_seed": lambda: client.image_seed(UNKNOWN_ID),
        "swap_face": lambda: client.swap_face(png("white"), png("black")),
        "change": lambda: client.change(UNKNOWN_ID, "UPSCALE", 1),
        "simple_change": lambda: client.simple_change(f"{UNKNOWN_ID} U1"),
    }
    for name in sorted(MISSING[profile]):
        err = expect_unsupported(sim, calls[name])
        assert "no such endpoint" in str(err)
    for name in ("action", "modal", "image_seed", "change", "simple_change"):
        if name not in MISSING[profile]:  # the route exists: an unknown id is plainly not found
            with pytest.raises(NotFoundError) as info:
                calls[name]()
            assert not isinstance(info.value, UnsupportedEndpointError), (name, info.value)


def test_the_tracker_keeps_handles_fresh(client, profile):
    """Handles update without explicit fetches (one batched list-by-condition per cycle)."""
    task = client.imagine("tracked")
    until(lambda: task.status == TaskStatus.SUCCESS, what="the tracker to see SUCCESS")
    assert task.progress == 100


@pytest.mark.parametrize("profile", ["relay", "trueai"])
def test_modal_after_a_remix_variation(fault_sim, connect, profile):
    """Remix on: TRUEAI answers code 21; a relay rewrites it to 1 and only the child's status
    says MODAL (spec 3.5). Either way /submit/modal continues the same task."""
    fault_sim.configure(remix=True)
    client = connect(fault_sim)
    grid = done(client.imagine("a pig in a hat"))
    child = client.action(grid.id, grid.snapshot.button("V1").custom_id)
    assert child.submit_result.code == (1 if profile == "relay" else 21)
    assert child.submit_result.is_modal  # the relay kept the upstream's words (spec §13 R4)
    until(lambda: client.fetch(child.id).status == TaskStatus.MODAL, what="the child to show MODAL")
    until(lambda: child.status == TaskStatus.MODAL, what="the handle to show MODAL")
    assert client.modal(child.id, "a pig in a crown") is child
    done(child)
    snap = client.latest(child.id)
    # a relay keeps the prompt it stored at the submit; the upstream's promptEn has the new one
    assert snap.status == TaskStatus.SUCCESS and child.prompt == "a pig in a crown"
    assert (snap.prompt_en if profile == "relay" else snap.prompt) == "a pig in a crown"
