"""Which routes each flavour serves (spec 2.1, 3, 10): missing routes, mode prefixes, /mj/image."""

from __future__ import annotations

import re

import pytest
import requests
from PIL import Image

import mjnb.sim

ALL_ROUTES = {  # name -> (method, path template)
    "imagine": ("POST", "/mj/submit/imagine"),
    "fetch": ("GET", "/mj/task/{id}/fetch"),
    "list_by_condition": ("POST", "/mj/task/list-by-condition"),
    "list_by_ids": ("POST", "/mj/task/list-by-ids"),
    "image_seed": ("GET", "/mj/task/{id}/image-seed"),
    "action": ("POST", "/mj/submit/action"),
    "modal": ("POST", "/mj/submit/modal"),
    "blend": ("POST", "/mj/submit/blend"),
    "describe": ("POST", "/mj/submit/describe"),
    "shorten": ("POST", "/mj/submit/shorten"),
    "swap_face": ("POST", "/mj/insight-face/swap"),
    "change": ("POST", "/mj/submit/change"),
    "simple_change": ("POST", "/mj/submit/simple-change"),
    "image": ("GET", "/mj/image/{id}"),
}
MISSING = {
    "relay": {"list_by_ids"},
    "trueai": {"change", "simple_change", "image"},  # v10 dropped change/simple-change
    "novicezk": {"action", "modal", "shorten", "image_seed", "swap_face", "list_by_ids", "image"},
}


def _call(client, route: str, task_id: str = "1732601955123407", prefix: str = "", **kw):
    method, template = ALL_ROUTES[route]
    path = prefix + template.format(id=task_id)
    if method == "GET":
        return client.get(path, **kw)
    return client.post(path, {}, **kw)


def assert_flavour_404(client, r: requests.Response, method: str, path: str) -> None:
    """Each flavour's own 'no such route': Spring JSON, ASP.NET empty, and new-api's web page
    (200 text/html) under /mj, its JSON error under /v1 and /api (spec §13 R6)."""
    if client.profile == "relay" and not path.startswith(("/v1", "/api")):
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), (path, r.text)
        return
    assert r.status_code == 404, (path, r.status_code, r.text)
    if client.profile == "trueai":
        assert r.content == b""
    elif client.profile == "novicezk":
        body = r.json()
        assert body["status"] == 404 and body["error"] == "Not Found" and body["path"] == path
    else:
        err = r.json()["error"]
        assert err["message"] == f"Invalid URL ({method} {path})"


@pytest.mark.parametrize("route", sorted(ALL_ROUTES))
def test_every_route_exists_or_answers_the_flavours_404(any_client, route):
    r = _call(any_client, route)
    method, template = ALL_ROUTES[route]
    if route in MISSING[any_client.profile]:
        assert_flavour_404(any_client, r, method, template.format(id="1732601955123407"))
    elif r.status_code == 404:
        # routed: only TRUEAI answers 404 there, and then with a SubmitResult (unknown task, code 3)
        assert any_client.profile == "trueai" and r.json()["code"] == 3, (route, r.text)


def test_unknown_path_is_404_everywhere(any_client):
    for path in ("/mj/submit/nonsense", "/v1/nonsense"):
        assert_flavour_404(any_client, any_client.post(path, {}), "POST", path)


# ---------------------------------------------------------------- mode prefixes


@pytest.mark.parametrize("prefix", ["/mj-fast", "/mj-relax", "/mj-turbo"])
def test_relay_accepts_and_strips_mode_prefixes(relay, prefix):
    before = relay.sim.stats()["modes"].get(prefix[1:], 0)
    r = relay.post(prefix + "/mj/submit/imagine", {"prompt": "a quiet harbour"})
    assert r.status_code == 200 and r.json()["code"] == 1, r.text
    task_id = r.json()["result"]
    r = relay.get(f"{prefix}/mj/task/{task_id}/fetch")
    assert r.status_code == 200 and r.json()["id"] == task_id
    r = relay.post(prefix + "/mj/task/list-by-condition", {"ids": [task_id]})
    assert [t["id"] for t in r.json()] == [task_id]
    assert relay.sim.stats()["modes"][prefix[1:]] == before + 3
    # stripped: the relay's task JSON carries no mode at all
    assert "mode" not in relay.fetch(task_id)


