"""The anywidget card in a real browser (JupyterLab + Debian's Chromium), issue 12's acceptance.

One notebook, one card: it fills its bar and shows the image and buttons after the cell ended;
six clicks keep it one card high with the newest child in view; its text is readable (contrast
>= 4.5:1) in the light and the dark theme; the Vary Region and Custom Zoom editors fit inside it.
Then the notebook is saved, converted with nbconvert (every card's final picture is in the HTML)
and reopened in a fresh JupyterLab (no "model not found"). Screenshots go to artifacts/browser/.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import Lab, free_port, run_cell, server_command, server_env, stop

pytestmark = pytest.mark.browser

WAIT = 90_000  # ms, per wait; every wait polls
VIEWPORT = {"width": 1280, "height": 900}

# The card in the first cell's output, read in one go so it is consistent.
CARD = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const cell = panel.querySelector('.jp-Notebook .jp-Cell');
  const prompt = cell.querySelector('.jp-InputArea-prompt');
  const app = window.jupyterapp;
  const kernel = app.shell.currentWidget.sessionContext.session?.kernel;
  const errors = app.shell.currentWidget.content.widgets[0].model.outputs.toJSON()
      .filter(o => o.output_type === 'error').map(o => `${o.ename}: ${o.evalue}`);
  const card = cell.querySelector('.jp-OutputArea-output .mjnb-card');
  if (!card) return {execution: prompt ? prompt.innerText.trim() : '', errors, card: null};
  const img = card.querySelector('.mjnb-image');
  const box = card.getBoundingClientRect();
  return {
    execution: prompt ? prompt.innerText.trim() : '',
    kernel: kernel ? kernel.status : 'none',
    errors,
    card: {
      task: card.dataset.task,
      header: card.querySelector('.mjnb-header').innerText.trim(),
      bar: Number(card.querySelector('.mjnb-bar').getAttribute('aria-valuenow')),
      barShown: card.querySelector('.mjnb-bar-row').offsetParent !== null,
      image: img && img.offsetParent !== null && img.complete ? img.naturalWidth : 0,
      buttons: [...card.querySelectorAll('.mjnb-buttons .mjnb-button')].map(b => b.innerText.trim()),
      used: [...card.querySelectorAll('.mjnb-buttons .mjnb-used')].map(b => b.innerText.trim()),
      chips: [...card.querySelectorAll('.mjnb-chip')].map(c => ({task: c.dataset.task,
          label: c.innerText.trim(), selected: c.classList.contains('mjnb-selected')})),
      editor: card.querySelector('.mjnb-editor .mjnb-form') ? card.querySelector('.mjnb-form-title').innerText : '',
      top: box.top, bottom: box.bottom, height: box.height, viewport: window.innerHeight,
    },
  };
}"""

# WCAG contrast of every visible text in the card against the background it is drawn on.
CONTRAST = """(sel) => {
  const parse = (c) => { const m = c.match(/[\\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat(1);
  const background = (node) => {
    const layers = [];
    for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let base = [255, 255, 255, 1];
    for (const layer of layers.reverse()) base = over(layer, base);
    return base;
  };
  const out = [];
  for (const node of document.querySelectorAll(sel + ' *')) {
    const own = [...node.childNodes].some(t => t.nodeType === 3 && t.textContent.trim());
    if (!own || node.offsetParent === null || node.disabled || node.closest('button:disabled')) continue;
    const style = getComputedStyle(node);
    const bg = background(node);
    const fg = over(parse(style.color), bg);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    out.push({text: node.textContent.trim().slice(0, 30), cls: node.className, ratio: (a + 0.05) / (b + 0.05)});
  }
  return out;
}"""


def read(page) -> dict:
    return page.evaluate(CARD)


def wait_for(page, condition: str, what: str) -> dict:
    """Poll the card until `condition` (JS over `s` = the CARD state, `c` = s.card) holds."""
    js = f"() => {{ const s = ({CARD})(); const c = s.card; return (s.errors.length || (c && ({condition}))) ? s : null; }}"
    try:
        state = page.wait_for_function(js, timeout=WAIT, polling=100).json_value()
    except Exception as exc:
        raise AssertionError(f"{what} within {WAIT / 1000:g} s; last state: {read(page)}") from exc
    assert not state["errors"], f"{what}: the cell raised {state['errors']}"
    return state["card"]


def card(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output .mjnb-card").first


def press(page, label: str) -> None:
    card(page).locator(".mjnb-buttons .mjnb-button").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).click()


def select_chip(page, index: int) -> None:
    card(page).locator(".mjnb-chip").nth(index).click()


