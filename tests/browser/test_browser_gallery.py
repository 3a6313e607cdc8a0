"""The experiment gallery in JupyterLab: per-item bars that show, captions inside their cards, the
opened item's full card under the grid (a second model, found through the widget manager)."""

from __future__ import annotations

import pytest
from browser_support import run_cell

pytestmark = pytest.mark.browser

WAIT = 120_000  # ms

CODE = """import mjnb
exp = mjnb.experiment(["a red fox in snow", "一只熊猫在竹林里吃竹子, watercolor, very long prompt words"],
                      {"--ar": ["1:1", "3:2"]}, concurrency=3, name="gallery-browser")
exp"""

STATE = """() => {
  const g = document.querySelector('.jp-OutputArea-output .mjnb-gallery');
  if (!g) return null;
  const smalls = [...g.querySelectorAll('.mjnb-small')];
  return {
    counts: g.querySelector('.mjnb-gallery-counts').innerText,
    bars: smalls.map(s => s.querySelector('.mjnb-bar').getBoundingClientRect().height),
    thumbs: smalls.map(s => { const i = s.querySelector('img.mjnb-thumb'); return i ? i.naturalWidth : 0; }),
    overflow: [...g.querySelectorAll('.mjnb-caption')].filter(c => {
        const box = c.getBoundingClientRect(), card = c.closest('.mjnb-small').getBoundingClientRect();
        return box.right > card.right + 0.5 || box.left < card.left - 0.5; }).length,
    detail: (g.querySelector('.mjnb-detail .mjnb-card .mjnb-header') || {}).innerText || '',
  };
}"""


def test_gallery_bars_captions_and_detail(lab, lab_page, page, artifacts):
    lab.write_notebook("gallery.ipynb", [CODE])
    lab_page("gallery.ipynb")
    run_cell(page)
    done = page.wait_for_function(f"() => {{ const s = ({STATE})(); return s && /4 done/.test(s.counts) && "
                                  f"s.thumbs.every(w => w > 0) ? s : null; }}", timeout=WAIT, polling=200).json_value()
    assert len(done["bars"]) == 4 and all(h >= 4 for h in done["bars"]), f"a per-item bar is not visible: {done}"
    assert done["overflow"] == 0, f"captions overflow their cards: {done}"
    gallery = page.locator(".jp-OutputArea-output .mjnb-gallery").first
    gallery.locator(".mjnb-open").nth(3).click()
    opened = page.wait_for_function(f"() => {{ const s = ({STATE})(); return s && /SUCCESS/.test(s.detail) ? s : null; }}",
                                    timeout=WAIT, polling=200).json_value()
    assert "IMAGINE" in opened["detail"], opened
    gallery.scroll_into_view_if_needed()
    gallery.screenshot(path=str(artifacts / "gallery.png"))
