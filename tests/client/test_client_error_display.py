"""An mjnb error raised in a notebook cell reads as a few lines (what failed, the server's words,
what to do), not a traceback through mjnb's internals; `%tb` then shows the whole traceback.

Rendered through IPython's own display machinery: an in-process InteractiveShell running cells."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from client_support import FAST, make_client

import mjnb.sim

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ARTIFACTS = Path(__file__).parents[2] / "artifacts" / "errors"


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    yield shell
    shell.user_ns.pop("client", None)


def _run(shell, capsys, code: str) -> list[str]:
    shell.run_cell(code)
    out = capsys.readouterr()
    return [ANSI.sub("", line) for line in (out.out + out.err).splitlines() if line.strip()]


def _save(name: str, lines: list[str]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_server_refusal_shows_message_words_and_hint_in_four_lines(shell, capsys):
    with mjnb.sim.start(**FAST) as sim:
        shell.user_ns["client"] = make_client(sim)
        lines = _run(shell, capsys, 'client.imagine("a gore scene")')
        full = _run(shell, capsys, "%tb")
    _save("banned-prompt.txt", lines)
    assert 1 <= len(lines) <= 4, lines
    text = "\n".join(lines)
    assert lines[0].startswith("BannedPromptError: POST /mj/submit/imagine") and "'gore'" in lines[0]
    assert "The server said" in text and "可能包含敏感词" in text  # the server's own words
    assert "What to do:" in text and "%tb" in lines[-1]
    assert "Traceback" not in text and "client.py" not in text
    # one %tb away: the whole traceback, down into mjnb's own modules
    assert len(full) > 10 and any("transport.py" in line or "client.py" in line for line in full), full


def test_connection_refused_names_the_host_and_what_to_do(shell, capsys):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    shell.user_ns["client"] = mjnb.Client(base_url=f"http://127.0.0.1:{port}", api_key="sk-display-test-0001",
                                          retries=0, announce=False, history=False)
    lines = _run(shell, capsys, 'client.imagine("a lighthouse")')
    _save("connection-refused.txt", lines)
    assert 1 <= len(lines) <= 4, lines
    assert lines[0].startswith("TransportError:") and f"127.0.0.1:{port}" in lines[0]
    assert any(line.startswith("What to do: Check the base URL") for line in lines)
    assert "sk-display-test-0001" not in "\n".join(lines)


def test_other_errors_keep_their_usual_traceback(shell, capsys):
    lines = _run(shell, capsys, "{}['missing']")
    assert any("Traceback" in line for line in lines) and lines[-1].startswith("KeyError")
