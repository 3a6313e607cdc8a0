"""How long a newcomer waits for the first card: `mjnb.imagine("pig")` on the embedded simulator.

Each run is a fresh Python process with no relay configured (cold: the import, the simulator
starting, the first submit), timed from the imagine() call to SUCCESS and to the image being safe
in the cache. The embedded simulator is the faithful relay (15 s syncs, 1 h give-up) at speed 10;
`--speed 1` shows real-relay timing for comparison. Target (issue 10): SUCCESS in <= 10 s.

    python bench/first_card.py [--runs 5] [--speed 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, os, sys, time
import mjnb
if os.environ.get("BENCH_SPEED"):  # the default client, but at another speed
    from mjnb import sim
    s = sim.start(speed=float(os.environ["BENCH_SPEED"]))
    mjnb.configure(base_url=s.url, api_key="sk-bench")
started = time.monotonic()
t = mjnb.imagine("pig")
seen = {}
t.subscribe(lambda task, event: seen.setdefault(task.status.value, time.monotonic() - started))
t.wait(timeout=600)
cached = time.monotonic() - started
print(json.dumps({"success": seen.get("SUCCESS", cached), "cached": cached}))
"""


def one_run(speed: float | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MJNB_")}
    with tempfile.TemporaryDirectory() as home:
        env["MJNB_HOME"] = home
        if speed is not None:
            env["BENCH_SPEED"] = str(speed)
        out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True,
                             timeout=900, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--speed", type=float, default=None,
                        help="simulator speed (default: the embedded default, 10)")
    args = parser.parse_args()
    runs = [one_run(args.speed) for _ in range(args.runs)]
    label = "embedded default (speed 10)" if args.speed is None else f"speed {args.speed:g}"
    for key, what in (("success", "imagine() to SUCCESS on the card"), ("cached", "to the image in the cache")):
        values = sorted(r[key] for r in runs)
        print(f"{label}, cold process, {args.runs} runs: {what}: median {statistics.median(values):.1f} s "
              f"(min {values[0]:.1f}, max {values[-1]:.1f})")


if __name__ == "__main__":
    main()
