"""Issue 4's acceptance line, in a real browser: the live card in JupyterLab.

`t = mjnb.imagine("pig")` returns at once; the card then fills its bar, shows the image and the
buttons; clicking U1 in the page adds a child card that reaches SUCCESS with its own image.
Screenshots go to artifacts/browser/.
"""

from __future__ import annotations

import re
import time

import pytest
from browser_support import run_cell

pytestmark = pytest.mark.browser

WAIT = 60_000  # ms, per wait; every wait polls

# The state of the cards in the (visible) notebook's outputs, read in one go so it is consistent.
# Only a card's own parts count (`:scope >`), never those of the child cards nested inside it.
CARDS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const cell = panel.querySelector('.jp-Notebook .jp-Cell');
  const prompt = cell.querySelector('.jp-InputArea-prompt');
  const app = window.jupyterapp;
  const kernel = app.shell.currentWidget.sessionContext.session.kernel;
  const model = app.shell.currentWidget.content.widgets[0].model;
  const errors = model.outputs.toJSON().filter(o => o.output_type === 'error')
                      .map(o => `${o.ename}: ${o.evalue}`);
  const state = (card) => {
    const header = card.querySelector(':scope > .widget-html');
    const bar = card.querySelector(':scope > .widget-hbox .widget-hprogress .progress-bar');
    const img = card.querySelector(':scope > img');
    const buttons = [...card.querySelectorAll(':scope > .widget-vbox > .widget-hbox > .mjnb-button')];
    return {
      header: header ? header.innerText.trim() : '',
      bar: bar ? parseFloat(bar.style.width || '0') : null,
      image: img && img.offsetParent !== null ? img.naturalWidth : 0,
      buttons: buttons.map(b => b.innerText.trim()),
    };
  };
  const all = [...cell.querySelectorAll('.jp-OutputArea-output .mjnb-card')];
  const top = all.filter(c => !c.parentElement.closest('.mjnb-card'));
  const parent = top[0];
  const children = parent ? all.filter(c => c.parentElement.closest('.mjnb-card') === parent) : [];
  return {
    execution: prompt ? prompt.innerText.trim() : '',
    kernel: kernel ? kernel.status : 'none',
    errors,
    cards: top.length,
    parent: parent ? state(parent) : null,
    children: children.map(state),
  };
}"""


def cards(page) -> dict:
    return page.evaluate(CARDS)


def wait_for(page, condition: str, what: str) -> dict:
    """Poll the cards until `condition` (JS, over `s` = the CARDS state) holds; return that state.

    An error output in the cell (a traceback) ends the wait at once, as a failure that names it."""
    js = f"() => {{ const s = ({CARDS})(); return (s.errors.length || ({condition})) ? s : null; }}"
    try:
        state = page.wait_for_function(js, timeout=WAIT, polling=100).json_value()
    except Exception as exc:
        raise AssertionError(f"{what} within {WAIT / 1000:g} s; last state: {cards(page)}") from exc
    assert not state["errors"], f"{what}: the cell raised {state['errors']}"
    return state


def status_of(card_state: dict) -> str:
    match = re.search(r"\b(PENDING|NOT_START|SUBMITTED|IN_PROGRESS|SUCCESS|FAILURE|MODAL|CANCEL)\b",
                      card_state["header"])
    return match.group(1) if match else ""


def card(page):
    """A locator for the top-level card of the first cell (its child cards are inside it)."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output .mjnb-card").first


def shoot(page, artifacts, name: str, locator=None) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"))
    if locator is not None:
        locator.scroll_into_view_if_needed()
        locator.screenshot(path=str(artifacts / f"{name}-card.png"))


def test_card_lives_in_the_browser(lab, lab_page, artifacts):
    started = time.monotonic()
    lab.write_notebook("card.ipynb", ['import mjnb\nt = mjnb.imagine("pig")\nt'])
    page = lab_page("card.ipynb")

    run_cell(page)
    # The cell is done (execution count shown, kernel idle) while the task is still running.
    ran = wait_for(page, "/\\[1\\]/.test(s.execution) && s.kernel === 'idle' && s.parent && s.parent.header",
                   "the cell did not finish and show its card")
    assert ran["cards"] == 1, ran
    assert "SUCCESS" not in ran["parent"]["header"], f"the cell waited for the task: {ran}"
    assert ran["parent"]["bar"] is not None and ran["parent"]["bar"] < 100, ran
    assert ran["parent"]["buttons"] == [], ran
    shoot(page, artifacts, "01-after-run", card(page))

    # Tracker updates reach the page after the cell ended: full bar, the image, the buttons.
    done = wait_for(page, "s.parent && s.parent.bar >= 100 && /SUCCESS/.test(s.parent.header)"
                          " && s.parent.image > 0 && s.parent.buttons.includes('U1')",
                    "the card did not reach SUCCESS with its image and buttons")
    assert status_of(done["parent"]) == "SUCCESS", done
    assert {"U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4"} <= set(done["parent"]["buttons"]), done
    assert done["children"] == [], done
    shoot(page, artifacts, "02-success", card(page))

    # Click U1 in the page: a child card appears inside the parent and reaches SUCCESS with an image.
    u1 = card(page).locator(":scope > .widget-vbox > .widget-hbox > .mjnb-button").filter(
        has_text=re.compile(r"^\s*U1\s*$"))
    u1.click()
    wait_for(page, "s.children.length >= 1",
             "no child card appeared after clicking U1")
    child_done = wait_for(page, "s.children.length >= 1 && /SUCCESS/.test(s.children[0].header)"
                                " && s.children[0].image > 0 && s.children[0].bar >= 100",
                          "the child card did not reach SUCCESS with its image")
    child = child_done["children"][0]
    assert len(child_done["children"]) == 1, child_done
    assert status_of(child) == "SUCCESS", child
    assert "U1" in child["header"], f"the child card does not say it came from U1: {child}"
    assert child["bar"] >= 100, child
    shoot(page, artifacts, "03-child-success", card(page))

    elapsed = time.monotonic() - started
    print(f"\nbrowser card test: {elapsed:.1f} s in the test body")
