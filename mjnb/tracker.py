"""Keeps every live task of a client fresh: one background thread, one batched request per cycle.

Peers poll each task every 5 s and stop at the first network error. Here one
list-by-condition request covers all live tasks (fetch is the fallback), the pace follows
the server: on a relay that shows changes only at its sync (every 15 s, spec §13 R2) it polls
just after each expected sync (sync_phase learns when), elsewhere it is quick while tasks move
and slower while nothing changes; errors are retried with the cards saying "reconnecting", and
tasks that stop changing are reported as stalled.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from typing import TYPE_CHECKING, Protocol

from . import errors as E
from .models import TaskSnapshot, is_task_id, newest_per_id
from .sync_phase import SyncPhase

if TYPE_CHECKING:
    from .config import Config


class Source(Protocol):
    """Where the tracker reads tasks from (a Client): its settings and the two query endpoints."""

    config: "Config"

    def list_by_condition(self, ids: list[str]) -> list[TaskSnapshot]:
        """Many tasks in one request."""

    def fetch(self, task_id: str) -> TaskSnapshot:
        """One task."""


class Watched(Protocol):
    """What the tracker needs of a task it keeps fresh: the one interface between them."""

    id: str

    @property
    def needs_polling(self) -> bool:
        """Unfinished and not parked in MODAL waiting for the user."""

    @property
    def quiet_for(self) -> float:
        """Seconds since the task last changed."""

    def on_snapshot(self, snapshot: TaskSnapshot) -> bool:
        """A newer answer from the server; True when it changed anything."""

    def on_connection(self, problem: str | None) -> None:
        """The server cannot be reached (problem) or can again (None)."""

    def on_stalled(self, stalled: bool) -> None:
        """Whether the task has been quiet for longer than stall_after (called every cycle)."""

log = logging.getLogger("mjnb.tracker")
TRANSIENT = (E.TransportError, E.ServerError, E.RateLimitedError)


class Tracker:
    """The poller of one client. Started by `watch`, it stops by itself when nothing is live."""

    def __init__(self, client: Source):
        # weakly: _trackers maps client -> Tracker weakly, and a value that held its key would keep
        # every client (its history's SQLite connections, its tasks) alive for the whole process;
        # while polling, the live tasks hold the client
        self._client = weakref.ref(client)
        self._tasks: dict[str, Watched] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._use_list = True
        self.requests = 0  # poll requests sent, for benchmarks and tests
        self.cycles = 0
        self.reconnecting = False
        self.phase = SyncPhase(client.config.poll_interval)  # outlives the thread: a relay keeps its clock
        self._answered: set[str] = set()  # ids the server has answered for at least once

    @property
    def client(self) -> Source:
        client = self._client()
        if client is None:
            raise RuntimeError("the client of this tracker is gone")
        return client

    # ------------------------------------------------------------ public

    def watch(self, task: Watched) -> None:
        """Keep `task` fresh until it is finished; polls soon."""
        if not is_task_id(task.id):  # it could only make every batched poll fail
            log.warning("tracker: not tracking a task whose id is malformed")
            return
        with self._lock:
            self._tasks[task.id] = task
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mjnb-tracker", daemon=True)
                self._thread.start()
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------ the loop

    def _run(self) -> None:
        config = self.client.config
        interval = config.poll_interval
        while True:
            with self._lock:
                for ident in [i for i, t in self._tasks.items() if not t.needs_polling]:
                    del self._tasks[ident]
                    self._answered.discard(ident)
                live = list(self._tasks.values())
                if not live:
                    self._thread = None
                    return
            self._wake.clear()
            sent = time.monotonic()
            try:
                changed, news = self._poll(live)
            except Exception:  # never let the thread die silently: log and keep going
                log.exception("tracker cycle failed")
                changed = news = False
            polled_at = time.monotonic()  # pace from the answer, so slow answers slow us down
            self.cycles += 1
            self._check_stalls(live)
            if not self.reconnecting:
                self.phase.observe(sent, polled_at, news)
            if self.reconnecting:
                interval = min(config.poll_max_interval, max(interval, config.poll_interval) * 2)
            elif changed or self._learning():
                interval = config.poll_interval  # quick while tasks move, and while the clock is learnt
            else:
                interval = min(config.poll_max_interval, interval * 1.5)
            at = None if self.reconnecting else self.phase.next_poll(polled_at)
            if at is None:
                at = polled_at + interval
            if self.phase.locked and not self.reconnecting:
                # a relay shows a new task as an empty row until its next sync (spec §13 R5): a
                # submit is no reason to ask before then
                time.sleep(max(0.0, at - time.monotonic()))
            elif self._wake.wait(max(0.0, at - time.monotonic())):
                # something new (a submit, a refresh): be quick again, but never faster than
                # poll_interval, so a burst of submits costs no extra requests
                interval = config.poll_interval
                time.sleep(max(0.0, polled_at + interval - time.monotonic()))

    def _learning(self) -> bool:
        """Still finding out whether (and when) the server syncs: poll at a steady, quick pace."""
        return not self.phase.locked and not self.phase.aperiodic

    def _poll(self, live: list[Watched]) -> tuple[bool, bool]:
        """One request for all live tasks: (anything changed, a task answered before changed)."""
        by_id = {t.id: t for t in live}
        try:
            snapshots = self._fetch_all(list(by_id))
        except TRANSIENT as exc:
            if not self.reconnecting:
                log.info("tracker: %s; retrying", exc.summary)
            self.reconnecting = True
            for task in live:
                task.on_connection(f"reconnecting: {exc.summary}")
            return False, False
        if self.reconnecting:
            self.reconnecting = False
            for task in live:
                task.on_connection(None)
        changed = news = False
        for snap in snapshots:
            task = by_id.get(snap.id)
            if task is None:
                continue
            try:  # one task that cannot take its state must not keep the others stale
                moved = task.on_snapshot(snap)
            except Exception:
                log.exception("tracker: task %s could not take its new state", snap.id)
                continue
            changed = changed or moved
            news = news or (moved and snap.id in self._answered)  # a first answer says nothing of the clock
            self._answered.add(snap.id)
        return changed, news

    def _fetch_all(self, ids: list[str]):
        if self._use_list:
            try:
                self.requests += math.ceil(len(ids) / 100)
                snapshots = self.client.list_by_condition(ids)
            except E.UnsupportedEndpointError:
                log.info("tracker: the server has no list-by-condition; fetching tasks one by one")
                self._use_list = False
            else:
                snapshots = newest_per_id(snapshots)  # a relay lists an id twice after a modal
                missing = set(ids) - {s.id for s in snapshots}
                # the server answered the list, so a failing fetch is that one task's problem
                return snapshots + self._fetch_each(sorted(missing), server_up=True)
        return self._fetch_each(ids)

    def _fetch_each(self, ids: list[str], server_up: bool = False):
        """Fetch one by one. A failure is the server's (raised, so cards say reconnecting) only
        when nothing else answers; else it is that task's (an unparsable answer): skip it."""
        out, failures = [], []
        for ident in ids:
            self.requests += 1
            try:
                out.append(self.client.fetch(ident))
            except E.NotFoundError:
                continue  # not visible yet, or gone; a stall will say so if it lasts
            except TRANSIENT as exc:
                failures.append(exc)
                if not server_up and not out and len(failures) >= 2:
                    raise  # two failures and no answer: the server is down, stop asking
                log.debug("tracker: task %s: %s", ident, exc.summary)
        if failures and not out and not server_up:
            raise failures[0]
        return out

    def _check_stalls(self, live: list[Watched]) -> None:
        limit = self.client.config.stall_after
        for task in live:
            task.on_stalled(task.quiet_for > limit)


_trackers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_trackers_lock = threading.Lock()


def tracker_for(client: Source) -> Tracker:
    """The one tracker of a client."""
    with _trackers_lock:
        tracker = _trackers.get(client)
        if tracker is None:
            tracker = _trackers[client] = Tracker(client)
        return tracker
