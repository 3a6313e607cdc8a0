"""History columns into pandas DataFrames with honest dtypes (a million rows in about a second)."""

from __future__ import annotations


import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .params import PARAMS

COLUMNS = (["id", "parent_id", "root_id", "action", "button", "prompt", "prompt_en", "final_prompt", "text",
            "image_prompts"] + list(PARAMS) +
           ["other", "status", "fail_reason", "submit", "start", "finish", "queue_s", "run_s", "total_s",
            "image_path", "thumb_path", "image_url", "mode", "server", "simulator", "tags", "rating", "note",
            "experiment", "state", "progress", "custom_id", "price", "cost"])


# Text columns are Arrow-backed (pyarrow): a million prompts cost one buffer instead of a million
# Python strings (~1.3 GB of objects for the history's text columns), they build in C straight from
# the ADBC read (store.History._arrow_rows), and pandas' "str" dtype keeps NaN for missing, as the
# object columns did. pyarrow is the Arrow project's own library and pandas' engine for it.
STRING = pd.StringDtype("pyarrow", na_value=np.nan)
TEXT = ("id", "parent_id", "root_id", "action", "prompt", "prompt_en", "final_prompt", "text", "status",
        "fail_reason", "image_path", "thumb_path", "image_url", "mode", "server", "experiment", "state",
        "custom_id")
LISTS = ["image_prompts", "tags"] + [name for name, (_, kind) in PARAMS.items() if kind == "list"]


def _floats(values) -> np.ndarray:
    """Numbers with None as NaN (None comes from SQL NULL)."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        if not pa.types.is_float64(values.type):
            values = pc.cast(values, pa.float64())
        return values.to_numpy(zero_copy_only=False)
    return pd.Series(values, dtype="float64").to_numpy()


def _ints(values) -> pd.arrays.IntegerArray:
    if isinstance(values, (pa.Array, pa.ChunkedArray)) and pa.types.is_integer(values.type):
        mask = values.is_null().to_numpy(zero_copy_only=False)  # straight from Arrow: no float detour
        return pd.arrays.IntegerArray(pc.fill_null(values, 0).to_numpy().astype("int64", copy=False), mask)
    floats = _floats(values)
    mask = np.isnan(floats)
    return pd.arrays.IntegerArray(np.where(mask, 0, floats).astype("int64"), mask)


def _times(seconds: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps from Unix seconds (NaN: NaT), rounded to the millisecond servers count in (no
    04:27:51.467999935 float noise), in numpy: pd.to_datetime(unit="s") is 5x slower."""
    missing = np.isnan(seconds)
    # whole milliseconds, then ns in integers: 1.8e18 ns is past float64's 2**53
    nanos = np.round(np.nan_to_num(seconds) * 1000).astype("int64") * 1_000_000
    nanos[missing] = np.iinfo("int64").min  # NaT
    return pd.DatetimeIndex(nanos.view("datetime64[ns]")).tz_localize("UTC")


