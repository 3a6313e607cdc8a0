"""new-api's own task table: what a relay user sees of the upstream's tasks (spec §13 R1-R5, R10).

The relay keeps one row per submit and copies the upstream's state into it at its syncs (one
loop for all unfinished rows, every 15 s of simulated time). It fails a row still unfinished at
a sync more than an hour after submit. `/submit/modal` inserts a second row with the same id;
the sync loop keeps only the newer one per id, so the older row stays as it was, and `fetch`,
the image proxy and the parent check of an action all read that older row. With image
forwarding on (the default), it hands out its own `/mj/image/<id>` URLs, with a new `?rand=` on
every read until SUCCESS.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from .engine import TERMINAL, Engine, SimTask

GIVE_UP_REASON = "上游任务超时（超过1小时）"


@dataclass
class Row:
    created: float  # when the relay inserted it
    action: str  # new-api's action name (the second row of a modal says MODAL)
    description: str  # what the submit answered
    prompt: str  # the prompt the relay stored at insert; syncs never change it
    frozen_at: float | None = None  # a newer row took the id: no sync after this


class RelayTable:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.rows: dict[str, list[Row]] = {}

    # ------------------------------------------------------------ writing rows

    def insert(self, task: SimTask, description: str, t: float) -> None:
        """The row a submit (or an action) creates, as new-api inserts it."""
        self.rows.setdefault(task.id, []).append(Row(t, task.relay_action, description, task.prompt))

    def continue_with_modal(self, task: SimTask, description: str, t: float) -> None:
        """/submit/modal: a second row with the same id; the older one is never synced again."""
        rows = self.rows.setdefault(task.id, [])
        for row in rows:
            if row.frozen_at is None:
                row.frozen_at = t
        rows.append(Row(t, "MODAL", description, rows[0].prompt if rows else task.prompt))

    def rows_of(self, task: SimTask) -> list[Row]:
        return self.rows.get(task.id) or [Row(task.submit_time, task.relay_action, "提交成功", task.prompt)]

    def first(self, task: SimTask) -> Row:
        """The row `fetch`, the image proxy and an action's parent check read: the oldest."""
        return self.rows_of(task)[0]

    # ------------------------------------------------------------ the relay's clock

    def _interval(self) -> float:
        opts = self.engine.options
        return opts.sync_interval / opts.speed

    def _last_sync(self, t: float, before: bool = False) -> float:
        """The latest sync at or before t (strictly before, with `before`)."""
        interval = self._interval()
        if interval <= 0:
            return t
        start = self.engine.started
        k = math.floor((t - start) / interval)
        sync = start + k * interval
        if before and sync >= t:
            sync -= interval
        return sync

    def _next_sync_after(self, t: float) -> float:
        interval = self._interval()
        if interval <= 0:
            return t
        start = self.engine.started
        return start + (math.floor((t - start) / interval) + 1) * interval

    # ------------------------------------------------------------ reading rows

    def view(self, task: SimTask, row: Row, now: float) -> dict | None:
        """The upstream state copied into `row` as of `now`; None before its first sync."""
        if self._interval() <= 0:
            seen = now if row.frozen_at is None else row.frozen_at
            state = task.state_at(seen, before=row.frozen_at is not None)
            return state if seen >= row.created else None
        sync = self._last_sync(now)
        if row.frozen_at is not None:
            sync = min(sync, self._last_sync(row.frozen_at, before=True))
        if sync < row.created:
            return None
        state = task.state_at(sync)
        if row.frozen_at is None and state is not None and state["status"] not in TERMINAL:
            give_up = self._next_sync_after(task.submit_time + self.engine.options.give_up_after
                                            / self.engine.options.speed)
            if sync >= give_up:
                stuck = task.state_at(give_up) or state
                if stuck["status"] not in TERMINAL:
                    return {**stuck, "status": "FAILURE", "progress": 100,
                            "fail_reason": GIVE_UP_REASON}
        return state

    def image_url(self, task: SimTask, view: dict | None, server_address: str) -> str:
        """new-api's coverMidjourneyTaskDto: its own URL when forwarding, else the upstream's."""
        upstream = (view or {}).get("image_url") or ""
        if not upstream or not self.engine.options.forward_images:
            return upstream
        url = f"{server_address}/mj/image/{task.id}"
        if (view or {}).get("status") != "SUCCESS":
            url += f"?rand={time.time_ns()}"  # new on every read: browsers must not cache a preview
        return url
