"""Times in the history's DataFrames are whole milliseconds (what servers count in), so they print
as 04:27:51.468, never as 04:27:51.467999935."""

from quick import FAST, make_client

from mjnb import sim as simulator
from mjnb.store import History


def _whole_ms(series) -> bool:
    values = series.dropna()
    return len(values) > 0 and bool(((values.dt.microsecond % 1000 == 0) & (values.dt.nanosecond == 0)).all())


def test_history_and_snapshot_times_are_whole_milliseconds(tmp_path):
    with simulator.start(**FAST) as sim:
        client = make_client(sim, history=History(tmp_path / "home"))
        try:
            client.imagine("a lighthouse at dusk").wait(timeout=30)
            df = client.history.dataframe()
            snaps = client.history.snapshots()
        finally:
            client.close()
    for column in ("submit", "start", "finish"):
        assert str(df[column].dtype) == "datetime64[ns, UTC]"
        assert _whole_ms(df[column]), df[column].tolist()
        assert len(str(df[column].iloc[0]).split(".")[-1].split("+")[0]) <= 6  # no 9-digit fraction
    assert _whole_ms(snaps["time"])
    for column in ("queue_s", "run_s", "total_s"):
        assert (df[column].dropna() == df[column].dropna().round(3)).all()
    assert "999999" not in df[["submit", "start", "finish"]].to_string()
