"""Experiments: prompts × parameter values × repeats, submitted politely and followed live.

Why a layer of its own: an account runs 3 jobs and queues 10, relays rate-limit, and a submit
costs money. One background thread per experiment (shared with its follow-ups) submits items
without ever having more than `concurrency` live tasks; refusals that mean "not now" (queue
full, 429, 503, a connection never made) are waited out and the same item is retried, while a
submit that may have reached the server is never repeated by itself. Items follow their tasks'
events from the client's one batched tracker (no polling here). Each submit carries the state
key ``mjnb:<name>:<index>`` and the experiment name, so the history can resume a run without
submitting anything twice.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from . import errors as E
from .models import TaskStatus
from .money import Money, tally, usd, verdict
from .prompt_check import ParameterError, check_prompt

if TYPE_CHECKING:
    import pandas as pd

    from .client import Client
    from .task import Task

log = logging.getLogger("mjnb.experiment")

STATE_PREFIX = "mjnb"
QUEUED, SUBMITTING, RUNNING, DONE, FAILED, STALLED, CANCELLED, UNCERTAIN = (
    "queued", "submitting", "running", "done", "failed", "stalled", "cancelled", "uncertain")
OVER_BUDGET = "over budget"  # never submitted: its price would have taken the spending past the budget
RETRYING = "retrying"  # in counts(): queued items whose submit was refused "not now", to be tried again
UNREACHABLE_TRIES = 5  # submits in a row that never reached the relay before the experiment gives up
SETTLED = (DONE, FAILED, STALLED, CANCELLED, UNCERTAIN, OVER_BUDGET)
UNCERTAIN_TEXT = ("outcome unknown: the submit may have reached the server (no clear answer came back), "
                  "so the task may exist and be charged; it was not retried, to avoid paying twice. Check "
                  "the relay, then call retry_failed(uncertain=True) if you want a new attempt")


@dataclass(eq=False)
class Item:
    """One cell of the experiment: what to submit, and the task (if any) it became."""

    index: int
    prompt: str  # the full prompt sent (imagine items) or the parent's prompt (follow-ups)
    factors: dict  # factor column -> value, e.g. {"factor_prompt": "pig", "factor_stylize": 50}
    repeat: int = 0
    batch: "Experiment | None" = field(default=None, repr=False)
    parent: "Task | None" = field(default=None, repr=False)  # follow-ups: the grid to press
    attempt: int = 0
    task: "Task | None" = field(default=None, repr=False)
    error: str | None = None
    uncertain: bool = False  # the error is "outcome unknown: may exist, not retried"
    cancelled: bool = False
    submitting: bool = False
    over_budget: str = ""  # why it was not submitted (the budget), once decided
    previous: list = field(default_factory=list, repr=False)  # tasks of earlier attempts
    retries: int = 0  # "not now" refusals (queue full, 429, 503, no connection) waited out this attempt
    refusal: str | None = None  # what the latest of those refusals said

    @property
    def key(self) -> str:
        """The submit's `state`: mjnb:<experiment>:<index>, plus :r<n> for the n-th retry."""
        base = f"{STATE_PREFIX}:{self.batch.name}:{self.index}"
        return base + (f":r{self.attempt}" if self.attempt else "")

    @property
    def status(self) -> str:
        """queued, submitting, running, done, failed, stalled, cancelled, or uncertain (the submit's
        outcome is unknown: its task may exist, so it is not sent again unless you ask)."""
        task = self.task
        if task is not None:
            if task.status == TaskStatus.SUCCESS:
                return DONE
            if task.status.is_terminal:
                return FAILED
            return STALLED if task.stalled else RUNNING
        if self.error is not None:
            return UNCERTAIN if self.uncertain else FAILED
        if self.over_budget:
            return OVER_BUDGET
        if self.cancelled:
            return CANCELLED
        return SUBMITTING if self.submitting else QUEUED

    @property
    def live(self) -> bool:
        """Counts against `concurrency`: being submitted, or submitted and neither finished nor stalled."""
        if self.submitting:
            return True
        task = self.task
        return task is not None and self.status == RUNNING and not task.awaiting_input

    @property
    def reason(self) -> str:
        """Why a failed (or uncertain) item failed, in words ('' otherwise)."""
        if self.error is not None:
            return self.error
        if self.over_budget and self.task is None:
            return self.over_budget
        if self.task is not None and self.task.status.is_terminal and self.task.status != TaskStatus.SUCCESS:
            return self.task.fail_reason or str(self.task.status)
        return ""

    def caption(self) -> str:
        """The factor values as short text, e.g. 'pig · stylize 50 · ar 1:1 · #2'."""
        parts = []
        for name, value in self.factors.items():
            label = name.removeprefix("factor_")
            parts.append(str(value) if label == "prompt" else f"{label} {value}")
        if self.repeat:
            parts.append(f"#{self.repeat + 1}")
        return " · ".join(parts)


