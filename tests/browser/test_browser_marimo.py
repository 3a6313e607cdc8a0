"""The marimo quickstart (notebooks/quickstart_marimo.py) in Debian's Chromium: `marimo run` serves
it, its card reaches SUCCESS with its image, and a click on U1 adds the child to the card's strip."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import REPO, free_port, stop

pytestmark = pytest.mark.browser

WAIT = 90_000  # ms


def test_marimo_quickstart_shows_a_live_card(page, artifacts, tmp_path):
    port = free_port()
    marimo = Path(sys.executable).with_name("marimo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MJNB_")}
    env["MJNB_HOME"] = str(tmp_path / "mjnb-home")
    log = artifacts / "marimo-server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(marimo), "run", str(REPO / "notebooks" / "quickstart_marimo.py"),
                                    "--headless", "--host", "127.0.0.1", "--port", str(port), "--no-token"],
                                   env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"marimo exited: {log.read_text()[-2000:]}"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, f"marimo did not answer: {log.read_text()[-2000:]}"
                time.sleep(0.3)
        page.goto(f"http://127.0.0.1:{port}/")
        card = page.locator(".mjnb-card").first  # Playwright's CSS reaches into marimo's shadow roots
        header = card.locator(".mjnb-header")
        header.filter(has_text="SUCCESS").wait_for(timeout=WAIT)
        page.wait_for_function("el => el.naturalWidth > 0", arg=card.locator(".mjnb-image").element_handle(),
                               timeout=WAIT)
        assert card.locator(".mjnb-buttons .mjnb-button").filter(has_text="V4").count() == 1
        card.screenshot(path=str(artifacts / "marimo-card.png"))

        card.locator(".mjnb-buttons .mjnb-button", has_text="U1").click()
        card.locator(".mjnb-chip").nth(1).wait_for(timeout=WAIT)
        card.locator(".mjnb-header").filter(has_text="UPSCALE").filter(has_text="SUCCESS").wait_for(timeout=WAIT)
        assert "mjnb-selected" in card.locator(".mjnb-chip").nth(1).get_attribute("class")
        card.screenshot(path=str(artifacts / "marimo-child.png"))
    finally:
        stop(process)
