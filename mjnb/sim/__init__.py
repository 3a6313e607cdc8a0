"""A local Midjourney-proxy relay on 127.0.0.1: the embedded default and every test's server.

    with mjnb.sim.start(speed=50) as sim:
        requests.post(sim.url + "/mj/submit/imagine", json={"prompt": "pig"})

It is a second, independent implementation of the spec: it must never import mjnb's client.
"""

from .options import OUTAGES, PROFILES, SimOptions
from .server import Simulator, key_id

__all__ = ["start", "Simulator", "SimOptions", "key_id", "PROFILES", "OUTAGES"]


def start(port: int = 0, **options) -> Simulator:
    """Start a simulator in a background thread (port 0 picks a free port); see SimOptions."""
    return Simulator(port=port, **options)
