"""The ways in: `make lab` opens the quickstart itself, Binder's link pattern is documented, and
both setups (and CI's) install a CJK font for plots of Chinese prompts."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
QUICKSTART = "lab/tree/notebooks/01-quickstart.ipynb"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_opens_the_quickstart_not_the_launcher():
    dry = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    line = next(line for line in dry.splitlines() if "jupyter lab" in line)
    assert f"default_url=/{QUICKSTART}" in line


def test_make_installs_a_cjk_font_for_lab_and_for_ci():
    makefile = (ROOT / "Makefile").read_text()
    chromium = makefile.split("\nchromium:", 1)[1].split("\n\n", 1)[0]
    assert "fonts-noto-cjk" in chromium  # `make test` runs it as root on CI
    setup_lab = next(line for line in makefile.splitlines() if line.startswith("setup-lab:"))
    assert "fonts" in setup_lab.split(":", 1)[1].split() and "fonts-noto-cjk" in makefile.split("\nfonts:", 1)[1]


def test_binder_installs_a_cjk_font_and_the_readme_gives_its_link():
    assert "fonts-noto-cjk" in (ROOT / "binder" / "apt.txt").read_text().split()
    readme = (ROOT / "README.md").read_text()
    assert "## Run on Binder" in readme
    assert f"https://mybinder.org/v2/gh/<owner>/<repo>/HEAD?urlpath={QUICKSTART}" in readme
