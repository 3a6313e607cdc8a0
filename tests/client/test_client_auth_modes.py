"""Auth header styles (spec 2.2) and mode prefixes (spec 2.1) against each simulator profile."""

from __future__ import annotations

import pytest
from client_support import FAST, UNKNOWN_ID, done, make_client

import mjnb.sim
from mjnb import AuthError, Config, NotFoundError, TaskStatus, UnsupportedEndpointError

KEY = "sk-auth-style-key-001"
# which header style each flavour accepts (spec 2.2): TRUEAI compares the raw Authorization
# value, so "Bearer <key>" is not "<key>"; the open-source proxy reads only mj-api-secret
WORKS = {
    "relay": {"bearer": True, "mj-api-secret": True, "authorization": True},
    "trueai": {"bearer": False, "mj-api-secret": True, "authorization": True},
    "novicezk": {"bearer": False, "mj-api-secret": True, "authorization": False},
}


@pytest.fixture(scope="module")
def keyed_sims():
    started = {p: mjnb.sim.start(profile=p, keys=[KEY], **FAST) for p in WORKS}
    yield started
    for sim in started.values():
        sim.stop()


@pytest.mark.parametrize("style", ["bearer", "mj-api-secret", "authorization"])
def test_auth_header_styles(keyed_sims, connect, profile, style):
    sim = keyed_sims[profile]
    client = connect(sim, key=KEY, auth_header=style)
    assert client.config.auth_headers()  # a header is sent in every style
    if WORKS[profile][style]:
        task = done(client.imagine(f"auth {style}"))
        assert client.fetch(task.id).status == TaskStatus.SUCCESS
        with pytest.raises(NotFoundError):  # authorised, just unknown
            client.fetch(UNKNOWN_ID)
    else:
        before = sim.stats()["by_route_status"].get("imagine", {}).get("401", 0)
        with pytest.raises(AuthError) as info:
            client.imagine("pig")
        assert info.value.http_status == 401
        assert "MJNB_AUTH_HEADER" in str(info.value)  # says what to change
        assert sim.stats()["by_route_status"]["imagine"]["401"] == before + 1


def test_header_shapes():
    assert Config(api_key="k1").auth_headers() == {"Authorization": "Bearer k1"}
    assert Config(api_key="k1", auth_header="mj-api-secret").auth_headers() == {"mj-api-secret": "k1"}
    assert Config(api_key="k1", auth_header="Authorization").auth_headers() == {"Authorization": "k1"}
    assert Config(api_key=None).auth_headers() == {}


@pytest.mark.parametrize("mode", ["fast", "relax", "turbo"])
def test_mode_prefix_reaches_the_server(sim, connect, profile, mode):
    client = connect(sim, mode=mode)
    before = sim.stats()["modes"].get(f"mj-{mode}", 0)
    if profile == "novicezk":  # the open-source proxy has no mode prefixes: 404
        with pytest.raises(UnsupportedEndpointError):
            client.imagine("pig")
        assert sim.stats()["modes"].get(f"mj-{mode}", 0) == before
        return
    task = client.imagine(f"a {mode} pig")
    snap = client.fetch(task.id)
    client.list_by_condition([task.id])
    done(task)
    after = sim.stats()["modes"].get(f"mj-{mode}", 0)
    assert after >= before + 3  # imagine, fetch, list (and the tracker's polls)
    if profile == "trueai":  # TRUEAI honours the prefix: the task runs in that mode
        assert snap.raw["mode"] == mode.upper()
        assert client.fetch(task.id).raw["requestMode"] == mode.upper()


def test_no_mode_sends_no_prefix(sim, connect, profile):
    client = connect(sim)
    before = dict(sim.stats()["modes"])
    done(client.imagine("no preference"))
    assert sim.stats()["modes"] == before


def test_mode_in_the_base_url_and_from_env(sims, profile, monkeypatch):
    sim = sims[profile]
    config = Config.from_env({"MJNB_BASE_URL": sim.url + "/mj-relax/mj/", "MJNB_API_KEY": "sk-x"})
    assert (config.base_url, config.mode) == (sim.url, "relax")
    assert config.api_root == sim.url + "/mj-relax"
    monkeypatch.setenv("MJNB_MODE", "TURBO")
    client = make_client(sim)  # Client() reads MJNB_* under its arguments
    try:
        assert client.config.mode == "turbo"
        if profile == "novicezk":
            with pytest.raises(UnsupportedEndpointError):
                client.imagine("pig")
        else:
            before = sim.stats()["modes"].get("mj-turbo", 0)
            client.fetch(client.imagine("turbo from env").id)
            assert sim.stats()["modes"]["mj-turbo"] >= before + 2
    finally:
        client.close()
