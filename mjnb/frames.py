"""History rows into pandas DataFrames with honest dtypes (vectorised: 100,000 rows in well under 1 s)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .params import PARAMS

COLUMNS = (["id", "parent_id", "root_id", "action", "button", "prompt", "prompt_en", "final_prompt", "text",
            "image_prompts"] + list(PARAMS) +
           ["other", "status", "fail_reason", "submit", "start", "finish", "queue_s", "run_s", "total_s",
            "image_path", "thumb_path", "image_url", "mode", "server", "simulator", "tags", "rating", "note",
            "experiment", "state", "progress", "custom_id"])


def _floats(values) -> np.ndarray:
    return np.fromiter((np.nan if v is None else v for v in values), dtype="float64", count=len(values))


def _times(values) -> pd.Series:
    return pd.to_datetime(_floats(values), unit="s", utc=True)


def _json_column(values, empty) -> list:
    """Decode JSON text, skipping the common empty value (most rows) for speed."""
    blank = json.dumps(empty())
    return [json.loads(v) if v is not None and v != blank else empty() for v in values]


def _objects(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def tasks_frame(rows: list, names: list[str]) -> pd.DataFrame:
    """Column by column from the raw tuples: no per-cell dtype guessing (100,000 rows in ~0.3 s)."""
    cols = dict(zip(names, zip(*rows))) if rows else {n: () for n in names}
    n = len(rows)
    data: dict = {}
    for name in ("id", "parent_id", "root_id", "action", "prompt", "prompt_en", "final_prompt", "text",
                 "status", "fail_reason", "image_path", "thumb_path", "image_url", "mode", "server",
                 "experiment", "state", "custom_id"):
        data[name] = _objects(cols[name])
    data["button"] = _objects([b or "" for b in cols["button"]])
    data["note"] = _objects([v or "" for v in cols["note"]])
    data["image_prompts"] = _json_column(cols["image_prompts"], list)
    for name, (_, kind) in PARAMS.items():
        col = cols[name]
        if kind == "int":
            data[name] = pd.array(col, dtype="Int64")
        elif kind == "float":
            data[name] = pd.array(col, dtype="Float64")
        elif kind == "flag":
            data[name] = np.fromiter((bool(v) for v in col), dtype=bool, count=n)
        elif kind == "list":
            data[name] = [json.loads(v) if v is not None else None for v in col]
        else:
            data[name] = _objects(col)
    seeds = [int(f) if f is not None and str(f).isdigit() else p for f, p in zip(cols["fetched_seed"], cols["seed"])]
    data["seed"] = pd.array(seeds, dtype="Int64")
    data["other"] = _json_column(cols["other"], dict)
    submit, start, finish = (_floats(cols[c]) for c in ("submit_time", "start_time", "finish_time"))
    data["submit"], data["start"], data["finish"] = (pd.to_datetime(v, unit="s", utc=True) for v in (submit, start, finish))
    data["queue_s"], data["run_s"], data["total_s"] = start - submit, finish - start, finish - submit
    data["simulator"] = np.fromiter((bool(v) for v in cols["simulator"]), dtype=bool, count=n)
    data["tags"] = _json_column(cols["tags"], list)
    data["rating"] = pd.array(cols["rating"], dtype="Int64")
    data["progress"] = np.fromiter((v or 0 for v in cols["progress"]), dtype="int64", count=n)
    return pd.DataFrame({name: data[name] for name in COLUMNS})


def snapshots_frame(rows: list) -> pd.DataFrame:
    task_id, time, status, progress, submit = zip(*rows) if rows else ((),) * 5
    t, s = _floats(time), _floats(submit)
    return pd.DataFrame({
        "task_id": _objects(task_id),
        "time": pd.to_datetime(t, unit="s", utc=True),
        "status": _objects(status),
        "progress": np.fromiter((v or 0 for v in progress), dtype="int64", count=len(progress)),
        "elapsed_s": t - s,
    })
