"""How fast the history DataFrame builds, in a cold process, at 100,000 and 1,000,000 tasks.

Fills a fresh history with N synthetic but realistic tasks (prompts with parameters, five
progress snapshots each, lineage, a few tags), makes a big one of it (the same rows --times over,
new ids), then builds mjnb.history()'s DataFrame in fresh processes: the first build (which
writes the Arrow copy of the task table) and the following ones (median), with their peak RSS;
--baseline builds the same rows with the code before, side by side.

    python bench/history_bench.py [--tasks 100000] [--times 10] [--baseline /path/to/old/tree]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mjnb.models import TaskAction, TaskSnapshot, TaskStatus
from mjnb.store import History

SUBJECTS = ["a lighthouse at dusk", "a red fox in snow", "portrait of an astronaut", "a teapot on a table",
            "cyberpunk street at night", "watercolor map of a city", "a bowl of ramen", "mountain lake"]
STYLES = ["oil painting", "35mm photo", "isometric", "ukiyo-e", "pixel art", "studio lighting"]
PARAMS = ["--ar 3:2", "--ar 16:9 --s 250", "--v 6.1 --c 20", "--niji 6 --ar 2:3", "--s 750 --style raw",
          "--q .5 --seed {seed}", "--no text, watermark", "--sref https://example.com/s.png --sw 200"]


def fill(store: History, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    db = store._db()
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    db.execute("BEGIN IMMEDIATE")
    roots = []
    for i in range(n):
        t0 = start + timedelta(seconds=i * 7)
        prompt = (f"{rng.choice(SUBJECTS)}, {rng.choice(STYLES)} "
                  f"{rng.choice(PARAMS).format(seed=rng.randrange(10**9))}")
        parent = rng.choice(roots) if roots and rng.random() < 0.4 else None
        done = rng.random() > 0.05
        snap = TaskSnapshot(
            id=str(1730000000000000 + i), action=TaskAction.UPSCALE if parent else TaskAction.IMAGINE,
            status=TaskStatus.SUCCESS if done else TaskStatus.FAILURE, progress=100, prompt=prompt,
            final_prompt=prompt + " --v 7", submit_time=t0, start_time=t0 + timedelta(seconds=rng.uniform(1, 20)),
            finish_time=t0 + timedelta(seconds=rng.uniform(25, 60)), parent_id=parent,
            image_url=f"https://cdn.example/{i}.png", fail_reason="" if done else "[Invalid parameter] --foo")
        store._upsert_task(db, "relay.example", snap, {"button": "U1" if parent else None, "mode": "fast"})
        for p in (0, 20, 45, 80, 100):
            db.execute("INSERT INTO snapshots VALUES (?,?,?,?,?,?)",
                       ("relay.example", snap.id, t0.timestamp() + p / 3, "IN_PROGRESS", p, None))
        if rng.random() < 0.02:
            db.execute("UPDATE tasks SET tags='[\"keeper\"]', rating=? WHERE id=?", (rng.randint(1, 5), snap.id))
        if not parent:
            roots.append(snap.id)
    db.execute("COMMIT")


CHILD = """
import sys, time
t0 = time.perf_counter()
from mjnb.store import History
import pandas, pyarrow  # imported before the clock starts: the build is timed, not the imports
h = History(sys.argv[1])
t1 = time.perf_counter()
df = h.dataframe()
t2 = time.perf_counter()
peak = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
print(len(df), t2 - t1, peak)
"""


def build(tree: Path, home: Path) -> tuple[int, float, float]:
    """One DataFrame build in a fresh process: (rows, seconds, peak RSS MB)."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(home)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tree)}, cwd=home, timeout=600)  # cwd: not this tree
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    rows, seconds, peak = out.stdout.split()
    return int(rows), float(seconds), float(peak)


def replicate(src: Path, dst: Path, times: int) -> None:
    """dst = src's tasks `times` over (new ids, later submit times): a big history in seconds, where
    filling it task by task would take an hour."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "history.sqlite3", dst / "history.sqlite3")
    db = sqlite3.connect(dst / "history.sqlite3", isolation_level=None)
    cols = [r[1] for r in db.execute("PRAGMA table_info(tasks)")]
    shift = {"submit_time", "start_time", "finish_time"}
    db.execute("BEGIN")
    for k in range(1, times):
        sel = [f"id || '-{k}'" if c == "id" else f"parent_id || '-{k}'" if c == "parent_id"
               else f"{c} + {k} * 1e7" if c in shift else f'"{c}"' for c in cols]
        db.execute(f"INSERT INTO tasks SELECT {','.join(sel)} FROM tasks WHERE id NOT LIKE '%-%'")
    db.execute("COMMIT")
    db.close()


def as_schema_1(src: Path, dst: Path) -> None:
    """A copy the code before schema 2 can open (no change log)."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "history.sqlite3", dst / "history.sqlite3")
    db = sqlite3.connect(dst / "history.sqlite3", isolation_level=None)
    for name in ("task_changes_insert", "task_changes_update", "task_changes_delete"):
        db.execute(f"DROP TRIGGER IF EXISTS {name}")
    db.execute("DROP TABLE IF EXISTS task_changes")
    db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks filled one by one")
    parser.add_argument("--times", type=int, default=10, help="the big history: the filled one this many times over")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="a checkout of the code before, built side by side")
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp) / "small", Path(tmp) / "big"
        store = History(small)
        t0 = time.perf_counter()
        fill(store, args.tasks)
        fill_s = time.perf_counter() - t0
        store._db().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = sum(f.stat().st_size for f in small.glob("history.sqlite3*"))
        replicate(small, big, args.times)
        print(f"filled {args.tasks:,} tasks in {fill_s:.0f} s ({size / args.tasks * 1000 / 1e6:.2f} MB of "
              f"database per 1,000 tasks with 5 progress snapshots each); big history: {args.times}x that")
        print(f"each build in a fresh process (cold process; imports not timed); medians of {args.repeat}")
        for home in (small, big):
            n = None
            first = build(here, home)  # no Arrow copy yet: it is made by this build
            warm = [build(here, home) for _ in range(args.repeat)]
            n = first[0]
            line = (f"  {n:>9,} tasks  this tree: first build (no Arrow copy yet) {first[1]:6.2f} s, peak "
                    f"{first[2]:5.0f} MB; with its copy: median {statistics.median(w[1] for w in warm):5.2f} s "
                    f"(min {min(w[1] for w in warm):.2f}, max {max(w[1] for w in warm):.2f}), peak "
                    f"{statistics.median(w[2] for w in warm):5.0f} MB")
            print(line)
            if args.baseline:
                old_home = Path(tmp) / f"old-{home.name}"
                as_schema_1(home, old_home)
                old = [build(args.baseline.resolve(), old_home) for _ in range(args.repeat)]
                print(f"  {n:>9,} tasks  baseline: median {statistics.median(o[1] for o in old):6.2f} s "
                      f"(min {min(o[1] for o in old):.2f}, max {max(o[1] for o in old):.2f}), peak "
                      f"{statistics.median(o[2] for o in old):5.0f} MB")
        print("targets: 1,000,000 tasks <= 2 s and <= 1 GB peak; 100,000 <= 0.3 s")


if __name__ == "__main__":
    main()
