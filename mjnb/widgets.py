"""The live task card: one anywidget model per card, a pure view over Tasks.

A card shows its task and the task's lineage (children from U/V/zoom... as a strip of chips; the
selected one fills the card), so it stays one card high however many buttons are pressed. The
browser side is one ES module and one CSS file in mjnb/static (no build step, no CDN).

No HTTP, no sleeping, no disk here: clicks go to Task methods on a background thread, and
updates arrive as Task events (from the tracker thread; ipykernel >= 7.1 sends them).
Every server or user string is escaped before it becomes HTML: prompts are text.
"""

from __future__ import annotations

import base64
import html
import re
import threading
import uuid
from datetime import datetime
from pathlib import Path

import anywidget
import ipywidgets as W
import traitlets as T

from . import errors as E
from .images import box_mask, polygon_mask, thumbnail_jpeg
from .models import Button, ButtonKind, TaskAction, TaskStatus, classify
from .task import ACTIONS, register_views, zoom_prompt  # clicks run in ACTIONS, never behind slow downloads

STATIC = Path(__file__).parent / "static"
DISPLAY_SIDE = 512  # the card's image; task.image keeps the full size (on disk)
PREVIEW_SIDE = 384  # previews are blurry by nature: smaller and lighter, replaced by the final image
CHIP_SIDE = 96  # lineage chips and blend sources
STATIC_SIDE = 384  # the text/html fallback's picture
ROWS = [  # Discord's grouping: U row; reroll and V row; then the post-upscale rows
    {ButtonKind.UPSCALE},
    {ButtonKind.REROLL, ButtonKind.VARIATION},
    {ButtonKind.UPSCALE_SUBTLE, ButtonKind.UPSCALE_CREATIVE, ButtonKind.UPSCALE_2X, ButtonKind.UPSCALE_4X},
    {ButtonKind.VARY_SUBTLE, ButtonKind.VARY_STRONG, ButtonKind.VARY_REGION},
    {ButtonKind.ZOOM_OUT, ButtonKind.CUSTOM_ZOOM},
    {ButtonKind.PAN},
    {ButtonKind.ANIMATE, ButtonKind.BOOKMARK},
    {ButtonKind.DESCRIBE_PICK, ButtonKind.DESCRIBE_RETRY, ButtonKind.DESCRIBE_ALL},
    {ButtonKind.SHORTEN_PICK, ButtonKind.SHORTEN_DETAILS},
    {ButtonKind.UNKNOWN},
]
TONES = {TaskStatus.SUCCESS: "success", TaskStatus.FAILURE: "failure", TaskStatus.CANCEL: "failure",
         TaskStatus.MODAL: "modal", TaskStatus.IN_PROGRESS: "running", TaskStatus.SUBMITTED: "running"}
# DOMWidget would open a second model per widget for its Layout; our CSS needs none, and the
# front ends skip a null layout.
NO_LAYOUT = T.Instance(W.Layout, allow_none=True, default_value=None).tag(sync=True, **W.widget_serialization)
ZOOM_IN_PROMPT = re.compile(r"--zoom\s+(1(\.\d+)?|2(\.0+)?)(\s|$)")


def rejected_why(button: Button, flavour: str) -> str | None:
    """Why the server will refuse this button, or None when it accepts it."""
    if button.kind == ButtonKind.BOOKMARK:
        return "Bookmarks (❤️) are Discord-only: no proxy or relay can press them"
    if flavour == "relay" and not button.relay_supported:
        return "Relays reject this button (unknown_action); it needs a TRUEAI server"
    return None