class _Submitter:
    """The one background thread of an experiment family: submits queued items in order while
    fewer than `concurrency` + `ahead` are live, backs off on "not now", never repeats an uncertain
    submit.

    Ahead: a finished job is replaced by the account's own queue the moment its slot frees, with
    no wait for the relay's next sync and the tracker's next poll (11.5 s a hand-over at 15 s sync).
    So up to `ahead` submits wait in the account's queue beyond `concurrency`. How many is learned
    from the submit answers: one probe first; an answer that says "queued" (code 22, or a relay's
    rewritten code 1 with the queue text) confirms the slots are full and lets one more wait, up to
    `ahead_max`; an ahead submit that starts at once means the account has slots to spare, so no
    more are sent ahead (concurrency stays the limit on running jobs); "queue full" shrinks it to
    what the queue held. A refused submit is retried later, never resubmitted once accepted."""

    def __init__(self, concurrency: int, backoff: float, max_backoff: float, ahead: int | None = None):
        self.concurrency = concurrency
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.ahead_max = concurrency if ahead is None else ahead  # one full round queued covers any hand-over
        self.ahead = min(1, self.ahead_max)  # the allowance now: a probe, until answers say more
        self.queue_full = 0  # "queue full" refusals, for tests and benches
        self.most_live = 0  # the most submitted-and-unfinished items at once, for tests and benches
        self.batches: list[Experiment] = []
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None
        self.current: Item | None = None
        self.submits = 0  # submit requests sent, for tests and benches
        self.waits = 0  # back-pressure waits

    def start(self) -> None:
        with self.cond:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="mjnb-experiment", daemon=True)
                self.thread.start()
            self.cond.notify_all()

    def live(self) -> int:
        return sum(1 for b in self.batches for i in b.items if i.live)

    def _next(self, prefer: Item | None) -> Item | None:
        if prefer is not None and prefer.status == QUEUED and not prefer.batch._cancelled:
            return prefer
        for batch in self.batches:
            if batch._cancelled:
                continue
            for item in batch.items:
                if item.status == QUEUED:
                    return item
        return None

    def _run(self) -> None:
        failures = 0
        unreachable = 0  # submits in a row that never reached the relay (connection refused, DNS, ...)
        retry: Item | None = None
        while True:
            with self.cond:
                while True:
                    item = self._next(retry)
                    if item is None:
                        self.thread = None
                        self.cond.notify_all()
                        return
                    if self.live() < self.concurrency + self.ahead:
                        fits = item.batch._budget_check(item)  # the one budget check, at the point of submit
                        if fits == "go":
                            break
                        if fits == "over":
                            item.batch._emit(item, "status")  # settled: _next moves on to the next item
                            continue
                    self.cond.wait(0.5)  # task events wake us; the timeout is a local re-check only
                item.submitting = True
                self.current = item
                beyond = self.live() > self.concurrency  # this one waits in the account's queue, if any
            item.batch._emit(item, "submitting")
            task, exc = None, None
            try:
                self.submits += 1
                task = item.batch._send(item)
            except Exception as error:  # classified below; never let the thread die
                exc = error
            verdict, retry_after = _classify(exc) if exc is not None else ("ok", None)
            delay = 0.0
            with self.cond:
                item.submitting = False
                self.current = None
                retry = None
                unreachable = unreachable + 1 if _unreachable(exc) else 0
                if verdict == "ok":
                    failures = 0
                    item.batch._attach(item, task)
                    self._learn_queue(task, beyond)
                    self.most_live = max(self.most_live, self.live())
                    if item.batch.last_error == item.refusal:  # a "not now" that has passed
                        item.batch.last_error = None
                    item.retries, item.refusal = 0, None
                elif verdict == "wait" and unreachable >= UNREACHABLE_TRIES:
                    self._give_up(item, exc, unreachable)
                elif verdict == "wait":
                    if isinstance(exc, E.QueueFullError):  # what the queue held is what fits
                        self.queue_full += 1
                        self.ahead = max(0, min(self.ahead, self.live() - self.concurrency))
                        self.ahead_max = self.ahead
                    failures += 1
                    self.waits += 1
                    retry = item
                    delay = self._delay(failures, retry_after)
                    item.retries, item.refusal = item.retries + 1, str(exc) or exc.__class__.__name__
                    item.batch.last_error = item.refusal
                    log.info("experiment %s: item %d not accepted now (%s); retrying in %.2f s",
                             item.batch.name, item.index, getattr(exc, "summary", exc), delay)
                elif verdict == "uncertain":
                    item.error, item.uncertain = f"{UNCERTAIN_TEXT} ({exc})", True
                    item.batch.last_error = item.error
                else:
                    item.error = str(exc) or exc.__class__.__name__
                    item.batch.last_error = item.error
                    if not isinstance(exc, E.MjnbError):
                        log.exception("experiment %s: item %d failed", item.batch.name, item.index,
                                      exc_info=exc)
                self.cond.notify_all()
            item.batch._emit(item, "status")
            if delay:
                with self.cond:
                    batch = item.batch
                    self.cond.wait_for(lambda b=batch: b._cancelled, timeout=delay)

    def _give_up(self, item: Item, exc: BaseException, tries: int) -> None:
        """The relay was never reached `tries` times in a row: end submitting with that error on this
        item and every queued one (nothing of theirs was sent; retry_failed() tries them again)."""
        text = (f"not submitted: the relay could not be reached in {tries} attempts in a row ({exc}); "
                f"check the base URL and the network, then call retry_failed()")
        item.retries, item.refusal = item.retries + 1, str(exc)
        for batch in self.batches:
            touched = False
            for other in batch.items:
                if other is item or (other.status == QUEUED and not batch._cancelled):
                    other.error, touched = text, True
            if touched:
                batch.last_error = text
                batch._emit(None, "status")
        log.warning("experiment %s: %s", item.batch.name, text)

    def _learn_queue(self, task: "Task", beyond: bool) -> None:
        """What a submit answer says of the account's queue (called with the lock held)."""
        result = task.submit_result
        queued = result is not None and result.queue_ahead is not None
        if queued:
            self.ahead = min(self.ahead + 1, self.ahead_max)
        elif beyond and task.status not in (TaskStatus.FAILURE, TaskStatus.CANCEL):
            self.ahead = self.ahead_max = 0  # it runs at once: slots to spare, keep to `concurrency`

    def _delay(self, failures: int, retry_after: float | None) -> float:
        """Full-jitter exponential backoff; a server's Retry-After is a floor, never cut short."""
        ceiling = min(self.max_backoff, self.backoff * 2 ** min(failures - 1, 30))
        delay = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            delay = max(delay, retry_after * random.uniform(1.0, 1.1))
        return delay