def shoot(page, artifacts, name: str) -> None:
    card(page).scroll_into_view_if_needed()
    card(page).screenshot(path=str(artifacts / f"{name}.png"))


def low_contrast(page) -> list:
    texts = page.evaluate(CONTRAST, ".jp-NotebookPanel:not(.lm-mod-hidden) .mjnb-card")
    assert len(texts) >= 10, f"too few texts found to judge contrast: {texts}"
    return [t for t in texts if t["ratio"] < 4.5]


def set_theme(page, theme: str) -> None:
    page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{theme}'}})")
    light = "true" if "Light" in theme else "false"
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=WAIT)
    page.wait_for_timeout(500)  # the theme's CSS variables apply on the next frames


def test_card_lineage_themes_editors_save_and_reopen(lab, lab_page, page, artifacts, tmp_path):
    lab.write_notebook("card.ipynb", ['import mjnb\nt = mjnb.imagine("一只小猪 in space, cinematic")\nt'])
    page.set_viewport_size(VIEWPORT)
    lab_page("card.ipynb")
    run_cell(page)

    # The cell is done (kernel idle) while the task still runs: the card is live on its own.
    ran = wait_for(page, "/\\[1\\]/.test(s.execution) && s.kernel === 'idle'", "the cell did not finish with a card")
    assert "SUCCESS" not in ran["header"] and ran["bar"] < 100 and ran["buttons"] == [], ran
    done = wait_for(page, "/SUCCESS/.test(c.header) && c.bar >= 100 && c.image > 0 && c.buttons.includes('U1')",
                    "the card did not reach SUCCESS with its image and buttons")
    assert {"U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4"} <= set(done["buttons"]), done
    assert done["chips"] == [], "a card with no children shows no lineage strip"
    shoot(page, artifacts, "card-light")

    # Six clicks on the grid: each child is a chip, the newest one selected and in view; one card high.
    root = done["task"]
    for n, label in enumerate(["U1", "V1", "U2", "U3", "U4", "🔄"], start=1):
        if n > 1:
            select_chip(page, 0)
            wait_for(page, f"c.task === '{root}' && c.buttons.includes('{label}')", "the grid did not come back")
        press(page, label)
        state = wait_for(page, f"c.chips.length === {n + 1} && c.chips[{n}].selected && c.task === c.chips[{n}].task",
                         f"click {n} ({label}) did not select its new child")
        assert state["top"] < state["viewport"] and state["bottom"] > 0, f"the newest child is out of view: {state}"
    final = wait_for(page, "/SUCCESS/.test(c.header) && c.image > 0", "the newest child did not finish")
    assert final["height"] <= 1.5 * VIEWPORT["height"], f"the card grew to {final['height']} px after six clicks"
    select_chip(page, 0)
    grid = wait_for(page, f"c.task === '{root}'", "the grid chip")
    assert {"U1", "V1", "U2", "U3", "U4", "🔄"} <= set(grid["used"]), f"pressed buttons are not marked: {grid}"
    assert grid["height"] <= 1.5 * VIEWPORT["height"], grid

    # Readable in both themes.
    assert not low_contrast(page), f"light theme: {low_contrast(page)}"
    set_theme(page, "JupyterLab Dark")
    assert not low_contrast(page), f"dark theme: {low_contrast(page)}"
    shoot(page, artifacts, "card-dark")
    set_theme(page, "JupyterLab Light")

    # Vary Region on U1's upscale: a lasso on the image, inside the card; then it runs.
    select_chip(page, 1)
    wait_for(page, "c.buttons.some(b => /Vary \\(Region\\)/.test(b))", "U1's upscale buttons")
    press(page, "🖌️ Vary (Region)")
    editing = wait_for(page, "/Vary \\(Region\\)/.test(c.editor)", "the Vary Region editor did not open")
    assert "WAITING FOR YOU" in editing["header"] and "Vary (Region)" in editing["header"], editing
    assert not editing["barShown"], f"a 0 % bar shows while the form waits: {editing}"
    canvas = card(page).locator(".mjnb-region canvas")
    page.wait_for_function("() => { const i = document.querySelector('.mjnb-region img'); return i && i.naturalWidth > 0; }",
                           timeout=WAIT)
    box, outer = canvas.bounding_box(), card(page).bounding_box()
    for part in card(page).locator(".mjnb-editor .mjnb-form, .mjnb-editor textarea, .mjnb-region").all():
        b = part.bounding_box()
        assert b["x"] >= outer["x"] - 0.5 and b["x"] + b["width"] <= outer["x"] + outer["width"] + 0.5, (b, outer)
    assert box["width"] >= 200, f"the editor's image is too small to draw on: {box}"
    card(page).locator(".mjnb-modes .mjnb-button", has_text="Lasso").click()
    points = [(0.3, 0.3), (0.7, 0.25), (0.75, 0.7), (0.35, 0.75)]
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for x, y in points[1:] + points[:1]:
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
    page.mouse.up()
    shoot(page, artifacts, "editor-vary-region")
    card(page).locator(".mjnb-submit").click()
    ran = wait_for(page, "!/WAITING FOR YOU/.test(c.header)", "the Vary Region did not start")
    assert "Vary (Region)" in ran["header"], ran

    # Custom Zoom: a prompt form that fits the card.
    select_chip(page, 1)
    wait_for(page, "c.buttons.some(b => /Custom Zoom/.test(b))", "U1's upscale buttons again")
    press(page, "🔍 Custom Zoom")
    wait_for(page, "/Custom Zoom/.test(c.editor)", "the Custom Zoom form did not open")
    area, outer = card(page).locator(".mjnb-editor textarea").bounding_box(), card(page).bounding_box()
    assert area["x"] + area["width"] <= outer["x"] + outer["width"] + 0.5, (area, outer)
    shoot(page, artifacts, "editor-custom-zoom")
    card(page).locator(".mjnb-submit").click()
    wait_for(page, "!/WAITING FOR YOU/.test(c.header)", "the Custom Zoom did not start")
    wait_for(page, "c.chips.length === 9", "a chip for each of the eight children")
    page.wait_for_function("() => [...document.querySelectorAll('.mjnb-chip')].every("
                           "x => /mjnb-tone-(success|failure)/.test(x.className))", timeout=WAIT)  # all finished

    # Save (widget state included, as `make lab` configures), convert, reopen.
    select_chip(page, 0)
    wait_for(page, f"c.task === '{root}' && c.image > 0", "the grid chip before saving")
    saved = save(page, lab)
    html_out = convert(saved, tmp_path)
    assert html_out.count("data:image/jpeg;base64,") >= 1 and "PENDING" not in html_out, \
        "the converted notebook does not show the finished card"
    # Reopened on the same machine (trusted): the live card comes back from the saved widget state.
    text = reopen(saved, lab.root.parent, page, artifacts, "card-reopened")
    assert "model not found" not in text, "the reopened notebook says 'model not found'"
    assert page.locator(".jp-OutputArea-output .mjnb-card .mjnb-image").first.evaluate("i => i.naturalWidth") > 0
    assert "SUCCESS" in text
    # Opened by someone it was shared with (untrusted): the static card, finished, with its picture.
    text = reopen(saved, tmp_path / "elsewhere", page, artifacts, "card-shared")
    assert "model not found" not in text and "SUCCESS" in text and "Lineage:" in text, text[-600:]


