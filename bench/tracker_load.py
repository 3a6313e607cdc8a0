"""Keep 50 tasks live against the simulator and measure the tracker.

Prints the tracker's requests per minute next to what per-task fetch polling every 5 s would
send, and the median delay from a change becoming visible on the server to the Task seeing it.
Targets (issue 4), both at once: <= 60 requests/min for 50 tasks, median delay <= 0.6 s.

    python bench/tracker_load.py [--tasks 50] [--seconds 60]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--speed", type=float, default=1.0, help="simulator speed (1 = real durations)")
    parser.add_argument("--sync", type=float, default=0.0,
                        help="relay sync interval; 0 (default) shows upstream changes at once, so changes "
                             "fall at random times and the delay measures the tracker, not the relay")
    args = parser.parse_args()

    sync = args.sync
    sim = simulator.start(speed=args.speed, sync_interval=sync, concurrency=args.tasks,
                          queue_size=args.tasks, seed=7)
    client = mjnb.Client(base_url=sim.url, api_key="sk-bench")
    seen: dict[str, list] = {}
    lock = threading.Lock()

    def record(task, event):
        if event == "state":
            with lock:
                seen.setdefault(task.id, []).append((time.time(), (task.status.value, task.progress)))

    live: list = []

    def top_up():
        while len([t for t in live if not t.done]) < args.tasks:
            t = client.imagine(f"bench prompt {len(live)} --ar 1:1")
            t.subscribe(record)
            live.append(t)

    top_up()
    start = time.time()
    before = sim.stats()["requests"]
    polls_before = before.get("list_by_condition", 0) + before.get("fetch", 0)
    while time.time() - start < args.seconds:
        time.sleep(0.2)  # the benchmark's own pacing, not a measurement
        top_up()
    end = time.time()
    after = sim.stats()["requests"]
    polls = after.get("list_by_condition", 0) + after.get("fetch", 0) - polls_before
    minutes = (end - start) / 60

    delays = []
    for task in live:
        changes = relay_view_changes(sim.engine, task.id, sync, end)
        events = seen.get(task.id, [])
        order = {view: i for i, (_, view) in enumerate(changes)}
        matched = []  # (time seen, index of the server change it shows)
        for t_seen, view in events:
            if view in order:
                matched.append((t_seen, order[view]))
        for i, (t_change, _) in enumerate(changes[1:], start=1):
            if t_change < start or t_change > end - 3:
                continue  # only changes inside the window, with time left to see them
            later = [ts for ts, j in matched if j >= i and ts >= t_change]
            if later:
                delays.append(min(later) - t_change)

    tracker = tracker_for(client)
    per_task = args.tasks * 60 / 5
    print(f"tasks kept live: {args.tasks}   window: {end - start:.0f} s   simulator speed {args.speed:g}, relay sync {sync:g} s")
    print(f"tracker requests/min: {polls / minutes:.1f}   (per-task fetch every 5 s: {per_task:.0f})   target <= 60")
    print(f"changes measured: {len(delays)}   median delay: {statistics.median(delays):.3f} s   "
          f"p90: {statistics.quantiles(delays, n=10)[-1]:.3f} s   (5 s polling: 2.5 s on average)   target <= 0.6")
    print(f"tracker cycles: {tracker.cycles}, requests counted by the tracker: {tracker.requests}")
    client.close()
    sim.stop()


if __name__ == "__main__":
    main()
