"""The live task card and its inline forms: views that subscribe to a Task.

No HTTP, no sleeping, no disk here: clicks go to Task methods on a background thread, and
updates arrive as Task events (from the tracker thread; ipykernel >= 7.1 sends them).
Every server or user string is escaped: prompts are text, never HTML.
"""

from __future__ import annotations

import base64
import html
import re
from datetime import datetime, timezone

import ipywidgets as W

from . import errors as E
from .images import box_preview_png, thumbnail_png
from .models import Button, ButtonKind, TaskStatus, classify
from .task import ACTIONS, register_views, zoom_prompt  # clicks run in ACTIONS, never behind slow downloads

DISPLAY_SIDE = 512  # cards show images at most this big; task.image keeps the full size
CHILD_SIDE = 384  # child cards nest under their parent: smaller, so the lineage stays on screen
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
STATUS_COLOURS = {TaskStatus.SUCCESS: "#2e7d32", TaskStatus.FAILURE: "#c62828", TaskStatus.MODAL: "#6a1b9a",
                  TaskStatus.IN_PROGRESS: "#1565c0", TaskStatus.SUBMITTED: "#1565c0"}


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


def _elapsed(task) -> str:
    snap = task.snapshot
    if snap.submit_time is None:
        return ""
    end = snap.finish_time or datetime.now(timezone.utc)
    seconds = max(0.0, (end - snap.submit_time).total_seconds())
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def header_html(task) -> str:
    """Action, short id, status, elapsed time, queue position, lineage, simulator badge."""
    snap = task.snapshot
    colour = STATUS_COLOURS.get(snap.status, "#555")
    parts = [f"<b>{html.escape(str(snap.action))}</b>",
             f"<code title='{html.escape(task.id)}'>{html.escape(_short(task.id))}</code>",
             f"<span style='background:{colour};color:white;border-radius:8px;padding:0 7px'>"
             f"{html.escape(str(snap.status))}</span>"]
    if task.queue_ahead is not None:
        parts.append(f"queued, {task.queue_ahead} ahead")
    elapsed = _elapsed(task)
    if elapsed:
        parts.append(elapsed)
    if snap.parent_id:
        via = f" · {html.escape(task.button_text)}" if task.button_text else ""
        parts.append(f"↳ from <code>{html.escape(_short(snap.parent_id))}</code>{via}")
    if task.client.is_simulator:
        parts.append("<span style='border:1px solid #999;border-radius:8px;padding:0 6px;color:#666'"
                     " title='Built-in simulator: set MJNB_BASE_URL for a real relay'>simulator</span>")
    return "<div style='font-size:13px'>" + " &middot; ".join(parts) + "</div>"


def prompt_html(task) -> str:
    snap = task.snapshot
    text = snap.prompt or snap.final_prompt or snap.description
    return ("<div style='white-space:pre-wrap;word-break:break-word;font-size:13px;color:#222'>"
            f"{html.escape(text)}</div>")


def annotations_html(task) -> str:
    """Rating, tags and note the user gave this task."""
    notes = task.annotations
    parts = []
    if notes["rating"]:
        parts.append("★" * notes["rating"] + "☆" * (5 - notes["rating"]))
    if notes["tags"]:
        parts.append(" ".join(f"<span style='background:#eef;border-radius:6px;padding:0 5px'>"
                              f"#{html.escape(t)}</span>" for t in notes["tags"]))
    if notes["note"]:
        parts.append(f"<i>{html.escape(notes['note'])}</i>")
    return f"<div style='font-size:12px;color:#444'>{' &middot; '.join(parts)}</div>" if parts else ""


