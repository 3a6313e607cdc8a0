# One entry point. `make lab`: JupyterLab on the quickstart (simulator unless MJNB_BASE_URL is set).
# `make test`: the whole test suite, exactly what CI runs (.ci/run calls it).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
# JupyterLab's URL opens the quickstart itself (and prints that URL), not the Launcher
QUICKSTART := --LabApp.default_url=/lab/tree/notebooks/01-quickstart.ipynb
CJK_FONT   := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

.PHONY: lab test setup-lab setup-test lab-settings chromium fonts sim bench clean

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "mjnb needs Python >= 3.10"'
	$(PYTHON) -m venv $(VENV)

setup-lab: $(PY) lab-settings fonts
	$(PIP) install -e ".[lab]"

setup-test: $(PY) lab-settings
	$(PIP) install -e ".[test]"

# JupyterLab saves widget state with the notebook, so a reopened notebook shows its cards
# (no "model not found"); Binder's postBuild installs the same file.
lab-settings: $(PY)
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp binder/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json

# The browser test drives Debian's Chromium; Playwright never downloads a browser here.
# The emoji font makes screenshots show 🔄 and friends as users see them; the CJK font lets the
# plot tests draw Chinese prompts.
chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/noto ] || [ ! -f $(CJK_FONT) ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji fonts-noto-cjk >/dev/null; \
	  elif [ ! -x /usr/bin/chromium ]; then echo "The browser test needs Debian's chromium: sudo apt-get install chromium fonts-noto-color-emoji fonts-noto-cjk" >&2; exit 1; \
	  else echo "For screenshots and plots as users see them: sudo apt-get install fonts-noto-color-emoji fonts-noto-cjk" >&2; fi; \
	fi

# Plots of Chinese (Japanese, Korean) prompts need a CJK font; matplotlib's own has none.
fonts:
	@if [ ! -f $(CJK_FONT) ] && command -v apt-get >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null; \
	  else echo "For plots of CJK prompts: sudo apt-get install fonts-noto-cjk" >&2; fi; \
	fi

# As root (containers, CI machines) Jupyter insists on --allow-root.
lab: setup-lab
	$(VENV)/bin/jupyter lab $(QUICKSTART) $$([ "$$(id -u)" = 0 ] && echo --allow-root)

test: setup-test chromium
	$(PY) -m pytest

sim: $(PY)
	$(PIP) install -e .
	$(PY) -m mjnb.sim

clean:
	rm -rf $(VENV) .pytest_cache artifacts
