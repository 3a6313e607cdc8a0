"""Fixtures for the simulator's acceptance tests: raw HTTP with `requests`, nothing from mjnb but mjnb.sim.

One simulator per profile is shared by the whole session; every test gets its own API key, so
queues, quotas and the relay's per-key visibility never leak between tests. Tests that need other
options start their own short-lived simulator with `make_sim`.
"""

from __future__ import annotations

import base64
import io
import time
import uuid

import pytest
import requests
from PIL import Image

import mjnb.sim

PROFILES = ("relay", "trueai", "novicezk")
TERMINAL = ("SUCCESS", "FAILURE")
FAST = {"speed": 400.0, "seed": 7}  # the relay's own 15 s sync and 1 h give-up, 400 times faster
WAIT = 15.0  # generous deadline for anything polled; a fast job takes ~0.1 s


class Client:
    """Raw HTTP against one simulator with one key, sending the profile's own auth header."""

    def __init__(self, sim, key: str | None = None):
        self.sim = sim
        self.url = sim.url
        self.profile = sim.options.profile
        self.key = key if key is not None else "sk-" + uuid.uuid4().hex[:24]

    def headers(self, key: str | None = None) -> dict:
        key = self.key if key is None else key
        if self.profile == "relay":
            return {"Authorization": f"Bearer {key}"}
        if self.profile == "trueai":
            return {"Authorization": key}
        return {"mj-api-secret": key}

    def post(self, path: str, body=None, headers: dict | None = None, **kw) -> requests.Response:
        return requests.post(self.url + path, json=body if body is not None else {},
                             headers=self.headers() if headers is None else headers, timeout=10, **kw)

    def get(self, path: str, headers: dict | None = None, **kw) -> requests.Response:
        return requests.get(self.url + path, headers=self.headers() if headers is None else headers,
                            timeout=10, **kw)

    # ---- submits
    def submit(self, path: str, body: dict, codes=(1, 22)) -> str:
        """POST a submit that must be accepted; returns the task id."""
        r = self.post(path, body)
        assert r.status_code == 200, (r.status_code, r.text)
        data = r.json()
        assert data["code"] in codes, data
        return data["result"]

    def imagine(self, prompt: str = "a lighthouse at dusk", **body) -> str:
        return self.submit("/mj/submit/imagine", {"prompt": prompt, **body})

    def action(self, task_id: str, custom_id: str, codes=(1, 21, 22), **body) -> str:
        return self.submit("/mj/submit/action", {"taskId": task_id, "customId": custom_id, **body},
                           codes=codes)

    def modal(self, task_id: str, **body) -> str:
        return self.submit("/mj/submit/modal", {"taskId": task_id, **body})

    # ---- queries
    def fetch(self, task_id: str) -> dict:
        r = self.get(f"/mj/task/{task_id}/fetch")
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def latest(self, task_id: str) -> dict:
        """The task as it is now: fetch, except on a relay, whose fetch reads the oldest row of an
        id and so goes stale after /submit/modal (R3): there the newest row of list-by-condition."""
        if self.profile != "relay":
            return self.fetch(task_id)
        r = self.post("/mj/task/list-by-condition", {"ids": [task_id]})
        assert r.status_code == 200 and r.json(), (r.status_code, r.text)
        return r.json()[-1]

    def wait(self, task_id: str, until=lambda t: t["status"] in TERMINAL, timeout: float = WAIT) -> dict:
        """Poll until `until(task)` holds; fails at the deadline with the last answer."""
        deadline = time.monotonic() + timeout
        while True:
            task = self.latest(task_id)
            if until(task):
                return task
            assert time.monotonic() < deadline, f"task {task_id} stuck at {task}"
            time.sleep(0.01)

    def done(self, task_id: str) -> dict:
        task = self.wait(task_id)
        assert task["status"] == "SUCCESS", task
        return task

    def button(self, task: dict, label: str = "", custom_prefix: str = "") -> str:
        for b in task["buttons"]:
            if (label and b["label"] == label) or (custom_prefix and b["customId"].startswith(custom_prefix)):
                return b["customId"]
        raise AssertionError(f"no button {label or custom_prefix!r} in {task['buttons']}")

    @staticmethod
    def data_url(img: Image.Image) -> str:
        return png_data_url(img)

    def image(self, url: str) -> Image.Image:
        r = requests.get(url, timeout=10)
        assert r.status_code == 200, (r.status_code, r.text[:200])
        img = Image.open(io.BytesIO(r.content))
        img.load()
        return img.convert("RGB")


def png_data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


# ---------------------------------------------------------------- fixtures


def _start(**options):
    return mjnb.sim.start(**{**FAST, **options})


@pytest.fixture(scope="session")
def sims():
    started = {p: _start(profile=p) for p in PROFILES}
    yield started
    for sim in started.values():
        sim.stop()


@pytest.fixture
def relay(sims) -> Client:
    return Client(sims["relay"])


@pytest.fixture
def trueai(sims) -> Client:
    return Client(sims["trueai"])


@pytest.fixture
def novicezk(sims) -> Client:
    return Client(sims["novicezk"])


@pytest.fixture
def client_for(sims):
    """`client_for("trueai")`: a fresh key on the shared simulator of that profile."""
    return lambda profile, key=None: Client(sims[profile], key)


@pytest.fixture(params=PROFILES)
def any_client(request, sims) -> Client:
    return Client(sims[request.param])


@pytest.fixture
def make_sim():
    """Start a private simulator with extra options: `make_sim(profile=..., **options)` -> Client."""
    started = []

    def make(key: str | None = None, **options) -> Client:
        sim = _start(**options)
        started.append(sim)
        return Client(sim, key)

    yield make
    for sim in started:
        sim.stop()
