"""The simulator's settings: one dataclass feeds `start(**options)`, the CLI and its --help."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


def _split(text: str) -> list:
    return [part.strip() for part in text.split(",") if part.strip()]


# new-api's defaultModelPrice for Midjourney, USD per call
DEFAULT_PRICES = {
    "mj_imagine": 0.1, "mj_variation": 0.1, "mj_reroll": 0.1, "mj_blend": 0.1, "mj_modal": 0.1,
    "mj_zoom": 0.1, "mj_shorten": 0.1, "mj_high_variation": 0.1, "mj_low_variation": 0.1,
    "mj_pan": 0.1, "mj_inpaint": 0.0, "mj_custom_zoom": 0.0, "mj_describe": 0.05,
    "mj_upscale": 0.05, "swap_face": 0.05, "mj_upload": 0.05,
}


def parse_prices(items: list) -> dict:
    """["mj_imagine=0.2", ...] on top of new-api's defaults; a bad item raises naming it."""
    prices = dict(DEFAULT_PRICES)
    for item in items:
        name, sep, value = str(item).partition("=")
        name = name.strip()
        try:
            usd = float(value)
        except ValueError:
            usd = -1.0
        if not sep or not name or not usd >= 0:
            raise ValueError(f"prices: each item must be model=USD with USD >= 0 (e.g. mj_imagine=0.1), "
                             f"not {item!r}")
        prices[name] = usd
    return prices


PROFILES = ("relay", "trueai", "novicezk")
OUTAGES = ("none", "no-account", "discord-error", "crash", "no-channel")
LOSS_KINDS = ("mixed", "502", "reset")