def _objects(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _text(column):
    """A column as Arrow text (an all-NULL column reads as int64 or null)."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return pc.cast(column, pa.large_string())


def _strings(column, fill: str | None = None) -> pd.arrays.ArrowStringArray:
    column = _text(column)
    if fill is not None and column.null_count:
        column = pc.fill_null(column, fill)
    return pd.array(column, dtype=STRING)


def _decoded(column) -> tuple[list, np.ndarray]:
    """JSON text per row, decoded once per distinct value (most rows share '[]' or '{}'): the
    distinct values, and each row's index into them (-1 for NULL)."""
    encoded = pc.dictionary_encode(_text(column)).combine_chunks()
    decoded = [json.loads(v) for v in encoded.dictionary.to_pylist()]
    index = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return decoded, index


def _list_column(column) -> pd.arrays.ArrowExtensionArray:
    """A JSON list of strings per row, as an Arrow list column: a cell reads as a fresh Python list."""
    decoded, index = _decoded(column)
    values = pa.array([[str(v) for v in d] if isinstance(d, list) else [] for d in decoded] + [[]],
                      type=pa.list_(pa.string()))
    return pd.arrays.ArrowExtensionArray(values.take(pa.array(np.where(index < 0, len(decoded), index))))


def _dict_column(column) -> np.ndarray:
    """A JSON object per row: every row gets its own dict, so changing one never changes another."""
    decoded, index = _decoded(column)
    decoded.append({})
    return _objects([dict(decoded[i]) for i in index.tolist()])


def arrow_filter(table: pa.Table, *, since=None, until=None, status=None, action=None, prompt=None,
                 tag=None, experiment=None, server=None) -> pa.Table:
    """The rows that mjnb.history()'s filters keep, chosen in Arrow (as store._filters does in SQL)."""
    keep = []
    for value, op in ((since, pc.greater_equal), (until, pc.less_equal)):
        if value is not None:
            ts = pd.Timestamp(value)
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
            keep.append(op(pc.cast(table.column("submit_time"), pa.float64()), ts.timestamp()))
    for name, value in (("status", status), ("action", action), ("experiment", experiment), ("server", server)):
        if value is not None:
            values = [value] if isinstance(value, str) else list(value)
            if name in ("status", "action"):
                values = [str(v).upper() for v in values]
            keep.append(pc.is_in(pc.cast(table.column(name), pa.large_string()),
                                 value_set=pa.array(values, pa.large_string())))
    if prompt is not None:  # SQLite's LIKE: case-insensitive for ASCII letters
        keep.append(pc.match_substring(pc.cast(table.column("prompt"), pa.large_string()), str(prompt),
                                       ignore_case=True))
    if tag is not None:
        decoded, index = _decoded(table.column("tags"))
        has = np.array([isinstance(d, list) and tag in d for d in decoded] + [False])
        keep.append(pa.array(has[np.where(index < 0, len(decoded), index)]))
    if not keep:
        return table
    mask = keep[0]
    for more in keep[1:]:
        mask = pc.and_kleene(mask, more)
    return table.filter(pc.fill_null(mask, False))


def _with_unknown(table: pa.Table, rows: list[dict]) -> pa.Table:
    """The history's rows plus the few task-shaped rows of submits whose outcome is unknown."""
    if not rows:
        return table
    extra = {}
    for name in table.column_names:
        values = [r.get(name) for r in rows]
        if name in LISTS or name == "other":
            values = [None if v is None else json.dumps(v) for v in values]
        extra[name] = values
    columns = []
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_null(col.type) or (pa.types.is_integer(col.type) and col.null_count == len(col)):
            col = pc.cast(col, pa.large_string()) if name in TEXT or name in LISTS or name == "other" else col
        columns.append(col)
    base = pa.table(columns, names=table.column_names)
    return pa.concat_tables([base, pa.table(extra)], promote_options="permissive")


def tasks_frame(table: pa.Table, unknown: list[dict] = ()) -> pd.DataFrame:
    """From the history's Arrow table (JSON columns as text) and the unknown-outcome rows: whole
    columns at a time, no per-cell work in Python where avoidable."""
    table = _with_unknown(table, list(unknown))
    n = table.num_rows
    # by submit time (missing last), then id
    order = pc.sort_indices(pa.table({"s": pc.fill_null(pc.cast(table.column("submit_time"), pa.float64()), np.inf),
                                      "i": pc.fill_null(pc.cast(table.column("id"), pa.large_string()), "")}),
                            sort_keys=[("s", "ascending"), ("i", "ascending")])
    if not np.array_equal(order.to_numpy(), np.arange(n)):
        table = table.take(order)
    col = table.column
    data: dict = {name: _strings(col(name)) for name in TEXT}
    data["button"] = _strings(col("button"), "")
    data["note"] = _strings(col("note"), "")
    for name in LISTS:
        data[name] = _list_column(col(name))
    for name, (_, kind) in PARAMS.items():
        if kind == "int":
            data[name] = _ints(col(name))
        elif kind == "float":
            data[name] = pd.array(_floats(col(name)), dtype="Float64")
        elif kind == "flag":
            data[name] = _floats(col(name)) > 0
        elif kind != "list":
            data[name] = _strings(col(name))
    fetched_text = _text(col("fetched_seed"))
    fetched = _floats(pc.if_else(pc.match_substring_regex(fetched_text, r"^[0-9]+$"), fetched_text, None))
    seeds = np.where(np.isnan(fetched), _floats(col("seed")), fetched)
    data["seed"] = _ints(seeds)
    data["other"] = _dict_column(col("other"))
    submit, start, finish = (_floats(col(c)) for c in ("submit_time", "start_time", "finish_time"))
    data["submit"], data["start"], data["finish"] = (_times(v) for v in (submit, start, finish))
    data["queue_s"], data["run_s"], data["total_s"] = (np.round(v, 3) for v in (start - submit, finish - start,
                                                                                 finish - submit))
    data["simulator"] = _floats(col("simulator")) > 0
    data["rating"] = _ints(col("rating"))
    data["progress"] = np.nan_to_num(_floats(col("progress"))).astype("int64")
    # money: the price charged at submit (USD) and the cost, which a failure's refund brings to 0
    price = _floats(col("price")) if "price" in table.column_names else np.full(n, np.nan)
    failed = np.asarray(data["status"] == "FAILURE", dtype=bool)
    data["price"], data["cost"] = price, np.where(failed & ~np.isnan(price), 0.0, price)
    return pd.DataFrame({name: data[name] for name in COLUMNS}, index=pd.RangeIndex(n), copy=False)


def snapshots_frame(rows: list) -> pd.DataFrame:
    task_id, time, status, progress, submit = zip(*rows) if rows else ((),) * 5
    t, s = _floats(time), _floats(submit)
    return pd.DataFrame({
        "task_id": _objects(task_id),
        "time": _times(t),
        "status": _objects(status),
        "progress": np.fromiter((v or 0 for v in progress), dtype="int64", count=len(progress)),
        "elapsed_s": np.round(t - s, 3),
    })
