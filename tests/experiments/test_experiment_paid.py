"""Paid tasks are never paid twice and never lost from view, in experiments.

A kernel killed while a submit's answer is on its way (the task exists; the history says
"sent"), then the same experiment resumed, then retry_failed(): the server ends with exactly one
task per item. On trueai/novicezk the resumed run finds the in-flight item's task by its state;
on a relay (no task listing) that item is "uncertain", a visible row, and retry_failed() leaves
it alone. exp.df has one row per item under faults.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import requests
from exp_support import make_client, states, until

from mjnb import Experiment
from mjnb import sim as simulator
from mjnb.experiment import DONE, UNCERTAIN

NAME = "paid"
ITEMS = 12
SCRIPT = textwrap.dedent("""
    import json, sys, mjnb
    mjnb.configure(poll_interval=0.05, poll_max_interval=0.2, backoff=0.01)
    exp = mjnb.experiment(["a fox", "a hare", "a lynx"], {"--stylize": [10, 20, 30, 40]},
                          concurrency=3, name="paid")
    print("started", flush=True)
    exp.wait(timeout=120)
    first = {"statuses": [i.status for i in exp.items], "submits": exp._submitter.submits}
    exp.retry_failed().wait(timeout=120)
    df = exp.df
    print(json.dumps({"first": first, "statuses": [i.status for i in exp.items],
                      "reasons": [i.reason for i in exp.items], "submits": exp._submitter.submits,
                      "df_items": [int(i) for i in df["item"]], "df_status": [str(s) for s in df["status"]],
                      "df_item_status": list(df["item_status"])}), flush=True)
""")


def _sent_rows(home):
    """States of submits the killed kernel sent and never heard back about."""
    with sqlite3.connect(home / "history.sqlite3") as db:
        return [r[0] for r in db.execute("SELECT state FROM submits WHERE outcome = 'sent'")]


@pytest.mark.parametrize("profile", ["relay", "trueai", "novicezk"])
def test_sigkill_mid_submit_then_resume_then_retry_failed_pays_once(tmp_path, profile):
    # submit answers trickle (5 ms a byte, about half a second), so a kill lands while one is on
    # its way: the server has made the task, the killed kernel never learns its id
    server = subprocess.Popen([sys.executable, "-m", "mjnb.sim", "--port", "0", "--profile", profile,
                               "--speed", "20", "--sync-interval", "0.05", "--seed", "9",
                               "--trickle-ms", "5", "--trickle-routes", "imagine"],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().split(" on ")[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        env = {**os.environ, "MJNB_HOME": str(tmp_path), "MJNB_BASE_URL": url, "MJNB_API_KEY": "sk-paid-kill",
               "MJNB_FLAVOUR": profile,
               "MJNB_AUTH_HEADER": {"relay": "bearer", "trueai": "authorization", "novicezk": "mj-api-secret"}[profile]}

        def sim_tasks():
            return requests.get(url + "/__sim/tasks", timeout=5).json()

        run = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, text=True)
        try:
            assert run.stdout.readline().strip() == "started"
            until(lambda: len(sim_tasks()) >= 4, timeout=60, what="four tasks on the server")
            run.send_signal(signal.SIGKILL)  # the 4th answer is still trickling in
            run.wait(timeout=10)
        finally:
            if run.poll() is None:
                run.kill()
        before = states(sim_tasks(), NAME)
        assert 4 <= sum(before.values()) < ITEMS and set(before.values()) == {1}
        in_flight = _sent_rows(tmp_path)
        assert len(in_flight) == 1 and in_flight[0] in before, (in_flight, before)  # its task exists

        requests.post(url + "/__sim/config", json={"trickle_ms": 0}, timeout=5)
        resumed = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                                 timeout=240, check=False)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        result = json.loads(resumed.stdout.splitlines()[-1])
        after = states(sim_tasks(), NAME)

        assert set(after.values()) == {1}, after  # 0 duplicates: one task per state key, ever
        assert sum(after.values()) == ITEMS  # 12 tasks for 12 items, after resume and retry_failed()
        assert result["submits"] == ITEMS - sum(before.values())  # only the items never sent
        assert result["df_items"] == list(range(ITEMS))  # exp.df: one row per item
        assert result["df_item_status"] == result["statuses"]
        index = int(in_flight[0].rsplit(":", 1)[1])
        others = [s for i, s in enumerate(result["statuses"]) if i != index]
        assert set(others) == {DONE}
        if profile == "relay":  # no listing: the item stays uncertain, a visible row, not paid again
            assert result["statuses"][index] == UNCERTAIN
            assert "avoid paying twice" in result["reasons"][index]
            assert result["df_status"][index] == "UNKNOWN"
        else:  # found by its state: the in-flight item is simply done
            assert result["statuses"][index] == DONE
            assert result["first"]["statuses"][index] == DONE
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


@pytest.mark.parametrize("profile", ["relay", "trueai"])
def test_exp_df_has_one_row_per_item_under_faults(tmp_path, profile):
    from mjnb.store import History
    with simulator.start(profile=profile, speed=300, seed=12, error_rate=0.15, drop_rate=0.1,
                         lose_answer_rate=0.2, fail_rate=0.1) as sim:
        client = make_client(sim, history=History(tmp_path), retries=2)
        try:
            exp = Experiment(client, ["a", "b", "c"], {"--chaos": [0, 10, 20, 30]}, concurrency=3,
                             name="faulty-grid", max_backoff=0.05)
            exp.wait(timeout=60)
            df = exp.df
            assert len(df) == ITEMS and list(df["item"]) == list(range(ITEMS))
            assert list(df["item_status"]) == [i.status for i in exp.items]
            assert list(df["state"]) == [i.key for i in exp.items]
            for item, row in zip(exp.items, df.itertuples()):
                if item.task is not None:
                    assert row.id == item.task.id
                else:
                    assert pd.isna(row.id) and row.reason and row.prompt == item.prompt
                    if item.status == UNCERTAIN:  # its submit is an UNKNOWN row of the history
                        assert row.status == "UNKNOWN" and row.fail_reason.startswith("outcome unknown")
                    else:  # refused: no task, no history row
                        assert pd.isna(row.status) and row.fail_reason == item.reason
            assert set(states(sim.tasks(), "faulty-grid").values()) <= {1}
        finally:
            client.close()
