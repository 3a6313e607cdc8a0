"""Paid tasks are never lost from view (design: "Data that must never be lost or leaked").

Through a relay that forwards a submit and then loses the answer, every task the server
created must be findable from mjnb.history(): on trueai/novicezk the client finds it at once
by the unique state it put on the submit (GET /mj/task/list); on a relay, which cannot list
tasks, the submit stays a history row whose outcome is unknown. Nothing is ever paid twice.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest
from client_support import NATIVE_AUTH, QUICK, new_key

import mjnb
import mjnb.sim
from mjnb.sim.server import key_id

SUBMITS = 100
# lost answers only (as 502 pages and resets); big queues so that 100 quick submits all fit
LOSSY = dict(speed=300.0, lose_answer_rate=0.2, lose_answer_as="mixed", concurrency=200, queue_size=200)


def my_tasks(sim, key: str) -> list[dict]:
    """The tasks the simulator created for this key (its own view, not the client's)."""
    return [t for t in sim.tasks() if t["key"] == key_id(key)]


@pytest.fixture
def default_client_for(monkeypatch, tmp_path):
    """Point mjnb's default client (mjnb.imagine, mjnb.history) at a simulator, with a fresh key
    and an empty history of its own."""
    monkeypatch.setenv("MJNB_HOME", str(tmp_path / "home"))

    def make(sim, **settings):
        key = new_key()
        profile = sim.options.profile
        mjnb.configure(base_url=sim.url, api_key=key, flavour=profile, auth_header=NATIVE_AUTH[profile],
                       **{**QUICK, **settings})
        return key

    yield make
    mjnb.configure()


@pytest.mark.parametrize("profile", ["relay", "trueai", "novicezk"])
def test_100_submits_through_lost_answers_every_task_is_in_the_history(default_client_for, profile):
    with mjnb.sim.start(profile=profile, seed=40, **LOSSY) as sim:
        key = default_client_for(sim)
        returned, unknown = [], []
        for n in range(SUBMITS):
            try:
                returned.append(mjnb.imagine(f"paid task {n} --seed {n + 1}"))
            except mjnb.MjnbError as exc:
                assert getattr(exc, "maybe_submitted", False), exc  # only lost answers in this run
                unknown.append(exc)
        lost = sum(n for status, n in sim.stats()["by_route_status"]["imagine"].items() if status != "200")
        created = my_tasks(sim, key)
        df = mjnb.history()

        assert sim.stats()["requests"]["imagine"] == SUBMITS  # one request per submit: none repeated
        assert 10 <= lost <= 35, lost  # the fault really bit (20% of 100)
        assert len(created) == SUBMITS  # the relay forwarded every one
        states = Counter(t["state"] for t in created)
        assert len(states) == SUBMITS and set(states.values()) == {1}  # 0 duplicates
        assert all(s.startswith("mjnb.") for s in states)  # the client's own unique state
        ids = {t["id"] for t in created}
        shown = df[df["id"].notna()]
        if profile == "relay":
            # a relay cannot list tasks: each lost answer is a row whose outcome is unknown
            assert len(unknown) == lost and len(returned) == SUBMITS - lost
            assert len(df) == SUBMITS  # one row per paid submit
            assert set(shown["id"]) == {t.id for t in returned} and set(shown["id"]) < ids
            rows = df[df["status"] == "UNKNOWN"]
            assert len(rows) == lost and rows["id"].isna().all()
            assert rows["fail_reason"].str.startswith("outcome unknown").all()
            # each unknown row is one real task the user can find (its state and prompt say which)
            hidden = {t["state"]: t for t in created if t["id"] not in set(shown["id"])}
            assert set(rows["state"]) == set(hidden)
            assert all(hidden[s]["prompt"] == p for s, p in zip(rows["state"], rows["prompt"]))
            assert all("web dashboard" in str(exc) and exc.state in hidden for exc in unknown)
        else:
            # the client found each lost answer's task by its state and carried on with it
            assert not unknown and len(returned) == SUBMITS
            assert set(shown["id"]) == ids and len(df) == SUBMITS
            assert (df["status"] != "UNKNOWN").all()
            assert [t.id for t in returned] == [t["id"] for t in created]
            reconciled = [t for t in returned if "found by its state" in t.submit_result.description]
            assert len(reconciled) == lost
            assert dict(zip(df["id"], df["state"])) == {t["id"]: t["state"] for t in created}


def test_an_unknown_row_has_prompt_state_and_reason(default_client_for):
    with mjnb.sim.start(profile="relay", seed=3, speed=300.0, lose_answer_rate=1.0, lose_answer_as="502") as sim:
        default_client_for(sim)
        with pytest.raises(mjnb.ServerError) as info:
            mjnb.imagine("a lost lighthouse --ar 3:2 --s 250", state="order-77")
        err = info.value
        assert err.maybe_submitted and err.state == "order-77"  # the user's state is kept as given
        assert "may or may not have been created" in str(err) and "web dashboard" in str(err)
        [row] = mjnb.history(status="UNKNOWN").itertuples()
        assert pd.isna(row.id) and row.prompt == "a lost lighthouse --ar 3:2 --s 250"
        assert row.state == "order-77" and row.action == "IMAGINE"
        assert row.aspect == "3:2" and row.stylize == 250  # parsed like any other row
        assert row.fail_reason.startswith("outcome unknown: ") and "HTTP 502" in row.fail_reason
        assert not pd.isna(row.submit)
        [task] = sim.tasks()
        assert task["state"] == "order-77"  # and the relay has it: the reason says where to look


@pytest.mark.parametrize("profile", ["trueai", "novicezk"])
def test_resume_finds_the_task_the_submit_could_not(default_client_for, profile):
    """The answer is lost and the listing after it is refused (the key's one request a minute
    is spent): the row stays UNKNOWN until mjnb.resume() can list, then it is the real task."""
    with mjnb.sim.start(profile=profile, seed=5, speed=300.0, rate_limit=1, lose_answer_rate=1.0,
                        lose_answer_as="reset") as sim:
        key = default_client_for(sim, retries=0)
        with pytest.raises(mjnb.TransportError) as info:
            mjnb.imagine("a fox in the snow")
        assert info.value.maybe_submitted and "GET /mj/task/list failed too" in str(info.value)
        assert "mjnb.resume() looks again" in str(info.value)
        assert list(mjnb.history()["status"]) == ["UNKNOWN"]
        [task] = my_tasks(sim, key)  # it does exist

        sim.configure(rate_limit=None)
        mjnb.resume()
        df = mjnb.history()
        assert list(df["id"]) == [task["id"]] and list(df["state"]) == [task["state"]]
        assert df["status"][0] != "UNKNOWN" and df["prompt"][0] == "a fox in the snow"
        assert mjnb.task(task["id"]).wait(15).status == mjnb.TaskStatus.SUCCESS
        assert sim.stats()["requests"]["imagine"] == 1


def test_a_users_own_state_is_kept_and_a_reused_one_still_finds_the_right_task(default_client_for):
    """trueai: the user's state goes out as given (ours is only added when there is none); two
    lost answers with the same user state are told apart (the first task is already claimed)."""
    with mjnb.sim.start(profile="trueai", seed=8, speed=300.0, lose_answer_rate=1.0, lose_answer_as="502") as sim:
        key = default_client_for(sim)
        first = mjnb.imagine("a red kite", state="order-1")
        second = mjnb.imagine("a red kite", state="order-1")
        ours = mjnb.imagine("a blue kite")
        created = my_tasks(sim, key)
        assert [t.id for t in (first, second, ours)] == [t["id"] for t in created]
        assert [t["state"] for t in created[:2]] == ["order-1", "order-1"]
        assert created[2]["state"].startswith("mjnb.") and len(created[2]["state"]) == 21
        assert sorted(mjnb.history()["id"]) == sorted(t["id"] for t in created)