def notice_html(task) -> str:
    """Errors, reconnecting, stalls and failure reasons, in words."""
    lines = []
    if task.status == TaskStatus.FAILURE:
        lines.append(("#c62828", f"Failed: {task.fail_reason or 'the server gave no reason'}"))
    if task.connection:
        lines.append(("#e65100", f"{task.connection[:1].upper()}{task.connection[1:]} (the card recovers by itself)"))
    if task.stalled:
        minutes = task.client.config.stall_after / 60
        lines.append(("#e65100", f"No change for over {minutes:g} min: the server may have lost this task. "
                                 f"Press Refresh to ask again."))
    if task.error:
        lines.append(("#c62828", task.error))
    return "".join(f"<div style='color:{c};font-size:12px;white-space:pre-wrap'>{html.escape(t)}</div>"
                   for c, t in lines)


class TaskCard(W.VBox):
    """A live card: header, prompt, progress bar, image, the server's buttons, forms, child cards."""

    def __init__(self, task, **kwargs):
        self.task = task
        self._busy: set[str] = set()
        self._buttons_key: tuple = ()
        self._form_for: str | None = None
        self.header = W.HTML()
        self.prompt = W.HTML()
        self.annotations = W.HTML()
        self.bar = W.IntProgress(min=0, max=100, layout=W.Layout(width="100%", height="14px"))
        self.percent = W.Label(layout=W.Layout(width="48px"))
        self.notice = W.HTML()
        self.refresh_button = W.Button(description="Refresh", icon="refresh", layout=W.Layout(width="auto"),
                                       tooltip="Fetch this task again now")
        self.refresh_button.on_click(lambda _: self._run(self.task.refresh))
        side = CHILD_SIDE if task.parent_id else DISPLAY_SIDE
        self.image = W.Image(format="png", layout=W.Layout(max_width=f"{side}px", height="auto"))
        self.button_rows = W.VBox()
        self.form = W.VBox()
        self.children_box = W.VBox(layout=W.Layout(margin="6px 0 0 18px"))
        super().__init__(
            [self.header, self.prompt, self.annotations,
             W.HBox([self.bar, self.percent], layout=W.Layout(align_items="center")),
             W.HBox([self.notice, self.refresh_button]), self.image, self.button_rows, self.form,
             self.children_box],
            layout=W.Layout(border="1px solid #d0d0d0", padding="8px", margin="4px 0", max_width="560px"),
            **kwargs)
        self.add_class("mjnb-card")
        self._render_all()
        task.subscribe(self._on_event)
        for child in task.children:
            self._add_child_card(child)

    # ------------------------------------------------------------ events from the task

    def _on_event(self, task, event: str) -> None:
        if event == "image":
            self._render_image()
        elif event == "child":
            for child in task.children:
                self._add_child_card(child)
        elif event == "tick":
            self.header.value = header_html(task)
        elif event == "annotation":
            self.annotations.value = annotations_html(task)
        else:
            self._render_all()

    def _render_all(self) -> None:
        task = self.task
        self.bar.value = task.progress  # before the header, so the page never shows SUCCESS over a part-full bar
        self.percent.value = f"{task.progress}%"
        self.header.value = header_html(task)
        self.prompt.value = prompt_html(task)
        self.annotations.value = annotations_html(task)
        if task.status == TaskStatus.SUCCESS:
            self.bar.bar_style = "success"
        elif task.status == TaskStatus.FAILURE:
            self.bar.bar_style = "danger"
        elif task.stalled or task.connection:
            self.bar.bar_style = "warning"
        else:
            self.bar.bar_style = "info"
        self.notice.value = notice_html(task)
        self.refresh_button.layout.display = "" if task.stalled else "none"
        self._render_buttons()
        self._render_form()
        self._render_image()

    def _render_image(self) -> None:
        picture = self.task.latest_picture
        if picture is not None:
            self.image.value = thumbnail_png(picture, DISPLAY_SIDE)
            self.image.layout.display = ""
        else:
            self.image.layout.display = "none"

    def _render_buttons(self) -> None:
        buttons = self.task.buttons if self.task.status == TaskStatus.SUCCESS else ()
        key = tuple(b.custom_id for b in buttons)
        if key == self._buttons_key:
            return
        self._buttons_key = key
        flavour = self.task.client.config.flavour
        rows = []
        for kinds in ROWS:
            row = [self._make_button(b, flavour) for b in buttons if b.kind in kinds]
            if row:
                rows.append(W.HBox(row))
        self.button_rows.children = rows

    def _make_button(self, button: Button, flavour: str) -> W.Button:
        why = rejected_why(button, flavour)
        w = W.Button(description=button.text, layout=W.Layout(width="auto", min_width="44px"),
                     disabled=why is not None, tooltip=why or button_help(button))
        w.add_class("mjnb-button")
        w.on_click(lambda _w, b=button: self.press(b, _w))
        return w

    # ------------------------------------------------------------ clicks

    def press(self, button: Button, widget: W.Button | None = None) -> bool:
        """Submit a button once: ignored while the same button is still submitting."""
        if button.custom_id in self._busy or rejected_why(button, self.task.client.config.flavour):
            return False
        self._busy.add(button.custom_id)
        if widget is not None:
            widget.disabled = True

        def done():
            self._busy.discard(button.custom_id)
            if widget is not None:
                widget.disabled = False

        def click():
            self.task.click(button)
            if widget is not None:
                widget.button_style = "success"  # as Discord marks a used button

        self._run(click, after=done)
        return True

    def _run(self, action, after=None) -> None:
        """Run a Task method off the kernel's thread; its error lands on the card."""

        def job():
            try:
                if self.task.error:
                    self.task._set_error(None)
                action()
            except E.MjnbError as exc:
                self.task._set_error(str(exc))
            except Exception as exc:  # show it where the user looks
                self.task._set_error(f"{exc.__class__.__name__}: {exc}")
            finally:
                if after:
                    after()

        ACTIONS.submit(job)

    def _add_child_card(self, child) -> None:
        if any(getattr(c, "task", None) is child for c in self.children_box.children):
            return
        self.children_box.children = (*self.children_box.children, child.card)

    # ------------------------------------------------------------ inline forms for MODAL tasks

    def _render_form(self) -> None:
        task = self.task
        want = task.id if task.awaiting_input else None
        if want == self._form_for:
            return
        self._form_for = want
        if want is None:
            self.form.children = ()
            return
        kind = classify(task.snapshot.custom_id)[0] if task.snapshot.custom_id else ButtonKind.UNKNOWN
        if kind == ButtonKind.VARY_REGION:
            self.form.children = (RegionForm(task, self._run),)
        else:
            self.form.children = (PromptForm(task, self._run, kind),)


