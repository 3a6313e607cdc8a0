"""Fixtures for the live layer (Task, tracker, card): a quick simulator and a quick client over real HTTP."""

from quick import client, sim  # noqa: F401  (shared fixtures, see tests/quick.py)
