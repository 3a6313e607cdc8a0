"""Signed image URLs expire (spec 9.3): ex= and is= carry the validity in hex, tampering breaks the
signature, and after the TTL the URL (and the relay's /mj/image proxy) answers 404."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import requests

TTL = 2.0


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query) + "&"))


def test_image_url_expires_after_its_ttl(make_sim):
    c = make_sim(profile="relay", image_ttl=TTL, forward_images=False)  # the Discord URL behind the relay
    task = c.done(c.imagine("a sandcastle before the tide"))
    url = task["imageUrl"]
    query = parse_qs(urlsplit(url).query)
    ex, issued = int(query["ex"][0], 16), int(query["is"][0], 16)
    assert ex - issued == TTL and abs(issued - time.time()) < 5
    assert set(query) == {"ex", "is", "hm"}

    # valid now: the picture downloads and decodes, directly and through the relay's proxy
    assert c.image(url).size == (512, 512)
    proxied = requests.get(f"{c.url}/mj/image/{task['id']}", timeout=10)
    assert proxied.status_code == 200 and proxied.headers["Content-Type"] == "image/png"

    # tampering with the signed query or the file name fails at once
    for bad in (with_query(url, ex=f"{ex + 86400:x}"), with_query(url, **{"is": f"{issued - 1:x}"}),
                with_query(url, hm="0" * 64), url.replace(".png?", "x.png?"), url.split("?")[0]):
        r = requests.get(bad, timeout=10)
        assert r.status_code == 404 and r.text == "This content is no longer available.", bad
    assert requests.get(url, timeout=10).status_code == 200  # the real one still works

    # then it expires: poll until it 404s, never before the time in ex=
    deadline = time.monotonic() + TTL + 10
    while (r := requests.get(url, timeout=10)).status_code == 200:
        assert time.monotonic() < deadline, "the image URL never expired"
        time.sleep(0.05)
    assert time.time() >= ex
    assert r.status_code == 404 and r.text == "This content is no longer available."
    # the relay's proxy breaks with it: it only forwards the stored Discord URL
    gone = requests.get(f"{c.url}/mj/image/{task['id']}", timeout=10)
    assert gone.status_code == 404 and gone.json() == {"error": "This content is no longer available."}
    stats = c.sim.stats()["by_route_status"]["attachment"]
    assert stats["200"] >= 2 and stats["404"] >= 6
