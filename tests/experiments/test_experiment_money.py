"""Money against the simulator (issue 15): the key's balance, each task's cost with refunds of
failed tasks, and a budget an experiment never crosses; servers without the quota routes."""

import pytest
from exp_support import make_client, until

import mjnb
from mjnb import Experiment, sim as simulator
from mjnb.experiment import OVER_BUDGET
from mjnb.store import History

QPU = 500_000  # new-api's quota units per USD
IMAGINE = 0.1  # new-api's default price of mj_imagine, USD
PROMPTS = ["a red barn", "a blue whale", "a green owl"]
PARAMS = {"--stylize": [50, 250], "--ar": ["1:1", "3:2"]}


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """One history for the module: mjnb's download threads keep a connection per History open."""
    return History(tmp_path_factory.mktemp("money-home"))


def rows_when(client, ready, what, **filters):
    """The history's rows once `ready(df)` holds (polled with a deadline)."""
    found = []

    def check():
        df = client.history.dataframe(**filters)
        if len(df) and ready(df):
            found.append(df)
            return True
        return False
    until(check, what=what)
    return found[-1]


def settled_costs(client, name):
    """The experiment's history rows once every task is final."""
    return rows_when(client, lambda d: d.status.isin(["SUCCESS", "FAILURE"]).all(),
                     "every task final in the history", experiment=name)


def test_balance_before_and_after_a_grid_equals_the_cost_column(history):
    with simulator.start(speed=300, seed=7, fail_rate=0.25, refund_to_key=True) as sim:
        client = make_client(sim, api_key="sk-grid-money", history=history)
        before = client.balance()
        assert before.offered and before.quota == sim.options.quota
        exp = Experiment(client, PROMPTS, PARAMS, concurrency=3, name="grid-money")
        exp.wait(timeout=60)
        df = settled_costs(client, "grid-money")
        after = client.balance()
        client.close()
    assert len(df) == 12
    failed = df[df.status == "FAILURE"]
    assert len(failed) >= 1, "the seed should fail some jobs"
    assert (failed.cost == 0).all() and (failed.price == IMAGINE).all()  # charged, then refunded
    assert (df[df.status == "SUCCESS"].cost == IMAGINE).all()
    assert before.quota - after.quota == round(df.cost.sum() * QPU)  # refunds show in both
    assert exp.money().spent == pytest.approx(df.cost.sum()) and exp.money().committed == 0


def test_new_api_refunds_the_wallet_not_the_key(history):
    """new-api's own refund goes to the account: the key's counters keep failed tasks' charges."""
    with simulator.start(speed=300, seed=7, fail_rate=0.25) as sim:
        client = make_client(sim, api_key="sk-wallet-money", prices={"imagine": IMAGINE}, history=history)
        before = client.balance()
        Experiment(client, PROMPTS, PARAMS, concurrency=3, name="wallet-money").wait(timeout=60)
        df = settled_costs(client, "wallet-money")
        after = client.balance()
        client.close()
    failed = df.status == "FAILURE"
    assert failed.any()
    assert before.quota - after.quota == round((df.cost.sum() + df.price[failed].sum()) * QPU)


def test_a_budget_of_ten_imagines_under_failures_is_never_crossed(history):
    budget = 10 * IMAGINE
    prompts = ["a fox", "a cat", "an owl", "a pig", "a cow"]
    with simulator.start(speed=300, seed=3, fail_rate=0.1, refund_to_key=True) as sim:
        client = make_client(sim, api_key="sk-budget-money", history=history)
        before = client.balance()
        exp = Experiment(client, prompts, PARAMS, concurrency=3, name="budget-money", budget=budget)
        assert "20 submit(s) planned" in exp.plan and "$1.00" in exp.plan
        exp.wait(timeout=90)
        df = exp.df
        settled_costs(client, "budget-money")
        after = client.balance()
        tasks = [t for t in sim.tasks() if (t["state"] or "").startswith("mjnb:budget-money:")]
        client.close()
    assert client.price("imagine") == pytest.approx(IMAGINE)  # learned around the first submit
    done, failed = (df.item_status == "done").sum(), (df.item_status == "failed").sum()
    over = df[df.item_status == OVER_BUDGET]
    assert done == 10, df[["item_status", "status", "reason"]]  # submitted until the next would cross
    assert len(over) == 20 - done - failed and len(over) > 0
    assert over.id.isna().all() and over.reason.str.contains("past the budget").all()
    assert len(tasks) == done + failed  # nothing over budget reached the server
    money = exp.money()
    assert money.spent == pytest.approx(budget) and money.committed == 0 and money.remaining == pytest.approx(0)
    assert before.quota - after.quota == round(budget * QPU)
    # at every submit, what the server had charged and not yet refunded stayed within the budget
    for t in tasks:
        held = [u for u in tasks if u["submit_time"] <= t["submit_time"] and not
                (u["status"] == "FAILURE" and u["finish_time"] is not None and u["finish_time"] < t["submit_time"])]
        assert len(held) * IMAGINE <= budget + 1e-9


def test_a_budget_below_one_submit_submits_nothing(sim):
    client = make_client(sim, api_key="sk-tiny-budget", prices={"imagine": IMAGINE}, history=False)
    exp = Experiment(client, ["a pig", "a cow"], budget=0.05, name="tiny-budget", concurrency=1)
    assert "covers 0" in exp.plan
    exp.wait(timeout=30)
    assert exp.counts()[OVER_BUDGET] == 2 and not exp.tasks
    assert exp.money().spent == 0
    client.close()


