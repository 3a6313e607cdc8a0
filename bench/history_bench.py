"""How fast the history DataFrame builds, and how big the database grows.

Fills a fresh history with N synthetic but realistic tasks (prompts with parameters, five
progress snapshots each, lineage, a few tags), then prints the time to build mjnb's
DataFrame (target: under 1 s for 100,000 tasks on 2 cores) and the database size per 1,000
tasks.

    python bench/history_bench.py [--tasks 100000]
"""

from __future__ import annotations

import argparse
import random
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        store = History(home)
        t0 = time.perf_counter()
        fill(store, args.tasks)
        fill_s = time.perf_counter() - t0
        store._db().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = sum(f.stat().st_size for f in Path(home).glob("history.sqlite3*"))
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            df = store.dataframe()
            times.append(time.perf_counter() - t0)
        assert len(df) == args.tasks
        print(f"tasks: {args.tasks:,}   filled in {fill_s:.1f} s   DataFrame columns: {df.shape[1]}")
        print(f"DataFrame build: median {statistics.median(times):.3f} s over {args.repeat} runs "
              f"(min {min(times):.3f} s)   target < 1 s")
        print(f"database size: {size / 1e6:.1f} MB = {size / args.tasks * 1000 / 1e6:.2f} MB per 1,000 tasks "
              f"(with 5 progress snapshots each)")


if __name__ == "__main__":
    main()
