"""Money: the key's balance, the price of each action, what a task cost, an experiment's budget.

Relays sell Midjourney per call from a prepaid key (spec §13 R11). new-api shows the key its own
quota at GET /api/usage/token/ (in quota units, 500,000 per USD by default) and in the
OpenAI-style billing routes (in USD); it takes a fixed price per action when a submit is accepted
and refunds a task that fails. The trueai and novicezk servers have no such routes. This module
turns those answers into plain words and numbers; it sends nothing itself but through the
transport it is given (so the key rules of mjnb.transport hold).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from . import errors as E

NOT_OFFERED = ("this server does not show a key its balance ({why}); mjnb cannot read it here. "
               "Prices can still be set with mjnb.configure(prices={{'imagine': 0.1, ...}}) (USD per call)")
UNLIMITED_USD = 100_000_000  # what new-api's subscription route says for a key without a limit
ACTION_MODELS = {"upsample": "mj_upscale", "variation": "mj_variation", "low_variation": "mj_low_variation",
                 "high_variation": "mj_high_variation", "reroll": "mj_reroll", "Outpaint": "mj_zoom",
                 "CustomZoom": "mj_custom_zoom", "Inpaint": "mj_inpaint", "pan": "mj_pan"}
CHANGE_MODELS = {"U": "mj_upscale", "V": "mj_variation", "R": "mj_reroll"}
ROUTE_MODELS = {"imagine": "mj_imagine", "blend": "mj_blend", "describe": "mj_describe",
                "shorten": "mj_shorten", "swap_face": "swap_face", "modal": "mj_modal"}


def usd(amount: float | None) -> str:
    """$0.10, $12.35, $1,000.00; cents shown, fractions of a cent only when there are some."""
    if amount is None:
        return "?"
    text = f"${abs(amount):,.2f}" if round(amount, 2) == round(amount, 6) else f"${abs(amount):,.4f}"
    return ("-" if amount < 0 else "") + text


@dataclass(frozen=True, repr=False)
class Balance:
    """What the key has left. `offered` is False when the server shows no balance; `text` says so."""

    offered: bool
    quota: int | None = None  # remaining, in the relay's quota units (None: the server gave USD only)
    used: int | None = None  # used so far by this key, in quota units
    usd: float | None = None  # remaining in USD (quota / quota_per_usd)
    used_usd: float | None = None
    unlimited: bool = False  # the key has no limit of its own: the account's wallet pays
    source: str = ""  # the route that answered
    reason: str = ""  # why there is no balance, in words
    read_at: float = 0.0  # time.time() of the reading

    @property
    def text(self) -> str:
        """One line for a card, a gallery or a repr."""
        if not self.offered:
            return "balance: " + self.reason
        if self.unlimited:
            used = f"; {usd(self.used_usd)} used" if self.used_usd is not None else ""
            return (f"balance: this key has no limit of its own{used} (the relay charges the account, "
                    f"which a key cannot read)")
        units = f" ({self.quota:,} quota units)" if self.quota is not None else ""
        return f"balance: {usd(self.usd)} left{units}"

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def read_balance(transport: Any, quota_per_usd: float) -> Balance:
    """Ask the relay: /api/usage/token/ first (exact units), then the billing routes (USD). Never
    raises for a server that lacks them or refuses: the Balance says why in its text."""
    now = time.time()
    try:
        data = transport.token_usage()
        quota, used = _int(data.get("total_available")), _int(data.get("total_used"))
        if quota is not None:
            return Balance(True, quota=quota, used=used, usd=quota / quota_per_usd,
                           used_usd=None if used is None else used / quota_per_usd,
                           unlimited=bool(data.get("unlimited_quota")), source="GET /api/usage/token/",
                           read_at=now)
        first = "GET /api/usage/token/ gave no total_available"
    except (E.UnsupportedEndpointError, E.NotFoundError, E.ValidationError) as exc:
        first = _said(exc)
    except E.MjnbError as exc:  # refused, unreachable, broken: the route may exist, the answer did not come
        return Balance(False, reason=f"could not read it: {exc.summary}" + _quoted(exc), read_at=now)
    try:
        sub = transport.billing("subscription")
        used_cents = transport.billing("usage").get("total_usage")
        granted = float(sub["hard_limit_usd"])
        used_usd = float(used_cents) / 100
    except (E.UnsupportedEndpointError, E.NotFoundError, E.ValidationError) as exc:
        return Balance(False, reason=NOT_OFFERED.format(why=f"{first}; {_said(exc)}"), read_at=now)
    except E.MjnbError as exc:
        return Balance(False, reason=f"could not read it: {exc.summary}" + _quoted(exc), read_at=now)
    except (KeyError, TypeError, ValueError):
        return Balance(False, reason=NOT_OFFERED.format(why="its billing answer has no hard_limit_usd"),
                       read_at=now)
    if granted >= UNLIMITED_USD:
        return Balance(True, used_usd=used_usd, unlimited=True, source="GET /v1/dashboard/billing/*",
                       read_at=now)
    left = granted - used_usd
    return Balance(True, quota=None, usd=left, used_usd=used_usd, source="GET /v1/dashboard/billing/*",
                   read_at=now)


def _int(value) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _said(exc: E.MjnbError) -> str:
    status = f"HTTP {exc.http_status}" if exc.http_status else exc.summary
    return f"{exc.endpoint or 'the route'} answered {status}"


def _quoted(exc: E.MjnbError) -> str:
    return f' ("{exc.server_message[:200]}")' if exc.server_message else ""


# ------------------------------------------------------------------ prices


def billing_model(route: str, body: Mapping) -> str | None:
    """The model new-api bills a submit as (mj_imagine, mj_upscale, ...); None when it is unknown."""
    if route in ROUTE_MODELS:
        return ROUTE_MODELS[route]
    if route == "action":
        parts = str(body.get("customId") or "").split("::")
        if len(parts) < 2:
            return None
        op = parts[2] if parts[1] == "JOB" and len(parts) > 2 else parts[1]
        for prefix, model in ACTION_MODELS.items():
            if op == prefix or op.startswith(prefix) and prefix in ("upsample", "pan"):
                return model
        return None
    if route == "change":
        return CHANGE_MODELS.get(str(body.get("action") or "")[:1].upper())
    if route == "simple_change":
        words = str(body.get("content") or "").split()
        return CHANGE_MODELS.get(words[1][:1].upper()) if len(words) == 2 else None
    return None


def learned_price(before: Balance, after: Balance, quota_per_usd: float) -> float | None:
    """The price of one submit from the balance read just before and just after it; None when the
    readings cannot tell (no balance, or nothing moved: a refund landed in between, say)."""
    if not (before.offered and after.offered):
        return None
    if before.used is not None and after.used is not None:
        delta = after.used - before.used
    elif before.quota is not None and after.quota is not None and not before.unlimited:
        delta = before.quota - after.quota
    elif before.usd is not None and after.usd is not None:
        return round(before.usd - after.usd, 6) if before.usd > after.usd else None
    else:
        return None
    return delta / quota_per_usd if delta > 0 else None


def task_cost(price: float | None, status: str) -> float | None:
    """What a task cost: its price, pre-charged at submit; nothing once it failed (refunded)."""
    if price is None:
        return None
    return 0.0 if status == "FAILURE" else price


# ------------------------------------------------------------------ budgets


@dataclass(frozen=True, repr=False)
class Money:
    """An experiment's money: spent (finished tasks, refunds deducted), committed (submitted and
    still running: charged, and refunded if they fail), remaining (of the budget)."""

    spent: float
    committed: float
    budget: float | None = None
    unpriced: int = 0  # tasks whose price mjnb does not know (not counted above)

    @property
    def remaining(self) -> float | None:
        return None if self.budget is None else self.budget - self.spent - self.committed

    @property
    def text(self) -> str:
        parts = [f"spent {usd(self.spent)}", f"committed {usd(self.committed)}"]
        if self.budget is not None:
            parts.append(f"remaining {usd(self.remaining)} of {usd(self.budget)}")
        if self.unpriced:
            parts.append(f"{self.unpriced} task(s) of unknown price")
        return " · ".join(parts)

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def tally(entries: Iterable[tuple[float | None, str]], budget: float | None = None) -> Money:
    """Money from (price, state) pairs, state being a task status, "submitting" or "uncertain"
    (a submit that may have been charged: counted as spent, since nothing will tell)."""
    spent = committed = 0.0
    unpriced = 0
    for price, state in entries:
        if price is None:
            unpriced += 1
        elif state in ("submitting",) or state not in ("SUCCESS", "FAILURE", "uncertain"):
            committed += price
        elif state != "FAILURE":
            spent += price
    return Money(spent=round(spent, 9), committed=round(committed, 9), budget=budget, unpriced=unpriced)


def verdict(money: Money, price: float) -> str:
    """go (the submit fits), wait (it fits only if a running task fails and is refunded) or over
    (it can never fit: what is spent stays spent)."""
    eps = 1e-9
    if money.spent + money.committed + price <= money.budget + eps:
        return "go"
    if money.spent + price > money.budget + eps:
        return "over"
    return "wait"
