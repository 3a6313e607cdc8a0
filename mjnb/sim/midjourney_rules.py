"""What Midjourney itself refuses in a prompt's parameters, and the failReason the job ends with.

The proxy accepts such a prompt (code 1) and sends it to Discord; Midjourney answers with an error
embed titled "Invalid parameter", and the job ends in FAILURE as it starts. This module is the
simulator's own table (it shares nothing with the client's checks, on purpose).

Found: the title "Invalid parameter" and "Unrecognized parameter(s): `--foo`" (spec 9.4; bug
reports such as UrielCh/midjourney-client#22 show the bot listing every token it could not place,
stray words after a value included, e.g. "Unrecognized parameter(s): –v, 5"); "[Invalid parameter]
Invalid value ..." for values out of range (TTAPI's list of Midjourney fail reasons); the proxies'
styles "[Title] description" (open-source, relays pass it on) and "Title, description" (TRUEAI).
Assumed: the words after "Invalid value" (the value, the parameter and its range, below), the
"is not compatible with" wording for --cref/--oref/--exp/--draft on the wrong model, and that
one embed names the unknown tokens, else the first problem. The ranges are Midjourney's
documented ones (docs.midjourney.com's parameter list and its V7/V8.1 tables).
"""

from __future__ import annotations

import re

TITLE = "Invalid parameter"

# every name Midjourney takes -> its canonical name
NAMES = {
    "v": "version", "version": "version", "niji": "niji", "ar": "aspect", "aspect": "aspect",
    "s": "stylize", "stylize": "stylize", "c": "chaos", "chaos": "chaos", "q": "quality",
    "quality": "quality", "seed": "seed", "sameseed": "seed", "style": "style", "w": "weird",
    "weird": "weird", "tile": "tile", "no": "no", "iw": "iw", "sref": "sref", "cref": "cref",
    "oref": "oref", "sw": "sw", "cw": "cw", "ow": "ow", "sv": "sv", "p": "p", "personalize": "p",
    "profile": "p", "r": "repeat", "repeat": "repeat", "stop": "stop", "raw": "raw",
    "draft": "draft", "exp": "exp", "zoom": "zoom", "fast": "fast", "relax": "relax",
    "turbo": "turbo", "hd": "hd", "video": "video", "motion": "motion", "loop": "loop",
    "end": "end", "bs": "bs", "public": "public", "stealth": "stealth", "test": "test",
    "testp": "testp", "creative": "creative", "upbeta": "upbeta", "uplight": "uplight",
    "upanime": "upanime",
}
FLAGS = {"tile", "raw", "draft", "fast", "relax", "turbo", "hd", "video", "loop", "public",
         "stealth", "test", "testp", "creative", "upbeta", "uplight", "upanime"}
FREE = {"no", "sref", "cref", "oref", "p", "end"}  # take any number of words
VERSIONS = {"1", "2", "3", "4", "5", "5.1", "5.2", "6", "6.1", "7", "8", "8.1"}
NIJI = {"4", "5", "6", "7"}
LEGACY = {"1", "2", "3"}
INTEGERS = {  # canonical name -> (low, high)
    "stylize": (0, 1000), "chaos": (0, 100), "weird": (0, 3000), "seed": (0, 2**32 - 1),
    "stop": (10, 100), "repeat": (1, 40), "sw": (0, 1000), "cw": (0, 100), "exp": (0, 100),
    "ow": (1, 1000), "sv": (1, 6),
}


ONLY_IN = {"cref": ("v6",), "cw": ("v6",), "oref": ("v7", "v8"), "ow": ("v7", "v8"),
           "exp": ("v7", "v8"), "draft": ("v7", "v8")}


def _family(model: str) -> str:
    """'legacy', 'v4', 'v5', 'v6', 'v7' or 'v8' for a model such as '5.2' or 'niji 6'."""
    number = model.split()[-1]
    major = number.split(".")[0]
    if model.startswith("niji"):
        return {"4": "v4", "5": "v5", "6": "v6"}.get(major, "v7")
    if number in LEGACY:
        return "legacy"
    return {"4": "v4", "5": "v5", "6": "v6", "7": "v7"}.get(major, "v8")


QUALITY = {"legacy": (0.25, 0.5, 1, 2, 5), "v4": (0.25, 0.5, 1, 2), "v5": (0.25, 0.5, 1, 2),
           "v6": (0.25, 0.5, 1, 2), "v7": (1, 2, 4), "v8": (0.25, 0.5, 1, 2, 4)}