def button_help(button: Button) -> str:
    """What a button does, in words, for its tooltip."""
    k, i = button.kind, button.index
    words = {
        ButtonKind.UPSCALE: f"Upscale image {i}", ButtonKind.VARIATION: f"Four variations of image {i}",
        ButtonKind.REROLL: "Reroll: the same prompt, four new images",
        ButtonKind.UPSCALE_SUBTLE: "Upscale 2x, staying close to this image",
        ButtonKind.UPSCALE_CREATIVE: "Upscale 2x, adding new detail",
        ButtonKind.UPSCALE_2X: "Upscale 2x", ButtonKind.UPSCALE_4X: "Upscale 4x",
        ButtonKind.VARY_SUBTLE: "Four subtle variations", ButtonKind.VARY_STRONG: "Four strong variations",
        ButtonKind.VARY_REGION: "Redraw a region you choose", ButtonKind.ZOOM_OUT: f"Zoom out {button.zoom or 2:g}x",
        ButtonKind.CUSTOM_ZOOM: "Zoom out by a factor from 1 to 2, optionally with a new prompt",
        ButtonKind.PAN: f"Extend the image to the {button.direction}", ButtonKind.ANIMATE: "Animate into a video",
        ButtonKind.BOOKMARK: "Bookmark", ButtonKind.DESCRIBE_PICK: f"Imagine prompt {i}",
        ButtonKind.DESCRIBE_ALL: "Imagine all four prompts", ButtonKind.DESCRIBE_RETRY: "Describe the image again",
        ButtonKind.SHORTEN_PICK: f"Imagine shortened prompt {i}",
        ButtonKind.SHORTEN_DETAILS: "Show the detailed analysis",
    }
    return words.get(k, button.custom_id)


def _short(task_id: str) -> str:
    return "…" + task_id[-6:]


def _ms(moment: datetime | None) -> float | None:
    return None if moment is None else round(moment.timestamp() * 1000)


def editor_kind(task) -> str | None:
    """Which form a task waiting for input needs: region, zoom or remix (None when it waits for nothing)."""
    if not task.awaiting_input:
        return None
    kind = classify(task.snapshot.custom_id)[0] if task.snapshot.custom_id else ButtonKind.UNKNOWN
    return {ButtonKind.VARY_REGION: "region", ButtonKind.CUSTOM_ZOOM: "zoom"}.get(kind, "remix")


def action_label(task) -> str:
    """What the header calls the task: the button that made a form-continued child (the server's
    action field names the parent's action while it waits), else the server's action."""
    if (task.awaiting_input or task.confirmed_at) and task.button_text:
        return task.button_text
    return str(task.snapshot.action)


def status_label(task) -> str:
    return "WAITING FOR YOU" if task.awaiting_input else str(task.snapshot.status)


def elapsed_window(task) -> tuple[float | None, float | None]:
    """(start, end) in epoch ms for the header's clock: from the submit, or from the form's
    confirm for a form-continued child (the time a form sat open is not the job's time)."""
    if task.awaiting_input:
        return None, None
    snap = task.snapshot
    start = task.confirmed_at or snap.submit_time
    end = snap.finish_time if snap.is_terminal else None
    if start is not None and end is not None and end < start:
        end = start
    return _ms(start), _ms(end)