def test_relay_accepts_any_mode_like_prefix(relay):
    r = relay.post("/mj-whatever/mj/submit/imagine", {"prompt": "a quiet harbour"})
    assert r.status_code == 200 and r.json()["code"] == 1


@pytest.mark.parametrize("prefix,mode", [("/mj-fast", "FAST"), ("/mj-relax", "RELAX"), ("/mj-turbo", "TURBO")])
def test_trueai_honours_mode_prefixes(trueai, prefix, mode):
    r = trueai.post(prefix + "/mj/submit/imagine", {"prompt": "a quiet harbour"})
    assert r.status_code == 200 and r.json()["code"] == 1, r.text
    task_id = r.json()["result"]
    r = trueai.get(f"{prefix}/mj/task/{task_id}/fetch")
    assert r.status_code == 200
    task = r.json()
    assert task["requestMode"] == mode and task["mode"] == mode
    r = trueai.post(prefix + "/mj/task/list-by-condition", {"ids": [task_id]})
    assert [t["id"] for t in r.json()] == [task_id]
    # without a prefix: no requested mode
    plain = trueai.fetch(trueai.imagine("a quiet harbour"))
    assert plain["requestMode"] is None


def test_trueai_mode_prefix_on_insight_face(trueai):
    face = trueai.data_url(Image.new("RGB", (64, 64), (200, 150, 120)))
    target = trueai.data_url(Image.new("RGB", (96, 64), (20, 40, 200)))
    r = trueai.post("/mj-relax/mj/insight-face/swap", {"sourceBase64": face, "targetBase64": target})
    assert r.status_code == 200 and r.json()["code"] == 1, r.text


@pytest.mark.parametrize("path", ["/mj-slow/mj/submit/imagine", "/mj-fast/mj/image/1732601955123407",
                                  "/fast/mj/submit/imagine"])
def test_trueai_rejects_other_prefixes(trueai, path):
    r = trueai.post(path, {"prompt": "x"}) if "submit" in path else trueai.get(path)
    assert r.status_code == 404 and r.content == b""


@pytest.mark.parametrize("prefix", ["/mj-fast", "/mj-relax", "/mj-turbo"])
def test_novicezk_has_no_mode_prefixes(novicezk, prefix):
    r = novicezk.post(prefix + "/mj/submit/imagine", {"prompt": "a quiet harbour"})
    assert_flavour_404(novicezk, r, "POST", prefix + "/mj/submit/imagine")
    assert novicezk.sim.stats()["tasks_by_key"].get(mjnb.sim.key_id(novicezk.key)) is None


# ---------------------------------------------------------------- relay /mj/image/{id}


def test_relay_image_route_proxies_the_task_image_without_auth(relay):
    task = relay.done(relay.imagine("a red barn in snow"))
    r = requests.get(f"{relay.url}/mj/image/{task['id']}", timeout=10)  # no credentials at all
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    direct = requests.get(task["imageUrl"], timeout=10)
    assert direct.status_code == 200 and r.content == direct.content
    unknown = requests.get(f"{relay.url}/mj/image/1111111111111111", timeout=10)
    assert unknown.status_code == 400 and unknown.json() == {"error": "midjourney_task_not_found"}


def test_image_urls_look_like_signed_discord_attachments(any_client):
    task = any_client.done(any_client.imagine("a red barn in snow"))
    if any_client.profile == "relay":  # new-api forwards its own URL; the Discord one stays inside
        assert task["imageUrl"] == f"{any_client.url}/mj/image/{task['id']}"
        return
    m = re.fullmatch(r"http://127\.0\.0\.1:\d+/attachments/(\d+)/(\d+)/([^/?]+)\.png"
                     r"\?ex=([0-9a-f]+)&is=([0-9a-f]+)&hm=([0-9a-f]+)&", task["imageUrl"])
    assert m, task["imageUrl"]
    assert int(m[4], 16) - int(m[5], 16) == 0x15180  # 24 h, as Discord signs them
