"""The live gallery of an Experiment: overall progress with counts and an ETA, a grid of small
cards (thumbnail, progress bar, factor values), and the full card of the one you open.

A view only: it subscribes to the Experiment's item events (which arrive from the tracker and
submitter threads) and reads tasks' already-downloaded pictures. No HTTP, sleeping or SQLite.
"""

from __future__ import annotations

import html

import ipywidgets as W

from .images import thumbnail_png

THUMB_SIDE = 128
BAR_STYLES = {"done": "success", "failed": "danger", "stalled": "warning", "cancelled": "warning",
              "uncertain": "warning"}


class SmallCard(W.VBox):
    """One item: its newest picture, a progress bar, its factor values and an Open button."""

    def __init__(self, item, on_open):
        self.item = item
        self._picture = None
        self.image = W.Image(format="png", layout=W.Layout(width=f"{THUMB_SIDE}px", height=f"{THUMB_SIDE}px",
                                                          object_fit="contain"))
        self.placeholder = W.HTML(layout=W.Layout(width=f"{THUMB_SIDE}px", height=f"{THUMB_SIDE}px"))
        self.bar = W.IntProgress(min=0, max=100, layout=W.Layout(width=f"{THUMB_SIDE}px", height="8px"))
        self.caption = W.HTML(layout=W.Layout(width=f"{THUMB_SIDE}px"))
        self.open_button = W.Button(description="Open", layout=W.Layout(width=f"{THUMB_SIDE}px", height="24px"),
                             tooltip="Show this task's full card below the grid")
        self.open_button.on_click(lambda _: on_open(self.item))
        super().__init__([self.image, self.placeholder, self.bar, self.caption, self.open_button],
                         layout=W.Layout(margin="2px", padding="2px", border="1px solid #e0e0e0"))
        self.add_class("mjnb-small-card")
        self.render()

    def render(self) -> None:
        item, task = self.item, self.item.task
        status = item.status
        picture = task.latest_picture if task is not None else None
        if picture is not None and picture is not self._picture:
            self._picture = picture
            self.image.value = thumbnail_png(picture, THUMB_SIDE)
        self.image.layout.display = "" if self._picture is not None else "none"
        self.placeholder.layout.display = "none" if self._picture is not None else ""
        self.placeholder.value = (f'<div style="width:{THUMB_SIDE}px;height:{THUMB_SIDE}px;background:#f3f3f3;'
                                  f'color:#777;display:flex;align-items:center;justify-content:center">'
                                  f"{html.escape(status)}</div>")
        self.bar.value = 100 if status == "done" else (task.progress if task is not None else 0)
        self.bar.bar_style = BAR_STYLES.get(status, "info")
        reason = item.reason
        title = html.escape(item.prompt, quote=True) + (" — " + html.escape(reason, quote=True) if reason else "")
        prompt = item.factors.get("factor_prompt", "")
        others = " · ".join(f"{k.removeprefix('factor_')} {v}" for k, v in item.factors.items()
                            if k != "factor_prompt") + (f" · #{item.repeat + 1}" if item.repeat else "")
        line = "font-size:11px;line-height:1.25;overflow:hidden;text-overflow:ellipsis;white-space:nowrap"
        # two lines: the prompt may be cut, the factor values a user compares must not be
        self.caption.value = (f'<div title="{title}"><div style="{line}">#{item.index} {html.escape(str(prompt))}</div>'
                              f'<div style="{line};color:#555">{html.escape(others)}</div></div>')


class ExperimentGallery(W.VBox):
    """Header (name, counts, ETA) over an IntProgress, the grid of small cards, and a detail area."""

    def __init__(self, experiment, **kwargs):
        self.experiment = experiment
        self.title = W.HTML()
        self.progress = W.IntProgress(min=0, max=max(len(experiment.items), 1),
                                      layout=W.Layout(width="100%", height="14px"))
        self.counts = W.HTML()
        self.cards = [SmallCard(item, self.show) for item in experiment.items]
        self._by_item = {id(card.item): card for card in self.cards}
        self.grid = W.Box(self.cards, layout=W.Layout(display="flex", flex_flow="row wrap"))
        self.detail = W.VBox()
        super().__init__([self.title, self.progress, self.counts, self.grid, self.detail], **kwargs)
        self.add_class("mjnb-gallery")
        self._render_summary()
        experiment.subscribe(self._on_event)

    def _on_event(self, experiment, item, event: str) -> None:
        if item is None:
            for card in self.cards:
                card.render()
        else:
            card = self._by_item.get(id(item))
            if card is not None:
                card.render()
        self._render_summary()

    def _render_summary(self) -> None:
        exp = self.experiment
        c = exp.counts()
        self.title.value = (f"<b>Experiment {html.escape(exp.name)}</b> · {len(exp.items)} items · "
                            f"concurrency {exp.concurrency}")
        settled = c["done"] + c["failed"] + c["stalled"] + c["cancelled"] + c["uncertain"]
        self.progress.value = settled
        self.progress.bar_style = "success" if settled == len(exp.items) and not c["failed"] else (
            "warning" if c["failed"] or c["stalled"] or c["uncertain"] else "info")
        eta = exp.eta()
        eta_text = "" if eta is None or settled == len(exp.items) else f" · ETA {_eta(eta)}"
        parts = [f"{c[k]} {k}" for k in ("queued", "running", "done", "failed", "stalled")]
        if c["uncertain"]:  # outcome unknown: the task may exist, so it is not sent again by itself
            parts.append(f"{c['uncertain']} uncertain")
        if c["cancelled"]:
            parts.append(f"{c['cancelled']} cancelled")
        self.counts.value = f"<span>{' · '.join(parts)}{eta_text}</span>"

    def show(self, item) -> None:
        """Put this item's full task card in the detail area (or why it has none)."""
        if item.task is not None:
            self.detail.children = [W.HTML(f"<b>#{item.index}</b> {html.escape(item.caption())}"), item.task.card]
        else:
            text = item.reason or f"not submitted yet ({item.status})"
            self.detail.children = [W.HTML(f"<b>#{item.index}</b> {html.escape(item.caption())}: "
                                           f"{html.escape(text)}")]


def _eta(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
