"""Fixtures for browser tests: a private JupyterLab, Debian's Chromium driven by Playwright.

A test writes (or copies) a notebook into `lab.root` and opens it:

    def test_x(lab, lab_page):
        lab.write_notebook("x.ipynb", ["print(1)"])   # or shutil.copy(notebook, lab.root)
        page = lab_page("x.ipynb")                    # open, kernel connected and idle
        run_all(page)                                 # from browser_support

The server and its kernels stop even when the test fails; a failing test leaves a screenshot
and the server log in artifacts/browser/.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request

import browser_support
import pytest
from browser_support import (ARTIFACTS, CHROMIUM_ARGS, KERNEL_IS_READY, KERNEL_READY,
                             SERVER_START, Lab, free_port, server_command, server_env, stop)


@pytest.fixture(scope="session")
def artifacts():
    """artifacts/browser/ at the repo root (git-ignored): screenshots and server logs."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium. Missing means a broken setup, so fail (not skip): `make test` installs it."""
    chromium = browser_support.CHROMIUM
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        pytest.fail(f"{chromium} is missing: the browser tests drive Debian's Chromium. Install it with "
                    f"`make chromium` (apt-get install chromium); never `playwright install`.", pytrace=False)
    return chromium


@pytest.fixture
def lab(tmp_path_factory, artifacts, request):
    """A fresh JupyterLab on a free port, all its state in a temp dir; stopped even on failure."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    root.mkdir()
    port, token = free_port(), secrets.token_hex(16)
    log = artifacts / f"jupyter-server-{request.node.name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(server_command(port, token, root), env=server_env(tmp), cwd=root,
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    server = Lab(root=root, port=port, token=token, log=log, process=process)
    try:
        deadline = time.monotonic() + SERVER_START
        while True:
            if process.poll() is not None:
                pytest.fail(f"jupyter lab exited with {process.returncode}:\n{server.log_tail()}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{server.base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer within {SERVER_START} s:\n{server.log_tail()}",
                            pytrace=False)
            time.sleep(0.2)
        yield server
    finally:
        stop(process)


@pytest.fixture(scope="session")
def browser(chromium_path):
    """Debian's Chromium, headless, driven by Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(browser, artifacts, request):
    """A fresh page, tall enough for a card with a child card; a screenshot is kept if the test fails."""
    failed_shot = artifacts / f"FAILED-{request.node.name}.png"
    failed_shot.unlink(missing_ok=True)  # from an earlier run
    context = browser.new_context(viewport={"width": 1280, "height": 1800})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    try:
        yield pg
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            try:
                pg.screenshot(path=str(failed_shot))
            except Exception:
                pass
        context.close()


@pytest.fixture
def lab_page(lab, page):
    """open(notebook) -> the page, with that notebook open and its kernel connected and idle."""
    def open_notebook(notebook: str):
        page.goto(lab.url(notebook))
        page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=KERNEL_READY * 1000)
        page.wait_for_function(KERNEL_IS_READY, timeout=KERNEL_READY * 1000, polling=200)
        return page
    return open_notebook
