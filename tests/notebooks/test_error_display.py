"""An mjnb error left uncaught in a notebook cell, through a real kernel and Jupyter's messages:
the cell's error output is the few readable lines, and `%tb` in the next cell gives the full
traceback. The executed notebook is saved as HTML in artifacts/errors/ for a person to look at."""

import re
import socket
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ARTIFACTS = Path(__file__).parents[2] / "artifacts" / "errors"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_an_uncaught_error_is_four_lines_and_tb_gives_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv("MJNB_HOME", str(tmp_path / "home"))
    with socket.socket() as s:  # a relay that is not there: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import mjnb\n"
                                          f"client = mjnb.Client(base_url='http://127.0.0.1:{port}', "
                                          "api_key='sk-error-display-0001', retries=0, history=False)"),
                nbformat.v4.new_code_cell("client.imagine('a lighthouse at dusk')"),
                nbformat.v4.new_code_cell("%tb")]
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    (error,) = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    lines = [ANSI.sub("", line) for text in error.traceback for line in text.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 4, lines
    assert lines[0].startswith(f"TransportError: POST /mj/submit/imagine: could not connect to 127.0.0.1:{port}")
    assert any(line.startswith("What to do: Check the base URL") for line in lines)
    assert "%tb" in lines[-1]
    full = "\n".join(ANSI.sub("", t) for o in nb.cells[2].outputs for t in o.get("traceback", []))
    assert "Traceback" in full and "transport.py" in full
    for cell in nb.cells:  # the key stays out of what the notebook shows
        assert "sk-error-display-0001" not in str(cell.outputs)

    from nbconvert import HTMLExporter
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    nb.cells[0].source = "import mjnb\nclient = mjnb.Client(base_url=..., api_key=...)  # a relay that is down"
    html, _ = HTMLExporter().from_notebook_node(nb)
    (ARTIFACTS / "error-display.html").write_text(html, encoding="utf-8")
