"""Fixtures for the experiment tests: a quick simulator and a quick client over real HTTP."""

import pytest
from exp_support import FAST, make_client

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
