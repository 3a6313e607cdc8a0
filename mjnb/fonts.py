"""Fonts that can draw what users type: matplotlib's DejaVu Sans has no Chinese, Japanese or Korean
glyphs, and most relay users write their prompts in Chinese.

`families(texts)` gives a font family list for matplotlib: its usual family first, then installed
fonts that have the characters it lacks (matplotlib falls back glyph by glyph along the list).
Fonts installed after matplotlib built its font cache (apt-get install fonts-noto-cjk in a running
kernel) are found too. Nothing global changes but matplotlib's list of known fonts.
"""

from __future__ import annotations

import functools
import threading
import unicodedata
from typing import Iterable

from matplotlib import font_manager, rcParams
from matplotlib.ft2font import FT2Font

# Fonts known to cover CJK, in the order tried (Simplified Chinese first: most relay users)
PREFERRED = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Sans CJK KR", "Noto Sans CJK HK",
             "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "Droid Sans Fallback", "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB",
             "Noto Sans SC", "Noto Sans JP", "Arial Unicode MS", "Noto Sans")
CJK_HINT = "install a CJK font (Debian: apt-get install fonts-noto-cjk) to draw these characters"

_lock = threading.Lock()
_rescanned = False


def wide(ch: str) -> bool:
    """A character that takes two columns (CJK ideographs, kana, hangul, full-width forms)."""
    return unicodedata.east_asian_width(ch) in "WF"


@functools.lru_cache(maxsize=64)
def _charmap(path: str) -> frozenset:
    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):
        return frozenset()


def _base() -> list[str]:
    """matplotlib's own family list (rcParams, read only), generic names expanded."""
    out: list[str] = []
    for family in rcParams["font.family"]:
        key = f"font.{family}"
        out.extend(rcParams[key] if key in rcParams else [family])
    return out


def _path_of(family: str) -> str | None:
    for entry in font_manager.fontManager.ttflist:
        if entry.name == family:
            return entry.fname
    return None


def _placeholder(family: str) -> bool:
    """matplotlib's Last Resort font maps every character, to a box: it draws nothing readable."""
    return family.lower().startswith("last resort")


def _covered(families: list[str]) -> frozenset:
    have: frozenset = frozenset()
    for family in families:
        path = _path_of(family)
        if path and not _placeholder(family):
            have |= _charmap(path)
    return have


def _rescan() -> None:
    """Add fonts installed since matplotlib built its cache (once per process)."""
    global _rescanned
    with _lock:
        if _rescanned:
            return
        _rescanned = True
        known = {entry.fname for entry in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue


def _fallback(missing: set[int]) -> list[str]:
    """Installed families that cover `missing`, preferred ones first; as few as do the job."""
    chosen: list[str] = []
    names = list(PREFERRED) + sorted({e.name for e in font_manager.fontManager.ttflist} - set(PREFERRED))
    for name in names:
        if not missing:
            break
        path = _path_of(name)
        if path is None or "emoji" in name.lower() or _placeholder(name):  # Agg cannot draw colour emoji
            continue
        gained = missing & _charmap(path)
        if gained:
            chosen.append(name)
            missing -= gained
    return chosen


def families(texts: Iterable[str]) -> list[str]:
    """The family list that draws every character of `texts` that some installed font has."""
    wanted = {ord(ch) for text in texts for ch in text if not ch.isspace() and ch.isprintable()}
    found = [f for f in _base() if _path_of(f)]
    base = [f for f in found if not _placeholder(f)] or ["DejaVu Sans"]
    last = [f for f in found if _placeholder(f)]  # boxes for what no font has, after every real font
    missing = wanted - _covered(base)
    if not missing:
        return base + last
    extra = _fallback(set(missing))
    if not extra or not missing <= _covered(base + extra):
        _rescan()
        extra = _fallback(set(missing))
    return base + extra + last


def missing_glyphs(texts: Iterable[str], chosen: list[str]) -> str:
    """The characters of `texts` no font in `chosen` can draw ('' when all can)."""
    have = _covered(chosen)
    return "".join(sorted({ch for text in texts for ch in text
                           if not ch.isspace() and ch.isprintable() and ord(ch) not in have}))
