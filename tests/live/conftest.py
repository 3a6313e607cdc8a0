"""Fixtures for the live layer (Task, tracker, card): a quick simulator and a quick client."""

import pytest
from quick import FAST, make_client

from mjnb import sim as simulator


@pytest.fixture
def sim():
    with simulator.start(**FAST) as s:
        yield s


@pytest.fixture
def client(sim):
    c = make_client(sim)
    yield c
    c.close()
