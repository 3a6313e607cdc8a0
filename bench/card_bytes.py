"""Bytes sent to the browser and widget models per finished card: the anywidget card against the
old ipywidgets card (the commit before the rebuild, run from a git worktree), side by side.

Each run is a fresh process: a client on the built-in faithful relay (speed 10, the embedded
default), `mjnb.imagine(...)`, its card built as a notebook would show it, until the task is
SUCCESS and the card shows the final picture. Every comm message the card's models send (the
comm_open with its state, every update, every binary buffer) is counted. "cold" is the first card
of the process, "warm" a second card in the same process. Pictures are made photo-like (film
grain and soft gradients over the simulator's flat shapes), which is what JPEG vs PNG is about.

    .venv/bin/python bench/card_bytes.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OLD = "3407db6"  # main before the anywidget card (ipywidgets tree, PNG previews)


def photo_like() -> None:
    """Grain and gradients on every simulator picture: JPEG-friendly like a photo, PNG-hostile."""
    from PIL import Image, ImageFilter

    from mjnb.sim import render

    plain = render.render

    def textured(recipe, size):
        img = plain(recipe, size).convert("RGB")
        grain = Image.effect_noise(img.size, 48).convert("RGB").filter(ImageFilter.GaussianBlur(0.6))
        return Image.blend(img, grain, 0.18)

    render.render = textured


def worker() -> None:
    import comm
    from comm.base_comm import BaseComm

    sent = {"models": 0, "bytes": 0}

    class Recording(BaseComm):
        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            if msg_type == "comm_open":
                sent["models"] += 1
            sent["bytes"] += len(json.dumps(data or {}, default=str)) + sum(len(b) for b in buffers or [])

    comm.create_comm = lambda **kwargs: Recording(**kwargs)
    photo_like()
    import mjnb
    from mjnb.models import TaskStatus

    def one(prompt: str) -> dict:
        sent.update(models=0, bytes=0)
        t = mjnb.imagine(prompt)
        card = t.card
        t.wait(120)
        import time
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (t.status == TaskStatus.SUCCESS and shows_final(card, t)):
            time.sleep(0.05)
        time.sleep(0.5)  # anything the card sends on arrival of the final picture
        return dict(sent)

    cold = one("a misty pine forest at dawn, photograph")
    warm = one("a harbour at night, photograph")
    print(json.dumps({"cold": cold, "warm": warm}))


def shows_final(card, task) -> bool:
    if hasattr(card, "picture"):  # anywidget card
        return bool(card.picture) and task.latest_picture is not None
    return bool(card.image.value) and task.latest_picture is not None  # ipywidgets card


def run(pythonpath: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "MJNB_HOME": tempfile.mkdtemp(prefix="mjnb-bench-")}
    env.pop("MJNB_BASE_URL", None)
    out = subprocess.run([sys.executable, __file__, "--worker"], env=env, capture_output=True, text=True,
                         check=True, cwd=pythonpath)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker", action="store_true")
    args = parser.parse_args()
    if args.worker:
        return worker()
    old = Path(tempfile.mkdtemp(prefix="mjnb-old-")) / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(old), OLD], check=True,
                   capture_output=True)
    try:
        results = {"anywidget card (now)": [run(REPO) for _ in range(args.runs)],
                   f"ipywidgets card ({OLD})": [run(old) for _ in range(args.runs)]}
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)], capture_output=True)
    print(f"bytes to the browser and widget models per finished card, median of {args.runs} fresh processes")
    print("(built-in faithful relay at speed 10, photo-like pictures; goal: <= 200 KB and 1 model)")
    print(f"{'':28} {'cold KB':>9} {'warm KB':>9} {'models':>7}")
    for name, runs in results.items():
        cold = statistics.median(r["cold"]["bytes"] for r in runs) / 1000
        warm = statistics.median(r["warm"]["bytes"] for r in runs) / 1000
        models = statistics.median(r["cold"]["models"] for r in runs)
        print(f"{name:28} {cold:9.1f} {warm:9.1f} {models:7.0f}")


if __name__ == "__main__":
    main()
