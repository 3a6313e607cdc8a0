"""History columns into pandas DataFrames with honest dtypes (100,000 rows in well under a second)."""

from __future__ import annotations


import numpy as np
import pandas as pd

from .params import PARAMS

COLUMNS = (["id", "parent_id", "root_id", "action", "button", "prompt", "prompt_en", "final_prompt", "text",
            "image_prompts"] + list(PARAMS) +
           ["other", "status", "fail_reason", "submit", "start", "finish", "queue_s", "run_s", "total_s",
            "image_path", "thumb_path", "image_url", "mode", "server", "simulator", "tags", "rating", "note",
            "experiment", "state", "progress", "custom_id", "price", "cost"])


def _floats(values) -> np.ndarray:
    """Numbers with None as NaN (None comes from SQL NULL)."""
    return pd.Series(values, dtype="float64").to_numpy()


def _ints(values) -> pd.arrays.IntegerArray:
    floats = _floats(values)
    mask = np.isnan(floats)
    return pd.arrays.IntegerArray(np.where(mask, 0, floats).astype("int64"), mask)


def _objects(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _times(seconds: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps rounded to the millisecond servers count in (no 04:27:51.467999935 float noise)."""
    return pd.to_datetime(np.round(seconds * 1000), unit="ms", utc=True).as_unit("ns")  # ns, as before


def tasks_frame(cols: dict) -> pd.DataFrame:
    """From whole columns (lists, JSON already decoded): no per-cell work in Python where avoidable."""
    n = len(cols["id"])
    data: dict = {}
    for name in ("id", "parent_id", "root_id", "action", "prompt", "prompt_en", "final_prompt", "text",
                 "status", "fail_reason", "image_path", "thumb_path", "image_url", "mode", "server",
                 "experiment", "state", "custom_id"):
        data[name] = _objects(cols[name])
    data["button"] = _objects([b or "" for b in cols["button"]])
    data["note"] = _objects([v or "" for v in cols["note"]])
    data["image_prompts"] = _objects([v if v is not None else [] for v in cols["image_prompts"]])
    for name, (_, kind) in PARAMS.items():
        col = cols[name]
        if kind == "int":
            data[name] = _ints(col)
        elif kind == "float":
            data[name] = pd.array(_floats(col), dtype="Float64")
        elif kind == "flag":
            data[name] = _floats(col) > 0
        else:
            data[name] = _objects(col)
    fetched = _floats([int(v) if isinstance(v, str) and v.isdigit() else None for v in cols["fetched_seed"]])
    seeds = np.where(np.isnan(fetched), _floats(cols["seed"]), fetched)
    data["seed"] = _ints(seeds)
    data["other"] = _objects([v if v is not None else {} for v in cols["other"]])
    submit, start, finish = (_floats(cols[c]) for c in ("submit_time", "start_time", "finish_time"))
    data["submit"], data["start"], data["finish"] = (_times(v) for v in (submit, start, finish))
    data["queue_s"], data["run_s"], data["total_s"] = (np.round(v, 3) for v in (start - submit, finish - start,
                                                                                 finish - submit))
    data["simulator"] = _floats(cols["simulator"]) > 0
    data["tags"] = _objects([v if v is not None else [] for v in cols["tags"]])
    data["rating"] = _ints(cols["rating"])
    data["progress"] = np.nan_to_num(_floats(cols["progress"])).astype("int64")
    # money: the price charged at submit (USD) and the cost, which a failure's refund brings to 0
    price = _floats(cols["price"]) if "price" in cols else np.full(n, np.nan)
    failed = data["status"] == "FAILURE"
    data["price"], data["cost"] = price, np.where(failed & ~np.isnan(price), 0.0, price)
    order = np.lexsort((_objects(cols["id"]).astype(str), np.nan_to_num(submit, nan=np.inf)))  # by submit, then id
    if (order != np.arange(n)).any():
        data = {name: (value[order] if not isinstance(value, pd.DatetimeIndex) else value.take(order))
                for name, value in data.items()}
    return pd.DataFrame({name: data[name] for name in COLUMNS}, index=pd.RangeIndex(n))


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
