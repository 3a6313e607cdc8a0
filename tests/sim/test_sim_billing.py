"""The relay's money over raw HTTP (spec §13 R11, as new-api's source has it): the key's quota at
GET /api/usage/token/, the OpenAI-style billing routes, a price per action taken when a submit is
accepted, refunds of failed tasks at the relay's sync, and 404 on the raw upstreams."""

from __future__ import annotations

import pytest

from conftest import FAST

QPU = 500_000  # new-api's quota units per USD


def usage(c) -> dict:
    r = c.get("/api/usage/token/")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] is True and body["message"] == "ok"
    return body["data"]


def test_token_usage_shape_and_fresh_key(relay):
    data = usage(relay)
    assert data["object"] == "token_usage"
    assert data["total_granted"] == data["total_available"] == relay.sim.options.quota
    assert data["total_used"] == 0 and data["unlimited_quota"] is False and data["expires_at"] == 0


def test_path_without_slash_redirects_like_gin(relay):
    r = relay.get("/api/usage/token", allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/api/usage/token/"


def test_usage_route_wants_authorization_bearer(relay):
    r = relay.get("/api/usage/token/", headers={"mj-api-secret": relay.key})
    assert r.status_code == 401 and r.json() == {"success": False, "message": "未提供 Authorization 请求头"}
    r = relay.get("/api/usage/token/", headers={"Authorization": relay.key})  # no "Bearer "
    assert r.status_code == 401 and r.json()["message"] == "Invalid Bearer token"


def test_unknown_key_is_refused(make_sim):
    c = make_sim(key="sk-good", profile="relay", keys=["sk-good"], **FAST)
    assert usage(c)["total_used"] == 0
    r = c.get("/api/usage/token/", headers={"Authorization": "Bearer sk-bad"})
    assert r.status_code == 401 and r.json()["message"] == "无效的令牌"
    r = c.get("/v1/dashboard/billing/subscription", headers={"Authorization": "Bearer sk-bad"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "new_api_error"


def test_submits_are_charged_their_action_price(relay):
    task_id = relay.imagine("a charged lighthouse")
    assert usage(relay)["total_used"] == int(0.1 * QPU)
    grid = relay.done(task_id)
    relay.action(task_id, relay.button(grid, "U1"))
    data = usage(relay)
    assert data["total_used"] == int(0.15 * QPU)  # mj_upscale: 0.05 USD
    assert data["total_available"] == relay.sim.options.quota - int(0.15 * QPU)


def test_billing_routes_in_usd(relay):
    relay.imagine("billed in dollars")
    sub = relay.get("/v1/dashboard/billing/subscription").json()
    assert sub["object"] == "billing_subscription" and sub["has_payment_method"] is True
    granted = relay.sim.options.quota / QPU
    assert sub["hard_limit_usd"] == sub["soft_limit_usd"] == sub["system_hard_limit_usd"] == granted
    assert sub["access_until"] == 0
    used = relay.get("/v1/dashboard/billing/usage").json()
    assert used == {"object": "list", "total_usage": pytest.approx(0.1 * 100)}  # cents
    assert relay.get("/dashboard/billing/usage").json() == used


def test_prices_and_quota_are_options(make_sim):
    c = make_sim(profile="relay", quota=300_000, prices=["mj_imagine=0.25"], **FAST)
    c.imagine("priced")
    assert usage(c)["total_available"] == 300_000 - 125_000
    c.imagine("priced again")
    r = c.post("/mj/submit/imagine", {"prompt": "no money left for this"})
    assert r.status_code == 400 and r.json()["description"].startswith("quota_not_enough")
    assert usage(c)["total_used"] == 250_000  # a refused submit is not charged


def test_a_spent_key_is_refused_by_token_auth(make_sim):
    c = make_sim(profile="relay", quota=50_000, **FAST)
    task_id = c.imagine("the last one")
    r = c.get(f"/mj/task/{task_id}/fetch")
    assert r.status_code == 401 and "该令牌额度已用尽" in r.json()["error"]["message"]
    assert usage(c)["total_available"] == 0  # the read-only route still answers


def test_failed_tasks_are_refunded_to_the_wallet_not_the_key(make_sim):
    """new-api's UpdateMidjourneyTaskBulk refunds with IncreaseUserQuota: the account, not the key."""
    c = make_sim(profile="relay", fail_rate=1.0, **FAST)
    task_id = c.imagine("doomed")
    c.wait(task_id)
    assert usage(c)["total_used"] == 50_000  # the key keeps the charge
    assert c.get("/v1/dashboard/billing/usage").json()["total_usage"] == pytest.approx(10.0)


def test_wallet_view_shows_the_refund(make_sim):
    c = make_sim(profile="relay", fail_rate=1.0, token_stats=False, **FAST)
    c.wait(c.imagine("doomed"))
    sub = c.get("/v1/dashboard/billing/subscription").json()
    used = c.get("/v1/dashboard/billing/usage").json()["total_usage"] / 100
    assert sub["hard_limit_usd"] - used == pytest.approx(c.sim.options.quota / QPU)  # all back


def test_refund_to_key_option(make_sim):
    c = make_sim(profile="relay", fail_rate=1.0, refund_to_key=True, **FAST)
    task_id = c.imagine("doomed but refunded")
    assert usage(c)["total_used"] == 50_000  # pre-charged at submit
    c.wait(task_id)
    data = usage(c)
    assert data["total_used"] == 0 and data["total_available"] == c.sim.options.quota


@pytest.mark.parametrize("profile", ["trueai", "novicezk"])
def test_raw_upstreams_have_no_money_routes(client_for, profile):
    c = client_for(profile)
    for path in ("/api/usage/token/", "/api/usage/token", "/v1/dashboard/billing/subscription",
                 "/v1/dashboard/billing/usage"):
        r = c.get(path, headers={"Authorization": f"Bearer {c.key}", "mj-api-secret": c.key},
                  allow_redirects=False)
        assert r.status_code == 404, (path, r.status_code)


def test_bad_prices_option_names_the_item():
    from mjnb.sim import SimOptions
    with pytest.raises(ValueError, match="prices.*'mj_imagine=free'"):
        SimOptions(prices=["mj_imagine=free"])
