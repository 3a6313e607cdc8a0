"""Back-pressure: a full queue and 429s are waited out and each item is submitted exactly once;
an ambiguous submit is never repeated by itself; cancel stops submitting."""

from exp_support import make_client, max_overlap, states, until

from mjnb import Experiment
from mjnb import sim as simulator
from mjnb.experiment import CANCELLED, DONE, FAILED, UNCERTAIN, _Submitter


def test_queue_full_is_waited_out_and_each_item_submitted_once():
    # the server runs 1 and queues 2; we allow 6 live, so it must refuse with code 23
    # jobs of ~0.5 s, so even a slow machine sends the fourth submit before the first job ends
    with simulator.start(speed=60, seed=3, concurrency=1, queue_size=2) as sim:
        client = make_client(sim)
        try:
            exp = Experiment(client, ["a", "b", "c"], {"--stylize": [1, 2, 3, 4]}, concurrency=6,
                             name="queue-full", max_backoff=0.2)
            exp.wait(timeout=90)
            assert exp.counts()["done"] == 12
            assert exp._submitter.waits > 0  # the server did refuse some submits
            assert exp._submitter.submits == 12 + exp._submitter.waits
            assert states(sim.tasks(), "queue-full") == {f"mjnb:queue-full:{n}": 1 for n in range(12)}
            assert max_overlap(sim.tasks()) <= 3  # never more than the server holds
        finally:
            client.close()


def test_rate_limit_429_is_waited_out_and_each_item_submitted_once():
    # trueai answers 429 without Retry-After, so the experiment backs off with jitter; the
    # simulator's window is a fixed minute, so the test lifts the limit once 429s were seen.
    # Two requests a minute and all six items allowed at once: the submitter itself meets the
    # limit, whatever the tracker's polls take of it
    with simulator.start(profile="trueai", speed=300, seed=4, rate_limit=2) as sim:
        client = make_client(sim)
        try:
            exp = Experiment(client, ["a", "b"], {"--chaos": [0, 10, 20]}, concurrency=6, name="rate",
                             max_backoff=0.2)
            until(lambda: sim.stats()["by_route_status"].get("imagine", {}).get("429", 0) >= 2,
                  timeout=30, what="429 answers to submits")
            sim.configure(rate_limit=None)
            exp.wait(timeout=60)
            assert exp.counts()["done"] == 6
            assert exp._submitter.waits >= 2
            assert states(sim.tasks(), "rate") == {f"mjnb:rate:{n}": 1 for n in range(6)}
        finally:
            client.close()


def test_retry_after_is_a_floor_of_the_wait():
    s = _Submitter(concurrency=1, backoff=0.01, max_backoff=0.1)
    assert all(7.0 <= s._delay(1, 7.0) <= 7.7 for _ in range(50))
    assert all(0.05 <= s._delay(9, None) <= 0.1 for _ in range(50))  # capped by max_backoff


def test_ambiguous_submit_is_not_repeated_and_retry_failed_decides(client, sim):
    sim.configure(drop_rate=1.0)  # the connection closes with no answer: the task may exist
    exp = Experiment(client, ["a", "b"], concurrency=2, name="ambiguous")
    exp.wait(timeout=30)
    assert [i.status for i in exp.items] == [UNCERTAIN, UNCERTAIN]
    assert all(i.uncertain and "avoid paying twice" in i.reason for i in exp.items)
    assert exp._submitter.submits == 2  # not retried
    df = exp.df  # each is a row: outcome unknown, with its prompt, state and reason
    assert list(df["item_status"]) == [UNCERTAIN, UNCERTAIN] and list(df["status"]) == ["UNKNOWN", "UNKNOWN"]
    assert list(df["state"]) == ["mjnb:ambiguous:0", "mjnb:ambiguous:1"] and list(df["prompt"]) == ["a", "b"]
    assert all(r.startswith("outcome unknown") for r in df["fail_reason"])
    sim.configure(drop_rate=0.0)
    exp.retry_failed().wait(timeout=30)  # uncertain items are not failed ones: nothing is sent
    assert exp._submitter.submits == 2 and [i.status for i in exp.items] == [UNCERTAIN, UNCERTAIN]
    exp.retry_failed(uncertain=True).wait(timeout=30)  # the user decided a second charge is fine
    assert [i.status for i in exp.items] == [DONE, DONE]
    assert [i.key for i in exp.items] == ["mjnb:ambiguous:0:r1", "mjnb:ambiguous:1:r1"]
    assert list(exp.df["attempt"]) == [1, 1]
    assert list(zip(exp.attempts["attempt"], exp.attempts["status"])) == [
        (0, "UNKNOWN"), (1, "SUCCESS"), (0, "UNKNOWN"), (1, "SUCCESS")]


def test_failed_tasks_are_retried_as_new_attempts(client, sim):
    sim.configure(fail_rate=1.0)
    exp = Experiment(client, ["a", "b", "c"], concurrency=3, name="retry")
    exp.wait(timeout=30)
    assert exp.counts()["failed"] == 3 and all(i.reason for i in exp.items)
    sim.configure(fail_rate=0.0)
    exp.retry_failed().wait(timeout=30)
    assert exp.counts()["done"] == 3
    df = exp.attempts  # every attempt; exp.df has the current one of each item
    assert list(zip(df["item"], df["attempt"], df["status"])) == [
        (0, 0, "FAILURE"), (0, 1, "SUCCESS"), (1, 0, "FAILURE"), (1, 1, "SUCCESS"),
        (2, 0, "FAILURE"), (2, 1, "SUCCESS")]
    assert list(zip(exp.df["item"], exp.df["attempt"], exp.df["status"])) == [
        (0, 1, "SUCCESS"), (1, 1, "SUCCESS"), (2, 1, "SUCCESS")]
    assert sorted(states(sim.tasks(), "retry").values()) == [1] * 6


def test_validation_errors_fail_the_item_with_the_server_text(client, sim):
    exp = Experiment(client, ["a pig", "some gore"], concurrency=2, name="banned")
    exp.wait(timeout=30)
    assert exp.items[0].status == DONE
    assert exp.items[1].status == FAILED and "banned word" in exp.items[1].reason
    assert not exp.items[1].uncertain


def test_cancel_stops_submitting():
    with simulator.start(speed=30, seed=5) as sim:
        client = make_client(sim)
        try:
            exp = Experiment(client, ["x"], {"--seed": list(range(1, 21))}, concurrency=2, name="cancel")
            until(lambda: sim.stats()["tasks"] >= 2, timeout=20, what="two submits")
            exp.cancel()
            sent = sim.stats()["requests"].get("imagine", 0)
            exp.wait(timeout=30)  # the tasks already sent finish; nothing new is sent meanwhile
            assert sim.stats()["requests"].get("imagine", 0) == sent
            counts = exp.counts()
            assert counts["cancelled"] >= 15 and counts["queued"] == 0
            with_task = [i for i in exp.items if i.task is not None]
            assert len(with_task) == sim.stats()["tasks"] == sent
            assert all(i.status == CANCELLED for i in exp.items if i.task is None)
        finally:
            client.close()
