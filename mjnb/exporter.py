"""mjnb.export: the history as files a spreadsheet or another tool can read, images beside it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from .models import is_task_id


def export_history(store, path: str, **filters) -> str:
    """history.csv (+ history.parquet with pyarrow), images/<task id>.<ext>, manifest.json."""
    out = Path(path).expanduser()
    (out / "images").mkdir(parents=True, exist_ok=True)
    df = store.dataframe(**filters)
    manifest = []
    exported = []
    for row in df.itertuples(index=False):
        image = None
        if isinstance(row.image_path, str) and Path(row.image_path).exists():
            source = Path(row.image_path)
            digest = hashlib.sha256(source.read_bytes()).hexdigest()
            # a well-formed id names the file; anything else (an older mjnb stored ids unchecked)
            # is named by the image's hash, so no row can write outside `images/`
            image = f"images/{row.id if is_task_id(row.id) else digest}{source.suffix}"
            shutil.copyfile(source, out / image)
            manifest.append({"id": row.id, "prompt": row.prompt, "image": image, "sha256": digest})
        exported.append(image)
    df = df.assign(exported_image=exported)
    flat = df.copy()
    for column in flat.columns:  # lists and dicts as JSON text, so CSV readers get one cell each
        if flat[column].dtype == object:
            flat[column] = [json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                            for v in flat[column]]
    flat.to_csv(out / "history.csv", index=False)
    try:
        import pyarrow  # noqa: F401  (optional)
    except ImportError:
        pass
    else:
        flat.to_parquet(out / "history.parquet", index=False)
    (out / "manifest.json").write_text(json.dumps({"tasks": len(df), "images": manifest}, indent=1,
                                                  ensure_ascii=False))
    return str(out)
