"""Keep 50 tasks live on the faithful relay (15 s sync) and measure the tracker beside a naive
per-task poller that is actually run, against the same tasks, in the same run.

The naive poller is what peers do: GET /mj/task/{id}/fetch for every live task every 5 s. Both
watch the tasks that one client keeps live (topped up as they finish). For each change of the
relay's view of a task (read from the simulator's own history at its sync ticks) the delay is
the time until each observer first showed that state or a later one. Figures are in simulated
time: requests per simulated minute, delays in simulated seconds (wall time x speed), so any
fixed cost (HTTP, threads) counts `speed` times over: the scale only makes figures worse.

Cold: from the first submit, including the tracker learning the relay's clock. Warm: from the
moment it has locked onto the sync phase (or --warm simulated seconds when it never does).
Medians of --runs runs, each a fresh simulator and client.

    python bench/tracker_load.py [--tasks 50] [--sync 15] [--speed 3] [--seconds 240] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import mjnb
from mjnb import sim as simulator
from mjnb.tracker import tracker_for

def relay_view_changes(engine, task_id: str, interval: float, until: float) -> list[tuple[float, tuple]]:
    """(time, (status, progress)) each time the relay's view of a task changed, read from the
    simulator's own history: the relay shows upstream state as of its last sync tick."""
    task = engine.tasks[task_id]
    out, last = [], None
    if interval <= 0:  # no relay lag: every upstream change is visible at once
        for t, state in task.history:
            view = (state["status"], state["progress"])
            if view != last and t <= until:
                out.append((t, view))
                last = view
        return out
    k = int((task.submit_time - engine.started) // interval) + 1
    while True:
        tick = engine.started + k * interval
        if tick > until:
            return out
        state = task.state_at(tick)
        view = (state["status"], state["progress"]) if state else ("", 0)
        if view != last:
            out.append((tick, view))
            last = view
        k += 1


def delays_of(seen: dict, tasks: list, engine, sync: float, since: float, until: float) -> list[float]:
    """Seconds from each relay-view change (after `since`) to the first time an observer showed it."""
    delays = []
    for task_id in tasks:
        changes = relay_view_changes(engine, task_id, sync, until)
        order = {view: i for i, (_, view) in enumerate(changes)}
        matched = [(ts, order[view]) for ts, view in seen.get(task_id, []) if view in order]
        for i, (t_change, _) in enumerate(changes[1:], start=1):
            if t_change < since or t_change > until - 3 * sync:
                continue  # only changes inside the window, with time left to see them
            later = [ts for ts, j in matched if j >= i and ts >= t_change]
            if later:
                delays.append(min(later) - t_change)
    return delays


def one_run(args, seed: int) -> dict:
    speed, sync_wall = args.speed, args.sync / args.speed
    sim = simulator.start(speed=speed, sync_interval=args.sync, concurrency=args.tasks,
                          queue_size=args.tasks, seed=seed)
    client = mjnb.Client(base_url=sim.url, api_key="sk-bench", history=False,
                         poll_interval=1 / speed, poll_max_interval=10 / speed)
    naive = mjnb.Client(base_url=sim.url, api_key="sk-bench", history=False)
    tracker_seen: dict[str, list] = {}
    naive_seen: dict[str, list] = {}
    lock = threading.Lock()
    live: list = []
    naive_requests = [0, 0.0]  # count, time the counting started (warm window)
    stop = threading.Event()

    def record(task, event):
        if event == "state":
            with lock:
                tracker_seen.setdefault(task.id, []).append((time.time(), (task.status.value, task.progress)))

    def naive_poller():  # per task, every 5 s (simulated), as peers do
        last: dict[str, tuple] = {}
        while not stop.is_set():
            cycle = time.time()
            for task in [t for t in list(live) if not t.done]:
                try:
                    snap = naive.fetch(task.id)
                except mjnb.MjnbError:
                    continue
                finally:
                    naive_requests[0] += 1
                view = (snap.status.value, snap.progress)
                if last.get(task.id) != view:
                    last[task.id] = view
                    with lock:
                        naive_seen.setdefault(task.id, []).append((time.time(), view))
            stop.wait(max(0.0, cycle + 5 / speed - time.time()))

    def top_up():
        while len([t for t in live if not t.done]) < args.tasks:
            t = client.imagine(f"bench prompt {len(live)} --ar 1:1")
            t.subscribe(record)
            live.append(t)

    start = time.time()
    top_up()
    tracker = tracker_for(client)
    poller = threading.Thread(target=naive_poller, daemon=True)
    poller.start()
    warm_at, warm_requests, warm_naive = None, 0, 0
    end_at = start + args.seconds / speed
    while time.time() < end_at or warm_at is None:
        time.sleep(0.05)  # the benchmark's own pacing, not a measurement
        top_up()
        if warm_at is None and (tracker.phase.locked or time.time() - start > args.warm / speed):
            warm_at, warm_requests, warm_naive = time.time(), tracker.requests, naive_requests[0]
            end_at = max(end_at, warm_at + args.seconds / speed)
    end = time.time()
    stop.set()
    poller.join(10)
    ids = [t.id for t in live]
    out = {
        "lock_s": (warm_at - start) * speed if tracker.phase.locked else None,
        "period": tracker.phase.period * speed if tracker.phase.period else None,
        "cold_rpm": tracker.requests / ((end - start) * speed / 60),
        "warm_rpm": (tracker.requests - warm_requests) / ((end - warm_at) * speed / 60),
        "naive_rpm": (naive_requests[0] - warm_naive) / ((end - warm_at) * speed / 60),
    }
    for name, seen in (("tracker", tracker_seen), ("naive", naive_seen)):
        for label, since in (("cold", start), ("warm", warm_at)):
            d = [x * speed for x in delays_of(seen, ids, sim.engine, sync_wall, since, end)]
            out[f"{name}_{label}_median"] = statistics.median(d)
            out[f"{name}_{label}_p90"] = statistics.quantiles(d, n=10)[-1]
            out[f"{name}_{label}_n"] = len(d)
    client.close()
    naive.close()
    sim.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--sync", type=float, default=15.0, help="the relay's sync interval, simulated seconds")
    parser.add_argument("--speed", type=float, default=3.0, help="time scale (1 = real relay timing)")
    parser.add_argument("--seconds", type=float, default=240.0, help="warm window, simulated seconds")
    parser.add_argument("--warm", type=float, default=120.0, help="give up waiting for a lock after this long")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run(args, seed=7 + i) for i in range(args.runs)]

    def med(key, fmt="{:.2f}"):
        values = [r[key] for r in runs if r[key] is not None]
        return fmt.format(statistics.median(values)) if values else "never"

    print(f"{args.tasks} live tasks, relay sync {args.sync:g} s, time scale: speed {args.speed:g} "
          f"(figures in simulated time), medians of {args.runs} runs")
    print(f"  tracker locked onto the sync after {med('lock_s', '{:.0f}')} s; learned period {med('period')} s")
    print(f"  {'':28s}{'tracker':>18s}{'naive 5 s per task':>22s}   target")
    print(f"  {'requests/min (warm)':28s}{med('warm_rpm', '{:.1f}'):>18s}{med('naive_rpm', '{:.1f}'):>22s}   <= 6")
    print(f"  {'requests/min (cold, incl. learning)':28s}{med('cold_rpm', '{:.1f}'):>11s}")
    for label in ("warm", "cold"):
        print(f"  {'change->Task median (' + label + ')':28s}{med(f'tracker_{label}_median') + ' s':>18s}"
              f"{med(f'naive_{label}_median') + ' s':>22s}   <= 1 s")
        print(f"  {'change->Task p90 (' + label + ')':28s}{med(f'tracker_{label}_p90') + ' s':>18s}"
              f"{med(f'naive_{label}_p90') + ' s':>22s}   <= 2 s")
    print(f"  changes measured per run (warm): tracker {med('tracker_warm_n', '{:.0f}')}, "
          f"naive {med('naive_warm_n', '{:.0f}')}")


if __name__ == "__main__":
    main()