class PromptForm(W.VBox):
    """Custom Zoom (prompt prefilled with --zoom 1.8) and remix-mode prompts."""

    def __init__(self, task, run, kind: ButtonKind):
        parent = task.client._tasks.get(task.parent_id) if task.parent_id else None
        base = task.prompt or (parent.final_prompt or parent.prompt if parent else "")
        if kind == ButtonKind.DESCRIBE_PICK and not task.prompt:  # the picked line, not all four
            base = _describe_candidate(base, task.snapshot.custom_id)
        if kind == ButtonKind.CUSTOM_ZOOM:
            title, value = "Custom Zoom: edit the prompt; --zoom takes 1 to 2", zoom_prompt(base, 1.8)
        else:
            title, value = "Remix: edit the prompt, then submit", base
        self.text = W.Textarea(value=value, layout=W.Layout(width="100%", height="64px"))
        self.submit = W.Button(description="Submit", button_style="primary", icon="check")
        self.status = W.HTML()
        self.kind = kind

        def on_submit(_):
            prompt = self.text.value.strip()
            if kind == ButtonKind.CUSTOM_ZOOM and not re.search(r"--zoom\s+(1(\.\d+)?|2(\.0+)?)(\s|$)", prompt):
                self.status.value = ("<span style='color:#c62828'>The prompt needs --zoom with a value "
                                     "from 1 to 2, e.g. --zoom 1.8</span>")
                return
            self.submit.disabled = True
            self.status.value = "Submitting…"
            run(lambda: task.confirm(prompt=prompt), after=lambda: setattr(self.submit, "disabled", False))

        self.submit.on_click(on_submit)
        super().__init__([W.HTML(f"<b>{html.escape(title)}</b>"), self.text, W.HBox([self.submit, self.status])])


