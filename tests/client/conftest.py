"""Fixtures for the client acceptance tests: simulators per profile, quick clients, a fake server.

`sims` are shared by the whole session and never reconfigured (every test uses its own key, so
queues and the relay's per-key visibility never leak). `fault_sim` is a per-module simulator of
the test's profile whose options are reset after every test, for faults, limits and auth.
"""

from __future__ import annotations

import dataclasses

import pytest
from client_support import FAST, PROFILES, FakeServer, make_client

import mjnb.sim


@pytest.fixture(autouse=True)
def _no_mjnb_env(monkeypatch, tmp_path_factory):
    """The machine's MJNB_* settings must not steer the tests, and history stays out of ~/.mjnb."""
    import os
    for name in list(os.environ):
        if name.startswith("MJNB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MJNB_HOME", str(tmp_path_factory.getbasetemp() / "mjnb-home"))


@pytest.fixture(autouse=True)
def _errors_never_carry_keys(monkeypatch):
    """Every MjnbError made during any test here (even in background threads) is searched for
    every API key any client of that test held: the key must never reach an error."""
    import traceback

    from mjnb import errors
    from mjnb.client import Client

    made, keys = [], set()
    error_init, client_init = errors.MjnbError.__init__, Client.__init__

    def record_error(self, *args, **kw):
        error_init(self, *args, **kw)
        made.append(self)

    def record_client(self, *args, **kw):
        client_init(self, *args, **kw)
        if self.config.api_key:
            keys.add(self.config.api_key)

    monkeypatch.setattr(errors.MjnbError, "__init__", record_error)
    monkeypatch.setattr(Client, "__init__", record_client)
    yield
    needles = {k for k in keys if len(k) >= 10} | {k[3:] for k in keys if k.startswith("sk-") and len(k) >= 13}
    for err in made:
        # (not the full traceback: its source lines quote the tests, which hold keys literally)
        text = "\n".join([str(err), repr(err), repr(vars(err)),
                          "".join(traceback.format_exception_only(type(err), err))])
        for needle in needles:
            assert needle not in text, f"an API key reached {type(err).__name__}: {err}"


@pytest.fixture(scope="session")
def sims():
    started = {p: mjnb.sim.start(profile=p, **FAST) for p in PROFILES}
    yield started
    for sim in started.values():
        sim.stop()


@pytest.fixture(params=PROFILES)
def profile(request) -> str:
    return request.param


@pytest.fixture
def sim(sims, profile):
    return sims[profile]


@pytest.fixture
def connect():
    """`connect(sim, key=None, **settings)` -> a quick Client, closed after the test."""
    made = []

    def make(sim, key=None, **settings):
        client = make_client(sim, key, **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(sim, connect):
    return connect(sim)


@pytest.fixture(scope="module")
def _fault_sims():
    started: dict = {}
    yield started
    for sim, _ in started.values():
        sim.stop()


@pytest.fixture
def fault_sim(_fault_sims, profile):
    """A simulator of this profile for faults; every option is restored after the test."""
    if profile not in _fault_sims:
        sim = mjnb.sim.start(profile=profile, **FAST)
        _fault_sims[profile] = (sim, dataclasses.asdict(sim.options))
    sim, original = _fault_sims[profile]
    yield sim
    sim.configure(**original)


@pytest.fixture
def fake():
    server = FakeServer()
    yield server
    server.stop()
