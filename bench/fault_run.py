"""Paid tasks through a faulty relay: does the user see every task the server made, and pay once?

N submits (`mjnb.imagine`, one after another) through the faithful relay simulator (new-api in
front of an upstream; `--profile trueai|novicezk` for the raw servers) that loses 20% of submit
answers after forwarding them, and adds gateway errors and dropped connections. Afterwards it
compares the simulator's own task list for the key with `mjnb.history()`, and prints:

- tasks created: what the server made for this key (and paid for);
- tasks the user can see: those in mjnb.history(), by id, or (where the server cannot list
  tasks, so the id is unknowable) as an "outcome unknown" row naming the task's state;
- duplicates: state keys the server received more than once, or ids shown twice;
- calls that overran their deadline: imagine() calls longer than config.timeout + 1 s.

Goal (issue 11): created == visible, 0 duplicates, 0 overruns.

    python bench/fault_run.py [--submits 100] [--profile relay] [--lose 0.2] [--errors 0.05] [--drops 0.05]
                              [--timeout 5] [--trickle-ms 0]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import mjnb  # noqa: E402
from mjnb import sim as simulator  # noqa: E402
from mjnb.sim.server import key_id  # noqa: E402

KEY = "sk-bench-fault-run"


def run(args) -> dict:
    os.environ["MJNB_HOME"] = tempfile.mkdtemp(prefix="mjnb-fault-run-")
    with simulator.start(profile=args.profile, speed=args.speed, seed=args.seed,
                         lose_answer_rate=args.lose, error_rate=args.errors, drop_rate=args.drops,
                         concurrency=args.submits, queue_size=args.submits,
                         trickle_ms=args.trickle_ms, trickle_routes=["imagine"] if args.trickle_ms else []) as sim:
        config = mjnb.configure(base_url=sim.url, api_key=KEY, flavour=args.profile,
                                auth_header={"relay": "bearer", "trueai": "authorization",
                                             "novicezk": "mj-api-secret"}[args.profile],
                                timeout=args.timeout, poll_interval=0.2, backoff=0.05)
        durations, raised = [], Counter()
        for n in range(args.submits):
            started = time.monotonic()
            try:
                mjnb.imagine(f"fault run {n} --seed {n + 1}")
            except mjnb.MjnbError as exc:
                raised["outcome unknown" if getattr(exc, "maybe_submitted", False) else "refused"] += 1
            durations.append(time.monotonic() - started)
        created = [t for t in sim.tasks() if t["key"] == key_id(KEY)]
        stats = sim.stats()
        df = mjnb.history()
        mjnb.configure()
    ids = [i for i in df["id"] if isinstance(i, str)]
    unknown_states = set(df.loc[df["status"] == "UNKNOWN", "state"])
    by_id = [t for t in created if t["id"] in set(ids)]
    by_state = [t for t in created if t["id"] not in set(ids) and t["state"] in unknown_states]
    states = Counter(t["state"] for t in created if t["state"])  # (a submit without a state cannot be told apart)
    return {
        "config_timeout": config.timeout,
        "created": len(created),
        "visible": len(by_id) + len(by_state),
        "visible_by_id": len(by_id),
        "visible_as_unknown_row": len(by_state),
        "unknown_rows": len(unknown_states),
        "unknown_rows_without_task": len(unknown_states - {t["state"] for t in created}),
        "duplicates": sum(n - 1 for n in states.values()) + sum(n - 1 for n in Counter(ids).values()),
        "overran": sum(d > config.timeout + 1 for d in durations),
        "max_call_s": max(durations),
        "raised": dict(raised),
        "submit_requests": stats["requests"].get("imagine", 0),
        "imagine_statuses": stats["by_route_status"].get("imagine", {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submits", type=int, default=100)
    parser.add_argument("--profile", default="relay", choices=("relay", "trueai", "novicezk"))
    parser.add_argument("--lose", type=float, default=0.2, help="lose_answer_rate (default 0.2)")
    parser.add_argument("--errors", type=float, default=0.05, help="error_rate: gateway 502/503/504 pages")
    parser.add_argument("--drops", type=float, default=0.05, help="drop_rate: connections closed unanswered")
    parser.add_argument("--speed", type=float, default=300.0)
    parser.add_argument("--timeout", type=float, default=5.0, help="the client's config.timeout (s)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--trickle-ms", type=float, default=0.0,
                        help="also trickle submit answers one byte every this many ms (tests deadlines)")
    args = parser.parse_args()
    logging.getLogger("mjnb").setLevel(logging.ERROR)  # "found task ... by its state" notes, one per loss
    r = run(args)
    print(f"fault run, {args.profile} profile, {args.submits} submits (lost answers {args.lose:.0%}, "
          f"gateway errors {args.errors:.0%}, drops {args.drops:.0%}"
          + (f", submit answers trickling {args.trickle_ms:g} ms a byte" if args.trickle_ms else "") + "):")
    print(f"  tasks created:            {r['created']}")
    print(f"  tasks the user can see:   {r['visible']} in mjnb.history() ({r['visible_by_id']} by id, "
          f"{r['visible_as_unknown_row']} as 'outcome unknown' rows naming their state)")
    print(f"  duplicates:               {r['duplicates']}")
    print(f"  calls over their deadline: {r['overran']} (imagine() longer than timeout {r['config_timeout']:g} s "
          f"+ 1 s; longest {r['max_call_s']:.2f} s)")
    print(f"  (submit requests {r['submit_requests']}, answers by status {r['imagine_statuses']}; "
          f"imagine() raised {r['raised'] or 'nothing'}; 'outcome unknown' rows with no task behind them, "
          f"dropped before the relay: {r['unknown_rows_without_task']})")


if __name__ == "__main__":
    main()