def _describe_candidate(text: str, custom_id: str) -> str:
    """The n-th prompt of a DESCRIBE answer ('1️⃣ ...' blocks) for the PicReader::n button."""
    index = classify(custom_id)[1] or 0
    blocks = [re.sub(r"^[0-9]\ufe0f?\u20e3\s*", "", b.strip()) for b in re.split(r"\n\s*\n", text) if b.strip()]
    return blocks[index - 1] if 1 <= index <= len(blocks) else text


class RegionForm(W.VBox):
    """Vary (Region): choose a rectangle with sliders; it becomes the black-and-white mask."""

    def __init__(self, task, run):
        parent = task.client._tasks.get(task.parent_id) if task.parent_id else None
        self.parent_picture = parent.latest_picture if parent is not None else None
        pct = dict(min=0, max=100, step=1, continuous_update=False, layout=W.Layout(width="260px"))
        self.left = W.IntSlider(value=25, description="left %", **pct)
        self.top = W.IntSlider(value=25, description="top %", **pct)
        self.right = W.IntSlider(value=75, description="right %", **pct)
        self.bottom = W.IntSlider(value=75, description="bottom %", **pct)
        self.preview = W.Image(format="png", layout=W.Layout(max_width="320px"))
        self.text = W.Textarea(value=task.prompt or (parent.prompt if parent else ""),
                               layout=W.Layout(width="100%", height="48px"))
        self.submit = W.Button(description="Vary region", button_style="primary", icon="paint-brush")
        self.status = W.HTML()
        for slider in (self.left, self.top, self.right, self.bottom):
            slider.observe(lambda _: self._draw(), names="value")
        self._draw()

        def on_submit(_):
            box = self.box
            if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
                self.status.value = "<span style='color:#c62828'>Choose a region: right > left, bottom > top</span>"
                return
            self.submit.disabled = True
            self.status.value = "Submitting…"
            run(lambda: task.confirm(prompt=self.text.value.strip() or None, box=box),
                after=lambda: setattr(self.submit, "disabled", False))

        self.submit.on_click(on_submit)
        super().__init__([W.HTML("<b>Vary (Region): the bright rectangle is regenerated</b>"),
                          W.HBox([self.preview, W.VBox([self.left, self.top, self.right, self.bottom])]),
                          self.text, W.HBox([self.submit, self.status])])

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.left.value / 100, self.top.value / 100, self.right.value / 100, self.bottom.value / 100)

    def _draw(self) -> None:
        box = self.box
        if self.parent_picture is not None and box[2] > box[0] and box[3] > box[1]:
            self.preview.value = box_preview_png(self.parent_picture, box, 320)


def static_html(task) -> str:
    """The card as plain HTML, for places without widgets (nbconvert, GitHub)."""
    picture = task.latest_picture
    image = ""
    if picture is not None:
        data = base64.b64encode(thumbnail_png(picture, 384)).decode("ascii")
        image = f"<img src='data:image/png;base64,{data}' style='max-width:384px;display:block;margin-top:6px'>"
    buttons = " ".join(f"<span style='border:1px solid #bbb;border-radius:4px;padding:0 5px'>"
                       f"{html.escape(b.text)}</span>" for b in task.buttons)
    bar = (f"<div style='background:#eee;height:8px;width:100%'><div style='background:#1565c0;height:8px;"
           f"width:{task.progress}%'></div></div>")
    return (f"<div style='border:1px solid #d0d0d0;padding:8px;max-width:560px'>{header_html(task)}"
            f"{prompt_html(task)}{annotations_html(task)}{bar}{notice_html(task)}{image}<div style='margin-top:6px'>{buttons}</div></div>")


register_views(TaskCard, static_html)  # how a Task shows itself (task.py keeps no view imports)
