"""The live gallery of an Experiment: one anywidget model with overall progress, counts and an
honest ETA, a grid of small cards (thumbnail, progress bar, factor values, the last error and try
count), and the full card of the item you open.

A view only: it subscribes to the Experiment's item events (which arrive from the tracker and
submitter threads) and reads tasks' already-downloaded pictures. No HTTP, sleeping or SQLite.
"""

from __future__ import annotations

import threading

import anywidget
import ipywidgets as W
import traitlets as T

from .images import thumbnail_jpeg
from .widgets import NO_LAYOUT, STATIC, TaskCard

THUMB_SIDE = 140
TONES = {"done": "success", "failed": "failure", "stalled": "failure", "cancelled": "pending",
         "uncertain": "failure", "queued": "pending", "submitting": "running", "running": "running"}


def item_state(item) -> dict:
    task = item.task
    status = item.status
    progress = 100 if status == "done" else (task.progress if task is not None else 0)
    prompt = str(item.factors.get("factor_prompt", item.prompt))
    factors = " · ".join(f"{k.removeprefix('factor_')} {v}" for k, v in item.factors.items()
                         if k != "factor_prompt") + (f" · #{item.repeat + 1}" if item.repeat else "")
    return {"index": item.index, "status": status, "tone": TONES.get(status, "pending"), "progress": progress,
            "prompt": prompt, "factors": factors, "reason": item.reason, "attempts": item.attempt + 1}


class ExperimentGallery(anywidget.AnyWidget):
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
        self._lock = threading.RLock()
        self._pictures: dict[int, object] = {}  # the picture each thumbnail was made from
        self.on_msg(self._on_msg)
        self._render()
        experiment.subscribe(self._on_event)

    def _on_event(self, experiment, item, event: str) -> None:
        self._render()

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
                self.show(item)

    def show(self, item) -> None:
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
    settled = c["done"] + c["failed"] + c["stalled"] + c["cancelled"] + c["uncertain"]
    parts = [f"{c[k]} {k}" for k in ("queued", "running", "done", "failed", "stalled")]
    for k in ("uncertain", "cancelled"):  # uncertain: the task may exist, so it is not sent again by itself
        if c[k]:
            parts.append(f"{c[k]} {k}")
    eta = exp.eta()
    if eta is not None and settled < total:
        parts.append(f"about {_eta(eta)} left")
    trouble = c["failed"] or c["stalled"] or c["uncertain"]
    return {"title": f"Experiment {exp.name}", "subtitle": f"{total} items · concurrency {exp.concurrency}",
            "counts": " · ".join(parts), "settled": settled, "total": total,
            "tone": "failure" if trouble else ("success" if settled == total else "running")}


def _eta(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
