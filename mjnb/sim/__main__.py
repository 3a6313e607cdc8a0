"""`python -m mjnb.sim`: run the simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading

from . import start
from .options import SimOptions


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mjnb.sim",
        description="A local Midjourney-proxy relay for trying mjnb and testing clients offline. "
                    "It binds to 127.0.0.1 only and prints its URL. Introspection: GET /__sim/stats, "
                    "GET /__sim/tasks, GET /__sim/options, POST /__sim/config {option: value}.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    for f in dataclasses.fields(SimOptions):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata["help"].replace("%", "%%")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default,
                                help=help_text)
        elif f.metadata.get("list_of"):
            parser.add_argument(flag, default=",".join(default), metavar="A,B",
                                help=help_text)
        else:
            kind = f.metadata.get("type") or type(default)
            parser.add_argument(flag, type=kind, default=default, choices=f.metadata.get("choices"),
                                help=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = vars(_parser().parse_args(argv))
    port = args.pop("port")
    try:
        sim = start(port=port, **args)
    except (ValueError, OSError) as exc:
        print(f"mjnb.sim: {exc}", file=sys.stderr)
        return 2
    print(f"mjnb simulator ({sim.options.profile}) listening on {sim.url}", flush=True)
    print(f"  try: export MJNB_BASE_URL={sim.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
