"""How close an experiment gets to the ideal makespan at real relay timing, before and after
submitting ahead into the account's queue, side by side in one run.

N imagine items at concurrency 3 against the faithful relay (15 s sync, 3 slots + 10 queued),
first with ahead=0 (the behaviour before: never more than `concurrency` submitted and
unfinished, so each hand-over waits for the relay's sync and the tracker's poll), then with the
queue depth learned from the submit answers. Prints, medians of --runs:

* makespan / ideal (target <= 1.05), where makespan = wall time from creating the Experiment
  until every item is final as the client saw it, and ideal = the simulator's own run times
  (dispatch + start..finish, queue waits left out) packed greedily onto the account's slots;
  "ideal shown by the relay" is the same schedule with its last finish rounded up to the relay's
  next sync, the earliest any client can see it (up to 15 s that no client can save);
* duplicate submits (states submitted twice: target 0) and queue-full refusals (submits beyond
  the account's queue: target 0), and the most submitted-unfinished at once.

    python bench/experiment_bench.py [--items 12] [--speed 5] [--sync-interval 15] [--runs 3]
"""

from __future__ import annotations

import argparse
import heapq
import math
import statistics
import tempfile
import time
from collections import Counter

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


def one_run(args, ahead, seed: int) -> dict:
    speed = args.speed
    with simulator.start(speed=speed, sync_interval=args.sync_interval, seed=seed, concurrency=args.slots,
                         queue_size=args.queue) as sim:
        client = mjnb.Client(base_url=sim.url, api_key="sk-bench", poll_interval=1 / speed,
                             poll_max_interval=10 / speed,
                             history=History(tempfile.mkdtemp(prefix="mjnb-bench-")))
        tracker = tracker_for(client)
        started, wall_started = time.monotonic(), time.time()
        exp = mjnb.Experiment(client, ["a lighthouse at dusk"], {"--seed": list(range(1, args.items + 1))},
                              concurrency=args.concurrency, name="bench", ahead=ahead)
        done_at = None
        while done_at is None:
            if all(i.status in ("done", "failed") for i in exp.items):
                done_at = time.monotonic()
            else:
                time.sleep(0.01)  # the bench's own clock; the experiment is event driven
        makespan = done_at - started
        tasks = sim.tasks()
        by_state = {t["state"]: t for t in tasks}
        rows = [by_state[i.key] for i in exp.items]
        run_only = [t["finish_time"] - t["start_time"] + 1.5 / speed for t in rows]  # queue wait removed
        ideal = ideal_makespan(run_only, args.slots)
        # the earliest a client can know the last finish: the relay's first sync after it
        tick = args.sync_interval / speed
        ideal_end = min(t["submit_time"] for t in rows) + ideal
        shown = sim.engine.started + math.ceil((ideal_end - sim.engine.started) / tick) * tick if tick else ideal_end
        ideal_relay = shown - wall_started
        states = Counter(t["state"] for t in tasks)
        finishes = sorted(t["finish_time"] for t in rows)
        starts = sorted(t["start_time"] for t in rows)[args.slots:]
        out = {"ratio": makespan / ideal, "ratio_relay": makespan / ideal_relay, "makespan": makespan * speed,
               "ideal": ideal * speed, "ideal_relay": ideal_relay * speed,
               "duplicates": sum(n - 1 for n in states.values() if n > 1), "submits": exp._submitter.submits,
               "queue_full": exp._submitter.queue_full, "most_live": exp._submitter.most_live,
               "gap": statistics.mean(s - f for f, s in zip(finishes, starts)) * speed,
               "rpm": tracker.requests / (makespan * speed / 60)}
        client.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--speed", type=float, default=5.0, help="time scale (1: real relay timing, a grid ~45 s)")
    parser.add_argument("--sync-interval", type=float, default=15.0, help="the relay's sync, simulated seconds")
    parser.add_argument("--concurrency", type=int, default=3, help="the experiment's running-job limit")
    parser.add_argument("--slots", type=int, default=3, help="the simulated account's job slots")
    parser.add_argument("--queue", type=int, default=10, help="the simulated account's wait queue")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = {label: [one_run(args, ahead, seed=1 + i) for i in range(args.runs)]
               for label, ahead in (("ahead 0 (before)", 0), ("ahead learned", None))}

    def med(label, key, fmt):
        return fmt.format(statistics.median(r[key] for r in results[label]))

    print(f"{args.items} items at concurrency {args.concurrency}, account {args.slots} slots + {args.queue} queued, "
          f"relay sync {args.sync_interval:g} s, time scale speed {args.speed:g} (figures in simulated seconds), "
          f"medians of {args.runs} runs, each a fresh simulator and client (warm process)")
    labels = list(results)
    print(f"  {'':36s}" + "".join(f"{label:>20s}" for label in labels) + "   target")
    for name, key, fmt, target in (
            ("makespan / ideal", "ratio", "{:.3f}", "<= 1.05"),
            ("makespan / ideal shown by the relay", "ratio_relay", "{:.3f}", "<= 1.05"),
            ("makespan (client saw all final)", "makespan", "{:.1f} s", ""),
            ("ideal (server run times, no gaps)", "ideal", "{:.1f} s", ""),
            ("ideal, last finish at the next sync", "ideal_relay", "{:.1f} s", ""),
            ("server finish -> next start", "gap", "{:.2f} s", ""),
            ("duplicate submits", "duplicates", "{:.0f}", "0"),
            ("submits sent", "submits", "{:.0f}", f"{args.items}"),
            ("queue-full refusals (oversubmission)", "queue_full", "{:.0f}", "0"),
            ("most submitted-unfinished at once", "most_live", "{:.0f}", f"<= {args.slots + args.queue}"),
            ("tracker requests / min", "rpm", "{:.1f}", "")):
        print(f"  {name:36s}" + "".join(f"{med(label, key, fmt):>20s}" for label in labels) + f"   {target}")


if __name__ == "__main__":
    main()