@pytest.mark.parametrize("profile", ["trueai", "novicezk"])
def test_servers_without_the_routes_say_so_and_experiments_work_as_before(profile):
    with simulator.start(profile=profile, speed=300, seed=2) as sim:
        client = make_client(sim, api_key="sk-no-money-routes", history=False)
        balance = client.balance()
        assert not balance.offered
        assert "does not show a key its balance" in balance.text and "404" in balance.text
        assert "does not show" in repr(client)
        exp = Experiment(client, ["a pig", "a cow"], concurrency=2, name=f"plain-{profile}")
        exp.wait(timeout=60)
        assert exp.counts()["done"] == 2
        with pytest.raises(mjnb.ValidationError, match="budget needs the price") as info:
            Experiment(client, ["a pig"], budget=1.0, name=f"priceless-{profile}")
        assert info.value.field == "budget"
        client.close()


def test_module_level_balance_and_client_repr(sim):
    mjnb.configure(base_url=sim.url, api_key="sk-module-balance", history=False)
    try:
        balance = mjnb.balance()
        assert balance.offered and balance.usd == pytest.approx(sim.options.quota / QPU)
        assert "$1,000.00 left" in balance.text and "sk-module-balance" not in balance.text
        assert "$1,000.00 left" in repr(mjnb.default_client())
    finally:
        mjnb.configure()


def test_the_key_never_follows_a_balance_redirect():
    with simulator.start(speed=300, redirect_rate=1.0, redirect_routes=["token_usage"]) as sim:
        client = make_client(sim, api_key="sk-redirected-balance", history=False)
        balance = client.balance()
        client.close()
        assert not balance.offered and "another address" in balance.text
        assert sim.elsewhere_seen["with_key"] == 0


def test_prices_are_checked_naming_the_entry():
    try:
        with pytest.raises(mjnb.ConfigError, match=r"prices\['imaginee'\]: not an action a relay prices"):
            mjnb.configure(prices={"imaginee": 0.1})
    finally:
        mjnb.configure()
    with pytest.raises(mjnb.ConfigError, match=r"prices\['imaginee'\]"):
        mjnb.Client(base_url="http://127.0.0.1:9", prices={"imaginee": 0.1}, history=False)
    with pytest.raises(mjnb.ConfigError, match=r"prices\['upscale'\] must be a number of USD >= 0"):
        mjnb.Client(base_url="http://127.0.0.1:9", prices={"upscale": -1}, history=False)


def test_configured_prices_go_into_the_history(sim, history):
    client = make_client(sim, api_key="sk-configured-price", prices={"imagine": 0.25, "mj_upscale": 0.08},
                         history=history)
    try:
        grid = client.imagine("a priced lighthouse")
        grid.wait(30)
        up = grid.upscale(1)
        up.wait(30)
        df = rows_when(client, lambda d: len(d) == 2 and d.price.notna().all(), "two priced rows",
                       prompt="a priced lighthouse")
        assert sorted(df.price) == [0.08, 0.25] and sorted(df.cost) == [0.08, 0.25]
        assert client.task_price(up.id) == 0.08
    finally:
        client.close()


def test_budget_must_be_a_positive_amount(sim):
    client = make_client(sim, api_key="sk-bad-budget", history=False)
    for bad in (0, -1, "10", True, float("inf")):
        with pytest.raises(mjnb.ValidationError, match="budget must be") as info:
            Experiment(client, ["a pig"], budget=bad)
        assert info.value.field == "budget"
    client.close()


def test_the_key_stays_out_of_balances_logs_and_history(tmp_path, caplog, capsys):
    key = "sk-SECRET-money-canary-777"
    caplog.set_level("DEBUG", logger="mjnb")
    with simulator.start(speed=300, keys=[key]) as sim:
        client = make_client(sim, api_key=key, history=History(tmp_path))
        texts = [client.balance().text]
        client.imagine("a canary lighthouse").wait(30)  # its price is learned around the submit
        texts += [client.balance().text, repr(client)]
        wrong = make_client(sim, api_key=key + "-wrong", history=False)
        refused = wrong.balance()
        texts += [refused.text, repr(wrong)]
        wrong.close()
        client.close()
    assert not refused.offered and "refused the key" in refused.text
    out = capsys.readouterr()
    for text in texts + [caplog.text, out.out, out.err]:
        assert "SECRET-money-canary" not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"SECRET-money-canary" not in path.read_bytes(), path


def test_follow_ups_spend_the_same_budget(sim, history):
    client = make_client(sim, api_key="sk-follow-up-budget", prices={"imagine": IMAGINE, "upscale": 0.05},
                         history=history)
    exp = Experiment(client, ["a fox", "a cat", "an owl"], budget=0.35, name="follow-up-budget")
    exp.wait(timeout=60)
    assert exp.counts()["done"] == 3
    ups = exp.upscale(1)
    ups.wait(timeout=60)
    assert ups.counts()["done"] == 1 and ups.counts()[OVER_BUDGET] == 2
    assert exp.money().spent == pytest.approx(0.35) and ups.money().spent == pytest.approx(0.35)
    assert len(client.history.dataframe(experiment="follow-up-budget.U1").dropna(subset=["id"])) == 1
    client.close()
