"""Every test run keeps its history and image cache in a temporary MJNB_HOME, never ~/.mjnb."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_mjnb_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("mjnb-home")
    old = os.environ.get("MJNB_HOME")
    os.environ["MJNB_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("MJNB_HOME", None)
    else:
        os.environ["MJNB_HOME"] = old
