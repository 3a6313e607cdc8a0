"""A grid of prompts × parameter values: order, factor columns, concurrency, follow-ups, views."""

import itertools

import pytest
from exp_support import max_overlap, states

import mjnb
from mjnb import Experiment
from mjnb.experiment import DONE

PROMPTS = ["a red barn", "a blue whale", "a green owl"]
PARAMS = {"--stylize": [50, 250], "--ar": ["1:1", "3:2"]}


def test_grid_completes_with_one_row_per_combination(client, sim):
    exp = Experiment(client, PROMPTS, PARAMS, concurrency=3, name="grid-3x2x2")
    assert [i.key for i in exp.items] == [f"mjnb:grid-3x2x2:{n}" for n in range(12)]
    assert exp.items[1].prompt == "a red barn --stylize 50 --ar 3:2"  # dict order, last factor fastest
    exp.wait(timeout=60)
    assert exp.counts()["done"] == 12

    df = exp.df
    assert len(df) == 12
    assert list(df["item"]) == list(range(12))
    combos = list(zip(df["factor_prompt"], df["factor_stylize"], df["factor_ar"]))
    assert sorted(combos) == sorted(itertools.product(PROMPTS, [50, 250], ["1:1", "3:2"]))
    assert (df["status"] == "SUCCESS").all() and (df["experiment"] == "grid-3x2x2").all()
    assert list(df["stylize"]) == list(df["factor_stylize"])  # the history parsed what was sent
    assert set(df["repeat"]) == {0}

    tasks = sim.tasks()
    assert states(tasks, "grid-3x2x2") == {f"mjnb:grid-3x2x2:{n}": 1 for n in range(12)}
    assert max_overlap(tasks) <= 3 + 3  # concurrency, and at most as many again in the account's queue
    assert exp._submitter.queue_full == 0


def test_repeats_and_contact_sheet(client):
    exp = Experiment(client, "a pig", {"stylize": [0, 1000]}, repeats=2, concurrency=2, name="repeats")
    exp.wait(timeout=60)
    df = exp.df
    assert list(zip(df["factor_stylize"], df["repeat"])) == [(0, 0), (0, 1), (1000, 0), (1000, 1)]
    assert df["thumb_path"].notna().all()  # wait() keeps the final images
    fig = exp.contact_sheet(rows="stylize", cols="repeat")
    assert fig.axes


def test_upscale_follow_up_shares_the_submitter(client, sim):
    exp = Experiment(client, ["a cat", "a dog"], {"--ar": ["1:1", "2:3"]}, concurrency=2, name="ups")
    exp.wait(timeout=60)
    ups = exp.upscale(2)
    assert ups.name == "ups.U2" and ups._submitter is exp._submitter
    assert exp.upscale(2) is ups  # asking again does not press twice
    ups.wait(timeout=60)
    assert ups.counts()["done"] == 4
    df = ups.df
    assert list(df["parent_item"]) == [0, 1, 2, 3]
    assert set(df["action"]) == {"UPSCALE"}
    assert list(df["parent_id"]) == [i.task.id for i in exp.items]
    assert states(sim.tasks(), "ups.U2") == {f"mjnb:ups.U2:{n}": 1 for n in range(4)}


def test_module_level_function_uses_the_default_client(sim):
    mjnb.configure(base_url=sim.url, api_key="sk-exp-tests", poll_interval=0.05, backoff=0.01)
    try:
        exp = mjnb.experiment(["an apple"], {"--chaos": [0, 50]}, name="module-level")
        exp.wait(timeout=60)
        assert [i.status for i in exp.items] == [DONE, DONE]
        assert len(mjnb.history(experiment="module-level")) == 2
    finally:
        mjnb.configure()


def test_default_name_is_unique_and_timestamped(client):
    a = Experiment(client, "x", concurrency=1)
    b = Experiment(client, "y", concurrency=1)
    assert a.name.startswith("exp-") and a.name != b.name
    a.wait(timeout=30)
    b.wait(timeout=30)


@pytest.mark.parametrize("kwargs, field, words", [
    (dict(params={"--stylize": 50}), "params", "params['--stylize'] must be a non-empty list"),
    (dict(params=[("--stylize", [1])]), "params", "params must be a dict of lists"),
    (dict(params={"--ar": []}), "params", "non-empty list"),
    (dict(concurrency=0), "concurrency", "concurrency must be an integer >= 1"),
    (dict(repeats=1.5), "repeats", "repeats must be an integer >= 1"),
    (dict(name=""), "name", "name must be"),
])
def test_bad_input_names_the_field(client, kwargs, field, words):
    with pytest.raises(mjnb.ValidationError) as info:
        Experiment(client, ["a pig"], **kwargs)
    assert info.value.field == field and words in str(info.value)


def test_bad_prompts_are_refused(client):
    with pytest.raises(mjnb.ValidationError, match=r"prompts\[1\] must be a non-empty string"):
        Experiment(client, ["ok", "  "])


def test_submits_ahead_only_into_a_queue_the_account_has():
    """On a 3-slot account the queue answers say 'queued', so up to `concurrency` more wait there; on
    an account with slots to spare the one probe starts at once and nothing more is sent ahead."""
    from mjnb import sim as simulator
    from quick import make_client
    with simulator.start(speed=60, sync_interval=0.2, seed=4, concurrency=3, queue_size=10) as sim:
        client = make_client(sim)
        exp = Experiment(client, ["x"], {"--seed": list(range(1, 10))}, concurrency=3, name="ahead").wait(60)
        assert exp._submitter.ahead == 3 and exp._submitter.queue_full == 0
        assert 3 < max_overlap(sim.tasks()) <= 6 and set(states(sim.tasks(), "ahead").values()) == {1}
    with simulator.start(speed=60, sync_interval=0.2, seed=5, concurrency=8, queue_size=10) as sim:
        client = make_client(sim)
        exp = Experiment(client, ["y"], {"--seed": list(range(1, 10))}, concurrency=2, name="spare").wait(60)
        assert exp._submitter.ahead == 0 and max_overlap(sim.tasks()) <= 3  # 2, and the probe
    with simulator.start(speed=60, sync_interval=0.2, seed=6, concurrency=3, queue_size=10) as sim:
        client = make_client(sim)
        exp = Experiment(client, ["z"], {"--seed": list(range(1, 8))}, concurrency=3, ahead=0, name="off").wait(60)
        assert max_overlap(sim.tasks()) <= 3
