"""Shared test helpers (tests/ is on sys.path through tests/conftest.py): a quick client for a
simulator, and polling with a deadline instead of fixed sleeps."""

import time

import pytest

import mjnb
from mjnb import sim as simulator

FAST = dict(speed=300, seed=11)


def make_client(sim, api_key="sk-quick-tests", **settings):
    """A client with a quick tracker and short backoffs, for the simulator `sim`."""
    settings = {"poll_interval": 0.05, "poll_max_interval": 0.2, "retries": 1, "backoff": 0.01,
                "flavour": sim.options.profile, **settings}
    return mjnb.Client(base_url=sim.url, api_key=api_key, **settings)


def until(predicate, timeout=20.0, what="condition"):
    """Poll `predicate` until it is truthy and return it; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# Fixtures for folders that want a quick simulator and client: their conftest imports these two.
@pytest.fixture
def sim():
    with simulator.start(**FAST) as s:
        yield s


@pytest.fixture
def client(sim):
    c = make_client(sim)
    yield c
    c.close()
