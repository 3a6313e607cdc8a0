"""The history: durable submits, resume after SIGKILL, the image cache, DataFrames, concurrency."""

import os
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

import mjnb
from mjnb import sim as simulator
from mjnb.store import SCHEMA_VERSION, History
from quick import until

PY = sys.executable
KEY = "sk-history-canary-98765"


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


def client_for(sim, home, **settings):
    return mjnb.Client(base_url=sim.url, api_key=KEY, history=History(home), poll_interval=0.05,
                       poll_max_interval=0.2, flavour=sim.options.profile, **settings)


def start_sim_process(*args):
    proc = subprocess.Popen([PY, "-m", "mjnb.sim", "--port", "0", *args], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert "listening on" in line, line
    return proc, line.split("listening on ")[1].split()[0]


def run_script(code, home, url, wait=True):
    env = {**os.environ, "MJNB_HOME": str(home), "MJNB_BASE_URL": url, "MJNB_API_KEY": KEY}
    proc = subprocess.Popen([PY, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    if wait:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        return out
    return proc


def test_sigkill_mid_task_loses_nothing_and_resume_finishes_it(home):
    sim_proc, url = start_sim_process("--speed", "3", "--sync-interval", "0.2")
    try:
        writer = run_script("""
            import mjnb, sys, time
            t = mjnb.imagine("a survivor --ar 3:2")
            print(t.id, flush=True)
            time.sleep(120)
        """, home, url, wait=False)
        task_id = writer.stdout.readline().strip()
        assert task_id.isdigit(), writer.stderr.read() if writer.poll() is not None else task_id
        store = History(home)
        until(lambda: store.dataframe(status=["IN_PROGRESS"]).shape[0] == 1, what="the task to run")
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)

        df = store.dataframe()
        assert list(df.id) == [task_id] and df.status[0] == "IN_PROGRESS"
        out = run_script(f"""
            import mjnb
            tasks = mjnb.resume()
            assert [t.id for t in tasks] == ["{task_id}"], tasks
            t = tasks[0].wait(120)
            print(t.status, t.image.size)
        """, home, url)
        assert out.split()[:1] == ["SUCCESS"]
        row = History(home).dataframe().iloc[0]
        assert row.status == "SUCCESS" and row.image_path and os.path.exists(row.image_path)
    finally:
        sim_proc.kill()
        sim_proc.wait(5)


def test_a_submit_is_recorded_before_it_is_sent(home):
    sim_proc, url = start_sim_process("--latency", "30")
    try:
        writer = run_script("""
            import mjnb
            print("submitting", flush=True)
            mjnb.imagine("never answered")
        """, home, url, wait=False)
        assert writer.stdout.readline().strip() == "submitting"
        store = History(home)
        host = url.split("//")[1]
        until(lambda: store.unanswered_submits(host), what="the submit row")
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
        [pending] = store.unanswered_submits(host)
        assert pending["endpoint"] == "POST /mj/submit/imagine" and pending["body"]["prompt"] == "never answered"
    finally:
        sim_proc.kill()
        sim_proc.wait(5)


def test_expired_url_still_shows_the_cached_image(home):
    with simulator.start(speed=300, image_ttl=1.0, seed=2) as sim:
        first = client_for(sim, home)
        t = first.imagine("ephemeral").wait(20)
        until(lambda: History(home).cached_image(first.config.host, t.id), what="the image in the cache")
        url = t.image_url
        with pytest.raises(mjnb.NotFoundError, match="expired"):
            until(lambda: first.download(url) and False, timeout=5, what="never")  # raises once expired
        # a new kernel: no image in memory, the URL is dead, the cache answers
        second = client_for(sim, home)
        again = second.task(t.id)
        assert again.image.size == (512, 512)
        card = again.card
        until(lambda: card.picture, what="the cached image on the card")
        first.close()
        second.close()


def test_dataframe_dtypes_and_timings(home):
    with simulator.start(speed=300, seed=4) as sim:
        client = client_for(sim, home)
        t = client.imagine("a fox --ar 16:9 --s 400 --c 10 --no trees --seed 77").wait(20)
        u = t.upscale(2).wait(20)
        u.tag("keeper").rate(5).note("the best one")
        df = History(home).dataframe()
        client.close()
    assert list(df.id) == [t.id, u.id]
    for col in ("submit", "start", "finish"):
        assert str(df[col].dtype) == "datetime64[ns, UTC]"
    for col in ("queue_s", "run_s", "total_s"):
        assert df[col].dtype == "float64" and (df[col] >= 0).all()
    assert (abs(df.queue_s + df.run_s - df.total_s) < 1e-6).all()
    assert (df.start - df.submit).dt.total_seconds().tolist() == pytest.approx(df.queue_s.tolist())
    assert str(df.stylize.dtype) == "Int64" and df.stylize.tolist() == [400, 400]
    assert df.aspect.tolist() == ["16:9", "16:9"] and df.chaos.tolist() == [10, 10] and df["no"][0] == "trees"
    assert str(df.seed.dtype) == "Int64" and df.seed[0] == 77
    child = df.iloc[1]
    assert child.parent_id == t.id and child.root_id == t.id and child.button == "U2" and child.action == "UPSCALE"
    assert child.tags == ["keeper"] and child.rating == 5 and child.note == "the best one"
    assert df.simulator.dtype == bool and str(df.rating.dtype) == "Int64"
    assert df.image_path.notna().all() and df.thumb_path.notna().all()


def test_filters_snapshots_and_export(home, tmp_path):
    with simulator.start(speed=300, seed=6) as sim:
        client = client_for(sim, home)
        a = client.imagine("red apple").wait(20)
        b = client.imagine("green pear").wait(20)
        sim.configure(fail_rate=1.0)
        c = client.imagine("blue plum")
        with pytest.raises(mjnb.TaskFailedError):
            c.wait(20)
        b.tag("fruit")
        store = History(home)
        assert list(store.dataframe(prompt="APPLE").id) == [a.id]
        assert list(store.dataframe(status="failure").id) == [c.id]
        assert list(store.dataframe(tag="fruit").id) == [b.id]
        assert list(store.dataframe(action="IMAGINE").id) == [a.id, b.id, c.id]
        assert store.dataframe(since=pd.Timestamp.now(tz="UTC") + pd.Timedelta("1h")).empty
        snaps = store.snapshots([a.id])
        assert snaps.progress.is_monotonic_increasing and snaps.progress.iloc[-1] == 100
        assert str(snaps.time.dtype) == "datetime64[ns, UTC]" and (snaps.elapsed_s >= 0).all()
        from mjnb.exporter import export_history
        out = export_history(store, tmp_path / "export")
        client.close()
    csv = pd.read_csv(os.path.join(out, "history.csv"))
    assert sorted(csv.id.astype(str)) == sorted([a.id, b.id, c.id])
    images = os.listdir(os.path.join(out, "images"))
    assert sorted(images) == sorted([f"{a.id}.png", f"{b.id}.png"])
    assert "manifest.json" in os.listdir(out)


def test_the_key_is_never_stored(home):
    with simulator.start(speed=300, seed=8) as sim:
        client = client_for(sim, home)
        client.imagine("secretive").wait(20)
        sim.configure(error_rate=1.0)
        with pytest.raises(mjnb.ServerError):
            client.imagine("refused")
        client.close()
    for root, _, files in os.walk(home):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                assert KEY.encode() not in fh.read() and KEY[3:].encode() not in open(os.path.join(root, name), "rb").read()


def test_two_processes_writing_at_once_lose_nothing(home):
    History(home)  # create the schema first, as the first kernel would
    code = """
        import sys
        from mjnb.models import SubmitResult, TaskSnapshot, TaskStatus
        from mjnb.store import History
        h = History(sys.argv[1])
        me = sys.argv[2]
        for i in range(300):
            sid = h.submit_started("relay.test", "POST /mj/submit/imagine", {"prompt": f"{me} {i}"}, {})
            snap = TaskSnapshot(id=f"{me}{i:05d}", status=TaskStatus.NOT_START, prompt=f"{me} {i}")
            h.submit_finished(sid, SubmitResult(code=1, result=snap.id), [snap], {"server": "relay.test"})
            h.task_seen("relay.test", TaskSnapshot(id=snap.id, status=TaskStatus.SUCCESS, progress=100), {})
    """
    procs = [subprocess.Popen([PY, "-c", textwrap.dedent(code), str(home), name]) for name in ("1", "2")]
    for p in procs:
        assert p.wait(120) == 0
    df = History(home).dataframe()
    assert len(df) == 600 and (df.status == "SUCCESS").all() and df.id.is_unique
    assert len(History(home).unanswered_submits("relay.test")) == 0


def test_schema_is_versioned(home):
    store = History(home)
    assert store.schema_version == SCHEMA_VERSION == 3
    store._db().execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(RuntimeError, match="newer mjnb"):
        History(home)


def test_fill_seeds_and_tag_validation(home, monkeypatch):
    with simulator.start(speed=300, seed=9) as sim:
        monkeypatch.setenv("MJNB_HOME", str(home))
        mjnb.configure(base_url=sim.url, api_key=KEY)
        try:
            t = mjnb.imagine("seedless").wait(20)
            assert mjnb.fill_seeds() == 1
            assert mjnb.history().seed.tolist() == [int(sim.engine.tasks[t.id].seed)]
            assert mjnb.fill_seeds() == 0
            with pytest.raises(mjnb.ValidationError, match="rating must be an integer from 1 to 5"):
                t.rate(6)
            with pytest.raises(mjnb.ValidationError, match="tags must be non-empty strings"):
                t.tag("")
        finally:
            mjnb.configure()


def test_two_threads_keeping_the_same_picture_do_not_trip_each_other(tmp_path):
    """Two tasks with one seed give identical bytes; their downloads may be kept at the same
    moment. A shared temporary file name made one rename the other's file away, and the history
    then stopped keeping anything for the session (a full-suite run caught it)."""
    import io
    import threading

    from PIL import Image

    from mjnb.images import ImageCache

    buf = io.BytesIO()
    Image.new("RGB", (600, 600), "red").save(buf, "PNG")
    data, errors = buf.getvalue(), []
    for n in range(20):
        cache = ImageCache(tmp_path / str(n))

        def keep():
            try:
                cache.put(data)
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(repr(exc))

        threads = [threading.Thread(target=keep) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert not list(tmp_path.rglob("*.tmp"))
