"""Helpers the simulator's contract tests share: the envelopes they assert, a Vary Region mask,
and the simulator started as a real process from its command line."""

from __future__ import annotations

import base64
import io
import re
import selectors
import subprocess
import sys

import pytest
from PIL import Image, ImageDraw


def relay_error(r, code: int, text: str, status: int = 400) -> None:
    """new-api's MJ envelope; `description` is '<msg> <result>', so a trailing space when result is empty."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json() == {"description": f"{text} ", "type": "upstream_error", "code": code}


def body_of(r, code: int, status: int = 200) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == code, body
    return body


def mask_png(size, box) -> str:
    img = Image.new("L", size, 0)
    ImageDraw.Draw(img).rectangle(box, fill=255)  # white = the area to regenerate
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def cli_start(*args: str) -> tuple[subprocess.Popen, str]:
    """`python -m mjnb.sim --port 0 ARGS` as a process; returns it and the URL it printed."""
    proc = subprocess.Popen([sys.executable, "-m", "mjnb.sim", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with selectors.DefaultSelector() as sel:  # not select(): a long test run may hold fds past 1024
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(60)
    if not ready:
        proc.kill()
        pytest.fail("the simulator printed nothing within 60 s")
    first = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)\b", first)
    if not m:
        proc.kill()
        pytest.fail(f"no URL in the first line: {first!r} / {proc.stderr.read()}")
    assert int(m[1]) > 0
    return proc, m[0]


def cli_stop(proc: subprocess.Popen) -> int:
    """SIGTERM, as Ctrl-C would; the exit code (a clean shutdown is 0)."""
    proc.terminate()
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
