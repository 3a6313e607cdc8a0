"""A history on a disk that refuses: read-only, full, or not a folder at all.

imagine(), wait() and t.image must work, the card must show the image, and the user must get
exactly one HistoryWarning naming MJNB_HOME and history=False, never a raw sqlite3 or OS error.

Tests run as root in CI, where chmod 0o555 stops nobody. So each unwritable home here is one
that root cannot write either: MJNB_HOME naming a file, the database path being a folder, the
image cache path being a file, a tmpfs mounted read-only or filled up (where `mount` is
permitted; skipped elsewhere), and a file-size limit (RLIMIT_FSIZE, which binds root too) in a
child process for a full disk everywhere.
"""

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

import mjnb
from mjnb import sim as simulator
from mjnb.errors import HistoryWarning
from mjnb.models import TaskSnapshot, TaskStatus
from mjnb.store import History
from quick import FAST, until

KEY = "sk-disk-canary-24680"
PY = sys.executable


@pytest.fixture
def sim():
    with simulator.start(**FAST) as s:
        yield s


@pytest.fixture
def use_home(monkeypatch, sim):
    """`use_home(path)`: the default client keeps its history at `path`, talks to `sim`."""
    def point(path):
        monkeypatch.setenv("MJNB_HOME", str(path))
        mjnb.configure(base_url=sim.url, api_key=KEY, poll_interval=0.05, poll_max_interval=0.2)
    yield point
    mjnb.configure()  # closes the client; the next test builds its own


@pytest.fixture
def recorded():
    """Every warning issued in the test, from any thread (the tracker's and the image pool's too)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def history_warnings(caught):
    return [str(w.message) for w in caught if issubclass(w.category, HistoryWarning)]


def run_and_show(prompt):
    """What a user does: imagine, wait, look at the image and the card."""
    t = mjnb.imagine(prompt).wait(30)
    assert t.image.size == (512, 512)
    card = t.card
    until(lambda: card.picture, what="the image on the card")
    return t


def assert_one_clear_warning(caught, reason):
    [message] = history_warnings(caught)
    assert "MJNB_HOME" in message and "history=False" in message and reason in message
    assert KEY not in message and KEY[3:] not in message
    return message


# ---------------------------------------------------------------- mounts (where permitted)


def _mount(target, *options):
    return subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(target)],
                          capture_output=True).returncode == 0


@pytest.fixture
def tmpfs(tmp_path):
    """`tmpfs(size)` -> a fresh tmpfs folder; skips where mounting is not permitted."""
    mounted = []

    def make(size="1m"):
        target = tmp_path / f"tmpfs{len(mounted)}"
        target.mkdir()
        if os.geteuid() != 0 or not _mount(target, f"size={size}"):
            pytest.skip("mounting a tmpfs is not permitted here")
        mounted.append(target)
        return target

    yield make
    mjnb.configure()  # let go of the database before unmounting
    for target in mounted:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def remount_read_only(target):
    result = subprocess.run(["mount", "-o", "remount,ro", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- read-only homes


def home_is_a_file(tmp_path):
    """MJNB_HOME names a regular file: no one, root included, can make a folder there."""
    path = tmp_path / "home"
    path.write_text("not a folder")
    return path, "it is a file, not a folder"


def database_is_a_folder(tmp_path):
    """history.sqlite3 is a folder: SQLite cannot open it for anyone."""
    path = tmp_path / "home"
    (path / "history.sqlite3").mkdir(parents=True)
    return path, "unable to open database file"


def chmod_0555(tmp_path):
    """A folder without write permission: the classic read-only home (root ignores the bits)."""
    if os.geteuid() == 0:
        pytest.skip("root writes into a 0o555 folder; the other cases refuse root too")
    path = tmp_path / "home"
    path.mkdir(mode=0o555)
    return path, "read-only"


@pytest.mark.parametrize("make_home", [home_is_a_file, database_is_a_folder, chmod_0555])
def test_read_only_home_imagine_works_with_one_warning(make_home, tmp_path, use_home, recorded):
    home, reason = make_home(tmp_path)
    use_home(home)
    t = run_and_show("a pig on a read-only disk")
    u = run_and_show("a second pig, no second warning")
    assert_one_clear_warning(recorded, reason)
    assert t.id != u.id and mjnb.default_client().history.keeping is False
    # reads answer (empty: nothing could be kept), they do not raise
    assert mjnb.history().empty and mjnb.resume() == [] and mjnb.snapshots().empty


def test_read_only_mount_shows_what_was_kept_before(tmpfs, sim, use_home, recorded):
    """A tmpfs remounted read-only: EROFS stops root too. What an earlier kernel kept is still
    shown (history, cached image, resume) while new tasks run with one warning."""
    home = tmpfs("4m")
    earlier = subprocess.run([PY, "-c", "import mjnb; print(mjnb.imagine('kept before').wait(60).id)"],
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "MJNB_HOME": str(home), "MJNB_BASE_URL": sim.url,
                                  "MJNB_API_KEY": KEY})
    assert earlier.returncode == 0, earlier.stderr
    earlier_id = earlier.stdout.split()[-1]
    remount_read_only(home)  # the earlier kernel has ended: nothing holds the files open

    use_home(home)
    assert mjnb.resume() == []  # nothing was unfinished
    later = run_and_show("made on a read-only disk")
    assert_one_clear_warning(recorded, "read-only")
    df = mjnb.history()
    assert list(df.id) == [earlier_id] and df.image_path.notna().all()
    sim.configure(image_ttl=0.001)  # its URL is dead now: the image must come from the cache
    again = mjnb.task(earlier_id)
    assert again.image.size == (512, 512) and later.id not in set(df.id)


def test_unwritable_image_cache_still_shows_the_image(tmp_path, use_home, recorded):
    """images/ is a file: the database is fine but the cache cannot keep the final image. Before,
    t.image raised the OSError; now the image stays in memory and the warning says why."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "images").write_text("not a folder")
    use_home(home)
    t = run_and_show("an image with nowhere to go")
    assert t.image.size == (512, 512)  # again: from memory
    assert_one_clear_warning(recorded, "images")
    row = mjnb.history().set_index("id").loc[t.id]  # recorded until the cache failed
    assert row.prompt == "an image with nowhere to go" and not isinstance(row.image_path, str)


