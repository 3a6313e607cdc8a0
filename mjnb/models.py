"""Tolerant, immutable models of what servers send (spec sections 4, 5, 6 and 8). No I/O here.

Every flavour is accepted: null versus "", ids as numbers, missing or extra keys, relay status "".
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Mapping


class TaskStatus(str, enum.Enum):
    PENDING = ""  # a relay's row before its first sync with the upstream
    NOT_START = "NOT_START"
    SUBMITTED = "SUBMITTED"
    MODAL = "MODAL"  # waiting for /submit/modal
    IN_PROGRESS = "IN_PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCEL = "CANCEL"
    UNKNOWN = "UNKNOWN"  # a status no flavour documents; the raw text stays in TaskSnapshot.raw

    @classmethod
    def parse(cls, value: Any) -> "TaskStatus":
        text = "" if value is None else str(value).strip().upper()
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        return self in (TaskStatus.SUCCESS, TaskStatus.FAILURE, TaskStatus.CANCEL)

    def __str__(self) -> str:
        return self.value or "PENDING"


class TaskAction(str, enum.Enum):
    IMAGINE = "IMAGINE"
    UPSCALE = "UPSCALE"
    VARIATION = "VARIATION"
    REROLL = "REROLL"
    DESCRIBE = "DESCRIBE"
    BLEND = "BLEND"
    ZOOM = "ZOOM"
    CUSTOM_ZOOM = "CUSTOM_ZOOM"
    PAN = "PAN"
    SHORTEN = "SHORTEN"
    SWAP_FACE = "SWAP_FACE"
    UPSCALE_HD = "UPSCALE_HD"
    INPAINT = "INPAINT"
    OUTPAINT = "OUTPAINT"
    HIGH_VARIATION = "HIGH_VARIATION"
    LOW_VARIATION = "LOW_VARIATION"
    MODAL = "MODAL"
    ACTION = "ACTION"
    SHOW = "SHOW"
    PIC_READER = "PIC_READER"
    VIDEO = "VIDEO"
    VIDEO_EXTEND = "VIDEO_EXTEND"
    EDIT = "EDIT"
    RETEXTURE = "RETEXTURE"
    SWAP_VIDEO_FACE = "SWAP_VIDEO_FACE"
    UPLOAD = "UPLOAD"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: Any) -> "TaskAction":
        text = "" if value is None else str(value).strip().upper()
        if text == "BLEAND":  # a typo in the open-source proxy's docs
            text = "BLEND"
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN

    def __str__(self) -> str:
        return self.value


class ButtonKind(str, enum.Enum):
    UPSCALE = "upscale"
    VARIATION = "variation"
    REROLL = "reroll"
    UPSCALE_SUBTLE = "upscale_subtle"
    UPSCALE_CREATIVE = "upscale_creative"
    UPSCALE_2X = "upscale_2x"  # v5 "Upscale (2x)"
    UPSCALE_4X = "upscale_4x"  # v5 "Upscale (4x)"
    VARY_SUBTLE = "vary_subtle"
    VARY_STRONG = "vary_strong"
    VARY_REGION = "vary_region"
    ZOOM_OUT = "zoom_out"
    CUSTOM_ZOOM = "custom_zoom"
    PAN = "pan"
    ANIMATE = "animate"
    BOOKMARK = "bookmark"
    DESCRIBE_PICK = "describe_pick"  # imagine the n-th describe candidate
    DESCRIBE_ALL = "describe_all"
    DESCRIBE_RETRY = "describe_retry"
    SHORTEN_PICK = "shorten_pick"
    SHORTEN_DETAILS = "shorten_details"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


EXPECTED_ACTION = {  # what a button press creates, before the server says
    "upscale": "UPSCALE", "upscale_subtle": "UPSCALE", "upscale_creative": "UPSCALE",
    "upscale_2x": "UPSCALE", "upscale_4x": "UPSCALE", "variation": "VARIATION",
    "vary_subtle": "VARIATION", "vary_strong": "VARIATION", "vary_region": "VARIATION",
    "reroll": "REROLL", "zoom_out": "ZOOM", "custom_zoom": "ZOOM", "pan": "PAN",
    "describe_pick": "IMAGINE", "describe_all": "IMAGINE", "describe_retry": "DESCRIBE",
    "shorten_pick": "IMAGINE", "shorten_details": "SHORTEN", "animate": "VIDEO",
}

ALWAYS_MODAL = {ButtonKind.CUSTOM_ZOOM, ButtonKind.VARY_REGION, ButtonKind.DESCRIBE_PICK,
                ButtonKind.SHORTEN_PICK}
MODAL_IN_REMIX = {ButtonKind.VARIATION, ButtonKind.VARY_SUBTLE, ButtonKind.VARY_STRONG,
                  ButtonKind.PAN, ButtonKind.REROLL, ButtonKind.ANIMATE}


def _relay_accepts(custom_id: str) -> bool:
    """new-api routes a customId by part 2 if part 1 is JOB, else part 1 (spec 3.5)."""
    parts = custom_id.split("::")
    if len(parts) < 2:
        return False
    op = parts[2] if parts[1] == "JOB" and len(parts) > 2 else parts[1]
    return (op.startswith("upsample") or op.startswith("pan_")
            or op in ("variation", "low_variation", "high_variation", "reroll", "Outpaint",
                      "CustomZoom", "Inpaint"))


def _int(text: str) -> int | None:
    return int(text) if text and text.isdigit() else None


@dataclass(frozen=True)
class Button:
    """A button the server sent: pass `custom_id` to /submit/action."""

    custom_id: str
    label: str = ""
    emoji: str = ""
    style: int = 2
    type: int = 2
    kind: ButtonKind = ButtonKind.UNKNOWN
    index: int | None = None  # U/V 1-4, describe/shorten candidate number
    direction: str | None = None  # pan: left, right, up, down
    zoom: float | None = None  # zoom out: 2.0 or 1.5
    relay_supported: bool = True  # new-api relays answer unknown_action for the others
    via_change: bool = False  # made up by us for servers without buttons: /submit/change presses it

    @classmethod
    def parse(cls, data: Mapping) -> "Button | None":
        """A Button from server JSON; None for link buttons (no customId)."""
        if not isinstance(data, Mapping):
            return None
        custom_id = str(data.get("customId") or data.get("custom_id") or "").strip()
        if not custom_id:
            return None
        kind, index, direction, zoom = classify(custom_id)
        return cls(custom_id=custom_id, label=str(data.get("label") or ""),
                   emoji=str(data.get("emoji") or ""), style=_to_int(data.get("style"), 2),
                   type=_to_int(data.get("type"), 2), kind=kind, index=index,
                   direction=direction, zoom=zoom, relay_supported=_relay_accepts(custom_id))

    @property
    def needs_modal(self) -> bool:
        """Always continued by /submit/modal (Custom Zoom, Vary Region, describe/shorten picks)."""
        return self.kind in ALWAYS_MODAL

    @property
    def modal_in_remix(self) -> bool:
        """Continued by /submit/modal when the account has Remix on."""
        return self.kind in MODAL_IN_REMIX

    @property
    def expected_action(self) -> TaskAction:
        """The action of the task this button creates (the server may name it its own way)."""
        return TaskAction.parse(EXPECTED_ACTION.get(self.kind.value))

    @property
    def text(self) -> str:
        """What the button shows: 'U1', '🔄', '⬅️', 'Vary (Region)'."""
        if self.label and self.emoji and len(self.emoji) <= 2:
            return f"{self.emoji} {self.label}"
        return self.label or self.emoji or self.kind.value


GRID_ACTIONS = ("IMAGINE", "VARIATION", "REROLL", "BLEND")  # parents /submit/change accepts


def change_buttons(task_id: str) -> tuple:
    """U1-U4, reroll and V1-V4 for a finished grid on a server that sends no buttons (the
    open-source proxy, spec §13 R8): pressed through /submit/change instead of /submit/action."""
    made = [(f"MJ::JOB::upsample::{i}::{task_id}", f"U{i}", "") for i in range(1, 5)]
    made += [(f"MJ::JOB::reroll::0::{task_id}::SOLO", "", "🔄")]
    made += [(f"MJ::JOB::variation::{i}::{task_id}", f"V{i}", "") for i in range(1, 5)]
    out = []
    for custom_id, label, emoji in made:
        kind, index, _, _ = classify(custom_id)
        out.append(Button(custom_id, label, emoji, kind=kind, index=index, via_change=True))
    return tuple(out)


def classify(custom_id: str) -> tuple[ButtonKind, int | None, str | None, float | None]:
    """(kind, index, direction, zoom) from a customId, by the grammar of spec section 8."""
    parts = custom_id.split("::")
    head = parts[1] if len(parts) > 1 else ""
    if head == "JOB" and len(parts) >= 4:
        op, index = parts[2], _int(parts[3])
        if op == "upsample":
            return ButtonKind.UPSCALE, index, None, None
        if op.startswith("upsample_"):
            if op.endswith("_subtle"):
                return ButtonKind.UPSCALE_SUBTLE, None, None, None
            if op.endswith("_creative"):
                return ButtonKind.UPSCALE_CREATIVE, None, None, None
            if op.endswith("_4x"):
                return ButtonKind.UPSCALE_4X, None, None, None
            if op.endswith("_2x"):
                return ButtonKind.UPSCALE_2X, None, None, None
            return ButtonKind.UNKNOWN, None, None, None
        if op == "variation":
            return ButtonKind.VARIATION, index, None, None
        if op == "low_variation":
            return ButtonKind.VARY_SUBTLE, None, None, None
        if op == "high_variation":
            return ButtonKind.VARY_STRONG, None, None, None
        if op == "reroll":
            return ButtonKind.REROLL, None, None, None
        if op.startswith("pan_"):
            return ButtonKind.PAN, None, op[4:], None
        if op.startswith("animate_"):
            return ButtonKind.ANIMATE, None, op[8:], None
    if head == "Outpaint" and len(parts) >= 3:
        zoom = {"50": 2.0, "75": 1.5}.get(parts[2])
        if zoom is None and parts[2].isdigit() and int(parts[2]) > 0:
            zoom = round(100 / int(parts[2]), 2)
        return ButtonKind.ZOOM_OUT, None, None, zoom
    if head == "CustomZoom":
        return ButtonKind.CUSTOM_ZOOM, None, None, None
    if head == "Inpaint":
        return ButtonKind.VARY_REGION, None, None, None
    if head == "BOOKMARK":
        return ButtonKind.BOOKMARK, None, None, None
    if head == "Job" and len(parts) >= 4 and parts[2] == "PicReader":
        if parts[3] == "all":
            return ButtonKind.DESCRIBE_ALL, None, None, None
        return ButtonKind.DESCRIBE_PICK, _int(parts[3]), None, None
    if head == "Picread":
        return ButtonKind.DESCRIBE_RETRY, None, None, None
    if head == "Job" and len(parts) >= 3 and parts[2] == "PromptAnalyzer":
        last = parts[-1]
        if last.isdigit():
            return ButtonKind.SHORTEN_PICK, int(last), None, None
        return ButtonKind.SHORTEN_DETAILS, None, None, None
    return ButtonKind.UNKNOWN, None, None, None


def _to_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# What a task id may look like (the client checks ids it sends against the same pattern). Ids come
# from servers and end up in URLs, SQL rows and cache names: anything else is refused where parsed.
TASK_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def task_id(value: Any) -> str | None:
    """Ids arrive as strings or JSON numbers; keep them as decimal strings. None when missing or
    malformed (`../../x`, a NUL, 10 kB of text): a server's id is untrusted input."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int):
        text = str(value) if abs(value) < 10 ** 64 else ""  # str() of a huge int is slow and useless
    elif isinstance(value, str):
        text = value.strip() if len(value) <= 256 else ""
    else:
        return None  # a list, an object: not an id
    return text if TASK_ID.fullmatch(text) else None


