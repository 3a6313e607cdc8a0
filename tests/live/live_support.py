"""Helpers for the live-layer tests (imported by name; pytest puts this folder on sys.path)."""

import time

import mjnb

FAST = dict(speed=300, sync_interval=0.02, seed=11)


def make_client(sim, **settings):
    """A client with a quick tracker, for the simulator `sim`."""
    settings = {"poll_interval": 0.05, "poll_max_interval": 0.2, "retries": 1, "backoff": 0.01,
                "flavour": sim.options.profile, **settings}
    return mjnb.Client(base_url=sim.url, api_key="sk-live-tests", **settings)


def until(predicate, timeout=20.0, what="condition"):
    """Poll `predicate` until it is truthy and return it; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
