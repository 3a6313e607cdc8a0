"""RSS per finished task at Midjourney's real size (2048 px grids), this tree beside a baseline tree.

Each measurement is a fresh Python process (its own MJNB_HOME) running a real experiment against
one simulator process (the faithful relay, 3 slots + 10 queued, `--tile-side 1024`, so every grid
is 2048 x 2048 like Midjourney's). The child first runs a small warm-up experiment (imports,
threads, SQLite, first decodes: the cold costs), then measures VmRSS after gc before and after an
experiment of N items whose display pictures have all arrived; growth / N is the figure. The
simulator runs in its own process, so its render cache is not counted.

Time scale: the relay at --speed (default 100: a 45 s grid takes 0.45 s, the 15 s sync 0.15 s); the
client's poll intervals are scaled the same way. Memory does not depend on the scale.

    python bench/memory_bench.py --baseline /path/to/old/tree [--items 150] [--warm 100] [--runs 3] [--big 1000]

--baseline is a checkout of the code before (e.g. `git worktree add --detach ../base <commit>`);
its client runs against the same simulator. --big N runs one N-item experiment on this tree and
reports its RSS; the baseline's is projected from its per-task growth (at ~17 MB a task it would
need many GB, more than this machine may give), and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
KEY = "sk-memory-bench"

CHILD = textwrap.dedent("""
    import gc, json, sys, time
    import mjnb

    def status(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) / 1024  # MB
    url, speed, items, warm = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    mjnb.configure(base_url=url, api_key=%r, poll_interval=1 / speed, poll_max_interval=10 / speed)

    def run(name, n):
        exp = mjnb.experiment([f"{name} item {i}, a harbour at dawn" for i in range(n)], concurrency=3,
                              name=name).wait(timeout=3600)
        tasks = exp.tasks
        deadline = time.monotonic() + 120  # display pictures arrive off the tracker's thread
        while any(t.latest_picture is None for t in tasks) and time.monotonic() < deadline:
            time.sleep(0.05)
        return exp

    warmup = run("warm", warm)
    gc.collect()
    before = status("VmRSS")
    exp = run("run", items)
    gc.collect()
    after = status("VmRSS")
    print(json.dumps({"before": before, "after": after, "peak": status("VmHWM"),
                      "done": sum(t.status == "SUCCESS" for t in exp.tasks), "items": items}))
""" % KEY)


def start_sim(speed: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "mjnb.sim", "--port", "0", "--speed", str(speed),
                             "--tile-side", "1024", "--seed", "7"], stdout=subprocess.PIPE, text=True,
                            cwd=HERE, env={**os.environ, "PYTHONPATH": str(HERE)})
    line = proc.stdout.readline()
    return proc, line.split("listening on ")[1].split()[0]


def measure(tree: Path, url: str, speed: float, items: int, warm: int) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PYTHONPATH": str(tree), "MJNB_HOME": home}
        env.pop("MJNB_BASE_URL", None)
        out = subprocess.run([sys.executable, "-c", CHILD, url, str(speed), str(items), str(warm)],
                             capture_output=True, text=True, env=env, cwd=home, timeout=7200)
        if out.returncode:
            raise SystemExit(f"child on {tree} failed:\n{out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, help="a checkout of the code before the change")
    parser.add_argument("--items", type=int, default=150)
    parser.add_argument("--warm", type=int, default=100,
                        help="items before measuring: the allocator's per-thread arenas fill over the first "
                             "~100 decodes of 2048 px images, then RSS stays flat")
    parser.add_argument("--baseline-items", type=int, default=30, help="the baseline grows ~17 MB a task")
    parser.add_argument("--baseline-warm", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--speed", type=float, default=100.0)
    parser.add_argument("--big", type=int, default=0, help="also one experiment of this many items (this tree)")
    args = parser.parse_args()

    trees = [("this tree", HERE)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    sim, url = start_sim(args.speed)
    try:
        print(f"relay simulator at speed {args.speed:g} (15 s sync -> {15 / args.speed:.2f} s), "
              f"2048 x 2048 grids, 3 slots; {args.runs} runs each, a fresh process per run, warm RSS "
              f"(after a warm-up experiment in the same process)")
        per_task = {}
        for label, tree in trees:
            items, warm = (args.items, args.warm) if label == "this tree" else (args.baseline_items, args.baseline_warm)
            runs = [measure(tree, url, args.speed, items, warm) for _ in range(args.runs)]
            growth = [(r["after"] - r["before"]) / r["items"] for r in runs]
            per_task[label] = statistics.median(growth)
            print(f"  {label:10s} RSS growth per finished task over {items} items after {warm}: "
                  f"median {statistics.median(growth):6.2f} MB "
                  f"(min {min(growth):.2f}, max {max(growth):.2f}); warm RSS before "
                  f"{statistics.median(r['before'] for r in runs):.0f} MB, after "
                  f"{statistics.median(r['after'] for r in runs):.0f} MB; "
                  f"{min(r['done'] for r in runs)}/{items} SUCCESS")
        if args.big:
            r = measure(HERE, url, args.speed, args.big, args.warm)
            print(f"  {args.big}-item experiment, this tree (1 run): RSS {r['after']:.0f} MB at the end, "
                  f"peak {r['peak']:.0f} MB, {r['done']}/{args.big} SUCCESS")
            if "baseline" in per_task:
                print(f"  {args.big}-item experiment, baseline: not run; projected "
                      f"{per_task['baseline'] * args.big / 1024:.1f} GB of growth from its per-task figure")
    finally:
        sim.terminate()
        sim.wait(10)


if __name__ == "__main__":
    main()