def is_task_id(value: Any) -> bool:
    """True for a well-formed id string (what task_id() keeps unchanged)."""
    return isinstance(value, str) and TASK_ID.fullmatch(value) is not None


def _time(value: Any) -> datetime | None:
    """Epoch milliseconds (0 / null = unset) as an aware UTC datetime."""
    try:
        ms = int(value)
    except (TypeError, ValueError):
        return None
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms) if ms > 0 else None  # exact ms


def _progress(text: Any, status: TaskStatus) -> int:
    m = re.search(r"(\d+(?:\.\d+)?)", str(text or ""))
    if m:
        return max(0, min(100, int(float(m[1]))))
    return 100 if status == TaskStatus.SUCCESS else 0


def _text(value: Any) -> str:
    return "" if value is None else str(value)


_QUEUE = re.compile(r"前面还有\s*(\d+)\s*个")
MODAL_TEXTS = ("waiting for window confirm", "窗口等待")
_VOLATILE = re.compile(r"(?<=[?&])rand=\d*(&|$)")


def stable_url(url: str) -> str:
    """The URL without new-api's `rand=` (new on every read until SUCCESS, spec §13 R1): it
    changes nothing about the image, so it must not count as a change of the task."""
    if "rand=" not in url:
        return url
    return _VOLATILE.sub("", url).rstrip("?&")