IMAGE_WEIGHT = {"legacy": (-10000, 10000), "v4": (0, 2), "v5": (0, 2), "v6": (0, 3), "v7": (0, 3),
                "v8": (0, 3)}


def _tokens(prompt: str) -> list[tuple[str, list[str]]]:
    """Each parameter of a prompt as (name as typed, the words after it)."""
    out: list[tuple[str, list[str]]] = []
    for word in prompt.split():
        m = re.fullmatch(r"(?:--|—)([A-Za-z][\w-]*)", word)
        if m:
            out.append((m[1].lower(), []))
        elif out:
            out[-1][1].append(word)
    return out


def _model(params: list[tuple[str, list[str]]], default: str) -> str:
    model = default
    for name, words in params:
        canonical = NAMES.get(name)
        value = words[0].removesuffix(".0") if words else ""
        if canonical == "version" and value in VERSIONS:
            model = value
        elif canonical == "niji":
            model = f"niji {value}" if value in NIJI else "niji 6"
    return model


def rejection(prompt: str, default_version: str = "7") -> str | None:
    """The description of Midjourney's "Invalid parameter" embed for `prompt`, or None when
    Midjourney takes its parameters. `default_version` is the account's ('7', 'niji 6')."""
    params = _tokens(prompt or "")
    unknown = []
    for name, words in params:
        canonical = NAMES.get(name)
        if canonical is None:
            unknown.append(f"--{name}")
        elif canonical in FLAGS:
            unknown += words
        elif canonical not in FREE:
            unknown += words[1:]
    if unknown:
        return "Unrecognized parameter(s): " + ", ".join(f"`{u}`" for u in unknown)
    model = _model(params, default_version)
    family = _family(model)
    for name, _ in params:
        if family not in ONLY_IN.get(NAMES[name], (family,)):
            return f"`--{name}` is not compatible with " + (f"`--{model}`" if model.startswith("niji")
                                                              else f"`--v {model}`")
    for name, words in params:
        problem = _value(NAMES[name], words[0] if words else "", family)
        if problem:
            value = words[0] if words else ""
            return f"Invalid value `{value}` for `--{name}`: {problem}"
    return None


def fail_reason(prompt: str, profile: str, default_version: str = "7") -> str | None:
    """The failReason a proxy of `profile` stores for the refused job, or None."""
    text = rejection(prompt, default_version)
    if text is None:
        return None
    return f"{TITLE}, {text}" if profile == "trueai" else f"[{TITLE}] {text}"


def _number(text: str) -> float | None:
    return float(text) if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", text) else None


def _value(name: str, text: str, family: str) -> str | None:
    """Why Midjourney refuses this value (None: it takes it)."""
    if name == "version":
        return None if text.removesuffix(".0") in VERSIONS else f"expected one of {_list(VERSIONS)}"
    if name == "niji":
        return None if not text or text.removesuffix(".0") in NIJI else f"expected one of {_list(NIJI)}"
    if name == "aspect":
        m = re.fullmatch(r"(\d+)[:：](\d+)", text)
        if not m or int(m[1]) == 0 or int(m[2]) == 0:
            return "expected width:height in whole numbers above 0"
        widest = {"legacy": 2.5, "v4": 2.0}.get(family)  # later models take any ratio
        w, h = int(m[1]), int(m[2])
        if widest and max(w, h) > widest * min(w, h):
            return f"this model takes ratios up to {'5:2' if family == 'legacy' else '2:1'} either way"
        return None
    if name in INTEGERS:
        low, high = (625, 60000) if name == "stylize" and family == "legacy" else INTEGERS[name]
        if not re.fullmatch(r"[+-]?\d+", text) or not low <= int(text) <= high:
            return f"expected an integer between {low} and {high}"
        return None
    if name == "quality":
        allowed = QUALITY[family]
        if _number(text) not in allowed:
            return "expected one of " + ", ".join(f"{q:g}" for q in allowed)
        return None
    if name == "iw":
        low, high = IMAGE_WEIGHT[family]
        number = _number(text)
        if number is None or not low <= number <= high:
            return f"expected a number between {low} and {high}"
        return None
    if name == "zoom":
        number = _number(text)
        return None if number is not None and 1 <= number <= 2 else "expected a number between 1 and 2"
    if name == "motion":
        return None if text.lower() in ("low", "high") else "expected low or high"
    if name == "bs":
        return None if text in ("1", "2", "4") else "expected 1, 2 or 4"
    if name == "style":
        return None if text else "expected a style"
    return None


def _list(values) -> str:
    return ", ".join(sorted(values, key=lambda v: tuple(int(p) for p in v.split("."))))
