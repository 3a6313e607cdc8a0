"""The SQLite history: every submit (recorded before it is sent), every change the tracker saw,
every cached image, and the user's tags, notes and ratings; read back as pandas DataFrames.

Safe for two kernels at once (WAL, a busy timeout, short transactions). No network here: the
client and the tasks call in with what they saw.

A disk that refuses (a read-only or full MJNB_HOME, a file where the folder should be) never
stops a task: the history warns once (HistoryWarning) and keeps nothing more in this process;
reads then show what an earlier session kept, if it can be read, else nothing.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sqlite3
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterable

from .errors import HistoryWarning, MjnbError, ValidationError
from .images import ImageCache
from .models import SubmitResult, TaskSnapshot, is_task_id
from .params import PARAMS, parse_prompt

log = logging.getLogger("mjnb")

SCHEMA_VERSION = 3
TERMINAL = ("SUCCESS", "FAILURE", "CANCEL")
PARAM_COLUMNS = list(PARAMS)
LIST_PARAMS = [name for name, (_, kind) in PARAMS.items() if kind == "list"]
JSON_COLUMNS = {"image_prompts", "other", "tags", *LIST_PARAMS}  # stored as JSON text
UNANSWERED = ("sent", "unknown")  # submit outcomes whose task (if any) is not known
UNKNOWN_STATUS = "UNKNOWN"  # the history's status for a submit whose outcome is unknown
# A submit that may have made a task nobody knows the id of, as a row shaped like a task row
# (columns the DataFrame filters on keep their names; the rest is filled in Python).
UNKNOWN_ROWS = f"""
    SELECT s.server AS server, s.id AS submit_id, s.parent_id AS parent_id,
        COALESCE((SELECT p.root_id FROM tasks p WHERE p.server = s.server AND p.id = s.parent_id),
                 s.parent_id) AS root_id,
        CASE WHEN s.endpoint LIKE '%/submit/imagine' THEN 'IMAGINE'
             WHEN s.endpoint LIKE '%/submit/blend' THEN 'BLEND'
             WHEN s.endpoint LIKE '%/submit/describe' THEN 'DESCRIBE'
             WHEN s.endpoint LIKE '%/submit/shorten' THEN 'SHORTEN'
             WHEN s.endpoint LIKE '%/insight-face/swap' THEN 'SWAP_FACE'
             WHEN s.endpoint LIKE '%/submit/change' THEN upper(json_extract(s.body, '$.action'))
             END AS action,
        s.button AS button, s.custom_id AS custom_id,
        COALESCE(json_extract(s.body, '$.prompt'),
                 (SELECT p.prompt FROM tasks p WHERE p.server = s.server AND p.id = s.parent_id), '') AS prompt,
        '{UNKNOWN_STATUS}' AS status, s.outcome AS outcome, s.error AS error, s.created AS submit_time,
        s.experiment AS experiment, s.state AS state, '[]' AS tags
    FROM submits s WHERE s.outcome IN ('sent', 'unknown')"""

MIGRATIONS = {
    1: f"""
    CREATE TABLE submits (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created REAL NOT NULL,
        server TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        body TEXT NOT NULL,            -- JSON, images replaced by their hash and size
        state TEXT, experiment TEXT, parent_id TEXT, custom_id TEXT, button TEXT,
        outcome TEXT NOT NULL DEFAULT 'sent',  -- sent, accepted, refused or unknown
        code INTEGER, response TEXT, error TEXT, task_ids TEXT, finished REAL
    );
    CREATE TABLE tasks (
        server TEXT NOT NULL, id TEXT NOT NULL,
        submit_id INTEGER, parent_id TEXT, root_id TEXT, action TEXT, button TEXT, custom_id TEXT,
        prompt TEXT, prompt_en TEXT, final_prompt TEXT, text TEXT, image_prompts TEXT,
        {", ".join(f'"{name}" {"INTEGER" if kind in ("int", "flag") else "REAL" if kind == "float" else "TEXT"}'
                   for name, (_, kind) in PARAMS.items())},
        other TEXT,
        status TEXT, progress INTEGER, fail_reason TEXT,
        submit_time REAL, start_time REAL, finish_time REAL,
        image_url TEXT, image_hash TEXT, fetched_seed TEXT, mode TEXT, simulator INTEGER,
        tags TEXT NOT NULL DEFAULT '[]', rating INTEGER, note TEXT NOT NULL DEFAULT '',
        experiment TEXT, state TEXT, updated REAL,
        PRIMARY KEY (server, id)
    );
    CREATE INDEX tasks_status ON tasks (status);
    CREATE INDEX tasks_submit ON tasks (submit_time);
    CREATE TABLE snapshots (
        server TEXT NOT NULL, task_id TEXT NOT NULL, time REAL NOT NULL,
        status TEXT, progress INTEGER, image_url TEXT
    );
    CREATE INDEX snapshots_task ON snapshots (server, task_id);
    CREATE TABLE images (
        hash TEXT PRIMARY KEY, path TEXT NOT NULL, thumb_path TEXT NOT NULL,
        width INTEGER, height INTEGER, bytes INTEGER, created REAL
    );
    """,
    # money (issue 15): what each task was charged at submit (USD), and prices learned per relay
    2: """
    ALTER TABLE tasks ADD COLUMN price REAL;
    CREATE TABLE prices (
        server TEXT NOT NULL, model TEXT NOT NULL, usd REAL NOT NULL, learned REAL NOT NULL, task_id TEXT,
        PRIMARY KEY (server, model)
    )
    """,
    # Which task rows changed since the DataFrame's Arrow copy was written (see _task_table):
    # triggers, so that no write to `tasks`, today's or a future one, can leave that copy stale.
    3: [
        "CREATE TABLE task_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, server TEXT NOT NULL, id TEXT NOT NULL)",
        "CREATE TRIGGER task_changes_insert AFTER INSERT ON tasks BEGIN "
        "INSERT INTO task_changes (server, id) VALUES (NEW.server, NEW.id); END",
        "CREATE TRIGGER task_changes_update AFTER UPDATE ON tasks BEGIN "
        "INSERT INTO task_changes (server, id) VALUES (NEW.server, NEW.id); END",
        "CREATE TRIGGER task_changes_delete AFTER DELETE ON tasks BEGIN "
        "INSERT INTO task_changes (server, id) VALUES (OLD.server, OLD.id); END",
    ],
}


def default_home() -> Path:
    """MJNB_HOME, else ~/.mjnb: the database and the image cache live there."""
    return Path(os.environ.get("MJNB_HOME") or Path.home() / ".mjnb").expanduser()


# SQLite's primary result codes for "the disk refused" (PERM, READONLY, IOERR, CORRUPT, FULL,
# CANTOPEN, PROTOCOL, NOLFS, NOTADB) and for "another connection holds the lock" (BUSY, LOCKED)
_DISK_CODES = {3, 8, 10, 11, 13, 14, 15, 22, 26}
_BUSY_CODES = {5, 6}
_DISK_WORDS = ("readonly", "disk", "unable to open", "not a database", "malformed", "i/o error",
               "authorization denied")
# where reads go: the database file read-write, the file read-only, or an empty in-memory schema
_READ_WRITE, _READ_ONLY, _EMPTY = 0, 1, 2


def _problem(exc: BaseException) -> str | None:
    """'disk' when the disk refused (read-only, full, missing, not a folder, corrupt), 'busy' when
    another kernel held the database past the busy timeout, None for anything else (a bug: raise)."""
    if isinstance(exc, OSError):
        return "disk" if exc.errno is not None else None  # PIL's UnidentifiedImageError has no errno
    if type(exc) not in (sqlite3.OperationalError, sqlite3.DatabaseError):
        return None  # IntegrityError, ProgrammingError...: mjnb's own mistakes
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        primary = code & 0xFF
        return "disk" if primary in _DISK_CODES else "busy" if primary in _BUSY_CODES else None
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return "busy"
    return "disk" if any(w in text for w in _DISK_WORDS) or type(exc) is sqlite3.DatabaseError else None


def _automatic(default: Any = None):
    """A write mjnb makes by itself (submits, snapshots, images, seeds): a refusing disk makes the
    history stop keeping (one warning) and the write a no-op; it never reaches the user's call."""
    def wrap(method):
        @functools.wraps(method)
        def write(self: "History", *args, **kwargs):
            if not self.keeping:
                return default
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                kind = _problem(exc)
                if kind is None:
                    raise
                if kind == "busy":  # another kernel held the lock 30 s: lose this write, not the rest
                    log.warning("mjnb: the history at %s is busy (another kernel holds it); "
                                "one %s was not recorded", self.home, method.__name__)
                else:
                    self._stop_keeping(exc)
                return default
        return write
    return wrap


