"""Resume: the same name again continues a run, in this process or after the first was killed,
and nothing is submitted twice."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import requests
from exp_support import make_client, states, until

from mjnb import Experiment, ValidationError
from mjnb.experiment import DONE, FAILED, UNCERTAIN
from mjnb.store import History

SCRIPT = textwrap.dedent("""
    import json, mjnb
    mjnb.configure(poll_interval=0.05, poll_max_interval=0.2, backoff=0.01)
    exp = mjnb.experiment(["a fox", "a hare", "a lynx"], {"--stylize": [10, 20, 30, 40]},
                          concurrency=3, name="killed")
    print("started", flush=True)
    exp.wait(timeout=120)
    print(json.dumps({"statuses": [i.status for i in exp.items], "reasons": [i.reason for i in exp.items],
                      "submits": exp._submitter.submits}), flush=True)
""")


def test_resume_in_process_reuses_and_submits_only_the_rest(sim, tmp_path):
    first = make_client(sim, history=History(tmp_path))
    exp = Experiment(first, ["a"], {"--seed": list(range(1, 9))}, concurrency=2, name="again")
    until(lambda: sum(i.task is not None for i in exp.items) >= 3, what="three submits")
    exp.cancel()
    had = {i.index: i.task.id for i in exp.items if i.task is not None}
    first.close()

    second = make_client(sim, history=History(tmp_path))  # a fresh client: no shared memory
    try:
        again = Experiment(second, ["a"], {"--seed": list(range(1, 9))}, concurrency=2, name="again")
        assert {i.index: i.task.id for i in again.items if i.task is not None} == had
        again.wait(timeout=60)
        assert again.counts()["done"] == 8
        assert again._submitter.submits == 8 - len(had)
        assert states(sim.tasks(), "again") == {f"mjnb:again:{n}": 1 for n in range(8)}
    finally:
        second.close()


def test_unanswered_submit_is_not_resubmitted_on_resume(sim, tmp_path):
    history = History(tmp_path)
    # a submit recorded as sent whose answer never came (the process died mid-request)
    history.submit_started(sim.url.split("//")[1], "POST /mj/submit/imagine",
                           {"prompt": "a --chaos 5", "state": "mjnb:half:1"}, {"experiment": "half"})
    client = make_client(sim, history=history)
    try:
        assert client.config.host == sim.url.split("//")[1]
        exp = Experiment(client, ["a"], {"--chaos": [0, 5, 10]}, concurrency=3, name="half")
        exp.wait(timeout=30)
        assert [i.status for i in exp.items] == [DONE, UNCERTAIN, DONE]
        assert exp.items[1].uncertain and "avoid paying twice" in exp.items[1].reason
        assert exp._submitter.submits == 2
        assert states(sim.tasks(), "half") == {"mjnb:half:0": 1, "mjnb:half:2": 1}
    finally:
        client.close()


def test_resume_after_sigkill_submits_nothing_twice(tmp_path):
    server = subprocess.Popen([sys.executable, "-m", "mjnb.sim", "--port", "0", "--speed", "20",
                               "--sync-interval", "0.05", "--seed", "9"],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().split(" on ")[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        env = {**os.environ, "MJNB_HOME": str(tmp_path), "MJNB_BASE_URL": url, "MJNB_API_KEY": "sk-kill"}

        def sim_tasks():
            return requests.get(url + "/__sim/tasks", timeout=5).json()

        run = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, text=True)
        try:
            assert run.stdout.readline().strip() == "started"
            until(lambda: len(sim_tasks()) >= 4, timeout=60, what="four tasks on the server")
            run.send_signal(signal.SIGKILL)
            run.wait(timeout=10)
        finally:
            if run.poll() is None:
                run.kill()
        before = states(sim_tasks(), "killed")
        assert 4 <= sum(before.values()) < 12, "the kill should land mid-run"
        assert all(n == 1 for n in before.values())

        resumed = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                                 timeout=180, check=False)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        result = json.loads(resumed.stdout.splitlines()[-1])
        assert all(s in (DONE, FAILED, UNCERTAIN) for s in result["statuses"]), result
        after = states(sim_tasks(), "killed")
        assert all(n == 1 for n in after.values()), after  # one task per state key, ever
        assert set(before) <= set(after)
        assert result["submits"] == sum(after.values()) - sum(before.values())  # only the rest was sent
        for index, status in enumerate(result["statuses"]):
            if status == DONE:
                assert after[f"mjnb:killed:{index}"] == 1
            else:  # only a submit cut off by the kill may end uncertain, and it was not repeated
                assert status == UNCERTAIN and "avoid paying twice" in result["reasons"][index]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def test_resume_with_other_prompts_is_refused(client):
    Experiment(client, ["a pig"], {"--chaos": [0, 5]}, name="same-name").wait(timeout=30)
    sent = client.history.experiment_records(client.config.host, "same-name")["submits"]
    with pytest.raises(ValidationError, match="same prompts, params and repeats") as info:
        Experiment(client, ["a cow"], {"--chaos": [0, 5]}, name="same-name")
    assert info.value.field == "name"
    assert client.history.experiment_records(client.config.host, "same-name")["submits"] == sent
