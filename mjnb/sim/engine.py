"""The simulator's task engine: queues, timelines and the pictures each task will show.

It is a discrete-event simulation advanced lazily: every request first calls `advance(now)`,
which plays all scheduled steps up to `now` in time order (starts, progress edits, finishes,
queue promotions). Nothing runs between requests, yet every timestamp is exact and each
task's full history is kept, which is what the relay's delayed view is read from.
"""

from __future__ import annotations

import bisect
import heapq
import hmac
import itertools
import random
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

from . import buttons as btn
from . import render
from .options import SimOptions

# Seconds a real (speed 1) job takes, by what it renders: relative sizes from spec 9.2.
BASE_DURATION = {"grid": 30.0, "upscale": 10.0, "upscale_hd": 30.0, "describe": 5.0,
                 "shorten": 5.0, "swap": 12.0}
DISPATCH_DELAY = 1.5  # NOT_START -> SUBMITTED: the proxy sends the command to Discord
MODE_FACTOR = {"relax": 3.0, "fast": 1.0, "turbo": 0.5}
TERMINAL = ("SUCCESS", "FAILURE")

FAIL_REASONS = [  # (embed title, description) pairs Midjourney really sends
    ("Request cancelled due to output filters",
     "Sorry! Our AI moderator thinks this prompt is probably against our community standards."),
    ("Invalid parameter", "Unrecognized parameter(s): `--foo`"),
    ("Job action restricted", "Sorry, this action is not available for this job right now."),
]


class SimError(Exception):
    """A business error the server layer turns into the flavour's envelope."""

    def __init__(self, kind: str, message: str, **extra):
        super().__init__(message)
        self.kind = kind  # validation, not_found, status, queue_full, banned, unknown_action
        self.message = message
        self.extra = extra


@dataclass
class Attachment:
    """An image file 'uploaded to Discord', served under a signed, expiring URL."""

    id: str
    task_id: str
    filename: str
    kind: str  # final, preview, upload
    progress: int
    issued: float
    expires: float


@dataclass
class SimTask:
    id: str
    key: str
    action: str  # the upstream (PLUS/TRUEAI) action name
    relay_action: str  # the name a new-api relay stores
    kind: str  # grid, single, describe, shorten, swap
    prompt: str
    final_prompt: str
    description: str  # upstream style: "/imagine ...", "/up <id> U1" ...
    submit_time: float
    state: str | None = None
    mode: str | None = None
    bot_type: str = "MID_JOURNEY"
    parent_id: str | None = None
    custom_id: str | None = None
    job_hash: str = ""
    seed: int = 0
    version: str = "7"
    tiles: tuple = ()
    tile_size: tuple = (256, 256)
    scale: int = 1  # single images: the size of one tile times this
    hd: bool = False
    outcome: str = "success"  # success, failure, hang, banned, invalid
    fail_reason: str = ""
    modal: str | None = None  # customzoom, inpaint, remix, picreader while waiting in MODAL
    seed_known_early: bool = False
    properties: dict = field(default_factory=dict)
    # the live, upstream state
    status: str = "NOT_START"
    progress: int = 0
    image_url: str | None = None
    start_time: float | None = None
    finish_time: float | None = None
    buttons: list = field(default_factory=list)
    history: list = field(default_factory=list)  # (time, snapshot dict), in time order

    def snapshot(self) -> dict:
        return {"status": self.status, "progress": self.progress, "image_url": self.image_url,
                "start_time": self.start_time, "finish_time": self.finish_time,
                "fail_reason": self.fail_reason if self.status == "FAILURE" else "",
                "buttons": list(self.buttons), "final_prompt": self.final_prompt}

    def record(self, t: float) -> None:
        self.history.append((t, self.snapshot()))

    def state_at(self, t: float, before: bool = False) -> dict | None:
        """The upstream state as it was at time t, or just before it (None: no task yet)."""
        times = [h[0] for h in self.history]
        i = bisect.bisect_left(times, t) if before else bisect.bisect_right(times, t)
        return self.history[i - 1][1] if i else None

    @property
    def image_size(self) -> tuple:
        return (self.tile_size[0] * self.scale, self.tile_size[1] * self.scale)


@dataclass
class Account:
    running: list = field(default_factory=list)
    waiting: deque = field(default_factory=deque)
    submits: int = 0


def param(prompt: str, *names: str) -> str | None:
    """The value of a --name parameter in a prompt (None when absent)."""
    for name in names:
        m = re.search(rf"(?:^|\s)--{name}(?:\s+([^-\s]\S*))?(?=\s|$)", prompt)
        if m:
            return m[1] or ""
    return None


