"""`python -c "import mjnb; t = mjnb.imagine('pig'); print(t)"` on a machine with no settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys

SNIPPET = "import mjnb; t = mjnb.imagine('pig'); print(t)"


def test_imagine_works_with_no_configuration(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MJNB_")}
    env["HOME"] = str(tmp_path)  # no dotfiles, no caches: a fresh account
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-c", SNIPPET], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2, proc.stdout
    notice, printed = lines
    # the one-line notice: it is the simulator, where it runs, and how to use a real relay
    assert notice.startswith("mjnb: ") and "simulator" in notice
    assert re.search(r"http://127\.0\.0\.1:\d+", notice)
    assert "MJNB_BASE_URL" in notice and "MJNB_API_KEY" in notice
    # the task: its id and status
    m = re.fullmatch(r"<Task (\d{16}) IMAGINE (\S+) (\d+)% 'pig'>", printed)
    assert m, printed
    assert m[2] in ("NOT_START", "PENDING", "SUBMITTED", "IN_PROGRESS", "SUCCESS")
    assert "Traceback" not in proc.stderr


def test_notice_is_printed_once_per_default_client(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MJNB_")}
    env["HOME"] = str(tmp_path)
    code = ("import mjnb; a = mjnb.imagine('one'); b = mjnb.imagine('two'); "
            "assert mjnb.default_client().is_simulator; print(a.id != b.id)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("mjnb: ") == 1 and proc.stdout.splitlines()[-1] == "True"
