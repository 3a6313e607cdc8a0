"""`python -m mjnb.sim`: --help documents every option; --port 0 prints its URL and serves."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import time

import requests

from mjnb.sim import SimOptions
from sim_support import cli_start, cli_stop


def squash(text: str) -> str:
    """Text without any whitespace: argparse re-wraps help lines (also at hyphens)."""
    return "".join(text.split())


def test_help_documents_every_option():
    out = subprocess.run([sys.executable, "-m", "mjnb.sim", "--help"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    flat = squash(out)
    fields = dataclasses.fields(SimOptions)
    assert len(fields) >= 20
    for f in fields:
        flag = "--" + f.name.replace("_", "-")
        assert re.search(rf"^\s+{re.escape(flag)}\b", out, re.M), f"{flag} missing from --help"
        # its whole help text, followed by its default
        assert squash(f.metadata["help"]) + "(default:" in flat, f"help text of {flag} missing"
        for choice in f.metadata.get("choices", ()):
            assert str(choice) in out
    assert "--port" in out






def test_port_zero_prints_its_url_and_serves():
    proc, url = cli_start("--speed", "400")
    try:
        r = requests.post(url + "/mj/submit/imagine", json={"prompt": "from the command line"},
                          headers={"Authorization": "Bearer sk-cli"}, timeout=10)
        assert r.status_code == 200 and r.json()["code"] == 1
        task_id = r.json()["result"]
        deadline = time.monotonic() + 20
        while True:
            task = requests.get(f"{url}/mj/task/{task_id}/fetch", headers={"Authorization": "Bearer sk-cli"},
                                timeout=10).json()
            if task["status"] == "SUCCESS":
                break
            assert time.monotonic() < deadline, task
            time.sleep(0.02)
        assert requests.get(task["imageUrl"], timeout=10).status_code == 200
    finally:
        assert cli_stop(proc) == 0  # SIGTERM is a clean shutdown


def test_cli_options_reach_the_server():
    proc, url = cli_start("--speed", "400", "--profile", "trueai", "--keys", "tok1,tok2", "--remix")
    try:
        r = requests.get(url + "/mj/task/1111111111111111/fetch", headers={"Authorization": "tok2"}, timeout=10)
        assert r.status_code == 204  # trueai's unknown fetch
        r = requests.get(url + "/mj/task/1111111111111111/fetch", headers={"Authorization": "tok3"}, timeout=10)
        assert r.status_code == 401
        options = requests.get(url + "/__sim/options", timeout=10).json()
        assert options["remix"] is True and options["speed"] == 400
    finally:
        assert cli_stop(proc) == 0


def test_cli_refuses_bad_options():
    r = subprocess.run([sys.executable, "-m", "mjnb.sim", "--port", "0", "--fail-rate", "3"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "fail_rate" in r.stderr
