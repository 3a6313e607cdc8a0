"""The user-facing Task: a live handle on one task id.

Its state is the newest snapshot the tracker saw; its methods press the server's buttons
through the client; it shows itself as a live card in Jupyter (a static card elsewhere).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from . import errors as E
from .images import DISPLAY_MAX_SIDE, ImageInput, box_mask, display_copy, open_image, split_grid
from .models import (GRID_ACTIONS, Button, ButtonKind, SubmitResult, TaskAction, TaskSnapshot, TaskStatus,
                     change_buttons)
from .prompt_check import check_prompt
from .tracker import Source, tracker_for

if TYPE_CHECKING:
    from PIL import Image

    from .config import Config


class Session(Source, Protocol):
    """What a Task needs of the session that made it (mjnb.client.Client): its settings and
    history, the endpoints its buttons press, and the image cache. Declared here so that this
    module does not import the client, which imports it."""

    config: "Config"
    history: Any
    _tasks: Any  # id -> Task, the session's live handles

    def action(self, task_id: str, custom_id: str, **kwargs: Any) -> "Task": ...
    def change(self, task_id: str, action: str, index: int | None = None, **kwargs: Any) -> "Task": ...
    def modal(self, task_id: str, prompt: str | None = None, **kwargs: Any) -> "Task": ...
    def task(self, task_id: str) -> "Task": ...
    def latest(self, task_id: str) -> TaskSnapshot: ...
    def image_seed(self, task_id: str) -> str: ...
    def download(self, url: str, *, timeout: float | None = None) -> bytes: ...
    def _record_seen(self, task: "Task") -> None: ...
    def _cached_image(self, task_id: str) -> bytes | None: ...
    def _cache_image(self, task_id: str, data: bytes) -> str | None: ...

log = logging.getLogger("mjnb")
# Work off the tracker thread and the kernel's main thread, in two pools so that slow image
# downloads (each bounded by the client's timeout) never hold up a click on a card.
DOWNLOADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mjnb-download")
ACTIONS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mjnb-action")
PARENT_WAIT = 600.0  # seconds a button method waits for its task to finish before pressing


class Task:
    """One Midjourney task. Fields come from the newest snapshot; methods call the client."""

    def __init__(self, client: Session, snapshot: TaskSnapshot):
        self.client = client
        self.id = snapshot.id
        self._snapshot = snapshot
        self.submit_result: SubmitResult | None = None
        self.siblings: list[Task] = []  # other tasks made by the same submit (TRUEAI "Imagine all")
        self.children: list[Task] = []
        self.button_text = ""  # the parent's button that made this task, e.g. "U1"
        self.sources: tuple[bytes, ...] = ()  # small JPEGs of the images a blend was made from
        self.used_buttons: set[str] = set()  # customIds pressed here, from code or a card: shown as used
        self.confirmed_at: datetime | None = None  # when confirm() sent the form: the job's real start
        self.connection: str | None = None  # "reconnecting: ..." while the tracker cannot reach the server
        self.stalled = False
        self.error: str | None = None  # the last error of an action started from the card
        self.last_change = time.monotonic()
        self._cond = threading.Condition()
        self._listeners: list[Callable[[Task, str], None]] = []
        # The newest downloaded preview or final image, at most DISPLAY_MAX_SIDE px and held as
        # JPEG bytes; its decoded form lives only while a view holds it (see latest_picture).
        self._picture_jpeg: bytes | None = None
        self._picture_ref: Callable[[], Image.Image | None] | None = None
        self._shown_picture = ""
        self._image_bytes: bytes | None = None  # the final image, only when no disk could keep it
        self._image_path: str | None = None  # where the cache keeps it, once this Task put it there
        self._image_lock = threading.Lock()
        self._seed: str | None = None
        self._card = None
        self._annotations: dict | None = None
        self._confirmed = False  # confirm() sent: a lagging server may still say MODAL for a while
        self._sent_prompt: str | None = None  # the prompt confirm() sent: relays keep showing the old one
        parent = client._tasks.get(snapshot.parent_id) if snapshot.parent_id else None
        if parent is not None:
            parent._add_child(self)
        if not snapshot.is_terminal and snapshot.status != TaskStatus.MODAL:
            tracker_for(client).watch(self)

    # ------------------------------------------------------------ state

    @property
    def needs_polling(self) -> bool:
        """For the tracker: unfinished, and not parked in MODAL waiting for the user."""
        return not self.done and not self.awaiting_input

    @property
    def quiet_for(self) -> float:
        """For the tracker: seconds since anything changed (or the server last answered a refresh)."""
        return time.monotonic() - self.last_change

    @property
    def awaiting_input(self) -> bool:
        """MODAL and not yet confirmed: it waits for a prompt or mask (see confirm())."""
        return self.status == TaskStatus.MODAL and not self._confirmed

    @property
    def snapshot(self) -> TaskSnapshot:
        return self._snapshot

    status = property(lambda self: self._snapshot.status, doc="TaskStatus, newest seen")
    progress = property(lambda self: self._snapshot.progress, doc="0-100")
    action = property(lambda self: self._snapshot.action)
    prompt = property(lambda self: self._snapshot.prompt)
    final_prompt = property(lambda self: self._snapshot.final_prompt)
    image_url = property(lambda self: self._snapshot.image_url)
    fail_reason = property(lambda self: self._snapshot.fail_reason)
    @property
    def buttons(self) -> tuple:
        """The server's buttons; for a finished grid on a server that sends none (the open-source
        proxy), U1-U4, reroll and V1-V4 that go through /submit/change."""
        snap = self._snapshot
        if not snap.buttons and snap.status == TaskStatus.SUCCESS and snap.action.value in GRID_ACTIONS:
            return change_buttons(self.id)
        return snap.buttons

    parent_id = property(lambda self: self._snapshot.parent_id)
    done = property(lambda self: self._snapshot.is_terminal, doc="SUCCESS, FAILURE or CANCEL")

    @property
    def queue_ahead(self) -> int | None:
        """Jobs ahead of this one in the account's queue, as the submit answered (while queued)."""
        if self.submit_result is None or self.status not in (TaskStatus.PENDING, TaskStatus.NOT_START):
            return None
        return self.submit_result.queue_ahead

    @property
    def parent(self) -> "Task | None":
        if not self.parent_id:
            return None
        return self.client._tasks.get(self.parent_id) or self.client.task(self.parent_id)

    def subscribe(self, listener: Callable[["Task", str], None]) -> None:
        """Call `listener(task, event)` on every change; events: state, image, connection, stalled,
        child, used, tick, error, annotation."""
        self._listeners.append(listener)
        if self.image_url and self._shown_picture != self._picture_key(self._snapshot):
            self._load_picture(self.image_url)

    def unsubscribe(self, listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, event: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(self, event)
            except Exception:  # a broken view must not stop the tracker
                log.exception("task listener failed")

    def on_snapshot(self, snapshot: TaskSnapshot) -> bool:
        """Take a newer snapshot (the tracker or a refresh); True when anything changed."""
        with self._cond:
            old = self._snapshot
            snapshot = _keep_known(old, snapshot)
            if self._sent_prompt and snapshot.prompt != self._sent_prompt:
                snapshot = replace(snapshot, prompt=self._sent_prompt)
            if snapshot == old:
                return False
            if old.is_terminal and not snapshot.is_terminal:
                return False  # terminal states never change back
            self._snapshot = snapshot
            self.last_change = time.monotonic()
            self.client._record_seen(self)  # in the history before any waiter wakes up
            self._cond.notify_all()
        self.stalled = False
        self._emit("state")
        url = snapshot.image_url
        if url and self._picture_key(snapshot) != self._shown_picture and \
                (self._listeners or snapshot.status == TaskStatus.SUCCESS):
            self._load_picture(url)
        return True

    def _submitted(self, result: SubmitResult) -> None:
        self.submit_result = result
        if result.is_modal and self.status != TaskStatus.MODAL:
            self.on_snapshot(replace(self._snapshot, status=TaskStatus.MODAL))

    def _add_child(self, child: "Task") -> None:
        if child.id not in {c.id for c in self.children}:
            self.children.append(child)
            for button in self.buttons:
                if button.custom_id == child._snapshot.custom_id:
                    child.button_text = button.text
            self._emit("child")

    def on_connection(self, text: str | None) -> None:
        if text != self.connection:
            self.connection = text
            self._emit("connection")

    def on_stalled(self, stalled: bool) -> None:
        if stalled != self.stalled:
            self.stalled = stalled
            self._emit("stalled")
        else:
            self._emit("tick")

    def _set_error(self, text: str | None) -> None:
        self.error = text
        self._emit("error")

    def refresh(self) -> "Task":
        """Fetch the task now (and track it again if it is unfinished)."""
        self.on_snapshot(self.client.latest(self.id))
        self.last_change = time.monotonic()  # the server answered: start the stall clock again
        self.on_stalled(False)
        if not self.done and not self.awaiting_input:
            tracker_for(self.client).watch(self)
        return self

    # ------------------------------------------------------------ waiting

    def wait(self, timeout: float | None = None) -> "Task":
        """Block until the task finishes; raise TaskFailedError or TaskTimeoutError (naming the id)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self.done and not self.awaiting_input:
            tracker_for(self.client).watch(self)
        with self._cond:
            while not self.done:
                if self.awaiting_input:
                    raise E.MjnbError(f"task {self.id} waits for your input (status MODAL)", task_id=self.id,
                                      hint="Call .confirm(prompt=...) on it, or use the form on its card")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise E.TaskTimeoutError(f"task {self.id} did not finish within {timeout:g} s "
                                             f"(status {self.status}, {self.progress}%)", task_id=self.id,
                                             hint="Wait longer, or check the card for a stall")
                self._cond.wait(0.5 if left is None else min(left, 0.5))
        if self.status == TaskStatus.SUCCESS and self.image_url:
            left = None if deadline is None else deadline - time.monotonic()
            try:  # the image is safe in the cache before wait() returns (relay URLs expire), time allowing
                if left is None or left > 0:
                    self._final_bytes(timeout=left)
            except E.MjnbError as exc:
                self._set_error(f"could not keep the image: {self._image_problem(exc)}")
        if self.status != TaskStatus.SUCCESS:
            raise E.TaskFailedError(f"task {self.id} ({self.action}) ended in {self.status}",
                                    fail_reason=self.fail_reason or None, task_id=self.id,
                                    hint="Read the reason; rephrase the prompt or try again")
        return self

    def __await__(self):
        """`await task` waits without blocking the kernel, so cards and clicks keep working."""
        return asyncio.get_running_loop().run_in_executor(None, self.wait).__await__()

    # ------------------------------------------------------------ images

    @staticmethod
    def _picture_key(snapshot: TaskSnapshot) -> str:
        """What names the picture to show: the URL, and the progress too, since a relay forwards
        every preview of a task under one URL (spec §13 R1)."""
        return f"{snapshot.image_url}#{snapshot.status}-{snapshot.progress}"

    def _load_picture(self, url: str) -> None:
        self._shown_picture = self._picture_key(self._snapshot)
        DOWNLOADS.submit(self._download_picture, url)

    def _download_picture(self, url: str) -> None:
        final = url == self.image_url and self.status == TaskStatus.SUCCESS
        try:
            data = self._final_bytes() if final else self.client.download(url)
            if data is None:
                return
            # decoded once (its size checked first), then kept only as a display-size JPEG
            picture = display_copy(data, DISPLAY_MAX_SIDE, self.client.config.max_image_pixels)
        except E.MjnbError as exc:
            self._set_error(f"could not load the image: {self._image_problem(exc)}")
            return
        del data
        if url != self.image_url and self._picture_jpeg is not None:
            return  # a newer picture is on its way
        self._picture_jpeg, self._picture_ref = picture, None
        self._emit("image")

    def _image_problem(self, exc: E.MjnbError) -> str:
        """The error, and the reason behind it when it is new-api's known defect: its image proxy
        reads an id's first row, which a form (Custom Zoom, Vary Region, Remix) leaves without an
        image (spec §13 R3)."""
        if self._confirmed and "/mj/image/" in (self.image_url or ""):
            return ("the relay's image proxy cannot serve a task continued through a form (new-api "
                    "reads the task's first row, which has no image). The job ran; to get its images, ask "
                    "the relay's operator to turn off image forwarding (MjForwardUrlEnabled)")
        return str(exc)

    def _final_bytes(self, timeout: float | None = None) -> bytes | None:
        """The final image: from the history's cache on disk (it outlives the URL), else downloaded
        and cached at once (one download, however many threads ask), all within `timeout` s. None
        when another thread's download of it is still running by then. The bytes are not kept:
        a 2048 px grid is megabytes, and a long experiment holds thousands of Tasks. Only when no
        disk can keep them (history=False, a refusing cache) do they stay in RAM, the one place left."""
        if not self._image_lock.acquire(timeout=-1 if timeout is None else timeout):
            return None  # that download keeps the image when it arrives
        try:
            if self._image_bytes is not None:
                return self._image_bytes
            if self._image_path is not None:
                try:
                    return Path(self._image_path).read_bytes()
                except OSError:  # removed since: look it up, or download it again
                    self._image_path = None
            data = self.client._cached_image(self.id)
            if data is None:
                data = self.client.download(self.image_url, timeout=timeout)
                self._image_path = self.client._cache_image(self.id, data)
                if self._image_path is None:
                    self._image_bytes = data
            return data
        finally:
            self._image_lock.release()

    @property
    def image(self) -> "Image.Image | None":
        """The final image, full size, read from the cache on disk each time (None until the task
        succeeds). Keep the result if you need it often: the Task does not."""
        if self.status != TaskStatus.SUCCESS or not self.image_url:
            return None
        return open_image(self._final_bytes(), self.client.config.max_image_pixels)

    @property
    def tiles(self) -> "list[Image.Image]":
        """The four images of a finished 2x2 grid, U1..U4 order ([] for single images)."""
        image = self.image
        if image is None or self.action in (TaskAction.UPSCALE, TaskAction.UPSCALE_HD, TaskAction.DESCRIBE,
                                            TaskAction.SHORTEN, TaskAction.SWAP_FACE):
            return []
        return split_grid(image)

    @property
    def has_picture(self) -> bool:
        """A picture has been downloaded (no decoding: views ask this often)."""
        return self._picture_jpeg is not None

    @property
    def latest_picture(self) -> "Image.Image | None":
        """The newest picture already downloaded (no network), at most DISPLAY_MAX_SIDE (1024) px on
        its long side: what a card shows. The same object comes back while anyone holds it (views
        compare by identity); once nobody does, only its compressed bytes stay in RAM."""
        picture = self._picture_ref() if self._picture_ref is not None else None
        data = self._picture_jpeg
        if picture is None and data is not None:
            picture = open_image(data)
            self._picture_ref = weakref.ref(picture)
        return picture

    @property
    def preview(self) -> "Image.Image | None":
        """The newest picture downloaded (display size): the blurry preview while running, then
        the final image."""
        if self._picture_jpeg is None and self.image_url:
            self._download_picture(self.image_url)
        return self.latest_picture

    @property
    def seed(self) -> str:
        """The seed Midjourney used (asked once with image-seed, then kept in the history)."""
        if self._seed is None:
            self._seed = self.client.image_seed(self.id)
            if self.client.history is not None:
                self.client.history.set_seed(self.client.config.host, self.id, self._seed)
        return self._seed

    # ------------------------------------------------------------ notes for later comparison

    def tag(self, *tags: str) -> "Task":
        """Add tags (kept in the history, shown on the card, exported)."""
        self._history().tag(self.client.config.host, self.id, *tags)
        self._annotations = None  # read back what the history now holds
        self._emit("annotation")
        return self

    def untag(self, *tags: str) -> "Task":
        self._history().untag(self.client.config.host, self.id, *tags)
        self._annotations = None  # read back what the history now holds
        self._emit("annotation")
        return self

    def note(self, text: str) -> "Task":
        """A free-text note about this task."""
        self._history().note(self.client.config.host, self.id, text)
        self._annotations = None  # read back what the history now holds
        self._emit("annotation")
        return self

    def rate(self, stars: int | None) -> "Task":
        """1 to 5 stars (None clears)."""
        self._history().rate(self.client.config.host, self.id, stars)
        self._annotations = None  # read back what the history now holds
        self._emit("annotation")
        return self

    @property
    def annotations(self) -> dict:
        """{'tags': [...], 'rating': int | None, 'note': str}, read once from the history."""
        if self._annotations is None:
            self._annotations = ({"tags": [], "rating": None, "note": ""} if self.client.history is None
                                 else self.client.history.annotations(self.client.config.host, self.id))
        return self._annotations

    def _history(self):
        if self.client.history is None:
            raise E.MjnbError("this client keeps no history (history=False), so tags, notes and ratings "
                              "have nowhere to go", task_id=self.id)
        return self.client.history

    # ------------------------------------------------------------ buttons

    def _ready_for_buttons(self) -> None:
        if self.status != TaskStatus.SUCCESS:
            self.wait(PARENT_WAIT)

    def _find(self, kind: ButtonKind, *, index: int | None = None, direction: str | None = None,
              zoom: float | None = None, what: str) -> Button:
        self._ready_for_buttons()
        for b in self.buttons:
            if b.kind == kind and (index is None or b.index == index) and \
                    (direction is None or b.direction == direction) and (zoom is None or b.zoom == zoom):
                return b
        have = ", ".join(repr(b.text) for b in self.buttons) or "none"
        raise E.ValidationError(f"task {self.id} ({self.action}) has no {what} button; it has {have}",
                                field=what, task_id=self.id)

    def click(self, button: str | Button, **kwargs: Any) -> "Task":
        """Press a button by label ('U1'), emoji ('🔄'), text or customId; returns the new task."""
        if not isinstance(button, Button):
            self._ready_for_buttons()
            try:
                button = replace(self._snapshot, buttons=self.buttons).button(button)
            except KeyError as exc:
                raise E.ValidationError(str(exc.args[0]), field="button", task_id=self.id) from None
        try:
            if button.via_change:
                action = {ButtonKind.UPSCALE: "UPSCALE", ButtonKind.VARIATION: "VARIATION"}.get(button.kind, "REROLL")
                child = self.client.change(self.id, action, button.index)
            else:
                child = self.client.action(self.id, button.custom_id, **kwargs)
        except E.ParentNotReadyError as exc:
            if self._confirmed and self.status == TaskStatus.SUCCESS:
                # new-api checks an id's first row, which a form leaves MODAL (spec §13 R3)
                exc.hint = ("This task was continued through a form (Custom Zoom, Vary Region, Remix): a "
                            "new-api relay checks its first row, which stays MODAL, so it refuses every "
                            "button here. Ask the relay's operator to turn off MjActionCheckSuccessEnabled")
                exc.args = (exc._compose(),)
            raise
        child.button_text = button.text
        self.used_buttons.add(button.custom_id)
        self._add_child(child)
        self._emit("used")  # the child may have been added before the answer came back
        return child

    def upscale(self, index: int) -> "Task":
        """U1-U4 on a grid."""
        return self.click(self._find(ButtonKind.UPSCALE, index=_index(index), what=f"U{index}"))

    def vary(self, index: int, prompt: str | None = None, *, validate: bool = True) -> "Task":
        """V1-V4 on a grid; `prompt` edits it when the account has Remix on (its parameters are
        checked before the button is pressed unless validate=False, see prompt_check)."""
        _check(prompt, validate)
        child = self.click(self._find(ButtonKind.VARIATION, index=_index(index), what=f"V{index}"))
        return child._remix(prompt)

    def reroll(self, prompt: str | None = None, *, validate: bool = True) -> "Task":
        """🔄: the same prompt drawn again (`prompt`, `validate`: see vary)."""
        _check(prompt, validate)
        return self.click(self._find(ButtonKind.REROLL, what="reroll"))._remix(prompt)

    def vary_subtle(self, prompt: str | None = None, *, validate: bool = True) -> "Task":
        _check(prompt, validate)
        return self.click(self._find(ButtonKind.VARY_SUBTLE, what="Vary (Subtle)"))._remix(prompt)

    def vary_strong(self, prompt: str | None = None, *, validate: bool = True) -> "Task":
        _check(prompt, validate)
        return self.click(self._find(ButtonKind.VARY_STRONG, what="Vary (Strong)"))._remix(prompt)

    def upscale_subtle(self) -> "Task":
        return self.click(self._find(ButtonKind.UPSCALE_SUBTLE, what="Upscale (Subtle)"))

    def upscale_creative(self) -> "Task":
        return self.click(self._find(ButtonKind.UPSCALE_CREATIVE, what="Upscale (Creative)"))

    def zoom_out(self, factor: float = 2) -> "Task":
        """Zoom Out 2x or 1.5x."""
        if factor not in (2, 1.5):
            raise E.ValidationError(f"factor must be 2 or 1.5 for zoom_out, not {factor!r}; use "
                                    f"zoom(factor) for any value from 1 to 2", field="factor")
        return self.click(self._find(ButtonKind.ZOOM_OUT, zoom=float(factor), what=f"Zoom Out {factor:g}x"))

    def pan(self, direction: str, prompt: str | None = None, *, validate: bool = True) -> "Task":
        """⬅️ ➡️ ⬆️ ⬇️: extend the image to the left, right, up or down (`prompt`, `validate`: see vary)."""
        d = str(direction).strip().lower()
        if d not in ("left", "right", "up", "down"):
            raise E.ValidationError(f"direction must be left, right, up or down, not {direction!r}",
                                    field="direction")
        _check(prompt, validate)
        return self.click(self._find(ButtonKind.PAN, direction=d, what=f"pan {d}"))._remix(prompt)

    def zoom(self, factor: float, prompt: str | None = None, *, validate: bool = True) -> "Task":
        """Custom Zoom: zoom out by any factor from 1 to 2, optionally with a new prompt (checked
        unless validate=False; without one, Midjourney's own final prompt is sent unchecked)."""
        try:
            value = float(factor)
        except (TypeError, ValueError):
            value = float("nan")
        if not 1.0 <= value <= 2.0:
            raise E.ValidationError(f"factor must be a number from 1 to 2, not {factor!r}", field="factor")
        text = zoom_prompt(prompt or self.final_prompt or self.prompt, value)
        _check(text if prompt else None, validate)
        child = self.click(self._find(ButtonKind.CUSTOM_ZOOM, what="Custom Zoom"))
        return child.confirm(prompt=text, validate=False)

    def vary_region(self, mask: ImageInput | None = None, *, box: tuple | None = None,
                    prompt: str | None = None, validate: bool = True) -> "Task":
        """Vary (Region): regenerate the white part of `mask`, or the rectangle `box`
        (x0, y0, x1, y1 as fractions 0-1 of the image, or pixels); `prompt`, `validate`: see vary."""
        if (mask is None) == (box is None):
            raise E.ValidationError("give either mask (an image, white = area to change) or box "
                                    "(x0, y0, x1, y1)", field="mask")
        _check(prompt, validate)
        child = self.click(self._find(ButtonKind.VARY_REGION, what="Vary (Region)"))
        return child.confirm(prompt=prompt, mask=mask, box=box, validate=False)

    def confirm(self, prompt: str | None = None, mask: ImageInput | None = None, *,
                box: tuple | None = None, validate: bool = True) -> "Task":
        """Continue a MODAL task (Custom Zoom, Vary Region, remix) with its prompt and/or mask.

        For Vary Region, `box` (x0, y0, x1, y1, fractions or pixels of the parent image) is turned
        into the black-and-white mask the server wants, at the parent image's full size. The
        prompt's parameters are checked first unless validate=False (see prompt_check)."""
        _check(prompt, validate)
        if box is not None:
            parent = self.parent
            image = parent.image if parent is not None else None  # read from disk: once
            if image is None:
                raise E.ValidationError(f"task {self.id} has no finished parent image to draw a box on",
                                        field="box", task_id=self.id)
            mask = box_mask(image.size, box)
        self.client.modal(self.id, prompt, mask=mask, validate=False)  # calls _modal_sent on this task
        return self

    def _modal_sent(self, prompt: str | None) -> None:
        """The server took this task's modal step: it runs now (a lagging relay may say MODAL a while)."""
        if not self.awaiting_input and self.status != TaskStatus.MODAL:
            return
        self._confirmed = True
        self.confirmed_at = datetime.now(timezone.utc)
        self._sent_prompt = prompt or None
        self.on_snapshot(replace(self._snapshot, status=TaskStatus.NOT_START, prompt=prompt or self._snapshot.prompt))
        tracker_for(self.client).watch(self)

    def _remix(self, prompt: str | None) -> "Task":
        """With a prompt: once the server shows this child as MODAL (Remix on), confirm it."""
        if prompt is None:
            return self
        deadline = time.monotonic() + 30
        while self.status in (TaskStatus.PENDING, TaskStatus.NOT_START) and time.monotonic() < deadline:
            with self._cond:
                self._cond.wait(0.25)
            if self.status in (TaskStatus.PENDING, TaskStatus.NOT_START):
                self.refresh()
        if not self.awaiting_input:
            raise E.ValidationError(f"task {self.id} went ahead without asking for a prompt: Remix is off "
                                    f"for this account, so the new prompt was not used", field="prompt",
                                    task_id=self.id)
        return self.confirm(prompt=prompt, validate=False)  # checked before the button was pressed

    # ------------------------------------------------------------ display

    @property
    def card(self):
        """The live card widget (built once)."""
        if self._card is None:
            if _VIEWS.get("card") is None:
                raise RuntimeError("no card view is registered: import mjnb (which loads mjnb.widgets)")
            self._card = _VIEWS["card"](self)
        return self._card

    def _ipython_display_(self) -> None:
        """In IPython, the views show the card under a display id, so its static fallback can be
        brought up to date when the task ends (what a saved or converted notebook shows)."""
        show = _VIEWS.get("display")
        if show is not None:
            show(self)
        else:
            from IPython.display import display
            display(self._repr_mimebundle_(), raw=True)

    def _display_(self):
        """marimo's display protocol: the card widget itself (marimo renders anywidgets)."""
        return self.card

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        try:
            return self.card.bundle()  # the live card beside its static copy (widgets.LiveOutput)
        except Exception:  # no widget support here: the static card alone
            log.debug("no widget view", exc_info=True)
        static = _VIEWS.get("static_html")
        return {"text/plain": repr(self), **({"text/html": static(self)} if static is not None else {})}

    def __repr__(self) -> str:
        snap = self._snapshot
        prompt = snap.prompt if len(snap.prompt) <= 60 else snap.prompt[:57] + "..."
        parts = [f"<Task {self.id}", str(snap.action), str(snap.status), f"{snap.progress}%"]
        if prompt:
            parts.append(repr(prompt))
        if snap.fail_reason:
            parts.append(f"failed: {snap.fail_reason!r}")
        return " ".join(parts) + ">"

    __str__ = __repr__


# The views sit above the Task and register themselves here (mjnb.widgets does, on import), so a
# Task can show itself as a card without this module importing the widget layer.
_VIEWS: dict[str, Callable | None] = {"card": None, "static_html": None, "display": None}


def register_views(card: Callable[[Task], Any], static_html: Callable[[Task], str],
                   display: Callable[[Task], None] | None = None) -> None:
    """Set how Tasks display: `card(task)` builds the live widget, `static_html(task)` the fallback,
    `display(task)` shows both in IPython."""
    _VIEWS.update(card=card, static_html=static_html, display=display)


def zoom_prompt(prompt: str, factor: float) -> str:
    """The prompt with its --zoom set to `factor` (Custom Zoom requires one)."""
    base = re.sub(r"\s--zoom\s+\S+", "", " " + (prompt or "")).strip()
    return f"{base} --zoom {factor:g}".strip()


def _check(prompt: str | None, validate: bool) -> None:
    """Refuse, before anything is sent, a prompt whose parameters Midjourney would refuse."""
    if validate and prompt is not None:
        check_prompt(prompt)


def _index(index: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= 4:
        raise E.ValidationError(f"index must be 1, 2, 3 or 4 (the grid's image), not {index!r}", field="index")
    return index


def _keep_known(old: TaskSnapshot, new: TaskSnapshot) -> TaskSnapshot:
    """Servers leave some fields blank that our own submit knew (relays: customId, action name)."""
    fill = {}
    if not new.prompt and old.prompt:
        fill["prompt"] = old.prompt
    vague = (TaskAction.UNKNOWN, TaskAction.MODAL)  # a relay's second row after a form says MODAL (R3)
    if new.action in vague and old.action not in vague:
        fill["action"] = old.action
    if not new.parent_id and old.parent_id:
        fill["parent_id"] = old.parent_id
    if not new.custom_id and old.custom_id:
        fill["custom_id"] = old.custom_id
    if new.submit_time is None and old.submit_time is not None:
        fill["submit_time"] = old.submit_time
    return replace(new, **fill) if fill else new