def discord_html(text: str) -> str:
    """Describe/shorten answers use Discord markdown: escaped first, then **bold**, ~~struck~~,
    `code` and line breaks become tags, so no server text can inject HTML."""
    out = html.escape(text)
    out = re.sub(r"(?m)^#{1,3} (.+)$", r"<b>\1</b>", out)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    out = re.sub(r"~~(.+?)~~", r"<s>\1</s>", out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return out.replace("\n", "<br>")


BLEND_LINK = re.compile(r"<?https?://\S+?>?(?=\s|$)")


def text_html(task) -> str:
    """The card's text as safe HTML: the prompt, or the formatted describe/shorten answer."""
    snap = task.snapshot
    if snap.action in (TaskAction.DESCRIBE, TaskAction.SHORTEN) and snap.final_prompt:  # the answer
        asked = f"{html.escape(snap.prompt)}<br><br>" if snap.prompt else ""
        return asked + discord_html(snap.final_prompt)
    text = snap.prompt or snap.final_prompt or snap.description
    if snap.action == TaskAction.BLEND:  # its prompt is the uploaded images' links: the card shows them
        links = BLEND_LINK.findall(text)
        rest = BLEND_LINK.sub("", text).strip()
        text = f"Blend of {len(links) or len(task.sources)} images" + (f" {rest}" if rest else "")
    return html.escape(text)


def notices(task) -> list[dict]:
    """Errors, reconnecting, stalls and failure reasons, in words."""
    out = []
    if task.status == TaskStatus.FAILURE:
        out.append({"tone": "error", "text": f"Failed: {task.fail_reason or 'the server gave no reason'}"})
    if task.connection:
        out.append({"tone": "warn", "text": f"{task.connection[:1].upper()}{task.connection[1:]} "
                                            f"(the card recovers by itself)"})
    if task.stalled:
        minutes = task.client.config.stall_after / 60
        out.append({"tone": "warn", "text": f"No change for over {minutes:g} min: the server may have lost "
                                            f"this task. Press Refresh to ask again."})
    if task.error:
        out.append({"tone": "error", "text": task.error})
    return out


def button_states(task, busy: set) -> list[dict]:
    if task.status != TaskStatus.SUCCESS:
        return []
    flavour = task.client.config.flavour
    out = []
    for row, kinds in enumerate(ROWS):
        for b in task.buttons:
            if b.kind in kinds:
                why = rejected_why(b, flavour)
                out.append({"id": b.custom_id, "label": b.text, "row": row, "help": button_help(b),
                            "why": why or "", "used": b.custom_id in task.used_buttons,
                            "busy": b.custom_id in busy})
    return out


def editor_state(task, form: dict) -> dict | None:
    kind = editor_kind(task)
    if kind is None:
        return None
    parent = task.client._tasks.get(task.parent_id) if task.parent_id else None
    base = task.prompt or ((parent.final_prompt or parent.prompt) if parent else "")
    if classify(task.snapshot.custom_id)[0] == ButtonKind.DESCRIBE_PICK and not task.prompt:
        base = _describe_candidate(base, task.snapshot.custom_id)
    titles = {"zoom": "Custom Zoom: edit the prompt; --zoom takes 1 to 2",
              "region": "Vary (Region): drag a rectangle or draw a lasso over what to redraw, then edit the prompt",
              "remix": "Remix: edit the prompt, then submit"}
    return {"kind": kind, "title": titles[kind], "prompt": zoom_prompt(base, 1.8) if kind == "zoom" else base,
            "error": form.get("error", ""), "busy": bool(form.get("busy"))}


def _describe_candidate(text: str, custom_id: str) -> str:
    """The n-th prompt of a DESCRIBE answer ('1️⃣ ...' blocks) for the PicReader::n button."""
    index = classify(custom_id)[1] or 0
    blocks = [re.sub(r"^[0-9]\ufe0f?\u20e3\s*", "", b.strip()) for b in re.split(r"\n\s*\n", text) if b.strip()]
    return blocks[index - 1] if 1 <= index <= len(blocks) else text


def task_state(task, busy: set = frozenset(), form: dict | None = None) -> dict:
    """Everything the browser shows of one task, as JSON (pictures travel separately, as bytes)."""
    snap = task.snapshot
    start, end = elapsed_window(task)
    notes = task.annotations
    price = task.client.task_price(task.id)
    return {
        "cost": "" if price is None else (f"${price:.2f} refunded" if snap.status == TaskStatus.FAILURE
                                          else f"${price:.2f}"),
        "id": task.id, "short": _short(task.id), "action": action_label(task), "status": status_label(task),
        "tone": "modal" if task.awaiting_input else TONES.get(snap.status, "pending"),
        "progress": task.progress, "queue": task.queue_ahead, "start": start, "end": end,
        "via": task.button_text, "parent": _short(snap.parent_id) if snap.parent_id else "",
        "text": text_html(task), "sources": len(task.sources),
        "rating": notes["rating"] or 0, "tags": list(notes["tags"]), "note": notes["note"] or "",
        "notices": notices(task), "stalled": task.stalled, "buttons": button_states(task, busy),
        "editor": editor_state(task, form or {}), "final": snap.is_terminal,
    }


def lineage(root) -> list:
    """The root, then its descendants depth-first in the order they were made."""
    out, stack, seen = [], [root], set()
    while stack:
        task = stack.pop()
        if task.id in seen:
            continue
        seen.add(task.id)
        out.append(task)
        stack.extend(reversed(task.children))
    return out


def run_in_background(task, action, after=None) -> None:
    """Run a Task method off the kernel's thread; its error lands on the card."""

    def job():
        try:
            if task.error:
                task._set_error(None)
            action()
        except E.MjnbError as exc:
            task._set_error(str(exc))
        except Exception as exc:  # show it where the user looks
            task._set_error(f"{exc.__class__.__name__}: {exc}")
        finally:
            if after:
                after()

    ACTIONS.submit(job)


class LiveOutput:
    """A widget displayed under a display id beside a static text/html copy of itself, which is
    brought up to date whenever `_final_key()` changes (None: nothing final yet), so a saved,
    converted or shared notebook shows the finished state."""

    display_id = ""  # set by each widget's __init__
    _shown = False  # displayed under display_id
    _static_key = None

    def _static_bundle(self) -> dict:
        raise NotImplementedError  # text/plain and text/html of the current state

    def _final_key(self):
        raise NotImplementedError

    def bundle(self) -> dict:
        """The outputs: the live widget, and the static copy for places without widgets."""
        data = super()._repr_mimebundle_() or {}
        if isinstance(data, tuple):  # anywidget: (data, metadata)
            data = data[0]
        return {**data, **self._static_bundle()}

    def show(self) -> None:
        from IPython.display import display
        display(self.bundle(), raw=True, display_id=self.display_id)
        self._shown = True
        self._static_key = self._final_key()

    def _update_static(self) -> None:
        key = self._final_key()
        if not self._shown or key is None or key == self._static_key:
            return
        self._static_key = key
        try:
            from IPython.display import update_display
            update_display(self.bundle(), raw=True, display_id=self.display_id)
        except Exception:  # outside a kernel there is nothing to update
            pass


class TaskCard(LiveOutput, anywidget.AnyWidget):
    """A live card for one task and its lineage: one widget model, state as JSON plus pictures.

    The browser sends custom messages: press, confirm (a form), select, refresh, full."""

    _esm = STATIC / "mjnb.js"
    _css = STATIC / "mjnb.css"
    layout = NO_LAYOUT  # one model per card: no separate Layout model (the CSS does the layout)
    view = T.Unicode("card").tag(sync=True)
    tasks = T.List().tag(sync=True)  # task_state() of the root, then of each descendant
    selected = T.Unicode("").tag(sync=True)  # the task the card shows in full
    picture = T.Bytes(b"").tag(sync=True)  # the selected task's newest picture, JPEG at display size
    editor_picture = T.Bytes(b"").tag(sync=True)  # the parent's picture, for the Vary Region editor
    thumbs = T.Dict().tag(sync=True)  # chip pictures by task id; blend sources as "<id>:src<n>"
    simulator = T.Bool(False).tag(sync=True)
    balance = T.Unicode("").tag(sync=True)  # the key's last balance reading (never a request from here)

    def __init__(self, task, **kwargs):
        super().__init__(**kwargs)
        self.task = task
        self.display_id = f"mjnb-{uuid.uuid4().hex}"
        self._lock = threading.RLock()
        self._watched: dict[str, object] = {}
        self._busy: dict[str, set] = {}  # task id -> customIds still submitting
        self._forms: dict[str, dict] = {}  # task id -> {"busy": bool, "error": str}
        self.simulator = task.client.is_simulator
        self.on_msg(self._on_msg)
        self.observe(lambda _: self._render_pictures(), names="selected")
        self._watch(task)
        self.selected = task.id
        self._render_pictures()

    # ------------------------------------------------------------ state from the tasks

    def _watch(self, task) -> None:
        with self._lock:
            if task.id in self._watched:
                return
            self._watched[task.id] = task
            task.subscribe(self._on_event)
            for child in task.children:
                self._watch(child)
            self._render_tasks()
            self._render_chip(task)

    def _on_event(self, task, event: str) -> None:
        if event == "tick":
            return  # the browser runs the clock
        with self._lock:
            if event == "child":
                for child in task.children:
                    self._watch(child)
            if event == "image":
                self._render_chip(task)
                self._render_pictures()
            self._render_tasks()
        if task.snapshot.is_terminal:
            self._update_static()

    def _render_tasks(self) -> None:
        with self._lock:
            self.tasks = [task_state(t, self._busy.get(t.id, ()), self._forms.get(t.id))
                          for t in lineage(self.task)]
            reading = self.task.client.last_balance
            self.balance = reading.text if reading is not None and reading.offered else ""

    def _render_chip(self, task) -> None:
        picture = task.latest_picture
        thumbs = dict(self.thumbs)
        if picture is not None and (task.id not in thumbs or task.status == TaskStatus.SUCCESS):
            thumbs[task.id] = thumbnail_jpeg(picture, CHIP_SIDE, quality=70)
        for n, data in enumerate(task.sources):
            thumbs.setdefault(f"{task.id}:src{n}", data)
        if thumbs != self.thumbs:
            self.thumbs = thumbs

    def _render_pictures(self) -> None:
        """The selected task's picture, and its parent's for a Vary Region editor."""
        with self._lock:
            task = self._watched.get(self.selected) or self.task
            self.picture = _display_jpeg(task)
            parent = task.client._tasks.get(task.parent_id) if task.parent_id else None
            wants_parent = editor_kind(task) == "region" and parent is not None
            self.editor_picture = _display_jpeg(parent) if wants_parent else b""

    # ------------------------------------------------------------ messages from the browser

    def _on_msg(self, _widget, content, buffers) -> None:
        if not isinstance(content, dict):
            return
        task = self._watched.get(str(content.get("task", "")))
        if task is None:
            return
        kind = content.get("type")
        if kind == "press":
            self.press(task, str(content.get("button", "")))
        elif kind == "confirm":
            self.submit_form(task, content)
        elif kind == "select":
            self.selected = task.id
        elif kind == "refresh":
            run_in_background(task, task.refresh)
        elif kind == "full":
            ACTIONS.submit(self._send_full, task)

    def press(self, task, custom_id: str) -> bool:
        """Submit a button once: ignored while the same button is still submitting; the child
        it makes is selected, so the newest card is the one in view."""
        button = next((b for b in task.buttons if b.custom_id == custom_id or b.text == custom_id), None)
        if button is None or rejected_why(button, task.client.config.flavour):
            return False
        with self._lock:
            busy = self._busy.setdefault(task.id, set())
            if button.custom_id in busy:
                return False
            busy.add(button.custom_id)
            self._render_tasks()

        def click():
            child = task.click(button)
            self._watch(child)
            self.selected = child.id

        def done():
            with self._lock:
                busy.discard(button.custom_id)
                self._render_tasks()

        run_in_background(task, click, after=done)
        return True

    def submit_form(self, task, content: dict) -> bool:
        """A form's submit: the prompt, and for Vary Region a box or lasso in fractions of the
        image, made into a mask at the parent image's full size."""
        kind = editor_kind(task)
        form = self._forms.setdefault(task.id, {})
        if kind is None or form.get("busy"):
            return False
        prompt = str(content.get("prompt") or "").strip()
        if kind == "zoom" and not ZOOM_IN_PROMPT.search(prompt):
            return self._form_error(task, "The prompt needs --zoom with a value from 1 to 2, e.g. --zoom 1.8")
        if kind == "region" and not (content.get("box") or content.get("lasso")):
            return self._form_error(task, "Choose a region first: drag a rectangle or draw a lasso on the image")
        form.update(busy=True, error="")
        self._render_tasks()

        def confirm():
            try:
                if kind == "region":
                    parent = task.parent
                    image = parent.image if parent is not None else None
                    if image is None:
                        raise E.ValidationError("the parent's image is not available to draw on", field="mask")
                    lasso = content.get("lasso")
                    mask = polygon_mask(image.size, lasso) if lasso else box_mask(image.size, content["box"])
                    task.confirm(prompt=prompt or None, mask=mask)
                else:
                    task.confirm(prompt=prompt)
            except E.MjnbError as exc:
                form["error"] = str(exc)
            finally:
                form["busy"] = False
                self._render_tasks()
                self._render_pictures()

        run_in_background(task, confirm)
        return True

    def _form_error(self, task, text: str) -> bool:
        self._forms.setdefault(task.id, {})["error"] = text
        self._render_tasks()
        return False

    def _send_full(self, task) -> None:
        """The final image at full size, on request (it is never pushed)."""
        try:
            image = task.image
        except E.MjnbError as exc:
            task._set_error(f"could not load the full image: {exc}")
            return
        if image is not None:
            self.send({"type": "full", "task": task.id, "width": image.width, "height": image.height},
                      [thumbnail_jpeg(image, max(image.size), quality=92)])

    # ------------------------------------------------------------ display and the static fallback

    def _static_bundle(self) -> dict:
        return {"text/plain": repr(self.task), "text/html": static_html(self.task, lineage(self.task))}

    def _final_key(self) -> tuple:
        """The static copy changes when a task of the lineage ends or gets its picture."""
        return tuple((t.id, str(t.status), t.has_picture) for t in lineage(self.task)
                     if t.snapshot.is_terminal)


def _display_jpeg(task) -> bytes:
    picture = task.latest_picture
    if picture is None:
        return b""
    final = task.status == TaskStatus.SUCCESS
    return thumbnail_jpeg(picture, DISPLAY_SIDE if final else PREVIEW_SIDE, quality=82 if final else 60)


STATIC_TONES = {"success": "#2e7d32", "failure": "#c62828", "modal": "#6a1b9a", "running": "#1565c0",
                "pending": "#555"}


def static_html(task, tasks: list | None = None) -> str:
    """The card as plain HTML for places without widgets (nbconvert, nbviewer, GitHub): the task's
    state now, with its picture; the lineage listed by name. Colours work on light and dark pages."""
    state = task_state(task)
    picture = task.latest_picture
    image = ""
    if picture is not None:
        data = base64.b64encode(thumbnail_jpeg(picture, STATIC_SIDE, quality=80)).decode("ascii")
        image = (f"<img src='data:image/jpeg;base64,{data}' alt='{html.escape(task.id)}' "
                 f"style='max-width:{STATIC_SIDE}px;width:100%;display:block;margin-top:6px'>")
    pill = (f"<span style='background:{STATIC_TONES[state['tone']]};color:#fff;border-radius:8px;"
            f"padding:0 7px'>{html.escape(state['status'])}</span>")
    head = " · ".join(x for x in [f"<b>{html.escape(state['action'])}</b>", f"<code>{html.escape(state['short'])}</code>",
                                  pill, f"↳ from <code>{state['parent']}</code> · {html.escape(state['via'])}"
                                  if state["parent"] else "", "simulator" if task.client.is_simulator else ""] if x)
    bar = (f"<div style='background:rgba(128,128,128,.25);height:6px;margin:6px 0'><div style='background:"
           f"{STATIC_TONES[state['tone']]};height:6px;width:{state['progress']}%'></div></div>")
    notes = "".join(f"<div style='color:{'#c62828' if n['tone'] == 'error' else '#b45309'}'>"
                    f"{html.escape(n['text'])}</div>" for n in state["notices"])
    buttons = " ".join(f"<span style='border:1px solid rgba(128,128,128,.6);border-radius:4px;padding:0 5px'>"
                       f"{html.escape(b['label'])}</span>" for b in state["buttons"])
    kids = [t for t in (tasks or [])[1:]]
    strip = ("<div style='margin-top:6px'>Lineage: " + ", ".join(
        f"{html.escape(t.button_text or str(t.action))} {_short(t.id)} {html.escape(str(t.status))}" for t in kids)
        + "</div>") if kids else ""
    return (f"<div class='mjnb-static' style='border:1px solid rgba(128,128,128,.5);border-radius:6px;"
            f"padding:8px;max-width:560px;font-size:13px'>{head}<div style='white-space:pre-wrap;"
            f"word-break:break-word;margin-top:4px'>{state['text']}</div>{bar}{notes}{image}"
            f"<div style='margin-top:6px'>{buttons}</div>{strip}</div>")


def display_task(task) -> None:
    task.card.show()


register_views(TaskCard, static_html, display_task)  # how a Task shows itself (task.py keeps no view imports)