def test_tags_on_a_history_that_keeps_nothing_say_why(tmp_path, use_home, recorded):
    home, _ = home_is_a_file(tmp_path)
    use_home(home)
    t = mjnb.imagine("annotated in vain").wait(30)
    with pytest.raises(mjnb.MjnbError, match="keeps no history .*it is a file, not a folder") as info:
        t.tag("keeper")
    assert KEY not in str(info.value) and KEY[3:] not in str(info.value)
    assert t.annotations == {"tags": [], "rating": None, "note": ""}
    assert len(history_warnings(recorded)) == 1


def test_configure_history_false_keeps_nothing_and_warns_nothing(tmp_path, sim, monkeypatch, recorded):
    home, _ = home_is_a_file(tmp_path)
    monkeypatch.setenv("MJNB_HOME", str(home))
    mjnb.configure(base_url=sim.url, api_key=KEY, history=False)
    try:
        t = mjnb.imagine("no history wanted").wait(30)
        assert t.image.size == (512, 512) and mjnb.default_client().history is None
        with pytest.raises(mjnb.MjnbError, match="configure\\(history=True\\)"):
            mjnb.history()
    finally:
        mjnb.configure()
    assert history_warnings(recorded) == []


# ---------------------------------------------------------------- full disks


def test_disk_filling_up_midway(tmpfs, use_home, recorded):
    """A tiny tmpfs filled to the last byte after a first task: real ENOSPC for SQLite and the
    cache. Before, the next imagine() raised 'cannot rollback - no transaction is active'."""
    home = tmpfs("1m")
    use_home(home)
    first = run_and_show("before the disk filled")
    with contextlib.suppress(OSError), open(home / "filler", "wb", buffering=0) as fh:
        while True:
            fh.write(b"\0" * 4096)
    later = [run_and_show(f"on a full disk {i}") for i in range(3)]
    message = assert_one_clear_warning(recorded, "")
    assert "full" in message or "No space left" in message, message
    assert "cannot rollback" not in message
    assert list(mjnb.history().id)[:1] == [first.id] and all(t.status == TaskStatus.SUCCESS for t in later)
    litter = [p for p in home.rglob("*.tmp")]
    assert litter == [], "a half-written image was left on the full disk"