def save(page, lab) -> Path:
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    path = lab.root / "card.ipynb"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        nb = json.loads(path.read_text())
        if nb["metadata"].get("widgets") and nb["cells"][0]["outputs"]:
            return path
        time.sleep(0.2)
    raise AssertionError(f"the saved notebook has no widget state: {nb['metadata'].keys()}")


def convert(path: Path, tmp: Path) -> str:
    """nbconvert to HTML as a user shares it (static fallback; see README, "Save and share")."""
    out = tmp / "card.html"
    subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", "--ClearMetadataPreprocessor.enabled=True",
                    "--output", str(out), str(path)], check=True, capture_output=True)
    return out.read_text()


def reopen(path: Path, state_dir: Path, page, artifacts, name: str) -> str:
    """Open the saved notebook in a new JupyterLab server (new kernel, no cell run) whose Jupyter
    state is `state_dir`: the first server's (the same notebook-signing secret, so the notebook is
    trusted, as on the user's own machine) or a new one (someone the notebook was shared with).
    Returns the page's text once a card shows its picture."""
    root = state_dir / f"root-{name}"
    root.mkdir(parents=True)
    (root / "card.ipynb").write_bytes(path.read_bytes())
    port, token = free_port(), secrets.token_hex(16)
    log = artifacts / f"jupyter-server-{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(server_command(port, token, root), env=server_env(state_dir),
                                   cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Lab(root=root, port=port, token=token, log=log, process=process)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{server.base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        page.goto(server.url("card.ipynb"))
        page.wait_for_function("() => [...document.querySelectorAll('.jp-OutputArea-output img')]"
                               ".some(i => i.naturalWidth > 0) || /model not found/.test(document.body.innerText)",
                               timeout=WAIT)
        page.screenshot(path=str(artifacts / f"{name}.png"))
        return page.evaluate("() => document.body.innerText")
    finally:
        stop(process)