_STATUS_RANK = {TaskStatus.MODAL: 0, TaskStatus.UNKNOWN: 1, TaskStatus.PENDING: 1, TaskStatus.NOT_START: 1,
                TaskStatus.SUBMITTED: 2, TaskStatus.IN_PROGRESS: 3}


def newest_per_id(snapshots) -> list:
    """One snapshot per id, the furthest along. After /submit/modal a new-api relay lists an id
    twice and keeps only one row in sync (spec §13 R3); rows come in no stable order, so the
    one that got further wins (a tie: the later one)."""
    best: dict = {}
    for snap in snapshots:
        old = best.get(snap.id)
        rank = (_STATUS_RANK.get(snap.status, 4), snap.progress)
        if old is None or rank >= (_STATUS_RANK.get(old.status, 4), old.progress):
            best[snap.id] = snap
    return list(best.values())


@dataclass(frozen=True)
class SubmitResult:
    """What a submit answered (spec section 4)."""

    code: int
    description: str = ""
    result: Any = None
    properties: Mapping = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Mapping) -> "SubmitResult":
        props = data.get("properties")
        return cls(code=_to_int(data.get("code"), 0), description=_text(data.get("description")),
                   result=data.get("result"),
                   properties=MappingProxyType(dict(props)) if isinstance(props, Mapping) else MappingProxyType({}))

    @property
    def ids(self) -> list[str]:
        """Task ids in `result`: one string, a number, a list, or TRUEAI's comma-joined ids."""
        value = self.result
        if isinstance(value, (list, tuple)):
            return [i for i in (task_id(v) for v in value) if i]
        if isinstance(value, str) and "," in value:
            return [i for i in (task_id(part) for part in value.split(",")) if i]
        single = task_id(value)
        return [single] if single else []

    @property
    def task_id(self) -> str | None:
        ids = self.ids
        return ids[0] if ids else None

    @property
    def queue_ahead(self) -> int | None:
        """Jobs ahead in the account's queue, from numberOfQueues or the relay's text."""
        if "numberOfQueues" in self.properties:
            return _to_int(self.properties["numberOfQueues"], 0)
        m = _QUEUE.search(self.description)
        return int(m[1]) if m else None

    @property
    def is_modal(self) -> bool:
        """The new task waits in MODAL for /submit/modal: code 21, or a relay's code 1 that kept
        the upstream's words and its remix flag (spec §13 R4)."""
        return (self.code == 21 or self.description.strip().lower() in MODAL_TEXTS
                or self.properties.get("remix") is True)


