"""Matplotlib figures from history DataFrames: timings, progress curves, contact sheets, lineage trees.

Every function takes DataFrames from `mjnb.history()` / `History.snapshots()`, returns a new
`matplotlib.figure.Figure` and changes nothing else (no pyplot state, no rcParams, no input frames).
"""

from __future__ import annotations

import io
import json
import math
import textwrap
from collections import defaultdict
from typing import Any, Hashable

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
from matplotlib.text import Text

from . import fonts

__all__ = ["timings", "progress_curves", "contact_sheet", "lineage", "spend"]

LABEL_CHARS = 40
CLOSING = "，。、；：！？）》」』】,.;:!?)"  # punctuation that stays at the end of the line before
NONE_LABEL = "(none)"
STATUS_COLORS = {  # edge colour; the box face is a light tint of it
    "SUCCESS": "#2e7d32", "FAILURE": "#c62828", "CANCEL": "#616161", "IN_PROGRESS": "#1565c0",
    "SUBMITTED": "#8e24aa", "NOT_START": "#8e24aa", "MODAL": "#ef6c00", "": "#9e9e9e",
}
OTHER_STATUS_COLOR = "#9e9e9e"
# Midjourney button emoji that matplotlib's bundled font (DejaVu Sans) cannot draw
BUTTON_GLYPHS = {"🔄": "↻", "🔍": "", "🪄": "", "🖌": "", "\ufe0f": ""}


class _Figure(Figure):
    """A Figure that shows itself in Jupyter even when pyplot (and its inline hook) was never imported,
    and draws its text in fonts that have its glyphs (CJK prompts included) whenever it is drawn."""

    def draw(self, renderer) -> None:
        texts = [t for t in self.findobj(Text) if t.get_text()]
        chosen = fonts.families(t.get_text() for t in texts)
        for text in texts:
            if text.get_fontfamily() != chosen:
                text.set_fontfamily(chosen)
        super().draw(renderer)

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png")
        return buf.getvalue()


# ------------------------------------------------------------------ helpers


def _figure(width: float, height: float) -> Figure:
    return _Figure(figsize=(width, height), layout="constrained")