def _by_user(method):
    """A write the user asked for (tag, note, rate): it cannot silently vanish, so a refusing disk
    raises a clear MjnbError (and stops the history keeping, with its one warning)."""
    @functools.wraps(method)
    def write(self: "History", *args, **kwargs):
        if self.keeping:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                kind = _problem(exc)
                if kind is None:
                    raise
                if kind == "busy":
                    raise MjnbError("the history is busy: another kernel held it for 30 s",
                                    hint="Try again in a moment") from None
                self._stop_keeping(exc)
        raise MjnbError(f"this session keeps no history ({self.problem}), so tags, notes and ratings have "
                        f"nowhere to go", hint="Point MJNB_HOME at a writable folder with free space, then "
                                               "call mjnb.configure() for a new client")
    return write


def _reading(method):
    """A read: when the database cannot be read as it is, read it read-only, else read an empty
    schema, so history(), resume() and the cards never see a raw sqlite3 error."""
    @functools.wraps(method)
    def read(self: "History", *args, **kwargs):
        while True:
            level = self._level
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                kind = _problem(exc)
                if kind is None or level >= _EMPTY:
                    raise
                if kind == "busy":
                    raise MjnbError("the history is busy: another kernel held it for 30 s",
                                    hint="Try again in a moment") from None
                self._fall_back(level, exc)
    return read