@dataclass(frozen=True)
class TaskSnapshot:
    """One task as one server answer described it (spec section 5); `raw` keeps every key."""

    id: str
    action: TaskAction = TaskAction.UNKNOWN
    status: TaskStatus = TaskStatus.PENDING
    progress: int = 0
    prompt: str = ""
    prompt_en: str = ""
    final_prompt: str = ""
    final_zh_prompt: str = ""
    description: str = ""
    state: str = ""
    submit_time: datetime | None = None
    start_time: datetime | None = None
    finish_time: datetime | None = None
    image_url: str = ""
    fail_reason: str = ""
    buttons: tuple = ()
    properties: Mapping = field(default_factory=dict)
    custom_id: str = ""
    bot_type: str = ""
    mask_base64: str = ""
    seed: str | None = None  # TRUEAI reports it in the task
    parent_id: str | None = None
    image_urls: tuple = ()
    video_url: str = ""
    raw: Mapping = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, data: Mapping) -> "TaskSnapshot":
        if not isinstance(data, Mapping):
            raise TypeError(f"a task must be a JSON object, not {type(data).__name__}")
        ident = task_id(data.get("id"))
        if not ident:
            if data.get("id") in (None, ""):
                raise ValueError("a task without an id")
            # not quoted: server text reaches messages only through the client's key scrubber
            raise ValueError("a task with a malformed id (ids are 1-64 letters, digits, _ or -)")
        status = TaskStatus.parse(data.get("status"))
        props = data.get("properties") if isinstance(data.get("properties"), Mapping) else {}
        buttons = data.get("buttons") if isinstance(data.get("buttons"), list) else []
        urls = data.get("imageUrls") if isinstance(data.get("imageUrls"), list) else []
        seed = data.get("seed")
        return cls(
            id=ident, action=TaskAction.parse(data.get("action")), status=status,
            progress=_progress(data.get("progress"), status), prompt=_text(data.get("prompt")),
            prompt_en=_text(data.get("promptEn")), final_prompt=_text(props.get("finalPrompt")),
            final_zh_prompt=_text(props.get("finalZhPrompt")), description=_text(data.get("description")),
            state=_text(data.get("state")), submit_time=_time(data.get("submitTime")),
            start_time=_time(data.get("startTime")), finish_time=_time(data.get("finishTime")),
            image_url=stable_url(_text(data.get("imageUrl"))), fail_reason=_text(data.get("failReason")),
            buttons=tuple(b for b in (Button.parse(x) for x in buttons) if b is not None),
            properties=MappingProxyType(dict(props)), custom_id=_text(data.get("customId")),
            bot_type=_text(data.get("botType") or props.get("botType")),
            mask_base64=_text(data.get("maskBase64")),
            seed=task_id(seed) if seed not in (None, "", 0) else None,
            parent_id=task_id(data.get("parentId")),
            image_urls=tuple(_text(u.get("url")) if isinstance(u, Mapping) else _text(u) for u in urls),
            video_url=_text(data.get("videoUrl")),
            raw=MappingProxyType(dict(data)),
        )

    @property
    def progress_text(self) -> str:
        return _text(self.raw.get("progress"))

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def button(self, label_or_id: str) -> Button:
        """The button whose label, emoji, text or customId is `label_or_id` (case-insensitive)."""
        wanted = label_or_id.strip()
        for b in self.buttons:
            if wanted == b.custom_id:
                return b
        folded = wanted.casefold()
        for b in self.buttons:
            if folded in (b.label.casefold(), b.emoji.casefold(), b.text.casefold()) and folded:
                return b
        names = ", ".join(repr(b.text) for b in self.buttons) or "none (the task has no buttons)"
        raise KeyError(f"task {self.id} has no button {label_or_id!r}; it has {names}")
