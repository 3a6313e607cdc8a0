"""An experiment whose relay cannot be reached stops submitting with a clear error after a bounded
number of attempts, instead of showing "queued" forever; its errors are in counts(), last_error,
each item's reason, and the repr; retry_failed() sends them once the relay is back."""

import socket

import mjnb
from mjnb import sim as simulator
from mjnb.experiment import FAILED, UNREACHABLE_TRIES, Experiment
from mjnb.store import History


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_closed_port_ends_with_its_error_then_retry_sends_them(tmp_path):
    port = _closed_port()
    # the default settings a user has (4 transport retries, 0.5 s backoff), not the quick ones
    client = mjnb.Client(base_url=f"http://127.0.0.1:{port}", api_key="sk-unreachable-1",
                         history=History(tmp_path / "home"))
    try:
        exp = Experiment(client, ["a fox", "a lighthouse"], concurrency=2, name="unreachable")
        exp.wait(timeout=60)  # raises TaskTimeoutError if it is still trying after 60 s
        counts = exp.counts()
        assert counts[FAILED] == 2 and counts["queued"] == counts["retrying"] == 0, counts
        assert exp.items[0].retries == UNREACHABLE_TRIES
        for item in exp.items:
            assert f"127.0.0.1:{port}" in item.reason and "retry_failed()" in item.reason
            assert item.task is None
        assert "could not be reached" in exp.last_error and "last error" in repr(exp)
        assert list(exp.df.item_status) == [FAILED, FAILED]
        summary, items = exp.gallery.summary, exp.gallery.items  # what the gallery shows
        assert "could not be reached" in summary["error"] and summary["tone"] == "failure"
        assert all("could not be reached" in i["reason"] and i["tone"] == "failure" for i in items)

        with simulator.start(port=port, speed=300) as sim:  # the relay is back: nothing was sent before
            exp.retry_failed().wait(timeout=60)
            assert exp.counts()["done"] == 2 and sim.stats()["requests"]["imagine"] == 2
            assert exp.last_error is None and all(i.retries == 0 and not i.reason for i in exp.items)
    finally:
        client.close()