class Engine:
    def __init__(self, options: SimOptions, base_url: str = "http://127.0.0.1"):
        self.options = options
        self.base_url = base_url
        self.lock = threading.RLock()
        self.rng = random.Random(options.seed)
        self.secret = self.rng.getrandbits(128).to_bytes(16, "big")
        self.started = time.time()
        self.tasks: dict[str, SimTask] = {}
        self.accounts: dict[str, Account] = {}
        self.attachments: dict[str, Attachment] = {}
        self.uploads: dict[str, bytes] = {}  # attachment id -> bytes of uploaded images
        self._events: list = []  # heap of (time, seq, task_id, step)
        self._seq = itertools.count()
        self._last_id_ms = 0
        self.finished = 0  # tasks that reached SUCCESS or FAILURE: a state file saves after each

    # ------------------------------------------------------------ clock and ids

    def now(self) -> float:
        return time.time()

    def new_id(self, t: float) -> str:
        """16 digits: a 13-digit ms timestamp and 3 random digits, unique and rising."""
        ms = max(int(t * 1000), self._last_id_ms)
        while True:
            candidate = f"{ms}{self.rng.randrange(1000):03d}"
            if candidate not in self.tasks:
                self._last_id_ms = ms
                return candidate
            ms += 1

    def account(self, key: str) -> Account:
        return self.accounts.setdefault(key, Account())

    # ------------------------------------------------------------ the event loop

    def advance(self, now: float | None = None) -> None:
        """Play every scheduled step up to `now`."""
        now = self.now() if now is None else now
        with self.lock:
            while self._events and self._events[0][0] <= now:
                t, _, task_id, step = heapq.heappop(self._events)
                task = self.tasks[task_id]
                if task.status in TERMINAL:
                    continue
                step(task, t)

    def _at(self, t: float, task: SimTask, step) -> None:
        heapq.heappush(self._events, (t, next(self._seq), task.id, step))

    def enqueue(self, task: SimTask, t: float) -> int:
        """Put a task in its key's queue; returns how many wait ahead of it (0 = runs now)."""
        acct = self.account(task.key)
        if len(acct.running) < self.options.concurrency:
            self._dispatch(task, t)
            return 0
        if len(acct.waiting) >= self.options.queue_size:
            raise SimError("queue_full", "queue full")
        acct.waiting.append(task.id)
        return len(acct.waiting)

    def _dispatch(self, task: SimTask, t: float) -> None:
        self.account(task.key).running.append(task.id)
        self._at(t + DISPATCH_DELAY / self.options.speed, task, self._start)

    def _release(self, task: SimTask, t: float) -> None:
        acct = self.account(task.key)
        if task.id in acct.running:
            acct.running.remove(task.id)
        while acct.waiting and len(acct.running) < self.options.concurrency:
            self._dispatch(self.tasks[acct.waiting.popleft()], t)

    def _duration(self, task: SimTask) -> float:
        if task.kind in ("grid",):
            base = BASE_DURATION["grid"]
        elif task.kind == "single":
            base = BASE_DURATION["upscale_hd" if task.hd else "upscale"]
        else:
            base = BASE_DURATION[task.kind]
        jitter = self.rng.uniform(0.8, 1.3)
        mode = MODE_FACTOR.get(task.mode or "fast", 1.0) if self.options.profile == "trueai" else 1.0
        return base * jitter * mode / self.options.speed

    def _start(self, task: SimTask, t: float) -> None:
        task.status, task.progress, task.start_time = "SUBMITTED", 0, t
        task.record(t)
        if task.outcome == "banned":  # TRUEAI checks banned words when the job starts
            self._finish(task, t, "FAILURE", "可能包含敏感词")
            return
        if task.outcome == "invalid":  # Midjourney's "Invalid parameter" embed (midjourney_rules)
            self._finish(task, t, "FAILURE", task.fail_reason)
            return
        total = self._duration(task)
        steps = sorted(self.rng.sample(range(5, 96), self.rng.randint(3, 6)))
        times = sorted(self.rng.uniform(0.15, 0.95) * total for _ in steps)
        self._at(t + 0.1 * total, task, lambda tk, at: self._progress(tk, at, 0))
        if task.outcome == "hang":  # stops somewhere in the middle, forever
            cut = self.rng.randint(1, len(steps))
            steps, times = steps[:cut], times[:cut]
        elif task.outcome == "failure":
            cut = self.rng.randint(0, len(steps))
            steps, times = steps[:cut], times[:cut]
        for value, when in zip(steps, times):
            self._at(t + when, task, lambda tk, at, v=value: self._progress(tk, at, v))
        if task.outcome == "success":
            self._at(t + total, task, lambda tk, at: self._finish(tk, at, "SUCCESS"))
        elif task.outcome == "failure":
            self._at(t + total * self.rng.uniform(0.96, 1.0), task,
                     lambda tk, at: self._finish(tk, at, "FAILURE", task.fail_reason))
        if self.options.job_timeout is not None:
            text = {"trueai": "执行超时 5 分钟", "novicezk": "任务超时"}.get(
                self.options.profile, "任务超时")
            self._at(t + self.options.job_timeout, task,
                     lambda tk, at: self._finish(tk, at, "FAILURE", text))

    def _progress(self, task: SimTask, t: float, value: int) -> None:
        task.status, task.progress = "IN_PROGRESS", value
        if value > 0 and task.kind in ("grid", "single", "swap"):
            task.image_url = self._attach(task, t, "preview", value)
        task.record(t)

    def _finish(self, task: SimTask, t: float, status: str, reason: str = "") -> None:
        task.status, task.finish_time = status, t
        if status == "SUCCESS":
            task.progress = 100
            if task.kind in ("grid", "single", "swap"):
                task.image_url = self._attach(task, t, "final", 100)
            task.buttons = self._buttons_for(task)
        else:
            task.fail_reason = reason
        task.record(t)
        self.finished += 1
        self._release(task, t)

    def _buttons_for(self, task: SimTask) -> list:
        if self.options.profile == "novicezk":
            return []  # the open-source proxy has no buttons
        if task.kind == "grid":
            return btn.grid_buttons(task.job_hash)
        if task.kind == "single":
            return btn.upscale_buttons(task.job_hash, task.version, hd=task.hd)
        if task.kind == "describe":
            return btn.describe_buttons()
        if task.kind == "shorten":
            return btn.shorten_buttons(task.job_hash)
        return []

    # ------------------------------------------------------------ images and URLs

    def _attach(self, task: SimTask, t: float, kind: str, progress: int) -> str:
        aid = str(1300000000000000000 + int(t * 1000) * 1000 + self.rng.randrange(1000))
        while aid in self.attachments:
            aid = str(int(aid) + 1)
        if kind == "preview":
            filename = f"{task.job_hash}_grid_0.webp"
        elif kind == "upload":
            filename = f"{uuid.UUID(int=self.rng.getrandbits(128))}.png"
        else:
            words = "_".join(re.findall(r"[A-Za-z0-9]+", task.prompt or "image"))[:40] or "image"
            filename = f"user_{words}_{task.job_hash}.png"
        att = Attachment(aid, task.id, filename, kind, progress, t, t + self.options.image_ttl)
        self.attachments[aid] = att
        issued, expires = int(t), int(att.expires)
        return (f"{self.base_url}/attachments/1290011223344556677/{aid}/{filename}"
                f"?ex={expires:x}&is={issued:x}&hm={self.sign(aid, expires, issued)}&")

    def sign(self, aid: str, ex: int, is_: int) -> str:
        return hmac.new(self.secret, f"{aid}:{ex:x}:{is_:x}".encode(), "sha256").hexdigest()

    def image_bytes(self, att: Attachment) -> tuple[bytes, str]:
        """The encoded picture behind an attachment, and its content type."""
        if att.kind == "upload":
            return self.uploads[att.id], "image/png"
        picture = self.picture(self.tasks[att.task_id])
        if att.kind == "preview":
            return render.encode(render.preview(picture, att.progress), "webp"), "image/webp"
        return render.encode(picture, "png"), "image/png"

    def picture(self, task: SimTask):
        """The task's final picture: a 2x2 grid or a single image."""
        if task.kind == "grid":
            return render.grid(task.tiles, task.tile_size)
        return render.render(task.tiles[0], task.image_size)

    def register_upload(self, task: SimTask, data: bytes, t: float) -> str:
        url = self._attach(task, t, "upload", 100)
        aid = url.split("/attachments/", 1)[1].split("/")[1]
        self.uploads[aid] = data
        return url

    # ------------------------------------------------------------ creating tasks

    def _outcome(self, prompt: str) -> tuple[str, str]:
        """Decide at submit time how a job will end; faults are drawn here, reproducibly."""
        roll = self.rng.random()
        if roll < self.options.hang_rate:
            return "hang", ""
        if roll < self.options.hang_rate + self.options.fail_rate:
            title, text = self.rng.choice(FAIL_REASONS)
            if self.options.profile == "trueai":
                return "failure", f"{title}, {text}"
            return "failure", f"[{title}] {text}"
        return "success", ""

    def banned_word(self, prompt: str) -> str | None:
        words = set(re.findall(r"[\w-]+", prompt.lower()))
        for word in self.options.banned_words:
            if word.lower() in words:
                return word
        return None

    def new_task(self, key: str, action: str, kind: str, prompt: str, t: float, **kw) -> SimTask:
        task_id = self.new_id(t)
        outcome, reason = self._outcome(prompt)
        task = SimTask(id=task_id, key=key, action=action, relay_action=kw.pop("relay_action", action),
                       kind=kind, prompt=prompt, final_prompt=kw.pop("final_prompt", prompt),
                       description=kw.pop("description", ""), submit_time=t,
                       job_hash=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                       outcome=outcome, fail_reason=reason, **kw)
        if not task.seed:
            task.seed = self.rng.randrange(1, 2**32)
        self.tasks[task_id] = task
        task.record(t)
        return task

    def grid_tiles_generate(self, prompt: str, seed: int) -> tuple:
        return tuple(render.Generate(prompt, seed, i) for i in range(4))

    def child_seeds(self) -> list[int]:
        return [self.rng.randrange(1, 2**32) for _ in range(4)]


def prompt_seed(prompt: str) -> int | None:
    value = param(prompt, "seed", "sameseed")
    return int(value) if value and value.isdigit() else None


def prompt_zoom(prompt: str) -> float | None:
    value = param(prompt, "zoom")
    try:
        return float(value) if value else None
    except ValueError:
        return None