def _outside_mjnb() -> int:
    """The stacklevel of the first caller outside this package, so a notebook shows the warning
    against the user's cell rather than a line of mjnb (1 on mjnb's own threads)."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1  # level 1: the function that calls warn() (and this)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level if frame is not None else 1


class History:
    """One history database (and its image cache) under `home`."""

    def __init__(self, home: os.PathLike | str | None = None):
        self.home = Path(home).expanduser() if home else default_home()
        self.path = self.home / "history.sqlite3"
        self.cache = ImageCache(self.home / "images")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._level = _READ_WRITE
        self.problem: str | None = None  # why this history stopped keeping (None while it keeps)
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            self._migrate()
        except Exception as exc:
            if _problem(exc) is None:
                raise
            self._stop_keeping(exc)

    def __repr__(self) -> str:
        return f"<mjnb.History {self.path}{'' if self.keeping else f' (not keeping: {self.problem})'}>"

    @property
    def keeping(self) -> bool:
        """False once the disk refused a write: from then on this history records nothing."""
        return self.problem is None

    # ------------------------------------------------------------ a disk that refuses

    def _stop_keeping(self, exc: BaseException) -> None:
        """Record nothing more in this process, and say so once, with what to do."""
        with self._lock:
            if self.problem is not None:
                return
            self.problem = self._reason(exc)
            self._level = max(self._level, _READ_ONLY)
        log.debug("history stopped keeping", exc_info=exc)
        warnings.warn(HistoryWarning(
            f"mjnb cannot write its history in MJNB_HOME={self.home}: {self.problem}. Tasks still run and "
            f"show their images, but from now on this session keeps no submits, tasks or images on disk. "
            f"Point MJNB_HOME at a writable folder with free space, or call mjnb.configure(history=False) "
            f"to run without a history."), stacklevel=_outside_mjnb())

    def _reason(self, exc: BaseException) -> str:
        if self.home.exists() and not self.home.is_dir():
            return "it is a file, not a folder"
        if isinstance(exc, OSError):
            where = f" ({exc.filename})" if exc.filename else ""
            return f"{exc.strerror or type(exc).__name__}{where}"
        text = str(exc) or type(exc).__name__
        if self.home.is_dir() and not os.access(self.home, os.W_OK):
            text += " (the folder is read-only)"
        return text

    def _fall_back(self, level: int, exc: BaseException) -> None:
        """Reads at `level` failed: stop keeping (if still keeping), then read one level lower."""
        if self.keeping:
            self._stop_keeping(exc)
        with self._lock:
            if self._level == level:
                self._level = level + 1

    # ------------------------------------------------------------ connections and schema

    def _db(self) -> sqlite3.Connection:
        """This thread's connection for the current level (read-write, read-only or empty)."""
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        level = self._level
        db = conns.get(level)
        if db is None:
            db = conns[level] = self._open(level)
        return db

    def _open(self, level: int) -> sqlite3.Connection:
        if level == _READ_WRITE:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # WAL keeps committed data across a process kill
                db.execute("PRAGMA busy_timeout=30000")
            except BaseException:
                db.close()
                raise
            return db
        if level == _READ_ONLY:  # what earlier sessions kept, read without writing a byte
            # mode=ro needs the WAL's -shm file or a writable folder; immutable=1 needs neither
            for flags in ("mode=ro", "mode=ro&immutable=1"):
                try:
                    db = sqlite3.connect(f"{self.path.absolute().as_uri()}?{flags}", uri=True,
                                         isolation_level=None)
                except sqlite3.Error:
                    continue
                try:
                    db.execute("SELECT id FROM tasks LIMIT 0").fetchall()
                    db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                    return db
                except sqlite3.Error:
                    db.close()
            with self._lock:  # no readable history here (none yet, or a broken file)
                self._level = max(self._level, _EMPTY)
        db = sqlite3.connect(":memory:", isolation_level=None)  # nothing readable: an empty history
        self._create_schema(db)
        return db

    @contextlib.contextmanager
    def _transaction(self):
        """One short write transaction; IMMEDIATE takes the write lock up front (two kernels wait
        for each other, up to busy_timeout, instead of failing half way)."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            # a full disk or an I/O error may have rolled back already; a second ROLLBACK would
            # replace the real error with "cannot rollback - no transaction is active"
            if db.in_transaction:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    log.debug("rollback failed", exc_info=True)
            raise

    def _write(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        with self._transaction() as db:
            return db.execute(sql, tuple(params))

    def _migrate(self) -> None:
        with self._transaction() as db:
            self._create_schema(db)

    def _create_schema(self, db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} was written by a newer mjnb (schema {version}); upgrade mjnb")
        for v in range(version + 1, SCHEMA_VERSION + 1):
            script = MIGRATIONS[v]  # a script with no ";" inside its statements, or a list of them
            for statement in (script if isinstance(script, list) else script.split(";")):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(v),))

    @property
    @_reading
    def schema_version(self) -> int:
        return int(self._db().execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])

    # ------------------------------------------------------------ writes (called by client and tasks)

    @_automatic()
    def submit_started(self, server: str, endpoint: str, body: dict, context: dict) -> int | None:
        """Record a submit before it is sent; returns its row id (None when the history keeps nothing)."""
        cur = self._write(
            "INSERT INTO submits (created, server, endpoint, body, state, experiment, parent_id, custom_id, button)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (time.time(), server, endpoint, json.dumps(_strip_images(body), ensure_ascii=False),
             body.get("state"), context.get("experiment"), context.get("parent_id"), body.get("customId"),
             context.get("button")))
        return cur.lastrowid

    @_automatic()
    def submit_finished(self, submit_id: int, result: SubmitResult, snapshots: list[TaskSnapshot],
                        context: dict) -> None:
        """Complete a submit with its answer and create the task rows it made."""
        response = {"code": result.code, "description": result.description, "result": result.result,
                    "properties": dict(result.properties)}
        with self._transaction() as db:
            db.execute("UPDATE submits SET outcome='accepted', code=?, response=?, task_ids=?, finished=? WHERE id=?",
                       (result.code, json.dumps(response, ensure_ascii=False),
                        json.dumps([s.id for s in snapshots]), time.time(), submit_id))
            for snap in snapshots:
                self._upsert_task(db, context["server"], snap, {**context, "submit_id": submit_id})

    @_automatic()
    def submit_failed(self, submit_id: int, error: Exception, maybe_submitted: bool) -> None:
        self._write("UPDATE submits SET outcome=?, code=?, error=?, finished=? WHERE id=?",
                    ("unknown" if maybe_submitted else "refused", getattr(error, "code", None), str(error),
                     time.time(), submit_id))

    @_automatic()
    def submit_reconciled(self, submit_id: int, snapshots: list[TaskSnapshot], context: dict,
                          how: str, error: str | None = None) -> None:
        """A submit whose answer was lost turned out to have made these tasks (found by its state):
        the submit counts as accepted, the tasks get their rows; the error stays as the record of
        the lost answer."""
        with self._transaction() as db:
            db.execute("UPDATE submits SET outcome='accepted', response=?, task_ids=?, "
                       "error=COALESCE(?, error), finished=COALESCE(finished, ?) WHERE id=?",
                       (json.dumps({"reconciled": how}, ensure_ascii=False),
                        json.dumps([s.id for s in snapshots]), error, time.time(), submit_id))
            for snap in snapshots:
                self._upsert_task(db, context["server"], snap, {**context, "submit_id": submit_id})

    @_automatic()
    def task_seen(self, server: str, snapshot: TaskSnapshot, context: dict) -> None:
        """A new state of a task: update its row and add a point to its progress timeline."""
        with self._transaction() as db:
            self._upsert_task(db, server, snapshot, context)
            db.execute("INSERT INTO snapshots VALUES (?,?,?,?,?,?)",
                       (server, snapshot.id, time.time(), snapshot.status.value, snapshot.progress,
                        snapshot.image_url))

    def _upsert_task(self, db, server: str, snap: TaskSnapshot, ctx: dict) -> None:
        prompt = snap.prompt or ctx.get("prompt") or ""
        parsed = parse_prompt(snap.final_prompt or prompt).row()
        parent = snap.parent_id or ctx.get("parent_id")
        root = parent
        if parent:
            row = db.execute("SELECT root_id FROM tasks WHERE server=? AND id=?", (server, parent)).fetchone()
            root = row[0] if row and row[0] else parent
        values = {
            "server": server, "id": snap.id, "submit_id": ctx.get("submit_id"), "parent_id": parent,
            "root_id": root or snap.id, "action": snap.action.value if snap.action.value != "UNKNOWN" else None,
            "button": ctx.get("button"), "custom_id": snap.custom_id or ctx.get("custom_id"),
            "prompt": prompt, "prompt_en": snap.prompt_en or None, "final_prompt": snap.final_prompt or None,
            "text": parsed["text"], "image_prompts": json.dumps(parsed["image_prompts"]),
            **{name: _param_value(parsed[name]) for name in PARAM_COLUMNS},
            "other": json.dumps(parsed["other"], ensure_ascii=False),
            "status": snap.status.value, "progress": snap.progress, "fail_reason": snap.fail_reason or None,
            "submit_time": _ts(snap.submit_time), "start_time": _ts(snap.start_time),
            "finish_time": _ts(snap.finish_time), "image_url": snap.image_url or None,
            "mode": ctx.get("mode"), "simulator": int(bool(ctx.get("simulator"))),
            "experiment": ctx.get("experiment"), "state": snap.state or None, "updated": time.time(),
            "price": ctx.get("price"),
        }
        keep = ("submit_id", "parent_id", "root_id", "action", "button", "custom_id", "prompt", "prompt_en",
                "final_prompt", "submit_time", "start_time", "finish_time", "image_url", "mode", "experiment",
                "state", "fail_reason", "price")
        names = list(values)
        placeholders = ",".join("?" for _ in names)
        updates = ", ".join(
            f'"{n}"=COALESCE(excluded."{n}", tasks."{n}")' if n in keep else f'"{n}"=excluded."{n}"'
            for n in names if n not in ("server", "id"))
        db.execute(f'INSERT INTO tasks ({",".join(f"{chr(34)}{n}{chr(34)}" for n in names)}) VALUES ({placeholders}) '
                   f"ON CONFLICT(server, id) DO UPDATE SET {updates}", [values[n] for n in names])

    @_automatic()
    def price_learned(self, server: str, model: str, usd: float, task_id: str | None) -> None:
        """A price learned from the balance around one submit: kept for later sessions."""
        self._write("INSERT OR REPLACE INTO prices VALUES (?,?,?,?,?)", (server, model, usd, time.time(), task_id))

    @_reading
    def learned_prices(self, server: str) -> dict:
        """model -> USD per call, as learned on this relay."""
        return dict(self._db().execute("SELECT model, usd FROM prices WHERE server=?", (server,)).fetchall())

    @_automatic()
    def image_stored(self, server: str, task_id: str, info: dict, size: int) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO images VALUES (?,?,?,?,?,?,?)",
                       (info["hash"], info["path"], info["thumb_path"], info["width"], info["height"], size,
                        time.time()))
            db.execute("UPDATE tasks SET image_hash=? WHERE server=? AND id=?", (info["hash"], server, task_id))

    @_automatic()
    def cache_image(self, server: str, task_id: str, data: bytes) -> dict | None:
        """Keep a task's final image on disk and link it; returns the cache entry (None when the
        history keeps nothing: the caller still holds the bytes)."""
        info = self.cache.put(data)
        self.image_stored(server, task_id, info, len(data))
        return info

    @_reading
    def cached_image(self, server: str, task_id: str) -> bytes | None:
        """The cached final image of a task, if any (works after its URL expired)."""
        row = self._db().execute(
            "SELECT i.path FROM tasks t JOIN images i ON i.hash = t.image_hash WHERE t.server=? AND t.id=?",
            (server, task_id)).fetchone()
        if not row:
            return None
        try:
            return Path(row[0]).read_bytes()
        except OSError:  # gone or unreadable: the caller downloads it again
            return None

    @_automatic()
    def set_seed(self, server: str, task_id: str, seed: str) -> None:
        self._write("UPDATE tasks SET fetched_seed=? WHERE server=? AND id=?", (seed, server, task_id))

    # ------------------------------------------------------------ user annotations

    @_by_user
    def tag(self, server: str, task_id: str, *tags: str) -> list[str]:
        for t in tags:
            if not isinstance(t, str) or not t.strip():
                raise ValidationError(f"tags must be non-empty strings, not {t!r}", field="tags")
        current = self.annotations(server, task_id)["tags"]
        merged = current + [t.strip() for t in tags if t.strip() not in current]
        self._write("UPDATE tasks SET tags=? WHERE server=? AND id=?", (json.dumps(merged), server, task_id))
        return merged

    @_by_user
    def untag(self, server: str, task_id: str, *tags: str) -> list[str]:
        merged = [t for t in self.annotations(server, task_id)["tags"] if t not in tags]
        self._write("UPDATE tasks SET tags=? WHERE server=? AND id=?", (json.dumps(merged), server, task_id))
        return merged

    @_by_user
    def note(self, server: str, task_id: str, text: str) -> None:
        if not isinstance(text, str):
            raise ValidationError(f"note must be a string, not {type(text).__name__}", field="note")
        self._write("UPDATE tasks SET note=? WHERE server=? AND id=?", (text, server, task_id))

    @_by_user
    def rate(self, server: str, task_id: str, rating: int | None) -> None:
        if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5):
            raise ValidationError(f"rating must be an integer from 1 to 5 (or None to clear), not {rating!r}",
                                  field="rating")
        self._write("UPDATE tasks SET rating=? WHERE server=? AND id=?", (rating, server, task_id))

    @_reading
    def annotations(self, server: str, task_id: str) -> dict:
        row = self._db().execute("SELECT tags, rating, note FROM tasks WHERE server=? AND id=?",
                                 (server, task_id)).fetchone()
        if row is None:
            return {"tags": [], "rating": None, "note": ""}
        return {"tags": json.loads(row[0] or "[]"), "rating": row[1], "note": row[2] or ""}

    # ------------------------------------------------------------ reads

    @_reading
    def unfinished(self, server: str) -> list[str]:
        """Ids of tasks on `server` that were not finished when last seen (well-formed ids only: a
        malformed one that an older mjnb stored must not break resume() for every other task)."""
        rows = self._db().execute(
            f"SELECT id FROM tasks WHERE server=? AND status NOT IN ({','.join('?' * len(TERMINAL))}) "
            "ORDER BY submit_time", (server, *TERMINAL)).fetchall()
        return [r[0] for r in rows if is_task_id(r[0])]

    @_reading
    def unanswered_submits(self, server: str) -> list[dict]:
        """Submits sent with no answer: the task may exist but its id is unknown (oldest first)."""
        rows = self._db().execute("SELECT id, created, endpoint, body, error, state, outcome, experiment, "
                                  "parent_id, custom_id, button FROM submits "
                                  "WHERE server=? AND outcome IN ('sent', 'unknown') ORDER BY id",
                                  (server,)).fetchall()
        return [{"submit_id": r[0], "created": r[1], "endpoint": r[2], "body": json.loads(r[3]), "error": r[4],
                 "state": r[5], "outcome": r[6], "experiment": r[7], "parent_id": r[8], "custom_id": r[9],
                 "button": r[10]} for r in rows]

    @_reading
    def claimed_task_ids(self, server: str, ids: Iterable[str], submit_id: int | None = None) -> set[str]:
        """Which of these task ids another recorded submit (not `submit_id`) already made: a lost
        answer is never matched to them."""
        ids = list(ids)
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            found |= {r[0] for r in self._db().execute(
                "SELECT id FROM tasks WHERE server=? AND submit_id IS NOT NULL AND submit_id IS NOT ? "
                f"AND id IN ({','.join('?' * len(chunk))})", (server, submit_id, *chunk))}
        return found

    @_reading
    def experiment_records(self, server: str, experiment: str) -> dict:
        """What an experiment left behind, for resuming it: its tasks (id, state, status) and its
        submits (state, outcome: sent/accepted/refused/unknown, error, task ids, prompt sent)."""
        db = self._db()
        tasks = [{"id": r[0], "state": r[1], "status": r[2]} for r in db.execute(
            "SELECT id, state, status FROM tasks WHERE server=? AND experiment=? ORDER BY submit_time",
            (server, experiment))]
        submits = [{"submit_id": r[0], "state": r[1], "outcome": r[2], "error": r[3],
                    "task_ids": json.loads(r[4]) if r[4] else [], "prompt": json.loads(r[5]).get("prompt")}
                   for r in db.execute(
            "SELECT id, state, outcome, error, task_ids, body FROM submits WHERE server=? AND experiment=? ORDER BY id",
            (server, experiment))]
        return {"tasks": tasks, "submits": submits}

    @_reading
    def missing_seeds(self) -> list[tuple[str, str]]:
        return self._db().execute("SELECT server, id FROM tasks WHERE status='SUCCESS' AND fetched_seed IS NULL "
                                  "AND seed IS NULL").fetchall()

    @_reading
    def dataframe(self, *, since=None, until=None, status=None, action=None, prompt=None, tag=None,
                  experiment=None, server=None):
        """One row per task (see mjnb.history for the columns), and one per submit whose outcome is
        unknown (status UNKNOWN, no id, the reason in fail_reason)."""
        from .frames import arrow_filter, tasks_frame
        filters = dict(since=since, until=until, status=status, action=action, prompt=prompt, tag=tag,
                       experiment=experiment, server=server)
        where, args = _filters(**filters)
        table = arrow_filter(self._task_table(), **filters)
        return tasks_frame(table, self._unknown_rows(where, args))  # few: submits that may have made a task

    # The DataFrame's rows come from an Arrow copy of the task table beside the database
    # (tasks.arrow), brought up to date from the change log on each call: SQLite alone needs ~4 s
    # just to touch every column of a million rows, the copy maps in milliseconds.
    ARROW_COPY = "tasks.arrow"
    ARROW_REWRITE = 20_000  # rewrite the copy once this many rows changed since it was written

    def _task_columns(self) -> list[str]:
        return [r[1] for r in self._db().execute("PRAGMA table_info(tasks)")
                if r[1] not in ("submit_id", "image_hash", "updated")] + ["image_path", "thumb_path"]

    def _task_rows(self, names: list[str], where: str = "", args: tuple = ()):
        """Task rows (JSON columns as their text) as an Arrow table, one column at a time: SQLite
        builds each column's JSON array, decoded in C, so no Python tuple per row."""
        import pyarrow as pa
        rows = ("SELECT t.*, i.path AS image_path, i.thumb_path AS thumb_path FROM tasks t "
                "LEFT JOIN images i ON i.hash = t.image_hash" + where)
        select = ", ".join(f'json_group_array("{n}")' for n in names)
        arrays = self._db().execute(f"SELECT {select} FROM ({rows})", args).fetchone()
        columns = {n: pa.array(json.loads(a)) for n, a in zip(names, arrays)}
        # large_string is what pandas' Arrow-backed "str" holds: stored so, the copy maps with no cast
        return pa.table({n: c.cast(pa.large_string()) if pa.types.is_string(c.type) else c for n, c in columns.items()})

    def _task_table(self):
        """Every task row as an Arrow table: the copy on disk plus the rows changed since."""
        import pyarrow as pa
        import pyarrow.compute as pc
        db, names = self._db(), self._task_columns()
        path = self.home / self.ARROW_COPY
        if self._level != _READ_WRITE:  # read-only or empty: no change log to trust, read it all
            return self._task_rows(names)
        db.execute("BEGIN")  # one snapshot of the database for the log's position and the rows
        try:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM task_changes").fetchone()[0]
            copy, since = _read_arrow_copy(path, names)
            if copy is None:
                table, changed = self._task_rows(names), None
            else:
                changed = self._task_rows(names, " WHERE (t.server, t.id) IN (SELECT server, id FROM "
                                                 "task_changes WHERE seq > ?)", (since,))
                keys = db.execute("SELECT DISTINCT server, id FROM task_changes WHERE seq > ?", (since,)).fetchall()
                table = copy
                if keys:
                    gone = pc.is_in(_keys(copy), value_set=pa.array([f"{s}\x00{i}" for s, i in keys], pa.large_string()))
                    table = pa.concat_tables([copy.filter(pc.invert(gone)), changed.select(copy.column_names)],
                                             promote_options="permissive")
        finally:
            db.execute("COMMIT")
        if copy is None or changed.num_rows >= self.ARROW_REWRITE:
            if _write_arrow_copy(path, table, seq):
                with contextlib.suppress(sqlite3.Error):  # entries older than the copy it replaced
                    self._write("DELETE FROM task_changes WHERE seq <= ?", (since if copy is not None else seq,))
        return table

    def _unknown_rows(self, where: str, args: list) -> list[dict]:
        """Submits whose outcome is unknown, as task-shaped rows: status UNKNOWN, no id, and the
        reason in fail_reason. A paid task must never be out of the user's sight."""
        db = self._db()
        cur = db.execute(f"SELECT * FROM ({UNKNOWN_ROWS}) t" + where, args)
        names = [d[0] for d in cur.description]
        out = []
        for values in cur.fetchall():
            r = dict(zip(names, values))
            if r["outcome"] == "sent":
                reason = ("outcome unknown: sent, and no answer was recorded (still in flight, or the "
                          "process stopped mid-submit); the task may exist")
            else:
                reason = "outcome unknown: " + (r["error"] or "no usable answer came back; the task may exist")
            parsed = parse_prompt(r["prompt"]).row()
            row = {name: _frame_param(parsed[name]) for name in PARAM_COLUMNS}
            row.update(server=r["server"], id=None, parent_id=r["parent_id"], root_id=r["root_id"],
                       action=r["action"], button=r["button"], custom_id=r["custom_id"], prompt=r["prompt"],
                       text=parsed["text"], image_prompts=parsed["image_prompts"], other=parsed["other"],
                       status=UNKNOWN_STATUS, progress=0, fail_reason=reason, submit_time=r["submit_time"],
                       experiment=r["experiment"], state=r["state"], tags=[], note="", simulator=0)
            out.append(row)
        return out

    @_reading
    def snapshots(self, task_ids: Iterable[str] | None = None, server: str | None = None):
        """The progress timeline: one row per change seen."""
        from .frames import snapshots_frame
        sql = ("SELECT s.task_id, s.time, s.status, s.progress, t.submit_time FROM snapshots s "
               "LEFT JOIN tasks t ON t.server = s.server AND t.id = s.task_id")
        clauses, args = [], []
        if task_ids is not None:
            ids = list(task_ids)
            clauses.append(f"s.task_id IN ({','.join('?' * len(ids))})")
            args += ids
        if server is not None:
            clauses.append("s.server = ?")
            args.append(server)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY s.task_id, s.time"
        return snapshots_frame(self._db().execute(sql, args).fetchall())


