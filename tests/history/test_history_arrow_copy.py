"""The history DataFrame reads an Arrow copy of the task table kept fresh from a change log: every
write to a task (snapshots, tags, seeds, images, a future column) shows in the next DataFrame,
and the filters pick the same rows as SQL."""

from datetime import datetime, timedelta, timezone

import pandas as pd

from mjnb.models import TaskAction, TaskSnapshot, TaskStatus
from mjnb.store import History

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def add(store, i, prompt="a fox --ar 3:2", status=TaskStatus.SUCCESS, server="relay.example"):
    snap = TaskSnapshot(id=str(1730000000000000 + i), action=TaskAction.IMAGINE, status=status, progress=100,
                        prompt=prompt, submit_time=T0 + timedelta(minutes=i),
                        start_time=T0 + timedelta(minutes=i, seconds=5),
                        finish_time=T0 + timedelta(minutes=i, seconds=40))
    store.task_seen(server, snap, {"server": server})
    return snap.id


def test_changes_after_the_copy_was_written_show_in_the_next_frame(tmp_path):
    store = History(tmp_path)
    ids = [add(store, i) for i in range(5)]
    assert list(store.dataframe().id) == ids
    assert (tmp_path / History.ARROW_COPY).exists()
    store.tag("relay.example", ids[2], "keeper")  # an UPDATE after the copy
    store.set_seed("relay.example", ids[3], "12345")
    late = add(store, 9, prompt="a late owl", status=TaskStatus.FAILURE)
    df = store.dataframe()
    assert list(df.id) == ids + [late]
    assert df.tags[2] == ["keeper"] and df.seed[3] == 12345 and df.status.iloc[-1] == "FAILURE"
    assert list(History(tmp_path).dataframe(tag="keeper").id) == [ids[2]]  # a fresh process sees it too


def test_a_rewritten_copy_equals_a_fresh_read(tmp_path, monkeypatch):
    store = History(tmp_path)
    for i in range(30):
        add(store, i, prompt=f"prompt {i} --s {i * 10}")
    store.dataframe()
    monkeypatch.setattr(History, "ARROW_REWRITE", 5)
    for i in range(30, 40):
        add(store, i, prompt=f"Prompt {i}")
    incremental = store.dataframe()  # rewrites the copy (10 changed rows >= 5)
    (tmp_path / History.ARROW_COPY).unlink()
    fresh = store.dataframe()
    pd.testing.assert_frame_equal(incremental, fresh)
    assert store._db().execute("SELECT COUNT(*) FROM task_changes").fetchone()[0] <= 10


def test_arrow_filters_match_sql(tmp_path):
    store = History(tmp_path)
    add(store, 0, prompt="A Red fox", server="a.example")
    add(store, 1, prompt="a blue whale 100%_off", status=TaskStatus.FAILURE, server="b.example")
    add(store, 2, prompt="red_panda", server="a.example")
    store.dataframe()  # the copy exists: the filters below run in Arrow
    assert list(store.dataframe(prompt="red").prompt) == ["A Red fox", "red_panda"]
    assert list(store.dataframe(prompt="100%_").prompt) == ["a blue whale 100%_off"]
    assert len(store.dataframe(status="failure")) == 1 and len(store.dataframe(server="a.example")) == 2
    assert list(store.dataframe(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=1)).prompt) == \
        ["a blue whale 100%_off"]
    assert len(store.dataframe(action=["IMAGINE"], status=["SUCCESS", "FAILURE"])) == 3
