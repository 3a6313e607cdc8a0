"""Keeping the simulator's finished tasks in a file, as a relay keeps them in its database.

Why: the embedded simulator starts anew with every kernel, yet a real relay still knows
yesterday's tasks. With a state file a restarted simulator answers fetch, list-by-condition,
image reads and button presses on the tasks an earlier run finished, and listens on the same
port when it is free (so the client's history names the same server). Unfinished tasks are not
kept: their timelines are closures, and a job cut off by a restart is lost on a real upstream too.
Two simulators sharing a file merge what they saved (the newest copy of a task wins).
"""

from __future__ import annotations

import os
import pickle
import tempfile

from .engine import TERMINAL

VERSION = 1


def load(path: str) -> dict | None:
    """The saved state, or None when there is none or it cannot be read (then start empty)."""
    try:
        with open(path, "rb") as fh:
            state = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("version") == VERSION else None


def restore(state: dict, engine, relay) -> None:
    """Put saved finished tasks (with their relay rows, images and uploads) back into a new engine."""
    with engine.lock:
        engine.started = state["started"]  # the relay's sync grid is counted from here
        engine.secret = state["secret"]  # signed image URLs handed out before stay valid
        engine._last_id_ms = max(engine._last_id_ms, state["last_id_ms"])
        for task in state["tasks"].values():
            engine.tasks.setdefault(task.id, task)
        for att in state["attachments"].values():
            engine.attachments.setdefault(att.id, att)
        for aid, data in state["uploads"].items():
            engine.uploads.setdefault(aid, data)
        for task_id, rows in state["rows"].items():
            relay.rows.setdefault(task_id, rows)


def save(path: str, port: int, engine, relay) -> None:
    """Write every finished task atomically, merged with what another simulator saved meanwhile."""
    with engine.lock:
        tasks = {i: t for i, t in engine.tasks.items() if t.status in TERMINAL}
        atts = {a.id: a for a in engine.attachments.values() if a.task_id in tasks}
        state = {"version": VERSION, "port": port, "started": engine.started, "secret": engine.secret,
                 "last_id_ms": engine._last_id_ms, "tasks": tasks, "attachments": atts,
                 "uploads": {aid: engine.uploads[aid] for aid in atts if aid in engine.uploads},
                 "rows": {i: relay.rows[i] for i in tasks if i in relay.rows}}
        data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    old = load(path)
    if old is not None and old["secret"] == state["secret"]:
        for name in ("tasks", "attachments", "uploads", "rows"):
            state[name] = {**old[name], **state[name]}
        data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".sim-state-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