def _keys(table):
    import pyarrow.compute as pc
    import pyarrow as pa
    text = [pc.cast(table.column(n), pa.large_string()) for n in ("server", "id")]
    return pc.binary_join_element_wise(*text, pa.scalar("\x00", pa.large_string()))


def _read_arrow_copy(path: Path, names: list[str]):
    """(the Arrow copy of the task table, the change-log position it includes), or (None, 0) when
    there is none or it has other columns (a newer or older mjnb wrote it)."""
    import pyarrow as pa
    try:
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_file(source).read_all()
        seq = int((table.schema.metadata or {}).get(b"mjnb_seq", b"-1"))
    except (OSError, ValueError, pa.ArrowException):
        return None, 0
    if seq < 0 or table.column_names != names:
        return None, 0
    return table, seq


def _write_arrow_copy(path: Path, table, seq: int) -> bool:
    """Write the copy atomically (a killed process leaves the old one); False when the disk refuses."""
    import pyarrow as pa
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        table = table.replace_schema_metadata({"mjnb_seq": str(seq)})
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, path)
        return True
    except (OSError, pa.ArrowException) as exc:
        log.debug("history: could not write the Arrow copy (%s)", exc)
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False


def _filters(**f) -> tuple[str, list]:
    clauses, args = [], []
    import pandas as pd
    for key, op in (("since", ">="), ("until", "<=")):
        if f[key] is not None:
            ts = pd.Timestamp(f[key])
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
            clauses.append(f"t.submit_time {op} ?")
            args.append(ts.timestamp())
    for key, column in (("status", "status"), ("action", "action"), ("experiment", "experiment"),
                        ("server", "server")):
        value = f[key]
        if value is not None:
            values = [value] if isinstance(value, str) else list(value)
            if key in ("status", "action"):
                values = [str(v).upper() for v in values]
            clauses.append(f"t.{column} IN ({','.join('?' * len(values))})")
            args += values
    if f["prompt"] is not None:
        clauses.append("t.prompt LIKE ? ESCAPE '\\'")
        args.append("%" + str(f["prompt"]).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if f["tag"] is not None:
        clauses.append("EXISTS (SELECT 1 FROM json_each(t.tags) WHERE json_each.value = ?)")
        args.append(f["tag"])
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def _strip_images(body: Any) -> Any:
    """A submit body without image data: data URLs become their hash and size."""
    import hashlib
    if isinstance(body, dict):
        return {k: _strip_images(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_strip_images(v) for v in body]
    if isinstance(body, str) and body.startswith("data:") and len(body) > 200:
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        return f"<image sha256:{digest} {len(body)} chars>"
    return body


def _frame_param(value: Any) -> Any:
    """A parsed parameter as the DataFrame builder takes it (lists stay lists, flags are 0/1)."""
    return int(value) if isinstance(value, bool) else value


def _param_value(value: Any) -> Any:
    if isinstance(value, list):
        return json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _ts(value) -> float | None:
    return value.timestamp() if value is not None else None
