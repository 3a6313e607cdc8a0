"""Midjourney prompt parameters parsed into columns (--ar, --stylize, --seed, ...).

Image prompts (leading URLs), the text, known parameters under their canonical names, and
everything else kept in `other` so nothing a user typed is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# canonical name -> (aliases, kind); kinds: str, int, float, flag, list, text
PARAMS: dict[str, tuple[tuple[str, ...], str]] = {
    "version": (("v", "version"), "str"),
    "niji": (("niji",), "str"),
    "aspect": (("ar", "aspect"), "str"),
    "stylize": (("s", "stylize"), "int"),
    "chaos": (("c", "chaos"), "int"),
    "quality": (("q", "quality"), "float"),
    "seed": (("seed",), "int"),
    "style": (("style",), "str"),
    "weird": (("w", "weird"), "int"),
    "tile": (("tile",), "flag"),
    "no": (("no",), "text"),
    "iw": (("iw",), "float"),
    "sref": (("sref",), "list"),
    "cref": (("cref",), "list"),
    "sw": (("sw",), "int"),
    "cw": (("cw",), "int"),
    "p": (("p", "personalize"), "list"),
    "repeat": (("r", "repeat"), "int"),
    "stop": (("stop",), "int"),
    "raw": (("raw",), "flag"),
    "draft": (("draft",), "flag"),
}
ALIASES = {alias: name for name, (aliases, _) in PARAMS.items() for alias in aliases}
COLUMNS = ["image_prompts", "text"] + list(PARAMS) + ["other"]

_URL = re.compile(r"^<?(https?://\S+?)>?$")
_BRACKETED = re.compile(r"^<(https?://[^\s<>]+)>")  # Discord's <url> (no embed), maybe followed by ::2
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")  # not "nan", "inf", "1e999", "1_0"
_FLAG = re.compile(r"(?:(?<=\s)|^)(?:--|—)([A-Za-z][\w-]*)")  # "—" : macOS turns -- into an em dash


@dataclass
class ParsedPrompt:
    text: str = ""
    image_prompts: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    other: dict = field(default_factory=dict)

    def row(self) -> dict:
        """One flat dict for a DataFrame row: every canonical column, None where absent."""
        out: dict[str, Any] = {name: self.params.get(name) for name in PARAMS}
        out["image_prompts"] = list(self.image_prompts)
        out["text"] = self.text
        out["other"] = dict(self.other)
        return out


def parse_prompt(prompt: str | None) -> ParsedPrompt:
    """Split a Midjourney prompt into image prompts, text and parameters."""
    result = ParsedPrompt()
    if not prompt:
        return result
    body, flags = split_params(prompt)
    for flag, value in flags:
        _set(result, flag, value)
    words = body.split()
    while words and _URL.match(words[0]):
        result.image_prompts.append(_URL.match(words.pop(0))[1])
    result.text = " ".join(words)
    return result


def split_params(prompt: str | None) -> tuple[str, list[tuple[str, str]]]:
    """The prompt before its first --parameter, and each parameter as (lowercase name, raw value
    text): the one tokenizing that the history's columns and the pre-submit checks share."""
    text = (prompt or "").strip()
    matches = list(_FLAG.finditer(text))
    body = text[: matches[0].start()] if matches else text
    flags = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        flags.append((m[1].lower(), text[m.end():end].strip()))
    return body, flags


def _set(result: ParsedPrompt, flag: str, value: str) -> None:
    name = ALIASES.get(flag)
    if name is None:
        result.other[flag] = _number(value) if value else True
        return
    kind = PARAMS[name][1]
    first, rest = (value.split(None, 1) + ["", ""])[:2] if kind in ("int", "float", "str") else (value, "")
    if kind == "flag":
        result.params[name] = True
        rest = value  # "--tile something" is not Midjourney syntax; keep what followed
    elif kind == "list":  # Midjourney's final prompt writes "--sref <https://s.mj.run/a> <https://...>"
        result.params[name] = [_BRACKETED.sub(r"\1", item) for item in value.split()]
    elif kind == "text":
        result.params[name] = value
    elif kind in ("int", "float"):
        number = _number(first) if first else None
        ok = isinstance(number, (int, float))
        result.params[name] = (int(number) if kind == "int" else float(number)) if ok else None
        if not ok:
            result.other[flag] = value or True
            rest = ""
    else:  # str
        result.params[name] = first if first else ("" if name == "niji" else None)
        if name == "style" and first.lower() == "raw":
            result.params["raw"] = True
    if rest:  # words after a one-value parameter: not Midjourney syntax, but never lose them
        result.other.setdefault(f"{flag}_text", " ".join(rest.split()))
    if name == "aspect" and result.params.get("aspect"):
        result.params["aspect"] = result.params["aspect"].replace("：", ":")


def _number(text: str):
    """An int or a finite float when `text` is one ("2", ".5", "1.5"), else `text` unchanged."""
    if _NUMBER.match(text):
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    return text
