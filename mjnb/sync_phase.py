"""When a relay's sync falls, learned from the tracker's own polls, so it can poll just after one.

A new-api relay re-reads its upstream in one loop every 15 s (spec §13 R2): what a client sees
changes only then. Polling at a fixed pace pays for answers that cannot have changed and still
sees a change up to one interval late. Every poll bounds the sync: one that shows a change says
the sync came before its answer, the poll before it says the sync came after that one was sent.
From those bounds this learns the period, then the phase, and names the moment just after the
next expected sync. Servers with no period (the raw upstreams: changes at any moment) are told
apart while learning, and the tracker keeps its own pace for them.
"""

from __future__ import annotations

import math
import statistics


class SyncPhase:
    """The period and phase of a server's syncs, from (sent, answered, changed) of each poll.

    `unit` is the tracker's poll_interval: every margin here is a fraction of it, so a client
    configured for a fast simulator scales with it."""

    LEARN_EVENTS = 3  # changes seen (each at most a poll apart from its sync) before trusting a period

    def __init__(self, unit: float):
        self.unit = unit
        self.margin = 0.15 * unit  # poll this long after the end of the window the sync falls in
        self.drift = 0.03 * unit  # how much wider the window grows per period (the relay's clock drifts)
        self.period: float | None = None
        self.aperiodic = False  # changes arrive at any moment: no phase to follow
        self.window: tuple[float, float] | None = None  # the latest sync lies in (lo, hi]
        self.floor: float | None = None  # sent time of the latest poll that showed no change
        self.last_sent: float | None = None
        self._events: list[tuple[float, float]] = []  # learning: the windows of syncs seen
        self._learning_polls = self._learning_changes = 0

    @property
    def locked(self) -> bool:
        return self.period is not None and self.window is not None

    def observe(self, sent: float, answered: float, changed: bool) -> None:
        """One poll: sent at `sent`, answered at `answered`; `changed`: it showed something new
        about a task seen before (a new task's first answer says nothing about the clock)."""
        previous, self.last_sent = self.last_sent, sent
        if self.aperiodic:
            return
        if self.period is None:
            self._learn(previous, answered, changed)
            return
        if not changed:
            self.floor = sent if self.floor is None else max(self.floor, sent)
            return
        lo = previous if previous is not None else answered - self.period
        expected = self._expected(lo)
        if expected is not None and lo < expected[0] < answered:
            lo = expected[0]  # the prediction narrows what this poll alone cannot
        self._anchor(lo, answered)

    def next_poll(self, now: float) -> float | None:
        """When to poll next (a time.monotonic() value), or None: no period known, keep your pace."""
        if not self.locked:
            return None
        lo, hi = self._expected(self.floor if self.floor is not None else now)
        if self.floor is not None and self.floor >= hi:
            # past the window with no change: a late sync, or one that changed nothing; look again
            # a little later (doubling gaps), then give that sync up and aim at the next one
            late = self.floor - hi
            if late < self.period / 3:
                return self.floor + max(self.margin, min(late, self.period / 6))
            lo, hi = self._expected(hi + self.period / 3)
        if hi - lo > 3 * self.margin:
            return max(now, (lo + hi) / 2)  # split a wide window: either answer halves it
        return max(now, hi + self.margin)

    # ------------------------------------------------------------ internals

    def _expected(self, after: float) -> tuple[float, float] | None:
        """The window of the first sync whose window ends after `after`."""
        if not self.locked:
            return None
        lo, hi = self.window
        k = max(1, math.ceil((after - hi) / self.period)) if after > hi else 1
        slack = self.drift * k
        return max(lo + k * self.period - slack, self.floor or -math.inf), hi + k * self.period + slack

    def _anchor(self, lo: float, hi: float) -> None:
        old = self.window
        self.window, self.floor = (lo, hi), None
        if old is None or hi - lo > self.period / 5 or old[1] - old[0] > self.period / 5:
            return
        gap = (lo + hi) / 2 - (old[0] + old[1]) / 2
        n = round(gap / self.period)
        if n >= 1 and abs(gap / n - self.period) < 0.1 * self.period:
            self.period = 0.8 * self.period + 0.2 * gap / n  # follow a slow drift of the relay's clock

    def _learn(self, previous: float | None, answered: float, changed: bool) -> None:
        self._learning_polls += 1
        if not changed or previous is None:
            return
        self._learning_changes += 1
        if self._learning_polls >= 8 and self._learning_changes > self._learning_polls / 2:
            self.aperiodic = True  # most polls see news: the server shows changes as they happen
            return
        self._events.append((previous, answered))
        if len(self._events) < self.LEARN_EVENTS:
            return
        ends = [hi for _, hi in self._events[-self.LEARN_EVENTS:]]
        gaps = [b - a for a, b in zip(ends, ends[1:])]
        period = statistics.median(gaps)
        if period < 3 * self.unit or max(gaps) - min(gaps) > max(2.5 * self.unit, 0.3 * period):
            if len(self._events) >= 3 * self.LEARN_EVENTS:
                self.aperiodic = True  # no steady rhythm after many changes
            return
        self.period = period
        self.window, self.floor = self._events[-1], None
