"""mjnb.configure() after using the built-in simulator: earlier tasks keep their simulator (their
buttons and wait() still work, and it says so), new tasks go to the configured relay."""

import gc

import requests
from client_support import until

import mjnb
import mjnb.sim

QUICK = dict(poll_interval=0.05, poll_max_interval=0.2)


def test_earlier_simulator_tasks_stay_usable_after_configure(capsys):
    mjnb.configure(**QUICK)
    try:
        first = mjnb.imagine("a lighthouse at dusk")
        first.wait(timeout=60)
        embedded = mjnb.default_client().config.base_url
        with mjnb.sim.start(speed=300) as relay:
            mjnb.configure(base_url=relay.url, api_key="sk-configure-test-0001", **QUICK)
            said = capsys.readouterr().out
            assert f"built-in simulator at {embedded} keeps running for the 1 task made on it" in said
            assert "sk-configure-test-0001" not in said

            up = first.upscale(1)  # pressed on the simulator that made `first`, not on the new relay
            up.wait(timeout=60)
            assert up.status == "SUCCESS" and up.image is not None
            later = mjnb.imagine("a red fox in snow")
            later.wait(timeout=60)
            assert later.client.config.base_url == relay.url
            stats = relay.stats()
            assert stats["requests"].get("imagine") == 1 and not stats["requests"].get("action")
    finally:
        mjnb.configure()


def _serving(url: str) -> bool:
    try:
        requests.get(url + "/__sim/stats", timeout=2)
        return True
    except requests.ConnectionError:
        return False


def test_a_simulator_no_task_needs_is_stopped(capsys):
    mjnb.configure(**QUICK)
    try:
        url = mjnb.default_client().config.base_url  # started, no task made on it
        assert _serving(url)
        mjnb.configure(**QUICK)
        assert "keeps running" not in capsys.readouterr().out
        assert not _serving(url), "the old simulator should have been stopped"
    finally:
        mjnb.configure()


def test_a_kept_simulator_is_stopped_once_its_tasks_are_let_go(capsys):
    mjnb.configure(**QUICK)
    try:
        url = mjnb.default_client().config.base_url
        task = mjnb.imagine("a pig")
        task.wait(timeout=60)
        mjnb.configure(**QUICK)
        assert "keeps running for the 1 task" in capsys.readouterr().out and _serving(url)
        old = task.client
        del task  # (its picture's download may hold it a moment longer)
        until(lambda: gc.collect() is not None and not len(old._tasks), what="the task to be let go")
        mjnb.configure(**QUICK)  # nothing holds its task now
        assert not _serving(url)
    finally:
        mjnb.configure()
