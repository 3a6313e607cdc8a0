"""Retries: idempotent calls ride out gateway errors and dropped connections; submits never repeat.

The simulator's fault injection (seeded) answers a share of requests with nginx 502/503/504 pages
or closes the connection unanswered; its statistics show each attempt the client made.
"""

from __future__ import annotations

import pytest
from client_support import MISSING, UNKNOWN_ID, delta, done, png, route_counts

import mjnb
from mjnb import RateLimitedError, ServerError, TaskSnapshot, TransportError

GATEWAY = {"502", "503", "504"}


def _idempotent_calls(client, grid, profile):
    """(route, call) pairs: fetch, list, seed and (relay) the /mj/image download."""
    calls = [("fetch", lambda: client.fetch(grid.id))] * 6
    calls += [("list_by_condition", lambda: client.list_by_condition([grid.id]))] * 4
    if "image_seed" not in MISSING[profile]:
        calls += [("image_seed", lambda: client.image_seed(grid.id))] * 4
    if profile == "relay":  # the relay's image proxy is an API route, so faults apply to it
        url = f"{client.config.base_url}/mj/image/{grid.id}"
        calls += [("image", lambda: client.download(url))] * 4
    return calls


@pytest.mark.parametrize("fault", ["error_rate", "drop_rate"])
def test_idempotent_calls_retry_and_succeed(fault_sim, connect, profile, fault):
    client = connect(fault_sim, retries=16, backoff=0.0005)
    grid = done(client.imagine("retry me"))  # finished, so no tracker requests interfere
    expected = client.fetch(grid.id)
    calls = _idempotent_calls(client, grid, profile)
    routes = {route for route, _ in calls}
    before = {r: route_counts(fault_sim, r) for r in routes}
    fault_sim.configure(**{fault: 0.5})
    for route, call in calls:
        result = call()
        if route == "fetch":
            assert isinstance(result, TaskSnapshot) and result.id == grid.id
            assert result.status == expected.status
        elif route == "list_by_condition":
            assert [s.id for s in result] == [grid.id]
        elif route == "image_seed":
            assert result.isdigit()
        else:
            assert result.startswith(b"\x89PNG")
    failures = 0
    for route in routes:
        change = delta(before[route], route_counts(fault_sim, route))
        n = sum(1 for r, _ in calls if r == route)
        assert change.pop("200") == n, (route, change)  # every call succeeded once
        bad = GATEWAY if fault == "error_rate" else {"0"}
        assert set(change) <= bad, (route, change)  # everything else was a fault, then retried
        failures += sum(change.values())
    assert failures > 0  # retries did happen (p(no fault in ~18 calls at 0.5) is ~4e-6)


@pytest.mark.parametrize("fault", ["error_rate", "drop_rate"])
def test_submits_are_never_retried(fault_sim, connect, profile, fault):
    client = connect(fault_sim)
    fault_sim.configure(**{fault: 1.0})
    submits = [("imagine", lambda: client.imagine("pig")),
               ("describe", lambda: client.describe(png())),
               ("blend", lambda: client.blend([png("red"), png("blue")]))]
    if "shorten" not in MISSING[profile]:
        submits.append(("shorten", lambda: client.shorten("a pig")))
    if "change" not in MISSING[profile]:
        submits.append(("change", lambda: client.change(UNKNOWN_ID, "UPSCALE", 1)))
    for route, call in submits:
        before = sum(route_counts(fault_sim, route).values())
        with pytest.raises(ServerError) as info:
            call()
        assert sum(route_counts(fault_sim, route).values()) == before + 1, route  # exactly one request
        if fault == "drop_rate":
            assert isinstance(info.value, TransportError)
            assert info.value.maybe_submitted is True  # sent, unanswered: the task may exist
        else:
            assert not isinstance(info.value, TransportError)
            assert info.value.http_status in (502, 503, 504)


@pytest.mark.parametrize("fault", ["error_rate", "drop_rate"])
def test_idempotent_calls_give_up_after_the_configured_retries(fault_sim, connect, profile, fault):
    client = connect(fault_sim, retries=3, backoff=0.001)
    fault_sim.configure(**{fault: 1.0})
    before = sum(route_counts(fault_sim, "fetch").values())
    with pytest.raises(ServerError) as info:
        client.fetch(UNKNOWN_ID)
    assert sum(route_counts(fault_sim, "fetch").values()) == before + 4  # 1 + retries
    if fault == "drop_rate":
        assert isinstance(info.value, TransportError) and info.value.maybe_submitted is False
    else:
        assert info.value.http_status in (502, 503, 504)


def test_retry_after_is_honoured_and_long_waits_are_raised(fake):
    """A short Retry-After is waited out; a long one is the caller's decision (scripted server)."""
    client = mjnb.Client(fake.url, "sk-x", retries=2, backoff=0.001, announce=False)
    task = {"id": UNKNOWN_ID, "status": "SUCCESS", "progress": "100%", "action": "IMAGINE"}
    path = f"/mj/task/{UNKNOWN_ID}/fetch"
    fake.on(path, (429, "", {"Retry-After": "0"}), (503, "<html>busy</html>", {}), (200, task, {}))
    assert client.fetch(UNKNOWN_ID).id == UNKNOWN_ID
    assert fake.hits(path) == 3
    fake.on(path, (429, {"code": 30, "description": "saturated "}, {"Retry-After": "120"}))
    with pytest.raises(RateLimitedError) as info:
        client.fetch(UNKNOWN_ID)
    assert info.value.retry_after == 120 and info.value.code == 30
    assert fake.hits(path) == 4  # not retried: 120 s is too long to hide inside a call
    fake.on("/mj/submit/imagine", (503, "<html>busy</html>", {}))
    with pytest.raises(ServerError):
        client.imagine("pig")
    assert fake.hits("/mj/submit/imagine") == 1
    client.close()


def test_downloads_retry_gateway_errors_and_drops(fake):
    """Image downloads are idempotent too. (The simulator injects no faults into its attachment
    files, only into API routes, so a scripted CDN plays the flaky one here.)"""
    client = mjnb.Client("https://relay.example", "sk-x", retries=3, backoff=0.001, announce=False)
    fake.on("/cdn/a.png", (502, "<html><title>502 Bad Gateway</title></html>", {}), "drop",
            (200, png(), {"Content-Type": "image/png"}))
    assert client.download(fake.url + "/cdn/a.png").startswith(b"\x89PNG")
    assert fake.hits("/cdn/a.png") == 3
    fake.on("/cdn/b.png", (504, "<html><title>504 Gateway Time-out</title></html>", {}))
    with pytest.raises(ServerError) as info:
        client.download(fake.url + "/cdn/b.png")
    assert info.value.http_status == 504 and fake.hits("/cdn/b.png") == 4
    client.close()
