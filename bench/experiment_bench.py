"""How close an experiment gets to the ideal makespan, and what its tracking costs in requests.

One run of N imagine items at concurrency 3 against the in-process simulator (its own 3 job
slots), with the client's default tracker settings. Prints:

* makespan / ideal (target <= 1.05, at concurrency 3 = the account's 3 slots), where
  - makespan = wall time from creating the Experiment until every item is SUCCESS or FAILURE as
    the client saw it (the moment `exp.wait()` can return), and
  - ideal = the simulator's own per-task times (dispatch delay + start_time..finish_time; any
    wait in the server's queue left out) packed greedily, in item order, onto the account's
    slots with zero gap between one task's finish and the next submit. That is what a client
    with instant knowledge of each finish would achieve.
  The rest is the time between a job finishing on the server and the client seeing it (the
  relay's sync interval plus the tracker's poll interval) before it may submit the next item:
  the price of never exceeding `concurrency` live tasks.
* the tracker's requests per minute over the run, next to per-task polling every 5 s (one fetch
  per live task every 5 s) and per-task polling at the tracker's own 1 s freshness.

    python bench/experiment_bench.py [--items 12] [--speed 1] [--sync-interval 0.5]
                                     [--concurrency 3] [--slots 3] [--poll-interval 1]

(--concurrency 4 with --slots 3 shows what letting the server queue one job buys.)
"""

from __future__ import annotations

import argparse
import heapq
import statistics
import tempfile
import time

import mjnb
from mjnb import sim as simulator
from mjnb.store import History
from mjnb.tracker import tracker_for


def ideal_makespan(durations: list[float], slots: int) -> float:
    """Greedy list scheduling in submission order: each job starts when the earliest slot frees."""
    free = [0.0] * slots
    end = 0.0
    for d in durations:
        start = heapq.heappop(free)
        heapq.heappush(free, start + d)
        end = max(end, start + d)
    return end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--speed", type=float, default=1.0, help="simulator speed (1: a grid takes ~32 s)")
    parser.add_argument("--sync-interval", type=float, default=0.5, help="the simulated relay's sync interval")
    parser.add_argument("--poll-interval", type=float, default=None, help="client poll_interval (default: config)")
    parser.add_argument("--concurrency", type=int, default=3, help="the experiment's live-task limit")
    parser.add_argument("--slots", type=int, default=3, help="the simulated account's job slots")
    args = parser.parse_args()

    with simulator.start(speed=args.speed, sync_interval=args.sync_interval, seed=1,
                         concurrency=args.slots) as sim:
        settings = {} if args.poll_interval is None else {"poll_interval": args.poll_interval}
        client = mjnb.Client(base_url=sim.url, api_key="sk-bench",
                             history=History(tempfile.mkdtemp(prefix="mjnb-bench-")), **settings)
        tracker = tracker_for(client)
        started = time.monotonic()
        exp = mjnb.Experiment(client, ["a lighthouse at dusk"], {"--seed": list(range(1, args.items + 1))},
                              concurrency=args.concurrency, name="bench")
        done_at = None
        while done_at is None:
            if all(i.status in ("done", "failed") for i in exp.items):
                done_at = time.monotonic()
            else:
                time.sleep(0.01)  # the bench's own clock; the experiment is event driven
        makespan = done_at - started
        requests = tracker.requests
        tasks = {t["state"]: t for t in sim.tasks()}
        rows = [tasks[i.key] for i in exp.items]
        durations = [t["finish_time"] - t["submit_time"] for t in rows]
        queued = [t["start_time"] - t["submit_time"] for t in rows]
        run_only = [t["finish_time"] - t["start_time"] + 1.5 / args.speed for t in rows]  # queue wait removed
        ideal = ideal_makespan(run_only, args.slots)
        server_span = max(t["finish_time"] for t in rows) - min(t["submit_time"] for t in rows)
        by_slot_gap = []  # server finish -> the client's next submit, per item after the first `concurrency`
        finishes = sorted(t["finish_time"] for t in rows)
        submits = sorted(t["submit_time"] for t in rows)[args.slots:]
        for f, s in zip(finishes, submits):
            by_slot_gap.append(s - f)
        lifetimes = sum(durations)  # seconds of task life, summed
        per_task_5s = lifetimes / 5.0 / (makespan / 60)
        per_task_1s = lifetimes / 1.0 / (makespan / 60)
        client.close()

    print(f"items {args.items}, concurrency {args.concurrency}, server slots {args.slots}, simulator speed {args.speed:g} "
          f"(mean task life {statistics.mean(durations):.1f} s, submit to finish), relay sync {args.sync_interval:g} s, "
          f"poll_interval {client.config.poll_interval:g} s")
    print(f"makespan (client saw all final)   {makespan:7.2f} s")
    print(f"server span (first submit..last finish) {server_span:7.2f} s")
    print(f"ideal (server's own times, 3 slots, no gaps) {ideal:7.2f} s")
    print(f"makespan / ideal                  {makespan / ideal:7.3f}   (target <= 1.05)")
    print(f"server span / ideal               {server_span / ideal:7.3f}")
    print(f"finish -> next submit gap         mean {statistics.mean(by_slot_gap):.2f} s, "
          f"max {max(by_slot_gap):.2f} s over {len(by_slot_gap)} hand-overs")
    print(f"max wait in the server's queue    {max(queued):.2f} s (dispatch alone is {1.5 / args.speed:.2f} s)")
    print(f"tracker requests                  {requests} = {requests / (makespan / 60):.1f} per minute")
    print(f"per-task polling every 5 s        {per_task_5s:.1f} per minute")
    print(f"per-task polling every 1 s        {per_task_1s:.1f} per minute (the tracker's freshness)")


if __name__ == "__main__":
    main()
