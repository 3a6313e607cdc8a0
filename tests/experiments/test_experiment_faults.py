"""A fault run: 300 items through gateway errors, dropped connections, failing jobs and two jobs
that never finish. Every item must end recorded as done or failed, with no state key submitted
twice; the two hung jobs end when the relay gives up on them (1 h of its clock, spec §13 R2)."""

from collections import Counter

from exp_support import make_client, states

from mjnb import Experiment
from mjnb import sim as simulator
from mjnb.experiment import DONE, FAILED, STALLED

HANG_AFTER = (17, 150)  # the first task created at or after each of these items hangs


def test_fault_run_ends_every_item_and_never_duplicates():
    with simulator.start(speed=1000, seed=21, error_rate=0.10, drop_rate=0.05,
                         fail_rate=0.05) as sim:
        client = make_client(sim, retries=4, stall_after=2.0)
        hung: list[str] = []
        real_imagine = client.imagine

        def imagine(prompt, **kw):
            """Exactly two tasks hang: hang_rate is 1 only while one chosen submit is in flight
            (the experiment submits from one thread, and the tracker creates no tasks)."""
            index = int(kw["state"].split(":")[2])
            chosen = sum(index >= h for h in HANG_AFTER) > len(hung)
            if chosen:
                sim.configure(hang_rate=1.0)
            try:
                task = real_imagine(prompt, **kw)
            finally:
                if chosen:
                    sim.configure(hang_rate=0.0)
            if chosen:
                hung.append(kw["state"])
            return task

        client.imagine = imagine
        try:
            exp = Experiment(client, [f"subject {n}" for n in range(30)], {"--seed": list(range(1, 11))},
                             concurrency=6, name="faults", max_backoff=0.2)
            assert len(exp) == 300
            exp.wait(timeout=240)
            sim_tasks = sim.tasks()
            by_status = Counter(i.status for i in exp.items)
            print("fault run:", dict(by_status), "submits", exp._submitter.submits, "waits", exp._submitter.waits)

            assert set(by_status) <= {DONE, FAILED, STALLED}
            assert sum(by_status.values()) == 300
            keys = states(sim_tasks, "faults")
            assert all(n == 1 for n in keys.values()), [k for k, n in keys.items() if n > 1]
            # exactly the two chosen tasks hang, and the relay failed exactly those after its hour
            assert len(hung) == 2 and sorted(t["state"] for t in sim_tasks if t["outcome"] == "hang") == sorted(hung)
            gave_up = [i.key for i in exp.items if i.status == FAILED and "上游任务超时" in (i.reason or "")]
            assert sorted(gave_up) == sorted(hung) and not any(i.status == STALLED for i in exp.items)
            # every item with a task is in the history with that task's status
            df = exp.df.set_index("item")
            for item in exp.items:
                if item.task is not None:
                    assert df.loc[item.index, "id"] == item.task.id
                    expected = {DONE: "SUCCESS", FAILED: "FAILURE"}.get(item.status)
                    if expected:
                        assert df.loc[item.index, "status"] == expected
                else:  # no task: the submit was refused or may exist; the reason says which
                    assert item.status == FAILED and item.reason
            # failures have reasons; the server's own task list agrees on the outcomes
            assert all(i.reason for i in exp.items if i.status == FAILED)
            sim_by_key = {t["state"]: t for t in sim_tasks}
            for item in exp.items:
                if item.status == DONE:
                    assert sim_by_key[item.key]["status"] == "SUCCESS"
        finally:
            client.close()