def test_file_size_limit_in_a_child_process(tmp_path):
    """A full disk anywhere, without mount: RLIMIT_FSIZE (binding root too) makes every write
    past 8 KB fail with EFBIG, which SQLite reports as a disk I/O error and the cache as OSError."""
    home = tmp_path / "home"
    code = textwrap.dedent("""
        import json, resource, signal, warnings
        import mjnb
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = mjnb.imagine("before the limit").wait(60)
            resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
            tasks = [mjnb.imagine(f"past the limit {i}").wait(60) for i in range(3)]
            sizes = [t.image.size for t in tasks]
            rows = list(mjnb.history().id)
        print(json.dumps({"first": first.id, "rows": rows, "sizes": sizes,
                          "warnings": [str(w.message) for w in caught
                                       if issubclass(w.category, mjnb.HistoryWarning)]}))
    """)
    env = {**os.environ, "MJNB_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    for name in ("MJNB_BASE_URL", "MJNB_API_KEY"):
        env.pop(name, None)
    proc = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["sizes"] == [[512, 512]] * 3
    [message] = out["warnings"]
    assert "MJNB_HOME" in message and "history=False" in message
    assert "disk I/O error" in message or "File too large" in message, message
    assert out["rows"][:1] == [out["first"]]


# ---------------------------------------------------------------- unit level


def test_cache_names_come_from_the_hash_not_the_task_id(tmp_path):
    """A task id from a server never becomes a file name: '../../x', a NUL or 10 kB of text."""
    import hashlib
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG")
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    home = tmp_path / "a" / "home"
    store = History(home)
    for bad in ("../../x", "../../../x", "a\0b", "9" * 10_000, "/etc/x"):
        info = store.cache_image("relay.test", bad, data)
        assert info["path"] == str(home / "images" / digest[:2] / f"{digest}.png")
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and home not in p.parents]
    assert outside == [] and store.keeping


def test_only_the_disk_refusing_counts_as_a_disk_problem(tmp_path):
    """Only the disk's refusals make the history stop keeping; mjnb's own mistakes still raise."""
    import sqlite3

    from PIL import Image, UnidentifiedImageError

    from mjnb.store import _problem
    db = sqlite3.connect(tmp_path / "x.sqlite3")
    db.execute("CREATE TABLE t (a INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO t VALUES (1)")
    db.commit()

    def error_of(fn):
        try:
            fn()
        except Exception as exc:
            return exc
        raise AssertionError("no error")

    read_only = sqlite3.connect(f"{(tmp_path / 'x.sqlite3').as_uri()}?mode=ro", uri=True)
    assert _problem(error_of(lambda: read_only.execute("INSERT INTO t VALUES (2)"))) == "disk"
    assert _problem(error_of(lambda: sqlite3.connect(tmp_path))) == "disk"  # a folder: unable to open
    assert _problem(error_of(lambda: (tmp_path / "x.sqlite3" / "y").write_text("y"))) == "disk"
    assert _problem(error_of(lambda: db.execute("SELECT nonsense FROM t"))) is None
    assert _problem(error_of(lambda: db.execute("INSERT INTO t VALUES (1)"))) is None  # IntegrityError
    assert _problem(error_of(lambda: Image.open(__import__("io").BytesIO(b"not an image")))) is None
    assert isinstance(error_of(lambda: Image.open(__import__("io").BytesIO(b"x"))), UnidentifiedImageError)


def test_a_poisoned_history_does_not_break_resume_or_export(tmp_path):
    """Ids an older mjnb stored unchecked: unfinished() skips them, export names files by hash."""
    from mjnb.exporter import export_history
    store = History(tmp_path / "home")
    for ident in ("../../x", "a\0b", "9" * 10_000, "1730000000000001"):
        store.task_seen("relay.test", TaskSnapshot(id=ident, status=TaskStatus.IN_PROGRESS), {})
    assert store.unfinished("relay.test") == ["1730000000000001"]
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buf, "PNG")
    store.task_seen("relay.test", TaskSnapshot(id="../../x", status=TaskStatus.SUCCESS), {})
    store.cache_image("relay.test", "../../x", buf.getvalue())
    out = export_history(store, tmp_path / "export" / "deep")
    images = os.listdir(os.path.join(out, "images"))
    assert len(images) == 1 and images[0].endswith(".png") and len(images[0]) == 64 + 4
    assert not (tmp_path / "export" / "x.png").exists() and not (tmp_path / "x.png").exists()