def _require(df: pd.DataFrame, *columns: str, what: str = "DataFrame") -> None:
    for column in columns:
        if column not in df.columns:
            known = ", ".join(map(str, df.columns[:12])) + (", ..." if len(df.columns) > 12 else "")
            raise ValueError(f"{column!r} is not a column of the {what} (columns: {known})")


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (list, tuple, dict, set, np.ndarray)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _key(value: Any) -> Hashable:
    """A hashable grouping key for any cell: lists become tuples, dicts JSON, every NA becomes None."""
    if _missing(value):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_key(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _safe(text: str) -> str:
    """Untrusted text drawn literally: no mathtext from "$", no legend-hiding leading "_"."""
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def _cells(text: str) -> int:
    """How many columns `text` takes: CJK characters are twice as wide as Latin ones."""
    return sum(2 if fonts.wide(ch) else 1 for ch in text)


def _cut(text: str, width: int) -> str:
    """`text` cut to `width` columns, with an ellipsis when anything was cut."""
    if _cells(text) <= width:
        return text
    out, used = "", 1
    for ch in text:
        used += 2 if fonts.wide(ch) else 1
        if used > width:
            break
        out += ch
    return out.rstrip() + "…"


def _title(column: str) -> str:
    """A column as users named it: an experiment's factor_stylize is 'stylize'."""
    return str(column).removeprefix("factor_")


def _text(value: Any, width: int) -> str:
    """A cell value as one line of plain text, cut to `width` columns with an ellipsis."""
    key = _key(value)
    if key is None:
        text = NONE_LABEL
    elif isinstance(key, tuple):
        text = ", ".join(NONE_LABEL if v is None else str(v) for v in key) or "[]"
    elif isinstance(key, float) and key.is_integer():
        text = str(int(key)) if abs(key) < 1e15 else str(key)
    else:
        text = str(key)
    text = " ".join(text.split()) or '""'
    return _cut(text, width)


def _label(value: Any, width: int = LABEL_CHARS) -> str:
    """A one-line label for a cell value, truncated with an ellipsis, safe to draw."""
    return _safe(_text(value, width))


def _wrapped(value: Any, width: int, lines: int) -> str:
    """A label wrapped onto at most `lines` lines of `width` characters, safe to draw."""
    text = _text(value, width * lines)
    if _cells(text) == len(text):
        wrapped = textwrap.wrap(text, width, break_on_hyphens=False)  # keep "--ar" whole
    else:
        wrapped = _wrap_wide(text, width)
    return _safe("\n".join(wrapped))


def _wrap_wide(text: str, width: int) -> list[str]:
    """Lines of at most `width` columns for text with CJK characters (no spaces between words):
    break anywhere, but at a space when one is in the line's second half."""
    lines, line = [], ""
    for ch in text:
        if _cells(line + ch) > width and ch not in CLOSING:  # no line starts with "，" or "）"
            cut = line.rfind(" ")
            if cut > len(line) // 2:
                lines.append(line[:cut])
                line = line[cut + 1:]
            else:
                lines.append(line)
                line = ""
        line += ch
    return lines + ([line.strip()] if line.strip() else [])


def _short(task_id: Any) -> str:
    return str(task_id)[-6:] if not _missing(task_id) else "?"


def _button(value: Any) -> str:
    text = "" if _missing(value) else str(value)
    for glyph, plain in BUTTON_GLYPHS.items():
        text = text.replace(glyph, plain)
    text = " ".join(text.split())
    return _safe(text if len(text) <= 16 else text[:15] + "…")


def _distinct(values) -> list:
    """Distinct grouping keys: sorted when they are all numbers, else in order of first appearance."""
    keys = list(dict.fromkeys(_key(v) for v in values))
    present = [k for k in keys if k is not None]
    if present and all(isinstance(k, (int, float)) and not isinstance(k, bool) for k in present):
        present.sort()
    return present + ([None] if None in keys else [])


def _message(fig: Figure, ax, title: str, message: str) -> Figure:
    ax.set_title(_safe(title))
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_axis_off()
    return fig


def _read_image(path: Any, box: int = 400) -> np.ndarray | None:
    """An RGB array of the image at `path` scaled to fit `box` pixels, or None if it cannot be read."""
    if _missing(path) or not str(path):
        return None
    from PIL import Image
    try:
        with Image.open(str(path)) as im:
            im.draft("RGB", (box, box))  # JPEGs decode at a reduced size: cheap for full-size images
            im = im.convert("RGB")
            im.thumbnail((box, box))
            return np.asarray(im)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _task_image(row: pd.Series, image: str, box: int = 400) -> np.ndarray | None:
    for column in (image, "image_path"):
        if column in row.index:
            array = _read_image(row[column], box)
            if array is not None:
                return array
    return None


def _blank(ax) -> None:
    """An axes with nothing drawn but its labels and title (so headers stay visible)."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.patch.set_visible(False)


# ------------------------------------------------------------------ timings


def timings(df: pd.DataFrame, by: str = "prompt", top: int = 20) -> Figure:
    """Mean queue and run time per value of `by`, as stacked horizontal bars (the `top` biggest groups)."""
    _require(df, by, "queue_s", "run_s")
    queue = pd.to_numeric(df["queue_s"], errors="coerce").astype("float64")
    run = pd.to_numeric(df["run_s"], errors="coerce").astype("float64")
    timed = queue.notna() & run.notna()
    members: dict = defaultdict(list)
    for key, qs, rs in zip((_key(v) for v in df[by][timed]), queue[timed], run[timed]):
        members[key].append((qs, rs))
    groups = [(key, len(members[key]), float(np.mean([m[0] for m in members[key]])),
               float(np.mean([m[1] for m in members[key]]))) for key in _distinct(members)]
    total_groups = len(groups)
    biggest = sorted(range(total_groups), key=lambda i: -groups[i][1])[: max(int(top), 1)]
    if pd.api.types.is_numeric_dtype(df[by]) and not pd.api.types.is_bool_dtype(df[by]):
        chosen = [groups[i] for i in sorted(biggest)]  # numbers in their own order (stylize 100, 250, ...)
    else:
        chosen = sorted((groups[i] for i in biggest), key=lambda g: -(g[2] + g[3]))  # slowest on top

    fig = _figure(9, max(2.3, 0.42 * len(chosen) + 1.5))
    ax = fig.subplots()
    title = f"Mean queue and run time by {_title(by)}"
    if not chosen:
        return _message(fig, ax, title, "no tasks with both queue and run times yet")
    if len(chosen) < total_groups:
        title += f"\n({len(chosen)} of {total_groups} groups: those with the most tasks)"
    ax.set_title(_safe(title))

    y = np.arange(len(chosen))
    q = np.array([g[2] for g in chosen])
    r = np.array([g[3] for g in chosen])
    ax.barh(y, q, height=0.7, color="#b0bec5", label="queue")
    ax.barh(y, r, height=0.7, left=q, color="#1f77b4", label="run")
    ax.set_yticks(y, [_label(g[0]) for g in chosen])
    ax.invert_yaxis()  # first group at the top
    ax.set_xlabel("seconds")
    ax.set_ylabel(_safe(_title(by)))
    longest = float((q + r).max()) or 1.0
    for yi, total, n in zip(y, q + r, (g[1] for g in chosen)):
        ax.text(total + longest * 0.01, yi, f"{total:.1f} s  (n={n})", va="center", fontsize="small")
    ax.set_xlim(0, longest * 1.28)  # room for the "(n=...)" notes
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # outside: never over a bar
    return fig


# ------------------------------------------------------------------ progress curves


def progress_curves(snapshots: pd.DataFrame, df: pd.DataFrame | None = None, label: str = "prompt",
                    max_tasks: int = 30) -> Figure:
    """Progress (%) against seconds since submit, one line per task (the latest `max_tasks` tasks)."""
    _require(snapshots, "task_id", "elapsed_s", "progress", what="snapshots DataFrame")
    names: dict = {}
    if df is not None:
        _require(df, "id", label)
        names = {task_id: value for task_id, value in zip(df["id"], df[label])}

    points = pd.DataFrame({
        "task_id": snapshots["task_id"].astype(object),
        "elapsed": pd.to_numeric(snapshots["elapsed_s"], errors="coerce").astype("float64"),
        "progress": pd.to_numeric(snapshots["progress"], errors="coerce").astype("float64"),
        "status": snapshots["status"].astype(object) if "status" in snapshots.columns else None,
        "time": snapshots["time"] if "time" in snapshots.columns else pd.Series(range(len(snapshots)),
                                                                                 index=snapshots.index),
    })
    points = points[points["elapsed"].notna() & points["progress"].notna() & points["task_id"].notna()]
    first_seen = points.groupby("task_id", sort=False)["time"].min().sort_values(kind="stable")
    task_ids = list(first_seen.index)
    shown = task_ids[-max(int(max_tasks), 1):]

    fig = _figure(13 if len(shown) > 15 else 9.5, 5.5 if len(shown) > 15 else 5)
    ax = fig.subplots()
    title = "Progress of each task"
    if not shown:
        return _message(fig, ax, title, "no progress snapshots with a known submit time")
    if len(shown) < len(task_ids):
        title += f" (the latest {len(shown)} of {len(task_ids)} tasks)"
    ax.set_title(title)

    width = 32 if len(shown) <= 15 else 28
    labels = {t: _label(names[t], width) if not _missing(names.get(t)) else _short(t) for t in shown}
    counts = pd.Series(list(labels.values())).value_counts()
    for t in shown:  # the same prompt twice: tell the lines apart by short id
        if counts[labels[t]] > 1 and labels[t] != _short(t):
            labels[t] = f"{labels[t]} · {_short(t)}"
    palette = colormaps["tab10" if len(shown) <= 10 else "tab20"]
    ended_badly = False
    for i, t in enumerate(shown):
        part = points[points["task_id"] == t].sort_values(["elapsed", "time"], kind="stable")
        status = str(part["status"].iloc[-1]) if part["status"].notna().any() else ""
        failed = status in ("FAILURE", "CANCEL")
        ended_badly |= failed
        ax.plot(part["elapsed"], part["progress"], color=palette(i % palette.N), marker="o^sD"[i // 20 % 4],
                markersize=3, linewidth=1.5,
                linestyle="--" if failed else "-", label=labels[t] + (f" ({status})" if failed else ""))
    ax.set_xlabel("seconds since submit")
    ax.set_ylabel("progress (%)")
    ax.set_ylim(-3, 103)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", ncols=1 if len(shown) <= 15 else 2,
              title=_safe(_title(label)) if df is not None else "task", title_fontsize="small", frameon=False)
    if ended_badly:
        ax.text(0.99, 0.01, "dashed: failed or cancelled", transform=ax.transAxes, ha="right", va="bottom",
                fontsize="small", color="0.4")
    return fig


# ------------------------------------------------------------------ contact sheet


def contact_sheet(df: pd.DataFrame, rows: str = "prompt", cols: str = "seed", image: str = "thumb_path",
                  max_rows: int = 8, max_cols: int = 8) -> Figure:
    """A grid of task images: one row per distinct value of `rows`, one column per value of `cols`."""
    _require(df, rows, cols)
    _require(df, image)
    row_keys_all = _distinct(df[rows])
    col_keys_all = _distinct(df[cols])
    row_keys = row_keys_all[: max(int(max_rows), 1)]
    col_keys = col_keys_all[: max(int(max_cols), 1)]

    cells: dict[tuple, list[int]] = defaultdict(list)  # (row key, column key) -> row positions in df
    wanted_rows, wanted_cols = set(row_keys), set(col_keys)
    for position, (rk, ck) in enumerate(zip(map(_key, df[rows]), map(_key, df[cols]))):
        if rk in wanted_rows and ck in wanted_cols:
            cells[(rk, ck)].append(position)

    cell = 1.9
    fig = _figure(2.6 + cell * max(len(col_keys), 1), 1.1 + cell * max(len(row_keys), 1))
    title = f"{_title(rows)} (rows) × {_title(cols)} (columns)"
    hidden = []
    if len(row_keys) < len(row_keys_all):
        hidden.append(f"{len(row_keys)} of {len(row_keys_all)} {_title(rows)} values")
    if len(col_keys) < len(col_keys_all):
        hidden.append(f"{len(col_keys)} of {len(col_keys_all)} {_title(cols)} values")
    if not row_keys or not col_keys:
        return _message(fig, fig.subplots(), title, "no tasks")
    axes = fig.subplots(len(row_keys), len(col_keys), squeeze=False)

    several = False
    for i, rk in enumerate(row_keys):
        for j, ck in enumerate(col_keys):
            ax = axes[i][j]
            _blank(ax)
            ax.set_box_aspect(1)  # every cell the same square, so rows and headers line up
            if i == 0:
                ax.set_title(_wrapped(ck, 18, 2), fontsize="small")
            if j == 0:
                ax.set_ylabel(_wrapped(rk, 22, 3), rotation=0, ha="right", va="center", fontsize="small")
            tasks = cells.get((rk, ck), [])
            array = next((a for a in (_task_image(df.iloc[t], image) for t in tasks) if a is not None), None)
            if array is None:
                if tasks:  # a task but no image (failed, running, not cached): say why instead of a hole
                    status = str(df.iloc[tasks[0]].get("status") or "")
                    ax.text(0.5, 0.5, _safe(status) if status not in ("", "SUCCESS") else "no image",
                            ha="center", va="center",
                            transform=ax.transAxes, fontsize="small", color="0.5")
                elif j != 0:
                    ax.set_axis_off()
                continue
            ax.imshow(array)
            ax.set_adjustable("datalim")  # a 16:9 or 2:3 image sits centred in its square cell
            ax.set_xticks([])
            ax.set_yticks([])
            if len(tasks) > 1:
                several = True
                ax.text(0.97, 0.03, f"+{len(tasks) - 1}", transform=ax.transAxes, ha="right", va="bottom",
                        fontsize="small", bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="0.6", alpha=0.85))
    notes = []
    if hidden:
        notes.append("showing " + " and ".join(hidden))
    if several:
        notes.append("+n: n more tasks in that cell, the first is shown")
    fig.suptitle(_safe(title + ("\n" + "; ".join(notes) if notes else "")))
    return fig


# ------------------------------------------------------------------ lineage


def lineage(df: pd.DataFrame, root_id: str) -> Figure:
    """The tree of `root_id` and all its descendants (via parent_id), root at the top."""
    _require(df, "id", "parent_id")
    where = {task_id: pos for pos, task_id in enumerate(df["id"]) if not _missing(task_id)}
    if root_id not in where:
        raise ValueError(f"no task with id {root_id!r} in the DataFrame")
    kids_of: dict = defaultdict(dict)  # parent id -> {child id: None}, in order, without repeats
    for task_id, parent in zip(df["id"], df["parent_id"]):
        if not _missing(task_id) and not _missing(parent) and parent != task_id and task_id in where:
            kids_of[parent][task_id] = None

    rows: dict = {}  # the tree's own rows only: the history may hold many thousands
    queue = [root_id]
    while queue:
        task_id = queue.pop()
        if task_id not in rows:
            rows[task_id] = df.iloc[where[task_id]]
            queue.extend(kids_of.get(task_id, ()))

    def order(task_id) -> tuple:
        submit = rows[task_id].get("submit")
        return (pd.Timestamp(submit).value if not _missing(submit) else math.inf, str(task_id))

    children = {task_id: sorted(kids_of.get(task_id, ()), key=order) for task_id in rows}

    # tidy layout: leaves take consecutive columns, a parent sits over the middle of its children
    position: dict = {}
    depth: dict = {root_id: 0}
    next_column = [0.0]

    def place(task_id) -> float:
        kids = [k for k in children[task_id] if k not in depth]  # a cycle in parent_id cannot loop
        for kid in kids:
            depth[kid] = depth[task_id] + 1
        xs = [place(kid) for kid in kids]
        if xs:
            x = (xs[0] + xs[-1]) / 2
        else:
            x = next_column[0]
            next_column[0] += 1
        position[task_id] = x
        return x

    place(root_id)
    columns = max(next_column[0], 1)
    levels = max(depth.values()) + 1
    thumbs = {t: _task_image(rows[t], "thumb_path", 160) if "thumb_path" in rows[t].index else None
              for t in position}
    with_thumbs = any(a is not None for a in thumbs.values())

    box_w, text_h = 0.86, 0.42
    thumb_h = 0.78 if with_thumbs else 0.0
    box_h = text_h + thumb_h
    step_y = box_h + 0.55
    x0, x1 = -0.55, columns - 0.45
    y0, y1 = -(levels - 1) * step_y - box_h - 0.1, 0.1
    # inches per layout unit: big trees shrink to about 20 x 16 inches, but never below legibility
    inch = max(min(1.6, 20 / (x1 - x0), 16 / (y1 - y0)), 0.75)
    fontsize = max(5.5, 9.0 * inch / 1.6)
    width = max(inch * (x1 - x0), 2.6) + 1.9  # + the status legend
    fig = _figure(width, inch * (y1 - y0) + 0.9)
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_aspect("equal")

    def top_y(task_id) -> float:
        return -depth[task_id] * step_y

    for parent, kids in children.items():
        for kid in kids:
            if parent in position and kid in position and depth.get(kid) == depth[parent] + 1:
                ax.add_patch(FancyArrowPatch((position[parent], top_y(parent) - box_h),
                                             (position[kid], top_y(kid)), arrowstyle="-|>",
                                             mutation_scale=8 * inch / 1.6, color="0.45", lw=1.0,
                                             shrinkA=0, shrinkB=1, gid=f"edge:{parent}->{kid}", zorder=1))
    # columns of text that fit across a box (caps-heavy labels: about 0.68 em a character)
    fits = max(6, int(box_w * inch * 72 * 0.9 / (fontsize * 0.68)))
    statuses = []
    for task_id, x in position.items():
        task = rows[task_id]
        status = "" if _missing(task.get("status")) else str(task.get("status"))
        statuses.append(status)
        color = STATUS_COLORS.get(status, OTHER_STATUS_COLOR)
        y = top_y(task_id)
        ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h), box_w, box_h,
                                    boxstyle="round,pad=0,rounding_size=0.06", fc=_tint(color), ec=color,
                                    lw=1.6, gid=f"node:{task_id}", zorder=2))
        action = "" if _missing(task.get("action")) else str(task.get("action"))
        button = _button(task.get("button"))
        label = f"{action} {button}".strip() or "?"
        if _cells(label) > fits:  # "VARIATION Vary (Strong)": action and button on lines of their own
            label = "\n".join(_cut(part, fits) for part in (action, button) if part)
        ax.text(x, y - thumb_h - text_h / 2, f"{_safe(label)}\n{_short(task_id)}", ha="center", va="center",
                fontsize=fontsize, zorder=4, linespacing=1.15)
        array = thumbs.get(task_id)
        if array is None and with_thumbs:  # say why there is no picture instead of an empty box
            reason = _safe(_cut(status or "PENDING", fits))
            if status == "FAILURE" and not _missing(task.get("fail_reason")):
                reason += "\n" + _wrapped(task.get("fail_reason"), fits, 3)
            ax.text(x, y - thumb_h / 2, reason, ha="center", va="center", fontsize=fontsize * 0.9, color="0.35",
                    zorder=4)
        if array is not None:
            h, w = array.shape[:2]
            side = thumb_h - 0.08
            iw, ih = (side, side * h / w) if w >= h else (side * w / h, side)
            cy = y - 0.04 - side / 2
            ax.imshow(array, extent=(x - iw / 2, x + iw / 2, cy - ih / 2, cy + ih / 2), zorder=3)

    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    prompt = rows[root_id].get("prompt")
    title = f"Lineage of {_short(root_id)}: {len(position)} task{'s' if len(position) != 1 else ''}"
    if not _missing(prompt) and str(prompt).strip():
        chars = int(width * 11)  # what fits on one line at the title's size
        title += "\n" + _wrapped(prompt, chars, 2)
    ax.set_title(title, fontsize="medium")
    seen = list(dict.fromkeys(statuses))
    ax.legend(handles=[Patch(fc=_tint(STATUS_COLORS.get(s, OTHER_STATUS_COLOR)),
                             ec=STATUS_COLORS.get(s, OTHER_STATUS_COLOR), label=_safe(s or "PENDING")) for s in seen],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", title="status",
              title_fontsize="small", frameon=False)
    return fig


def _tint(color: str, amount: float = 0.82) -> tuple:
    """A light version of `color` for box faces, so black text stays readable."""
    from matplotlib.colors import to_rgb
    return tuple(c + (1 - c) * amount for c in to_rgb(color))


# ------------------------------------------------------------------ spend


def spend(df: pd.DataFrame, by: str = "prompt", top: int = 20) -> Figure:
    """What each value of `by` (a prompt, stylize, aspect ...) cost, in USD, as horizontal bars:
    the `cost` column summed (the `top` most expensive groups), with the refunds of failed tasks
    drawn beside it and tasks of unknown price counted in the note."""
    _require(df, by, "cost", "price", "status")
    cost = pd.to_numeric(df["cost"], errors="coerce").astype("float64")
    price = pd.to_numeric(df["price"], errors="coerce").astype("float64")
    refund = np.where(np.asarray(df["status"] == "FAILURE", dtype=bool), price, 0.0)
    groups: dict = defaultdict(lambda: [0.0, 0.0, 0, 0])  # spent, refunded, tasks, unpriced
    for key, c, r in zip((_key(v) for v in df[by]), cost, refund):
        g = groups[key]
        g[2] += 1
        if math.isnan(c):
            g[3] += 1
            continue
        g[0] += c
        g[1] += 0.0 if math.isnan(r) else r
    chosen = sorted(_distinct(groups), key=lambda k: -groups[k][0])[: max(int(top), 1)]
    if pd.api.types.is_numeric_dtype(df[by]) and not pd.api.types.is_bool_dtype(df[by]):
        chosen = [k for k in _distinct(groups) if k in set(chosen)]  # numbers in their own order

    fig = _figure(9, max(2.3, 0.42 * len(chosen) + 1.5))
    ax = fig.subplots()
    total = sum(g[0] for g in groups.values())
    title = f"Spend by {by}: ${total:,.2f} in all"
    if not any(groups[k][2] > groups[k][3] for k in chosen):
        return _message(fig, ax, f"Spend by {by}", "no task with a known price yet (mjnb.configure(prices=...) "
                                                   "or read mjnb.balance() before submitting)")
    if len(chosen) < len(groups):
        title += f"\n({len(chosen)} of {len(groups)} groups: the most expensive)"
    ax.set_title(_safe(title))
    y = np.arange(len(chosen))
    spent = np.array([groups[k][0] for k in chosen])
    back = np.array([groups[k][1] for k in chosen])
    ax.barh(y, spent, height=0.7, color="#2e7d32", label="spent")
    ax.barh(y, back, height=0.7, left=spent, color=_tint("#c62828", 0.6), hatch="//", label="refunded (failed)")
    ax.set_yticks(y, [_label(k) for k in chosen])
    ax.invert_yaxis()
    ax.set_xlabel("USD")
    ax.set_ylabel(_safe(by))
    longest = float((spent + back).max()) or 1.0
    for yi, k in zip(y, chosen):
        s, r, n, unknown = groups[k]
        note = f"${s:,.2f}  (n={n}" + (f", {unknown} unpriced" if unknown else "") + ")"
        ax.text(s + r + longest * 0.01, yi, note, va="center", fontsize="small")
    ax.set_xlim(0, longest * 1.35)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig
