"""mjnb.plots on synthetic history frames: every figure renders (Agg), says what it shows, clips nothing."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from mjnb import plots  # noqa: E402
from mjnb.params import PARAMS, parse_prompt  # noqa: E402

# layout warnings ("constrained layout not applied", "Glyph ... missing") mean an unreadable figure
pytestmark = pytest.mark.filterwarnings("error::UserWarning")

COLUMNS = (["id", "parent_id", "root_id", "action", "button", "prompt", "prompt_en", "final_prompt", "text",
            "image_prompts"] + list(PARAMS) +
           ["other", "status", "fail_reason", "submit", "start", "finish", "queue_s", "run_s", "total_s",
            "image_path", "thumb_path", "image_url", "mode", "server", "simulator", "tags", "rating", "note",
            "experiment"])
SNAPSHOT_COLUMNS = ["task_id", "time", "status", "progress", "elapsed_s"]
T0 = pd.Timestamp("2025-03-01 12:00:00", tz="UTC")

FOX = "a red fox in the snow, national geographic photo --ar 3:2 --s 250"
CITY = ("cyberpunk city street at night with neon signs reflecting in puddles, cinematic lighting, "
        "ultra detailed --ar 16:9 --s 750 --v 6.1")
MONEY = "a $5 bill and a $10 bill on a wooden table --s 100"
SLOW = "a prompt still rendering --s 250"
SEEDS = [11, 22, 33]


# ------------------------------------------------------------------ synthetic history


def make_png(path, color, label="", size=(64, 64)):
    img = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(img)
    draw.rectangle([4, 4, size[0] - 5, size[1] - 5], outline=(255, 255, 255), width=2)
    if label:
        draw.text((10, size[1] // 2 - 6), label, fill=(255, 255, 255))
    img.save(path)
    return str(path)


def task_row(task_id, prompt, *, parent=None, root=None, action="IMAGINE", button="", status="SUCCESS",
             submit=0.0, queue=None, run=None, seed=None, thumb=None, image=None, experiment=None):
    parsed = parse_prompt(prompt).row()
    if seed is not None:
        parsed["seed"] = seed
    submit_ts = T0 + pd.Timedelta(seconds=submit)
    start = submit_ts + pd.Timedelta(seconds=queue) if queue is not None else pd.NaT
    finish = start + pd.Timedelta(seconds=run) if queue is not None and run is not None else pd.NaT
    row = {
        "id": task_id, "parent_id": parent, "root_id": root or task_id, "action": action, "button": button,
        "prompt": prompt, "prompt_en": prompt, "final_prompt": prompt, **parsed,
        "status": status, "fail_reason": "banned prompt" if status == "FAILURE" else None,
        "submit": submit_ts, "start": start, "finish": finish,
        "queue_s": float(queue) if queue is not None else np.nan,
        "run_s": float(run) if queue is not None and run is not None else np.nan,
        "total_s": float(queue + run) if queue is not None and run is not None else np.nan,
        "image_path": image, "thumb_path": thumb, "image_url": f"https://cdn.example/{task_id}.png",
        "mode": "FAST", "server": "http://127.0.0.1:8080", "simulator": True, "tags": [], "rating": pd.NA,
        "note": "", "experiment": experiment,
    }
    return row


def frame(rows):
    df = pd.DataFrame(rows, columns=COLUMNS)
    for name, (_, kind) in PARAMS.items():
        if kind == "int":
            df[name] = df[name].astype("Int64")
        elif kind == "float":
            df[name] = df[name].astype("Float64")
        elif kind == "flag":
            df[name] = df[name].fillna(False).astype(bool)
    df["rating"] = df["rating"].astype("Int64")
    for name in ("submit", "start", "finish"):
        df[name] = pd.to_datetime(df[name], utc=True)
    return df


@pytest.fixture
def history(tmp_path):
    """Three prompts x three seeds of IMAGINE tasks, a lineage under the first, a failure, one running."""
    colors = [(200, 60, 40), (40, 120, 200), (60, 160, 80), (150, 90, 180), (220, 170, 40), (90, 90, 90)]
    rows, n = [], 0
    for p, prompt in enumerate([FOX, CITY, MONEY]):
        for s, seed in enumerate(SEEDS):
            n += 1
            task_id = f"17400000000{n:05d}"
            size = (96, 54) if prompt == CITY else (64, 64)  # CITY is --ar 16:9
            thumb = make_png(tmp_path / f"thumb{n}.png", colors[(p + s) % len(colors)], f"{p}/{seed}", size)
            rows.append(task_row(task_id, prompt, submit=10.0 * n, queue=2.0 + p, run=30.0 + 5 * s + 10 * p,
                                 seed=seed, thumb=thumb))
    root = rows[0]["id"]
    kids = [("1740000000100001", "UPSCALE", "U1", "SUCCESS", root),
            ("1740000000100002", "VARIATION", "V2", "SUCCESS", root),
            ("1740000000100003", "REROLL", "🔄", "FAILURE", root),
            ("1740000000100004", "UPSCALE", "U3", "IN_PROGRESS", "1740000000100002")]
    for i, (task_id, action, button, status, parent) in enumerate(kids):
        done = status == "SUCCESS"
        thumb = make_png(tmp_path / f"kid{i}.png", colors[i], button if button.isascii() else "R") if done else None
        rows.append(task_row(task_id, FOX, parent=parent, root=root, action=action, button=button, status=status,
                             submit=200.0 + i, queue=1.0 if status != "FAILURE" else None,
                             run=20.0 if done else None, seed=SEEDS[0], thumb=thumb))
    rows.append(task_row("1740000000200001", SLOW, submit=300.0, queue=4.0, run=None, status="IN_PROGRESS"))
    return frame(rows)


@pytest.fixture
def snapshots(history):
    """Progress timelines of the first four IMAGINE tasks; the third fails at 40 %."""
    rows = []
    for k, task_id in enumerate(history["id"][:4]):
        submit = history.loc[history["id"] == task_id, "submit"].iloc[0]
        steps = [(0.0, "SUBMITTED", 0), (3.0, "IN_PROGRESS", 0), (10.0 + k, "IN_PROGRESS", 15),
                 (20.0 + k, "IN_PROGRESS", 40)]
        steps += [(26.0 + 2 * k, "FAILURE", 40)] if k == 2 else [(30.0 + 2 * k, "IN_PROGRESS", 85),
                                                                  (36.0 + 3 * k, "SUCCESS", 100)]
        for elapsed, status, progress in steps:
            rows.append({"task_id": task_id, "time": submit + pd.Timedelta(seconds=elapsed), "status": status,
                         "progress": progress, "elapsed_s": elapsed})
    rows.append({"task_id": "orphan", "time": T0, "status": "SUBMITTED", "progress": 0, "elapsed_s": np.nan})
    df = pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)
    df["time"] = pd.to_datetime(df["time"], utc=True)
    df["progress"] = df["progress"].astype(int)
    return df


# ------------------------------------------------------------------ checks


def drawn_texts(fig):
    """The texts a reader sees: titles, labels, tick labels, legends and free texts."""
    found = [t for t in (fig._suptitle,) if t is not None]
    for ax in fig.axes:
        found += [ax.title, ax._left_title, ax._right_title, *ax.texts]
        if ax.axison:
            found += [ax.xaxis.label, ax.yaxis.label]
            for axis, (low, high) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
                found += [tick.label1 for tick in axis.get_major_ticks()  # only ticks in view are drawn
                          if min(low, high) <= tick.get_loc() <= max(low, high)]
        elif ax.yaxis.label.get_visible():
            found.append(ax.yaxis.label)
        if ax.get_legend() is not None:
            found += [*ax.get_legend().get_texts(), ax.get_legend().get_title()]
    return [t for t in found if t.get_visible() and t.get_text().strip()]


def render(fig, path):
    """Draw with Agg, save a PNG, and check that no text sticks out of the figure (clipped labels)."""
    assert isinstance(fig, Figure)
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    fig.savefig(path)
    with Image.open(path) as img:
        assert img.format == "PNG" and img.width > 200 and img.height > 150
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    for text in drawn_texts(fig):
        ext = text.get_window_extent(renderer)
        assert ext.x0 >= box.x0 - 1 and ext.x1 <= box.x1 + 1 and ext.y0 >= box.y0 - 1 and ext.y1 <= box.y1 + 1, \
            f"text {text.get_text()!r} is clipped: {ext} outside {box}"
    return fig


def texts(ax):
    return [t.get_text() for t in ax.texts]


def legend_texts(ax):
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def bars(ax):
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def unchanged(df):
    return df.copy(deep=True)


# ------------------------------------------------------------------ timings


def test_timings_by_prompt(history, tmp_path):
    before = unchanged(history)
    fig = render(plots.timings(history), tmp_path / "timings_prompt.png")
    pd.testing.assert_frame_equal(history, before)
    (ax,) = fig.axes
    assert "prompt" in ax.get_title()
    assert ax.get_xlabel() == "seconds"
    assert legend_texts(ax) == ["queue", "run"]
    queue, run = bars(ax)
    assert len(queue) == len(run) == 3  # SLOW has no run time yet: skipped
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 3 and all(len(label.replace(r"\$", "$")) <= 40 for label in labels)  # as drawn
    assert labels[0].startswith(r"a \$5 bill")  # the slowest on top; "$" drawn literally, not as mathtext
    assert labels[1].startswith("cyberpunk city street") and labels[1].endswith("…")
    assert labels[2].startswith("a red fox")
    assert not any(label.startswith("a prompt still") for label in labels)
    totals = [q.get_width() + r.get_width() for q, r in zip(queue, run)]
    assert totals == sorted(totals, reverse=True)
    notes = texts(ax)
    fox = history[(history["prompt"] == FOX) & history["run_s"].notna()]
    assert len(fox) == 5  # 3 seeds, U1 and V2; the running U3 and the failed reroll have no run time
    fox_row = labels.index(next(label for label in labels if label.startswith("a red fox")))
    assert len(notes) == 3 and notes[fox_row].endswith("s  (n=5)")
    assert queue[fox_row].get_width() == pytest.approx(fox["queue_s"].mean())
    assert run[fox_row].get_width() == pytest.approx(fox["run_s"].mean())
    assert run[fox_row].get_x() == pytest.approx(fox["queue_s"].mean())  # stacked after the queue bar


def test_timings_by_numeric_column_orders_values(history, tmp_path):
    df = history.copy()
    df.loc[df["prompt"] == MONEY, "stylize"] = pd.NA
    fig = render(plots.timings(df, by="stylize"), tmp_path / "timings_stylize.png")
    (ax,) = fig.axes
    assert "stylize" in ax.get_title() and ax.get_ylabel() == "stylize"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["250", "750", "(none)"]


def test_timings_top_and_list_columns(history, tmp_path):
    df = history.copy()
    df["sref"] = [["https://s.mj.run/a"] if i % 2 else ["random"] for i in range(len(df))]
    fig = render(plots.timings(df, by="sref", top=1), tmp_path / "timings_top.png")
    (ax,) = fig.axes
    assert len(bars(ax)[0]) == 1
    assert "sref" in ax.get_title() and "1 of 2 groups" in ax.get_title()


def test_timings_without_any_timing_says_so(history, tmp_path):
    df = history.assign(queue_s=np.nan, run_s=np.nan)
    fig = render(plots.timings(df, by="aspect"), tmp_path / "timings_empty.png")
    (ax,) = fig.axes
    assert "aspect" in ax.get_title() and "no tasks" in texts(ax)[0] and not bars(ax)


def test_timings_unknown_column(history):
    with pytest.raises(ValueError, match="'promt' is not a column"):
        plots.timings(history, by="promt")


# ------------------------------------------------------------------ progress curves


def test_progress_curves_labelled_by_prompt(history, snapshots, tmp_path):
    before, snaps_before = unchanged(history), unchanged(snapshots)
    fig = render(plots.progress_curves(snapshots, history), tmp_path / "progress_prompt.png")
    pd.testing.assert_frame_equal(history, before)
    pd.testing.assert_frame_equal(snapshots, snaps_before)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "seconds since submit" and ax.get_ylabel() == "progress (%)"
    assert ax.get_title()
    assert len(ax.lines) == 4  # the orphan without elapsed time is skipped
    labels = legend_texts(ax)
    ids = list(history["id"][:4])
    fox = "a red fox in the snow, national…"  # cut to 32 characters
    assert labels[:3] == [f"{fox} · {ids[0][-6:]}", f"{fox} · {ids[1][-6:]}",  # same prompt: + short id
                          f"{fox} · {ids[2][-6:]} (FAILURE)"]
    assert labels[3].startswith("cyberpunk city") and "·" not in labels[3]
    assert ax.get_legend().get_title().get_text() == "prompt"
    assert ax.lines[2].get_linestyle() == "--" and ax.lines[0].get_linestyle() == "-"
    x, y = ax.lines[0].get_data()
    assert list(y) == [0, 0, 15, 40, 85, 100] and list(x)[0] == 0


def test_progress_curves_without_df_and_limited(history, snapshots, tmp_path):
    fig = render(plots.progress_curves(snapshots, max_tasks=2), tmp_path / "progress_ids.png")
    (ax,) = fig.axes
    assert len(ax.lines) == 2 and "latest 2 of 4" in ax.get_title()
    assert legend_texts(ax) == [history["id"][2][-6:] + " (FAILURE)", history["id"][3][-6:]]


def test_progress_curves_other_label_and_errors(history, snapshots, tmp_path):
    fig = render(plots.progress_curves(snapshots, history, label="seed"), tmp_path / "progress_seed.png")
    ids = list(history["id"][:4])
    assert legend_texts(fig.axes[0]) == [f"11 · {ids[0][-6:]}", "22", "33 (FAILURE)", f"11 · {ids[3][-6:]}"]
    with pytest.raises(ValueError, match="'colour' is not a column"):
        plots.progress_curves(snapshots, history, label="colour")
    with pytest.raises(ValueError, match="'elapsed_s'"):
        plots.progress_curves(snapshots.drop(columns="elapsed_s"))


def test_progress_curves_many_tasks(tmp_path):
    rows = [{"task_id": f"17400000000{k:05d}", "time": T0 + pd.Timedelta(seconds=k + e), "status": "IN_PROGRESS",
             "progress": min(100, int(e * (2 + k % 5))), "elapsed_s": float(e)}
            for k in range(35) for e in range(0, 60, 6)]
    snaps = pd.DataFrame(rows, columns=SNAPSHOT_COLUMNS)
    tasks = frame([task_row(f"17400000000{k:05d}", f"prompt number {k} with a few more words --s {k * 10}")
                   for k in range(35)])
    fig = render(plots.progress_curves(snaps, tasks), tmp_path / "progress_many.png")
    (ax,) = fig.axes
    assert len(ax.lines) == 30 and "latest 30 of 35" in ax.get_title()
    assert legend_texts(ax)[0] == "prompt number 5 with a few…"
    colors = {matplotlib.colors.to_hex(line.get_color()) + line.get_marker() for line in ax.lines}
    assert len(colors) == 30  # no two lines look alike


def test_progress_curves_empty(tmp_path):
    fig = render(plots.progress_curves(pd.DataFrame(columns=SNAPSHOT_COLUMNS)), tmp_path / "progress_empty.png")
    assert not fig.axes[0].lines


# ------------------------------------------------------------------ contact sheet


def image_count(fig):
    return sum(len(ax.images) for ax in fig.axes)


def test_contact_sheet_prompt_by_seed(history, tmp_path):
    before = unchanged(history)
    df = history.copy()
    df.loc[df["id"] == df["id"].iloc[4], "thumb_path"] = None  # falls back to image_path
    df.loc[df["id"] == df["id"].iloc[4], "image_path"] = make_png(tmp_path / "full.png", (10, 10, 10), size=(256, 256))
    df.loc[df["id"] == df["id"].iloc[8], "thumb_path"] = str(tmp_path / "gone.png")  # missing file
    fig = render(plots.contact_sheet(df), tmp_path / "contact_prompt_seed.png")
    pd.testing.assert_frame_equal(history, before)
    rows = ["a red fox", "cyberpunk", r"a \$5 bill", "a prompt still"]
    assert len(fig.axes) == 4 * 4  # the running SLOW task has no seed: a "(none)" column
    grid = np.array(fig.axes).reshape(4, 4)
    assert [ax.get_title() for ax in grid[0]] == ["11", "22", "33", "(none)"]
    assert [ax.get_title() for ax in grid[1]] == ["", "", "", ""]
    for ax, start in zip(grid[:, 0], rows):
        assert ax.get_ylabel().startswith(start)
    assert "\n" in grid[1, 0].get_ylabel()  # the long prompt is wrapped, not one long line
    assert image_count(fig) == 8  # 9 IMAGINE tasks, one with a missing file
    assert len(grid[1, 1].images) == 1 and max(grid[1, 1].images[0].get_array().shape) <= 400  # image_path
    assert not grid[2, 2].images and texts(grid[2, 2]) == ["no image"]
    assert not grid[3, 3].images and texts(grid[3, 3]) == ["IN_PROGRESS"]
    assert not grid[3, 1].axison and not grid[3, 1].images and not texts(grid[3, 1])  # no task: blank
    assert not grid[0, 3].axison
    assert grid[0, 0].images and texts(grid[0, 0]) == ["+4"]  # the IMAGINE and its 4 children: first shown
    title = fig.get_suptitle()
    assert "prompt" in title and "seed" in title and "the first is shown" in title


def test_contact_sheet_any_columns_and_limits(history, tmp_path):
    df = history[(history["action"] == "IMAGINE") & (history["status"] == "SUCCESS")].copy()
    fig = render(plots.contact_sheet(df, rows="seed", cols="stylize", max_rows=2, max_cols=2),
                 tmp_path / "contact_seed_stylize.png")
    grid = np.array(fig.axes).reshape(2, 2)
    assert [ax.get_title() for ax in grid[0]] == ["100", "250"]
    assert [ax.get_ylabel() for ax in grid[:, 0]] == ["11", "22"]
    assert "2 of 3 seed values" in fig.get_suptitle() and "2 of 3 stylize values" in fig.get_suptitle()
    assert image_count(fig) == 4
    # a cell with no task at all is blank: axis off, nothing drawn
    sparse = df[~((df["seed"] == 22) & (df["stylize"] == 250))]
    fig = render(plots.contact_sheet(sparse, rows="seed", cols="stylize"), tmp_path / "contact_sparse.png")
    grid = np.array(fig.axes).reshape(3, 3)
    assert not grid[1, 1].axison and not grid[1, 1].images and not texts(grid[1, 1])
    assert image_count(fig) == 8


def test_contact_sheet_unknown_columns(history):
    with pytest.raises(ValueError, match="'sead' is not a column"):
        plots.contact_sheet(history, cols="sead")
    with pytest.raises(ValueError, match="'prompts' is not a column"):
        plots.contact_sheet(history, rows="prompts")


# ------------------------------------------------------------------ lineage


def nodes(ax):
    return {p.get_gid()[5:]: p for p in ax.patches if isinstance(p, FancyBboxPatch) and (p.get_gid() or "")
            .startswith("node:")}


def edges(ax):
    return sorted(p.get_gid()[5:] for p in ax.patches if isinstance(p, FancyArrowPatch))


def test_lineage_tree(history, tmp_path):
    before = unchanged(history)
    root = history["id"].iloc[0]
    fig = render(plots.lineage(history, root), tmp_path / "lineage.png")
    pd.testing.assert_frame_equal(history, before)
    (ax,) = fig.axes
    found = nodes(ax)
    assert set(found) == {root, "1740000000100001", "1740000000100002", "1740000000100003", "1740000000100004"}
    assert edges(ax) == sorted([f"{root}->1740000000100001", f"{root}->1740000000100002",
                                f"{root}->1740000000100003", "1740000000100002->1740000000100004"])
    assert len(ax.images) == 3  # root, U1 and V2 have thumbnails
    labels = texts(ax)
    assert f"IMAGINE\n{root[-6:]}" in labels
    assert "UPSCALE U1\n100001" in labels and "VARIATION V2\n100002" in labels
    assert "REROLL ↻\n100003" in labels  # the 🔄 emoji is not in matplotlib's font
    y = {task_id: patch.get_y() for task_id, patch in found.items()}
    assert y[root] > y["1740000000100001"] == y["1740000000100002"] > y["1740000000100004"]
    x = {task_id: patch.get_x() + patch.get_width() / 2 for task_id, patch in found.items()}
    assert x["1740000000100001"] < x["1740000000100002"] < x["1740000000100003"]
    assert x[root] == pytest.approx((x["1740000000100001"] + x["1740000000100003"]) / 2)
    colors = {task_id: patch.get_edgecolor()[:3] for task_id, patch in found.items()}
    assert colors["1740000000100003"] != colors["1740000000100001"] != colors["1740000000100004"]
    assert set(legend_texts(ax)) == {"SUCCESS", "FAILURE", "IN_PROGRESS"}
    assert root[-6:] in ax.get_title() and "5 tasks" in ax.get_title() and "a red fox" in ax.get_title()


def test_lineage_single_node_without_thumbs(history, tmp_path):
    task_id = "1740000000200001"
    fig = render(plots.lineage(history, task_id), tmp_path / "lineage_single.png")
    (ax,) = fig.axes
    assert list(nodes(ax)) == [task_id] and not edges(ax) and not ax.images
    assert "1 task" in ax.get_title()


def test_lineage_wide_tree(tmp_path):
    rows = [task_row("root000001", "a wide tree of tasks --v 6")]
    for i in range(4):
        rows.append(task_row(f"var00000{i}", "a wide tree of tasks --v 6", parent="root000001",
                             action="VARIATION", button=f"V{i + 1}", submit=10 + i))
        for j in range(4):
            rows.append(task_row(f"up0000{i}{j}", "a wide tree of tasks --v 6", parent=f"var00000{i}",
                                 root="root000001", action="UPSCALE", button=f"U{j + 1}", submit=100 + 10 * i + j,
                                 status="SUCCESS" if j else "NOT_START"))
    fig = render(plots.lineage(frame(rows), "root000001"), tmp_path / "lineage_wide.png")
    (ax,) = fig.axes
    assert len(nodes(ax)) == 21 and len(edges(ax)) == 20
    assert fig.get_figwidth() <= 30


def test_lineage_unknown_root(history):
    with pytest.raises(ValueError, match="no task with id 'nope'"):
        plots.lineage(history, "nope")


# ------------------------------------------------------------------ shared behaviour


def test_figures_render_in_jupyter_without_pyplot(history):
    import subprocess
    import sys
    fig = plots.timings(history)
    assert type(fig.get_layout_engine()).__name__ == "ConstrainedLayoutEngine"
    assert Image.open(io.BytesIO(fig._repr_png_())).format == "PNG"  # shown even without %matplotlib inline
    code = "import sys, mjnb.plots; assert 'matplotlib.pyplot' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "MPLBACKEND": "Agg"})


# ------------------------------------------------------------------ the users' language

ZH_FOX = "一只在雪地里的红狐狸，国家地理摄影 --ar 3:2 --s 250"
ZH_CITY = "夜晚的赛博朋克城市街道，霓虹灯倒映在水坑里，电影感灯光，超精细 --ar 16:9"
ARTIFACT_PLOTS = Path(__file__).parents[2] / "artifacts" / "plots"


@pytest.fixture(scope="module")
def cjk_font():
    """A CJK font for matplotlib: present, or installed with apt-get as root; else skip, saying why."""
    from mjnb import fonts

    def lacking():
        return fonts.missing_glyphs(["中文"], fonts.families(["中文"]))

    if not lacking():
        return
    reason = "no CJK font is installed and this user cannot apt-get install fonts-noto-cjk"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        got = subprocess.run("apt-get install -y -qq fonts-noto-cjk || (apt-get update -qq && "
                             "apt-get install -y -qq fonts-noto-cjk)", shell=True, env=env,
                             capture_output=True, text=True, timeout=900)
        fonts._rescanned = False  # look at the system's fonts again
        if not lacking():
            return
        reason = f"apt-get install fonts-noto-cjk did not give matplotlib a CJK font: {got.stderr[-300:]}"
    print(reason, file=sys.stderr)
    pytest.skip(reason)


def zh_history(tmp_path):
    rows = []
    for p, prompt in enumerate([ZH_FOX, ZH_CITY]):
        for s, stylize in enumerate((50, 750)):
            n = 10 * p + s
            thumb = make_png(tmp_path / f"zh{n}.png", (40 + 80 * p, 90, 60 + 100 * s), size=(96, 64))
            row = task_row(f"17410000000{n:05d}", prompt, submit=5.0 * n, queue=1.0 + p, run=20.0 + s, thumb=thumb)
            rows.append({**row, "stylize": stylize})
    df = frame(rows)
    df["factor_prompt"] = [ZH_FOX.split(" --")[0]] * 2 + [ZH_CITY.split(" --")[0]] * 2
    df["factor_stylize"] = [50, 750, 50, 750]
    return df


def _fonts_of(fig):
    return {tuple(t.get_fontfamily()) for t in drawn_texts(fig)}


def test_chinese_contact_sheet_draws_every_glyph_and_names_factors(cjk_font, tmp_path):
    import warnings
    df = zh_history(tmp_path)
    ARTIFACT_PLOTS.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph 20013 missing from font(s) DejaVu Sans" fails the test
        fig = render(plots.contact_sheet(df, rows="factor_prompt", cols="factor_stylize"),
                     ARTIFACT_PLOTS / "contact-sheet-chinese.png")
    title = fig._suptitle.get_text()
    assert title.startswith("prompt (rows) × stylize (columns)") and "factor_" not in title
    assert any("CJK" in " ".join(f) or "Hei" in " ".join(f) for f in _fonts_of(fig)), _fonts_of(fig)
    row_labels = [ax.yaxis.label.get_text() for ax in fig.axes if ax.yaxis.label.get_text()]
    assert any("红狐狸" in label for label in row_labels)
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:  # a wrapped Chinese row label stays left of its images, inside the figure
        if ax.yaxis.label.get_text():
            assert ax.yaxis.label.get_window_extent(renderer).x0 >= 0


def test_chinese_timings_and_lineage_have_their_glyphs(cjk_font, tmp_path):
    import warnings
    df = zh_history(tmp_path)
    root = df["id"].iloc[0]
    kids = [task_row("1741000000900001", ZH_FOX, parent=root, root=root, action="VARIATION",
                     button="Vary (Strong)", submit=100.0, queue=1.0, run=9.0),
            task_row("1741000000900002", ZH_FOX, parent=root, root=root, action="UPSCALE",
                     button="Upscale (Creative)", submit=101.0, queue=1.0, run=9.0),
            task_row("1741000000900003", ZH_FOX, parent=root, root=root, action="ZOOM", button="Custom Zoom",
                     status="FAILURE", submit=102.0)]
    kids[2]["fail_reason"] = "上游任务超时（超过1小时）"
    whole = pd.concat([df, frame(kids)], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = render(plots.timings(df, by="factor_prompt"), tmp_path / "zh-timings.png")
        assert fig.axes[0].get_ylabel() == "prompt" and "factor_" not in fig.axes[0].get_title()
        tree = render(plots.lineage(whole, root), ARTIFACT_PLOTS / "lineage-chinese.png")
    (ax,) = tree.axes
    renderer = tree.canvas.get_renderer()
    boxes = [p.get_window_extent(renderer) for p in ax.patches if str(p.get_gid()).startswith("node:")]
    for text in ax.texts:  # every label sits inside its own box
        ext = text.get_window_extent(renderer)
        assert any(b.x0 - 1 <= ext.x0 and ext.x1 <= b.x1 + 1 and b.y0 - 1 <= ext.y0 and ext.y1 <= b.y1 + 1
                   for b in boxes), f"{text.get_text()!r} overflows its box"
    assert any("超时" in t for t in texts(ax))
