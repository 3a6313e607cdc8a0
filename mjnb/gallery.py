"""The live gallery of an Experiment: one anywidget model with overall progress, counts and an
honest ETA, a grid of small cards (thumbnail, progress bar, factor values, the last error and try
count), and the full card of the item you open.

A view only: it subscribes to the Experiment's item events (which arrive from the tracker and
submitter threads) and reads tasks' already-downloaded pictures. No HTTP, sleeping or SQLite.
"""

from __future__ import annotations

import base64
import html
import threading
import uuid

import anywidget
import ipywidgets as W
import traitlets as T

from .images import thumbnail_jpeg
from .widgets import NO_LAYOUT, STATIC, LiveOutput, TaskCard

THUMB_SIDE = 140
UNSETTLED = ("queued", "running", "submitting", "retrying")  # counts() keys of items still on their way
TONES = {"done": "success", "failed": "failure", "stalled": "failure", "cancelled": "pending",
         "over budget": "pending", "uncertain": "failure", "queued": "pending", "submitting": "running",
         "running": "running", "retrying": "running"}


def item_state(item) -> dict:
    task = item.task
    status = item.status
    progress = 100 if status == "done" else (task.progress if task is not None else 0)
    prompt = str(item.factors.get("factor_prompt", item.prompt))
    factors = " · ".join(f"{k.removeprefix('factor_')} {v}" for k, v in item.factors.items()
                         if k != "factor_prompt") + (f" · #{item.repeat + 1}" if item.repeat else "")
    reason = item.reason or (f"waiting to retry ({item.retries}×): {item.refusal}" if item.retries else "")
    return {"index": item.index, "status": status, "tone": TONES.get(status, "pending"), "progress": progress,
            "prompt": prompt, "factors": factors, "reason": reason, "attempts": item.attempt + 1}


class ExperimentGallery(LiveOutput, anywidget.AnyWidget):
    """Header (name, counts, ETA) over a bar, the grid of small cards, and the opened item's card."""

    _esm = STATIC / "mjnb.js"
    _css = STATIC / "mjnb.css"
    layout = NO_LAYOUT  # one model per gallery
    view = T.Unicode("gallery").tag(sync=True)
    summary = T.Dict().tag(sync=True)
    items = T.List().tag(sync=True)
    thumbs = T.Dict().tag(sync=True)  # item index (as text) -> JPEG
    detail = T.Instance(TaskCard, allow_none=True).tag(sync=True, **W.widget_serialization)
    detail_caption = T.Unicode("").tag(sync=True)

    def __init__(self, experiment, **kwargs):
        super().__init__(**kwargs)
        self.experiment = experiment
        self.display_id = f"mjnb-{uuid.uuid4().hex}"
        self._lock = threading.RLock()
        self._pictures: dict[int, object] = {}  # the picture each thumbnail was made from
        self.on_msg(self._on_msg)
        self._render()
        experiment.subscribe(self._on_event)

    def _on_event(self, experiment, item, event: str) -> None:
        self._render()
        self._update_static()

    def _static_bundle(self) -> dict:
        return {"text/plain": repr(self.experiment), "text/html": static_html(self)}

    def _final_key(self) -> tuple | None:
        """The static copy changes once the experiment has settled, and with each thumbnail after."""
        return (self.summary["counts"], len(self.thumbs)) if self.experiment.done else None

    def _render(self) -> None:
        with self._lock:
            exp = self.experiment
            self.items = [item_state(i) for i in exp.items]
            thumbs = dict(self.thumbs)
            for item in exp.items:
                picture = item.task.latest_picture if item.task is not None else None
                if picture is not None and self._pictures.get(item.index) is not picture:
                    self._pictures[item.index] = picture
                    thumbs[str(item.index)] = thumbnail_jpeg(picture, THUMB_SIDE, quality=70)
            if thumbs != self.thumbs:
                self.thumbs = thumbs
            self.summary = summary_state(exp)

    def _on_msg(self, _widget, content, buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "open":
            item = next((i for i in self.experiment.items if i.index == content.get("index")), None)
            if item is not None:
                self.open_item(item)

    def open_item(self, item) -> None:
        """Put this item's full task card under the grid (or say why it has none)."""
        if item.task is not None:
            self.detail = item.task.card
            self.detail_caption = f"#{item.index} {item.caption()}"
        else:
            self.detail = None
            self.detail_caption = f"#{item.index} {item.caption()}: {item.reason or f'not submitted yet ({item.status})'}"


def summary_state(exp) -> dict:
    c = exp.counts()
    total = len(exp.items)
    settled = total - sum(c.get(k, 0) for k in UNSETTLED)
    parts = [f"{c[k]} {k}" for k in ("queued", "running", "done", "failed", "stalled")]
    # the rest only when they happen: uncertain (the task may exist, so it is not sent again by
    # itself), cancelled, over budget, and whatever states experiments add later
    parts += [f"{n} {k}" for k, n in c.items() if n and k not in ("queued", "running", "done", "failed", "stalled")]
    eta = exp.eta()
    if eta is not None and settled < total:
        parts.append(f"about {_eta(eta)} left")
    trouble = c["failed"] or c["stalled"] or c.get("uncertain")
    money = exp.money()
    return {"title": f"Experiment {exp.name}", "subtitle": f"{total} items · concurrency {exp.concurrency}",
            "counts": " · ".join(parts), "settled": settled, "total": total,
            "money": money.text if money.budget is not None or money.spent or money.committed else "",
            "error": f"Last error: {exp.last_error}" if exp.last_error else "",
            "tone": "failure" if trouble else ("success" if settled == total else "running")}


def _eta(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def static_html(gallery) -> str:
    """The gallery as plain HTML (a shared or converted notebook): the summary and every item's
    thumbnail and caption, escaped."""
    summary = gallery.summary
    cells = []
    for item in gallery.items:
        data = gallery.thumbs.get(str(item["index"]))
        picture = (f"<img src='data:image/jpeg;base64,{base64.b64encode(data).decode('ascii')}' "
                   f"style='width:{THUMB_SIDE}px;height:{THUMB_SIDE}px;object-fit:contain'>" if data else
                   f"<div style='width:{THUMB_SIDE}px;height:{THUMB_SIDE}px'>{html.escape(item['status'])}</div>")
        reason = f"<div style='color:#c62828'>{html.escape(item['reason'])}</div>" if item["reason"] else ""
        cells.append(f"<div style='width:150px;font-size:12px;overflow:hidden'>{picture}"
                     f"<div>#{item['index']} {html.escape(item['prompt'])}</div>"
                     f"<div>{html.escape(item['factors'])}</div>{reason}</div>")
    return (f"<div class='mjnb-static' style='border:1px solid rgba(128,128,128,.5);border-radius:6px;padding:8px'>"
            f"<b>{html.escape(summary['title'])}</b> · {html.escape(summary['subtitle'])}"
            f"<div style='font-size:12px;margin:4px 0'>{html.escape(summary['counts'])}</div>"
            f"<div style='font-size:12px'>{html.escape(summary['money'])}</div>"
            f"<div style='font-size:12px;color:#c62828'>{html.escape(summary['error'])}</div>"
            f"<div style='display:flex;flex-wrap:wrap;gap:6px'>{''.join(cells)}</div></div>")
