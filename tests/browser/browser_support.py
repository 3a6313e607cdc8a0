"""Helpers for the browser tests: a private JupyterLab server and page helpers (see conftest.py).

Follows /work/shared/browser-testing.md: never `playwright install`; the browser is /usr/bin/chromium.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "browser"
SERVER_START = 60  # seconds
KERNEL_READY = 60


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab server rooted at a temp dir."""
    root: Path
    port: int
    token: str
    log: Path
    process: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, notebook: str) -> str:
        # &reset: Lab would otherwise re-open earlier notebooks in hidden tabs
        return f"{self.base}/lab/tree/{notebook}?token={self.token}&reset"

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        """A notebook of code cells in the server's root dir, on the python3 kernel."""
        import nbformat
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        path = self.root / name
        nbformat.write(nb, path)
        return path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def server_command(port: int, token: str, root: Path) -> list[str]:
    jupyter = Path(sys.executable).with_name("jupyter")
    return [str(jupyter) if jupyter.exists() else "jupyter", "lab", "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True"]


def server_env(tmp: Path) -> dict[str, str]:
    """The server's (and so the kernel's) environment: no real relay, every state dir inside tmp."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MJNB_", "JUPYTER", "IPYTHON"))}
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_RUNTIME_DIR": "runtime", "JUPYTER_DATA_DIR": "data",
            "JUPYTERLAB_SETTINGS_DIR": "settings", "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
            "IPYTHONDIR": "ipython", "MJNB_HOME": "mjnb-home"}
    for var, sub in dirs.items():
        (tmp / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(tmp / sub)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # the "get notified about Jupyter news?" toast would cover the corner of the page
    notification = tmp / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # Lab 4 renders only the cells on screen; tests that read every card need them all in the page
    tracker = tmp / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    return env


def stop(process: subprocess.Popen) -> None:
    """Stop the server's own process group (server and its kernels): SIGINT, SIGTERM, then SIGKILL."""
    for sig, grace in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
            process.wait(grace)
        except ProcessLookupError:
            break
        except subprocess.TimeoutExpired:
            continue
    try:  # a kernel the server did not take down with it
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


KERNEL_IS_READY = """() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  const ctx = panel && panel.sessionContext;
  const kernel = ctx && ctx.session && ctx.session.kernel;
  return !!(ctx && ctx.isReady && kernel && kernel.connectionStatus === 'connected'
            && kernel.status === 'idle');
}"""


def run_cell(page) -> None:
    """Run the active cell (keyboard focus may sit on a widget, so go through Lab's commands)."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")


def run_all(page) -> None:
    """Run every cell of the current notebook."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