def _opt(default, help: str, **kw):
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class SimOptions:
    """Every knob of the simulator. The relay's own clock (sync_interval, give_up_after) is in
    simulated seconds, divided by `speed`; other durations are wall-clock seconds."""

    profile: str = _opt(
        "relay",
        "server flavour: relay (new-api in front of a PLUS/TRUEAI upstream; default), "
        "trueai (trueai-org v11, raw) or novicezk (the open-source Java proxy, raw)",
        choices=PROFILES,
    )
    keys: list = _opt(
        [],
        "accepted API keys, comma-separated; none configured = accept any key (tasks are "
        "still kept per key)",
        list_of=str,
    )
    disabled_keys: list = _opt(
        [],
        "keys whose user is banned: 403 (relay 用户已被封禁, trueai 账号不可用)",
        list_of=str,
    )
    denied_models: list = _opt(
        [],
        "relay billing models the key may not use, e.g. mj_imagine,mj_blend or action models such as "
        "mj_upscale, mj_variation, mj_custom_zoom, mj_inpaint: 403 该令牌无权访问模型",
        list_of=str,
    )
    speed: float = _opt(
        10.0,
        "time compression: a real imagine takes about 30 s; at speed 10 it takes about 3 s",
    )
    sync_interval: float = _opt(
        15.0,
        "relay profile: simulated seconds between the relay's syncs of upstream state (new-api: "
        "15; wall seconds = this / speed; 0 = the relay shows upstream state at once); until the "
        "first sync after a submit a task shows status \"\", progress \"0%\" and properties null",
    )
    give_up_after: float = _opt(
        3600.0,
        "relay profile: simulated seconds after which the relay fails a task still unfinished at "
        "a sync (new-api: 1 h, failReason 上游任务超时（超过1小时）)",
    )
    forward_images: bool = _opt(
        True,
        "relay profile: hand out the relay's own image URLs, <server-address>/mj/image/<id>, with a "
        "new ?rand= on every read until SUCCESS (new-api's default); --no-forward-images gives the "
        "upstream's Discord URLs instead",
    )
    server_address: str = _opt(
        "",
        "relay profile: the address the operator typed for forwarded image URLs, often http:// "
        "while the API is https (default: the simulator's own URL)",
    )
    tile_side: int = _opt(
        256,
        "pixels on the long side of one grid tile: a grid is 2 tiles wide, an upscale 2 (HD 4); "
        "Midjourney's grids are 2048 px (1024 here); the default keeps tests light",
        type=int,
    )
    concurrency: int = _opt(3, "jobs running at once per key (Midjourney: 3)")
    queue_size: int = _opt(10, "jobs waiting per key before submits are refused (code 23, trueai 9)")
    remix: bool = _opt(
        False,
        "the account has Remix on: variation, reroll and pan children start in status MODAL",
    )
    default_version: str = _opt(
        "7", "Midjourney version assumed when a prompt has no --v/--niji (chooses upscale buttons)"
    )
    image_ttl: float = _opt(
        86400.0, "seconds an image URL stays valid (Discord: 24 h); ex= and is= carry it"
    )
    seed: int = _opt(
        None,
        "seed for the simulator's own randomness (task ids, durations, faults); "
        "default: fresh each run",
        type=int,
    )
    fail_rate: float = _opt(0.0, "fraction of jobs that end in FAILURE")
    hang_rate: float = _opt(
        0.0, "fraction of jobs that stop progressing and never finish (they keep their slot)"
    )
    job_timeout: float = _opt(
        None,
        "seconds after start when an unfinished job fails with the flavour's timeout text "
        "(default: never)",
        type=float,
    )
    banned_words: list = _opt(
        ["gore", "nsfw"],
        "words that get a prompt refused with code 24 (trueai: FAILURE 可能包含敏感词 at start)",
        list_of=str,
    )
    error_rate: float = _opt(
        0.0, "fraction of API requests answered by a gateway 502/503/504 with an HTML body"
    )
    drop_rate: float = _opt(
        0.0, "fraction of API requests whose connection is closed without any answer"
    )
    latency: float = _opt(0.0, "seconds added to every API request")
    lose_answer_rate: float = _opt(
        0.0,
        "fraction of submits the relay forwards (the task exists) whose answer is then lost",
    )
    lose_answer_as: str = _opt(
        "mixed",
        "how a lost answer looks: 502 (an nginx error page), reset (the connection closes with no "
        "status line) or mixed (either, at random)",
        choices=LOSS_KINDS,
    )
    trickle_ms: float = _opt(
        0.0, "when > 0, answer bodies are sent one byte every this many milliseconds"
    )
    trickle_routes: list = _opt(
        [], "routes that trickle (imagine, fetch, list_by_condition, image, attachment ...; "
        "none = all)", list_of=str,
    )
    redirect_rate: float = _opt(
        0.0,
        "fraction of API requests answered by a redirect to the same path on another origin "
        "(the simulator's second listener, sim.elsewhere_url, which counts keys that reach it)",
    )
    redirect_status: int = _opt(307, "status of those redirects", choices=(302, 307))
    redirect_routes: list = _opt(
        [], "routes that may redirect (none = all)", list_of=str,
    )
    oversize_mb: float = _opt(
        0.0, "when > 0, JSON answers are padded with whitespace to at least this many MB (streamed)"
    )
    oversize_routes: list = _opt(
        [], "routes whose JSON answers are padded (none = all)", list_of=str,
    )
    rate_limit: int = _opt(
        None,
        "API requests per key per minute before 429 (relay: code 30 envelope with Retry-After)",
        type=int,
    )
    daily_limit: int = _opt(
        None,
        "submits per key before the account's quota is spent (relay quota_not_enough; "
        "trueai 用户今日绘图次数已达上限)",
        type=int,
    )
    quota: int = _opt(
        500_000_000,
        "relay profile: quota units each key (and its account) starts with; new-api counts "
        "500,000 units per USD (quota-per-unit), so the default is 1000 USD",
    )
    quota_per_unit: int = _opt(
        500_000, "relay profile: quota units per USD (new-api's QuotaPerUnit)",
    )
    prices: list = _opt(
        [],
        "relay profile: prices per call in USD, model=USD, on top of new-api's defaults "
        "(mj_imagine, mj_variation, mj_reroll, mj_blend, mj_modal, mj_zoom, mj_pan, mj_shorten, "
        "mj_high_variation, mj_low_variation 0.1; mj_upscale, mj_describe, swap_face 0.05; "
        "mj_custom_zoom, mj_inpaint 0); charged when a submit is accepted",
        list_of=str,
    )
    refund_to_key: bool = _opt(
        False,
        "relay profile: a failed task's refund also goes back onto the key's own quota (some "
        "forks); new-api itself refunds only the account's wallet, so the key's counters in "
        "/api/usage/token/ keep the charge",
    )
    token_stats: bool = _opt(
        True,
        "relay profile: the billing routes (/v1/dashboard/billing/*) show the key's counters "
        "(new-api's DisplayTokenStatEnabled, on by default); --no-token-stats shows the "
        "account's wallet, where refunds land",
    )
    state_file: str = _opt(
        None,
        "keep finished tasks in this file and load them at start, as a relay keeps its database "
        "(also reuses the file's port when it is free and --port is 0); none: forget them at stop",
        type=str,
    )
    outage: str = _opt(
        "none",
        "make every submit fail: no-account (code 3), discord-error (code 9), crash "
        "(500; relay 400 code 5), no-channel (relay 503)",
        choices=OUTAGES,
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("list_of") and isinstance(value, str):
                setattr(self, f.name, _split(value))
        self.validate()

    def validate(self) -> None:
        """Refuse settings that would make the simulator lie, naming the field."""
        if self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")
        if self.outage not in OUTAGES:
            raise ValueError(f"outage must be one of {', '.join(OUTAGES)}, not {self.outage!r}")
        if not self.speed > 0:
            raise ValueError(f"speed must be > 0, not {self.speed!r}")
        if self.sync_interval < 0:
            raise ValueError(f"sync_interval must be >= 0, not {self.sync_interval!r}")
        if self.give_up_after <= 0:
            raise ValueError(f"give_up_after must be > 0, not {self.give_up_after!r}")
        if self.lose_answer_as not in LOSS_KINDS:
            raise ValueError(f"lose_answer_as must be one of {', '.join(LOSS_KINDS)}, "
                             f"not {self.lose_answer_as!r}")
        if self.redirect_status not in (302, 307):
            raise ValueError(f"redirect_status must be 302 or 307, not {self.redirect_status!r}")
        if self.trickle_ms < 0 or self.oversize_mb < 0:
            raise ValueError("trickle_ms and oversize_mb must be >= 0")
        if self.server_address and not self.server_address.startswith(("http://", "https://")):
            raise ValueError(f"server_address must start with http:// or https://, "
                             f"not {self.server_address!r}")
        for name in ("fail_rate", "hang_rate", "error_rate", "drop_rate", "lose_answer_rate",
                     "redirect_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value!r}")
        if not 16 <= self.tile_side <= 4096:
            raise ValueError(f"tile_side must be from 16 to 4096, not {self.tile_side!r}")
        if self.concurrency < 1 or self.queue_size < 0:
            raise ValueError("concurrency must be >= 1 and queue_size >= 0")
        if self.quota < 0 or self.quota_per_unit <= 0:
            raise ValueError(f"quota must be >= 0 and quota_per_unit > 0, not "
                             f"{self.quota!r} and {self.quota_per_unit!r}")
        parse_prices(self.prices)  # raises naming the bad item
        if self.image_ttl <= 0:
            raise ValueError(f"image_ttl must be > 0, not {self.image_ttl!r}")

    def update(self, **changes) -> None:
        """Change settings on a running simulator; unknown names or bad values raise and change nothing."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown simulator option(s): {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(names))}")
        candidate = dataclasses.replace(self, **changes)  # validates; a refusal changes nothing
        for name in changes:
            setattr(self, name, getattr(candidate, name))
