"""Helpers for the experiment tests (imported by name; pytest puts this folder on sys.path)."""

from collections import Counter

from quick import make_client, until  # noqa: F401  (re-exported for the experiment tests)


def states(sim_tasks, name):
    """Counter of the state keys of the simulator's tasks that belong to experiment `name`."""
    prefix = f"mjnb:{name}:"
    return Counter(t["state"] for t in sim_tasks if (t["state"] or "").startswith(prefix))


def max_overlap(sim_tasks):
    """The most tasks the simulator ever held submitted-and-unfinished at once (a lower bound of
    what the client counted as live: it learns of a finish only at its next poll)."""
    events = []
    for t in sim_tasks:
        events.append((t["submit_time"], 1))
        events.append((t["finish_time"] if t["finish_time"] is not None else float("inf"), -1))
    live = peak = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        live += step
        peak = max(peak, live)
    return peak
