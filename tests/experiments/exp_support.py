"""Helpers for the experiment tests (imported by name; pytest puts this folder on sys.path)."""

import time
from collections import Counter

import mjnb

FAST = dict(speed=300, sync_interval=0.02, seed=11)


def make_client(sim, **settings):
    """A client with a quick tracker and short backoffs, for the simulator `sim`."""
    settings = {"poll_interval": 0.05, "poll_max_interval": 0.2, "retries": 1, "backoff": 0.01,
                "flavour": sim.options.profile, **settings}
    return mjnb.Client(base_url=sim.url, api_key="sk-exp-tests", **settings)


def until(predicate, timeout=20.0, what="condition"):
    """Poll `predicate` until it is truthy and return it; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


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
