"""What a user sees in JupyterLab (issue 13): an mjnb error in a cell as a few readable lines (the
full traceback one %tb away), and a contact sheet of Chinese prompts with real glyphs, in the dark
theme too. Screenshots go to artifacts/browser/."""

from __future__ import annotations

import pytest
from browser_support import KERNEL_IS_READY

pytestmark = pytest.mark.browser

WAIT = 180_000  # ms

CELLS = [
    "import mjnb\nmjnb.imagine('   ')",
    "exp = mjnb.experiment(['一只小猪在太空', '竹林里的熊猫, 水彩'], {'--stylize': [50, 250]}, concurrency=3,\n"
    "                      name='browser-cjk')\nexp.wait(timeout=120)\nexp.contact_sheet()",
]

DONE = """() => {
  const app = window.jupyterapp;
  const cells = app.shell.currentWidget.content.widgets;
  const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')]
      .map(p => p.innerText.trim());
  if (!prompts.slice(0, 2).every(p => /\\[\\d+\\]/.test(p)) ||
      app.shell.currentWidget.sessionContext.session.kernel.status !== 'idle') return null;
  const outputs = cells.map(c => c.model.outputs.toJSON());
  const error = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')[0]
      .querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
  const sheet = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')[1]
      .querySelector('.jp-OutputArea-output img');
  return {errorText: error ? error.innerText : '', errors: outputs[1].filter(o => o.output_type === 'error').length,
          sheet: sheet ? sheet.naturalWidth : 0};
}"""


def test_error_reads_short_and_chinese_contact_sheet(lab, lab_page, page, artifacts):
    lab.write_notebook("errors-and-plots.ipynb", CELLS)
    lab_page("errors-and-plots.ipynb")
    for _ in CELLS:  # one by one: "run all" would stop at the first cell's (intended) error
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell-and-select-next')")
        page.wait_for_timeout(300)
        page.wait_for_function(KERNEL_IS_READY, timeout=WAIT, polling=200)
    state = page.wait_for_function(DONE, timeout=WAIT, polling=250).json_value()
    lines = [line for line in state["errorText"].splitlines() if line.strip()]
    assert 1 <= len(lines) <= 4, f"the error takes {len(lines)} lines: {state['errorText']!r}"
    assert "prompt" in state["errorText"] and "%tb" in state["errorText"], state["errorText"]
    assert state["errors"] == 0 and state["sheet"] > 0, state
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell")
    cells.nth(0).screenshot(path=str(artifacts / "error-display.png"))
    assert "ValidationError" in state["errorText"]
    cells.nth(1).locator(".jp-OutputArea-output img").screenshot(path=str(artifacts / "contact-sheet-chinese.png"))
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=WAIT)
    page.wait_for_timeout(500)
    cells.nth(0).screenshot(path=str(artifacts / "error-display-dark.png"))
