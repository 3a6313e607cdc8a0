"""new-api's money, as a relay key sees it (spec §13 R11): quota per key, a fixed price per MJ
action charged when the submit is accepted, refunds at the sync that sees a task fail, and the
read-only routes that show the quota to the same key.

Read from new-api: a price is USD per call (`ModelPrice`, mj_imagine 0.1 ...) times QuotaPerUnit
(500,000) times the group ratio (1 here). The submit checks the account's quota first
(`quota_not_enough`); an accepted submit takes the price from the key (remain_quota down,
used_quota up) and from the account. `UpdateMidjourneyTaskBulk` refunds a failed task with
`IncreaseUserQuota`: the account's wallet gets it back, the key's own counters do not (forks
that also restore the key: `refund_to_key`). `GET /api/usage/token/` shows the key's counters;
the OpenAI-style billing routes show the key's (`DisplayTokenStatEnabled`, on by default) or
else the account's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .flavours import Reply, json_reply, openai_error
from .options import parse_prices

MODEL_ALIASES = {"mj_swap_face": "swap_face"}  # new-api bills face swaps as "swap_face"


@dataclass
class Charge:
    key: str
    model: str
    quota: int
    task_id: str
    row: int  # which of the id's relay rows carries it (a modal adds a second row)


@dataclass
class Ledger:
    """Every charge the relay took; balances are worked out from it and the relay's rows."""

    charges: list = field(default_factory=list)
    spent: dict = field(default_factory=dict)  # key -> quota charged so far, refunds not counted

    def price(self, options, model: str) -> int:
        prices = parse_prices(options.prices)
        usd = prices.get(MODEL_ALIASES.get(model, model), prices.get(model, 0.0))
        return int(round(usd * options.quota_per_unit))

    def charge(self, options, key: str, model: str, task_id: str, row: int) -> None:
        quota = self.price(options, model)
        self.charges.append(Charge(key, model, quota, task_id, row))
        self.spent[key] = self.spent.get(key, 0) + quota

    def may_fall_short(self, options, key: str, more: int = 0) -> bool:
        """Cheap pre-check: could the key or its account have less than `more` left (or none)?"""
        return self.spent.get(key, 0) + max(more, 1) > options.quota

    def refunded(self, charge: Charge, relay, engine, now: float) -> bool:
        """new-api refunds at the sync that sees the row fail; only the row the sync loop keeps
        updating (the newest of an id) can fail."""
        task = engine.tasks.get(charge.task_id)
        rows = relay.rows.get(charge.task_id) or []
        if task is None or charge.row >= len(rows) or charge.quota == 0:
            return False
        row = rows[charge.row]
        if row.frozen_at is not None:
            return False
        view = relay.view(task, row, now)
        return bool(view) and view.get("status") == "FAILURE"

    def counters(self, options, key: str, relay, engine, now: float) -> dict:
        """The key's and its account's quota now: remain and used for each."""
        spent = refunds = 0
        for c in self.charges:
            if c.key != key:
                continue
            spent += c.quota
            if self.refunded(c, relay, engine, now):
                refunds += c.quota
        key_back = refunds if options.refund_to_key else 0
        return {"key_remain": options.quota - spent + key_back, "key_used": spent - key_back,
                "wallet_remain": options.quota - spent + refunds, "wallet_used": spent}


def token_usage(counters: dict, authorization: str) -> Reply:
    """GET /api/usage/token/ (TokenAuthReadOnly, then GetTokenUsage): Authorization only."""
    parts = authorization.split(" ")
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return json_reply(401, {"success": False, "message": "Invalid Bearer token"})
    return json_reply(200, {"code": True, "message": "ok", "data": {
        "object": "token_usage", "name": "mjnb-sim",
        "total_granted": counters["key_remain"] + counters["key_used"],
        "total_used": counters["key_used"], "total_available": counters["key_remain"],
        "unlimited_quota": False, "model_limits": {}, "model_limits_enabled": False, "expires_at": 0}})


def subscription(options, counters: dict) -> Reply:
    """GET /v1/dashboard/billing/subscription: granted (remain + used) in USD."""
    remain, used = _stat(options, counters)
    amount = (remain + used) / options.quota_per_unit
    return json_reply(200, {"object": "billing_subscription", "has_payment_method": True,
                            "soft_limit_usd": amount, "hard_limit_usd": amount,
                            "system_hard_limit_usd": amount, "access_until": 0})


def usage(options, counters: dict) -> Reply:
    """GET /v1/dashboard/billing/usage: used, in US cents (USD × 100), as OpenAI's was."""
    _, used = _stat(options, counters)
    return json_reply(200, {"object": "list", "total_usage": used / options.quota_per_unit * 100})


def _stat(options, counters: dict) -> tuple[int, int]:
    if options.token_stats:
        return counters["key_remain"], counters["key_used"]
    return counters["wallet_remain"], counters["wallet_used"]


def exhausted(counters: dict | None = None) -> Reply:
    """TokenAuth on a key whose own quota is spent: 401 before any route runs."""
    return openai_error(401, "该令牌额度已用尽")