def _unreachable(exc: BaseException | None) -> bool:
    """The submit never reached the relay: no connection was made, so nothing can have been sent."""
    return isinstance(exc, E.TransportError) and not exc.maybe_submitted


def _classify(exc: BaseException) -> tuple[str, float | None]:
    """ok / wait (retry the same item later) / uncertain (may exist: never resubmit) / fail."""
    if getattr(exc, "maybe_submitted", False):  # the client found no task for it, but one may exist
        return "uncertain", None
    if isinstance(exc, E.RateLimitedError):
        return "wait", exc.retry_after
    if isinstance(exc, E.QueueFullError):
        return "wait", None
    if isinstance(exc, E.TransportError):
        return ("uncertain" if exc.maybe_submitted else "wait"), None
    if isinstance(exc, E.ServerError):
        if exc.http_status == 503:
            return "wait", None
        if exc.http_status is not None and exc.http_status >= 500:
            return "uncertain", None  # 502/504 (and 500): the gateway may have passed it on
        return "fail", None
    return "fail", None


class Experiment:
    """A batch of items submitted in the background; live counts, a gallery, a DataFrame.

    `Experiment(client, prompts, params={"--stylize": [50, 250]}, repeats=1, concurrency=3)`
    starts at once. Items are prompts × the product of the param values (dict order, the last
    param varying fastest) × repeats. `concurrency` caps running jobs: set it to the account's
    slots (3) and up to `ahead` more submits wait in the account's own queue, so a freed slot
    starts the next job at once (None: learned from the queue answers, at most `concurrency`;
    0: never more than `concurrency` submitted and unfinished). `mode` (fast/relax/turbo) and `bot` (mj/niji) apply to every submit; `backoff`
    (default: the client's) and `max_backoff` shape the waits after "queue full", 429 and 503.
    With the `name` of an earlier run (same history and relay) it resumes: items that have a task
    are reused, uncertain submits are not repeated, only the rest is sent. Without a name it gets
    a fresh one (exp-<date>-<time>-<hex>), so it never resumes by accident. Every item's prompt is
    checked before the first submit (a factor value Midjourney would refuse raises
    ValidationError naming the item); `validate=False` sends them unchecked.

    With `budget` (USD), it first says how many submits it plans and what they should cost, and
    never submits an item whose price would take spent + committed past the budget: such items
    wait while a running task could still fail and be refunded, and are marked "over budget"
    once nothing can free the money. `money()` gives spent, committed and remaining. The price is
    mjnb.configure(prices=...)'s, else the one learned on this relay; when neither is known, the
    first submit goes alone and the balance around it tells the price (so a budget smaller than one
    submit's unknown price is crossed by that one submit: configure prices to rule that out).
    """

    def __init__(self, client: "Client", prompts: str | Sequence[str], params: Mapping | None = None,
                 repeats: int = 1, concurrency: int = 3, name: str | None = None, mode: str | None = None,
                 bot: str | None = None, *, backoff: float | None = None, max_backoff: float = 30.0,
                 validate: bool = True, budget: float | None = None, ahead: int | None = None):
        prompts = _prompts(prompts)
        params = _params(params)
        repeats = _positive_int(repeats, "repeats")
        concurrency = _positive_int(concurrency, "concurrency")
        if not isinstance(max_backoff, (int, float)) or isinstance(max_backoff, bool) or max_backoff <= 0:
            raise E.ValidationError(f"max_backoff must be a number of seconds > 0, not {max_backoff!r}",
                                    field="max_backoff")
        if backoff is not None and (not isinstance(backoff, (int, float)) or backoff <= 0):
            raise E.ValidationError(f"backoff must be a number of seconds > 0, not {backoff!r}", field="backoff")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))
                                   or not 0 < budget < float("inf")):
            raise E.ValidationError(f"budget must be an amount of USD > 0, not {budget!r}", field="budget")
        if mode is not None and mode != client.config.mode:
            from .client import Client
            client = Client(config=client.config.with_changes(mode=mode), history=client.history or False,
                            announce=False)
        self._setup(client, _name(name), bot=bot)
        self.params = params
        self.concurrency = concurrency
        columns = ["factor_prompt"] + [_column(k) for k in params]
        combos = list(itertools.product(*params.values())) if params else [()]
        self.items = []
        for prompt in prompts:
            for combo in combos:
                text = " ".join([prompt] + [_flag(k, v) for k, v in zip(params, combo) if _flag(k, v)])
                for r in range(repeats):
                    self.items.append(Item(index=len(self.items), prompt=text,
                                           factors=dict(zip(columns, (prompt, *combo))), repeat=r, batch=self))
        self.factors = columns
        if validate:
            _check_items(self.items)
        if ahead is not None and (isinstance(ahead, bool) or not isinstance(ahead, int) or ahead < 0):
            raise E.ValidationError(f"ahead must be an integer >= 0 (or None: learned), not {ahead!r}",
                                    field="ahead")
        self.budget = None if budget is None else float(budget)
        if self.budget is not None:
            self.plan = self._state_plan()
        self._submitter = _Submitter(concurrency, backoff or client.config.backoff, max_backoff, ahead)
        self._begin()

    # ------------------------------------------------------------ construction helpers

    def _setup(self, client: "Client", name: str, bot: str | None = None, follow_up: int | None = None) -> None:
        self.client = client
        self.name = name
        self.bot = bot
        self.follow_up = follow_up  # U-index of a follow-up batch (None for imagine batches)
        self._cancelled = False
        self.last_error: str | None = None  # the latest submit refusal or failure, in words (for views)
        self._listeners: list[Callable] = []
        self._gallery = None
        self.budget: float | None = None  # USD, shared by the experiment and its follow-up batches
        self.plan = ""  # what a budgeted run said it would submit and cost
        self._family = [self]  # the batches whose spending counts together: this one and its follow-ups

    def _begin(self) -> None:
        self._resume()
        with self._submitter.cond:
            self._submitter.batches.append(self)
        self._submitter.start()

    @classmethod
    def _follow_up(cls, parent: "Experiment", index: int, items: list[Item]) -> "Experiment":
        """A batch of U<index> presses on finished grids, sharing the parent's submitter (and so its
        concurrency limit, back-pressure and thread)."""
        self = cls.__new__(cls)
        self._setup(parent.client, f"{parent.name}.U{index}", follow_up=index)
        self.params = parent.params
        self.concurrency = parent.concurrency
        self.factors = parent.factors + ["parent_item"]
        self.items = [Item(index=i.index, prompt=i.prompt, factors={**i.factors, "parent_item": i.index},
                           repeat=i.repeat, batch=self, parent=i.task) for i in items]
        self._submitter = parent._submitter
        self.budget, self._family = parent.budget, parent._family  # follow-ups spend the same budget
        with self._submitter.cond:
            self._family.append(self)
        self._begin()
        return self

    # ------------------------------------------------------------ submitting (on the submitter thread)

    def _send(self, item: Item) -> "Task":
        if item.parent is not None:
            return item.parent.click(f"U{self.follow_up}", state=item.key, experiment=self.name)
        return self.client.imagine(item.prompt, bot=self.bot, state=item.key, experiment=self.name,
                                   validate=False)  # every item was checked before the first submit

    def _attach(self, item: Item, task: "Task") -> None:
        """Follow a task through its events (called with the submitter's lock held)."""
        if item.task is not None and item.task is not task:
            item.previous.append(item.task)
        item.task, item.error, item.uncertain = task, None, False
        task.subscribe(functools.partial(self._on_task, item))

    def _on_task(self, item: Item, task: "Task", event: str) -> None:
        if task is not item.task:
            return  # an earlier attempt
        with self._submitter.cond:
            self._submitter.cond.notify_all()
        self._emit(item, event)

    # ------------------------------------------------------------ resume

    def _resume(self) -> None:
        """Pick up what an earlier run with this name left in the history (see the class doc)."""
        history = self.client.history
        if history is None:
            return
        records = history.experiment_records(self.client.config.host, self.name)
        if any(row["outcome"] in ("sent", "unknown") for row in records["submits"]):
            try:  # trueai/novicezk: the tasks of lost answers are found by their state first
                if self.client.reconcile():
                    records = history.experiment_records(self.client.config.host, self.name)
            except E.MjnbError as exc:
                log.warning("experiment %s: could not look for tasks of unanswered submits: %s", self.name, exc)
        if not records["tasks"] and not records["submits"]:
            return
        by_index = {item.index: item for item in self.items}
        tasks: dict[tuple, str] = {}
        for row in records["tasks"]:
            key = self._parse_key(row["state"])
            if key is not None:
                tasks[key] = row["id"]
        uncertain: dict[tuple, str] = {}
        seen: set[tuple] = set(tasks)
        for row in records["submits"]:
            key = self._parse_key(row["state"])
            if key is None:
                continue
            seen.add(key)
            item = by_index.get(key[0])
            sent = row.get("prompt")
            if self.follow_up is None and item is not None and sent is not None and \
                    " ".join(sent.split()) != " ".join(item.prompt.split()):
                raise E.ValidationError(
                    f"name {self.name!r} belongs to an earlier experiment whose item {key[0]} was "
                    f"{sent!r}, not {item.prompt!r}; resuming needs the same prompts, params and repeats "
                    f"(or choose a new name)", field="name")
            if row["outcome"] == "accepted" and row["task_ids"] and key not in tasks:
                tasks[key] = row["task_ids"][0]
            elif row["outcome"] in ("sent", "unknown") and key not in tasks:
                uncertain[key] = row["error"] or "no answer was recorded (the process stopped mid-submit)"
        wanted: dict[str, Item] = {}
        for index, item in by_index.items():
            attempts = [a for (i, a) in seen if i == index]
            if not attempts:
                continue
            item.attempt = max(attempts)
            key = (index, item.attempt)
            if key in tasks:
                wanted[tasks[key]] = item
            elif key in uncertain:
                item.error, item.uncertain = f"{UNCERTAIN_TEXT} ({uncertain[key]})", True
            # else: only refused submits: no task exists, so this attempt is sent again
        if wanted:
            found = {s.id: s for s in self.client.list_by_condition(list(wanted))}
            for ident, item in wanted.items():
                if ident in found:
                    self._attach(item, self.client._handle(found[ident]))
                else:
                    item.error = (f"task {ident} of this item is in the history but the server does not show "
                                  f"it any more; not resubmitted (retry_failed() makes a new attempt)")

    def _parse_key(self, state: str | None) -> tuple[int, int] | None:
        prefix = f"{STATE_PREFIX}:{self.name}:"
        if not state or not state.startswith(prefix):
            return None
        m = re.fullmatch(r"(\d+)(?::r(\d+))?", state[len(prefix):])
        return (int(m[1]), int(m[2] or 0)) if m else None

    # ------------------------------------------------------------ state

    def _emit(self, item: Item | None, event: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(self, item, event)
            except Exception:  # a broken view must not stop the submitter or the tracker
                log.exception("experiment listener failed")

    def subscribe(self, listener: Callable[["Experiment", Item | None, str], None]) -> None:
        """Call `listener(experiment, item, event)` when an item changes (the gallery uses this)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # ------------------------------------------------------------ money

    def _item_price(self, item: Item) -> float | None:
        """USD an item's submit is charged: an imagine, or a U press for follow-ups."""
        return self.client._price_of("mj_upscale" if item.parent is not None else "mj_imagine")

    def _state_plan(self) -> str:
        """Say before the first submit how many are planned and what they should cost."""
        n, budget = len(self.items), self.budget
        price = self._item_price(self.items[0]) if self.items else None
        if price is None:
            balance = self.client.balance()  # also turns on learning the price around the first submit
            if not balance.offered:
                raise E.ValidationError(
                    "a budget needs the price of a submit, and mjnb knows none for this relay and cannot "
                    f"learn it ({balance.reason})", field="budget",
                    hint="Set it: mjnb.configure(prices={'imagine': 0.1}) (USD per call, as the relay charges)")
            text = (f"{self.name}: {n} submit(s) planned, budget {usd(budget)}; the price is not known yet, "
                    f"so the first goes alone and the balance around it tells it (should one submit cost more "
                    f"than the whole budget, that first one alone crosses it; {balance.text})")
        else:
            fit = n if price == 0 else min(n, int((budget + 1e-9) // price))
            text = (f"{self.name}: {n} submit(s) planned at {usd(price)} each, estimated {usd(n * price)}; "
                    f"budget {usd(budget)} covers {fit}")
            if fit < n:
                text += f" (the other {n - fit} wait for refunds of failed tasks, else are marked {OVER_BUDGET!r})"
        print(text, flush=True)
        return text

    def money(self) -> Money:
        """Spent (finished tasks; failed ones are refunded), committed (submitted, still running)
        and remaining of the budget, in USD, over the experiment and its follow-up batches
        (exp.upscale(...)), which share its budget; `.text` is one line for a gallery."""
        entries = []
        with self._submitter.cond:
            for item in (i for batch in self._family for i in batch.items):
                estimate = item.batch._item_price(item)
                for task in item.previous + ([item.task] if item.task is not None else []):
                    price = self.client.task_price(task.id)
                    status = task.status
                    state = ("FAILURE" if status == TaskStatus.FAILURE else "SUCCESS") if status.is_terminal \
                        else "running"
                    entries.append((estimate if price is None else price, state))
                if item.task is None and item.submitting:
                    entries.append((estimate, "submitting"))
                elif item.task is None and item.uncertain:  # may have been charged: nothing will tell
                    entries.append((estimate, "uncertain"))
        return tally(entries, self.budget)

    def _budget_check(self, item: Item) -> str:
        """go, wait or over for the next submit (called with the submitter's lock held); marks an
        item that can never fit."""
        if self.budget is None:
            return "go"
        price = self._item_price(item)
        if price is None:  # being learned: the first submit goes alone; a second unknown would be a guess
            if any(i.task is not None or i.submitting or i.uncertain for i in self.items):
                if any(i.live for i in self.items):
                    return "wait"
                item.over_budget = (f"{OVER_BUDGET}: the price of a submit is still unknown (the balance did "
                                    f"not tell it), so it could not be kept under the budget")
                return "over"
            return "go"
        money = self.money()
        fits = verdict(money, price)
        if fits == "over":
            item.over_budget = (f"{OVER_BUDGET}: its price, {usd(price)}, would take the spending "
                                f"({usd(money.spent)} spent) past the budget of {usd(self.budget)}")
        return fits

    def counts(self) -> dict:
        """How many items are queued, retrying (queued again after a "not now" refusal: queue full,
        429, 503, no connection; `last_error` says which), running (incl. submitting), done, failed,
        stalled, cancelled, uncertain (outcome unknown: not sent again unless asked), over budget."""
        out = dict.fromkeys((QUEUED, RETRYING, RUNNING, DONE, FAILED, STALLED, CANCELLED, UNCERTAIN, OVER_BUDGET), 0)
        for item in self.items:
            status = item.status
            if status == QUEUED and item.retries:
                status = RETRYING
            out[RUNNING if status == SUBMITTING else status] += 1
        return out

    @property
    def tasks(self) -> list["Task"]:
        """The current task of every item that has one, in item order."""
        return [i.task for i in self.items if i.task is not None]

    @property
    def done(self) -> bool:
        """Every item is done, failed, stalled, cancelled or uncertain."""
        return all(i.status in SETTLED for i in self.items)

    def eta(self) -> float | None:
        """Seconds left (None: nothing finished yet to learn from): the running items' remaining
        time at the mean finished duration, then the queued ones filling the slots as they free."""
        durations, elapsed = [], []
        now = datetime.now(timezone.utc)
        for item in self.items:
            snap = item.task.snapshot if item.task is not None else None
            if snap is not None and snap.finish_time and snap.submit_time and snap.status.is_terminal:
                durations.append((snap.finish_time - snap.submit_time).total_seconds())
            elif item.status in (SUBMITTING, RUNNING):
                started = snap.submit_time if snap is not None else None
                elapsed.append(max(0.0, (now - started).total_seconds()) if started else 0.0)
        queued = sum(1 for i in self.items if i.status == QUEUED)
        if not elapsed and not queued:
            return 0.0
        if not durations:
            return None
        return time_left(sum(durations) / len(durations), elapsed, queued, self.concurrency)

    # ------------------------------------------------------------ user actions

    def wait(self, timeout: float | None = None) -> "Experiment":
        """Block until every item is done, failed, stalled, cancelled or uncertain; raise TaskTimeoutError when
        `timeout` seconds pass first. Final images are in the history's cache when it returns."""
        deadline = None if timeout is None else time.monotonic() + timeout
        cond = self._submitter.cond
        with cond:
            while not self.done:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    c = self.counts()
                    raise E.TaskTimeoutError(
                        f"experiment {self.name!r} did not settle within {timeout:g} s "
                        f"({', '.join(f'{v} {k}' for k, v in c.items() if v)})",
                        hint="Wait longer, cancel() it, or look at the gallery for stalled tasks")
                cond.wait(0.5 if left is None else min(left, 0.5))
        for item in self.items:  # keep the final images before their URLs expire, time allowing
            left = None if deadline is None else deadline - time.monotonic()
            if item.status == DONE and item.task.image_url and (left is None or left > 0):
                try:
                    item.task._final_bytes(timeout=left)
                except E.MjnbError as exc:
                    log.warning("experiment %s: could not keep the image of item %d: %s", self.name, item.index, exc)
        return self

    def cancel(self) -> "Experiment":
        """Stop submitting: queued items end as cancelled; tasks already sent keep running.
        Returns once no submit of this experiment is in flight, so nothing new is sent after it."""
        cond = self._submitter.cond
        with cond:
            self._cancelled = True
            for item in self.items:
                if item.status == QUEUED:
                    item.cancelled = True
            cond.notify_all()
            while self._submitter.current is not None and self._submitter.current.batch is self:
                cond.wait(0.5)
        self._emit(None, "status")
        return self

    def retry_failed(self, uncertain: bool = False) -> "Experiment":
        """Submit every failed item again as a new attempt (state key suffix :r1, :r2, ...).

        Uncertain items (the submit's outcome is unknown: its task may exist and be charged) are
        left alone unless `uncertain=True`: only ask for that once you have checked the relay (its
        web dashboard's task log) and decided a second charge is fine."""
        if not isinstance(uncertain, bool):
            raise E.ValidationError(f"uncertain must be True or False, not {uncertain!r}", field="uncertain")
        again = (FAILED, UNCERTAIN) if uncertain else (FAILED,)
        with self._submitter.cond:
            self._cancelled = False
            self.last_error = None
            for item in self.items:
                if item.status in again:
                    if item.task is not None:
                        item.previous.append(item.task)
                    item.task, item.error, item.uncertain = None, None, False
                    item.retries, item.refusal = 0, None
                    item.attempt += 1
        self._submitter.start()
        self._emit(None, "status")
        return self

    def upscale(self, index: int) -> "Experiment":
        """Press U<index> on every grid of this experiment finished by now. Returns a follow-up Experiment
        (named '<name>.U<index>', one item per grid, same factors plus parent_item) that shares this
        experiment's submitter: the same concurrency limit and back-pressure. Calling it again with
        the same index (even in a new process) resumes that batch instead of pressing twice."""
        if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= 4:
            raise E.ValidationError(f"index must be 1, 2, 3 or 4 (the grid's image), not {index!r}", field="index")
        if self.follow_up is not None:
            raise E.ValidationError("upscale() works on an experiment of grids, not on a follow-up batch",
                                    field="index")
        for batch in self._submitter.batches:
            if batch.follow_up == index and batch.name == f"{self.name}.U{index}":
                return batch
        grids = [i for i in self.items if i.status == DONE]
        return Experiment._follow_up(self, index, grids)

    # ------------------------------------------------------------ results

    @property
    def df(self) -> "pd.DataFrame":
        """One row per item, in item order, whatever became of it (so a grid of 12 is 12 rows).

        The row is the history's row for the item's current attempt: its task, or its submit
        whose outcome is unknown (status UNKNOWN, no id); an item with neither (queued, refused,
        cancelled) gets a row with its prompt and state and no id. Columns: those of
        mjnb.history(), then item, attempt, repeat, one factor_<name> column per factor
        (factor_prompt is the prompt as given), item_status (queued, submitting, running, done,
        failed, stalled, cancelled, uncertain or over budget) and reason (why it failed, or why its outcome is
        unknown). Earlier attempts are in `attempts`."""
        import numpy as np
        import pandas as pd
        hist = self._history_rows()
        ids, where = list(hist["id"]), {}
        for pos, key in enumerate(zip(hist["item"], hist["attempt"])):
            where.setdefault(key, []).append(pos)
        with self._submitter.cond:  # one consistent view of the items
            items = [(item, item.attempt, item.task, item.status, item.reason) for item in self.items]
        take = []
        for item, attempt, task, _, _ in items:
            rows = where.get((item.index, attempt), [])
            pick = next((p for p in rows if task is not None and ids[p] == task.id), None)
            if pick is None and rows:  # a task row before an unknown-outcome row
                pick = next((p for p in rows if ids[p] is not None), rows[0])
            take.append(-1 if pick is None else pick)
        missing = {}  # row -> what the item itself knows, for items with no history row
        for n, (item, attempt, task, status, reason) in enumerate(items):
            if take[n] == -1:
                missing[n] = {"prompt": item.prompt, "state": item.key, "experiment": self.name,
                              "server": self.client.config.host, "fail_reason": reason or None,
                              "id": task.id if task is not None else None,
                              "status": str(task.status) if task is not None else None,
                              "button": "", "note": "", "tags": [], "image_prompts": [], "other": {}}
        columns = {}
        for column in hist.columns:  # column by column, keeping each dtype (and None as None)
            if column in ("item", "attempt"):  # set from the items below (an item with no row has none)
                continue
            have, dtype = hist[column].tolist(), hist[column].dtype
            blank = False if dtype == bool else 0 if column in ("progress", "item", "attempt") else None  # item, attempt: set below
            values = [have[p] if p != -1 else missing[n].get(column, blank) for n, p in enumerate(take)]
            if dtype == object:
                columns[column] = np.empty(len(values), dtype=object)
                columns[column][:] = values
            else:
                columns[column] = pd.array(values, dtype=dtype)
        df = pd.DataFrame(columns, index=pd.RangeIndex(len(take)))
        df["item"] = [item.index for item, *_ in items]
        df["attempt"] = [attempt for _, attempt, *_ in items]
        df = self._with_factors(df)
        df["item_status"] = [status for *_, status, _ in items]
        df["reason"] = [reason for *_, reason in items]
        return df

    @property
    def attempts(self) -> "pd.DataFrame":
        """Every attempt's history row (each task, and each submit whose outcome is unknown), by
        item then attempt, with the columns of `df` but item_status and reason."""
        return self._with_factors(self._history_rows()).sort_values(["item", "attempt"]).reset_index(drop=True)

    def _history_rows(self) -> "pd.DataFrame":
        """The history's rows of this experiment whose state is one of its keys, with item and attempt."""
        if self.client.history is None:
            raise E.MjnbError("this client keeps no history (history=False), so there is no DataFrame")
        df = self.client.history.dataframe(experiment=self.name, server=self.client.config.host)
        keys = [self._parse_key(s) for s in df["state"]]
        df = df.assign(item=[k[0] if k else -1 for k in keys], attempt=[k[1] if k else -1 for k in keys])
        df = df[df["item"] >= 0].reset_index(drop=True)
        df["item"] = df["item"].astype(int)
        df["attempt"] = df["attempt"].astype(int)
        return df

    def _with_factors(self, df: "pd.DataFrame") -> "pd.DataFrame":
        by_index = {i.index: i for i in self.items}
        df["repeat"] = [by_index[i].repeat if i in by_index else None for i in df["item"]]
        for column in self.factors:
            df[column] = [by_index[i].factors.get(column) if i in by_index else None for i in df["item"]]
        return df

    def contact_sheet(self, rows: str | None = None, cols: str | None = None, **kwargs: Any):
        """plots.contact_sheet on exp.df; rows/cols name factors ('stylize' or 'factor_stylize');
        by default the first two factors that vary (else the prompt and the repeat)."""
        from .plots import contact_sheet
        df = self.df
        varying = [c for c in self.factors if df[c].nunique() > 1] if len(df) else []
        rows = self._column_name(rows) or (varying[0] if varying else "factor_prompt")
        cols = self._column_name(cols) or next((c for c in varying if c != rows), "repeat")
        return contact_sheet(df, rows=rows, cols=cols, **kwargs)

    def _column_name(self, name: str | None) -> str | None:
        if name is None:
            return None
        if name not in self.factors and _column(name) in self.factors:
            return _column(name)
        return name

    # ------------------------------------------------------------ display

    @property
    def gallery(self):
        """The live gallery widget (built once)."""
        if self._gallery is None:
            from .gallery import ExperimentGallery
            self._gallery = ExperimentGallery(self)
        return self._gallery

    def _ipython_display_(self) -> None:
        """In IPython: the gallery, with a static copy that is brought up to date when it settles."""
        self.gallery.show()

    def _display_(self):
        """marimo's display protocol: the gallery widget."""
        return self.gallery

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        try:
            return self.gallery.bundle()  # the live gallery beside its static copy (widgets.LiveOutput)
        except Exception:  # no widget support here: the text alone
            log.debug("no widget view", exc_info=True)
            return {"text/plain": repr(self)}

    def __repr__(self) -> str:
        c = self.counts()
        parts = [f"{v} {k}" for k, v in c.items() if v or k in (QUEUED, RUNNING, DONE, FAILED, STALLED)]
        eta = self.eta()
        tail = f", about {_duration(eta)} left" if eta else ""
        if self.last_error:
            tail += f"; last error: {self.last_error}"
        return f"<Experiment {self.name!r}: {len(self.items)} items: {', '.join(parts)}{tail}>"

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)


# ---------------------------------------------------------------- argument checks


def time_left(mean: float, running_elapsed: Sequence[float], queued: int, concurrency: int) -> float:
    """When the last item ends: each slot finishes its running item (an overdue one still needs a
    tenth of the mean), then takes the next queued item for `mean` seconds."""
    slots = [max(mean - e, 0.1 * mean) for e in running_elapsed]
    slots += [0.0] * max(0, concurrency - len(slots))
    heapq.heapify(slots)
    for _ in range(queued):
        heapq.heappush(slots, heapq.heappop(slots) + mean)
    return max(slots)


def _prompts(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise E.ValidationError(f"prompts must be a prompt or a non-empty list of prompts, not {value!r}",
                                field="prompts")
    for i, p in enumerate(value):
        if not isinstance(p, str) or not p.strip():
            raise E.ValidationError(f"prompts[{i}] must be a non-empty string, not {p!r}", field="prompts")
    return [p.strip() for p in value]


def _params(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise E.ValidationError("params must be a dict of lists, such as {'--stylize': [50, 250], "
                                f"'--ar': ['1:1', '3:2']}}, not {type(value).__name__}", field="params")
    out = {}
    for key, values in value.items():
        if not isinstance(key, str) or not re.fullmatch(r"-{0,2}[A-Za-z][A-Za-z0-9_-]*", key.strip()):
            raise E.ValidationError(f"params keys must be Midjourney parameters such as '--stylize', not {key!r}",
                                    field="params")
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
            raise E.ValidationError(f"params[{key!r}] must be a non-empty list of values, such as [50, 250], "
                                    f"not {values!r}", field="params")
        flag = "--" + key.strip().lstrip("-")
        if flag in out:
            raise E.ValidationError(f"params names {flag} twice", field="params")
        out[flag] = list(values)
    return out


def _check_items(items: list[Item]) -> None:
    """Refuse the whole experiment, before anything is sent, if Midjourney would refuse an item."""
    seen: set[str] = set()
    for item in items:
        if item.prompt in seen:
            continue
        seen.add(item.prompt)
        try:
            check_prompt(item.prompt)
        except ParameterError as exc:  # the caption shows the factor values that made the prompt
            raise ParameterError(f"experiment item {item.index} ({item.caption()}): {exc.summary}; "
                                 f"nothing was submitted", parameter=exc.parameter, problems=exc.problems,
                                 hint=exc.hint) from None


def _positive_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise E.ValidationError(f"{field} must be an integer >= 1, not {value!r}", field=field)
    return value


def _name(value: Any) -> str:
    if value is None:
        # a timestamp to read, random hex so two quick calls never share a name (that would resume)
        return datetime.now().strftime("exp-%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    if not isinstance(value, str) or not value.strip() or len(value) > 100 or re.search(r"[\x00-\x1f]", value):
        raise E.ValidationError(f"name must be a non-empty one-line string of at most 100 characters, "
                                f"not {value!r}", field="name")
    return value.strip()


def _column(key: str) -> str:
    return "factor_" + key.strip().lstrip("-").replace("-", "_")


def _flag(key: str, value: Any) -> str:
    if value is None or value is False:
        return ""
    if value is True:
        return key
    return f"{key} {value}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
