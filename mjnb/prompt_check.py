"""Midjourney parameters checked before a submit: a value Midjourney refuses still costs a paid job.

`check_prompt(prompt)` raises a `ParameterError` (a ValidationError, field="prompt") naming each
parameter that Midjourney would refuse and the values it takes; callers pass `validate=False`
to send a prompt anyway (for a parameter Midjourney added after this table was written). The
prompt is split by `params.split_params` and names resolve through `params.ALIASES`, the same
tokenizing the history's columns use.

Where the ranges come from (docs.midjourney.com's parameter pages as mirrored in public copies,
read 2026: the parameter list at github.com/WangShuXian6/blog/issues/147 and limi.gitbook.io/mj-doc,
the V7 parameter table at docs.evolink.ai/.../midjourney-v7-prompt-guide, the V8.1 one beside it,
w3cschool.cn's "complete parameter list" for V3/V4/niji, mjsplitter.com on --iw, the V3 quality
comparison in willwulfken/MidJourney-Styles-and-Keywords-Reference for --q 5; V8 (March 2026),
V8.1 (the default since June 2026) and niji 7 (January 2026) from aiwiki.ai and atlascloud.ai):

| parameter            | values                                                                 |
|----------------------|------------------------------------------------------------------------|
| --ar / --aspect      | whole numbers W:H, both > 0; V1-V3 2:5..5:2, V4 and niji 4 1:2..2:1    |
| --v / --version      | 1 2 3 4 5 5.1 5.2 6 6.1 7 8 8.1 (5.0, 6.0, 7.0, 8.0 too)               |
| --niji               | 4 5 6 7, or bare (the current niji)                                    |
| --s / --stylize      | 0-1000 (V1-V3: 625-60000)                                              |
| --c / --chaos        | 0-100                                                                  |
| --w / --weird        | 0-3000                                                                 |
| --q / --quality      | V1-V3 .25 .5 1 2 5; V4-V6.1, niji 4-6 .25 .5 1 2 (Midjourney rounds 2  |
|                      | down where unsupported); V7, niji 7 1 2 4; V8.x assumed .25 .5 1 2 4   |
| --seed, --sameseed   | integers 0-4294967295                                                  |
| --stop               | 10-100                                                                 |
| --iw                 | V1-V3 -10000..10000; V4-V5.2, niji 4-5 0-2; V6 and later 0-3           |
| --r / --repeat       | 1-40 (the plan caps it: Basic 4, Standard 10, Pro/Mega 40)             |
| --sw 0-1000, --cw 0-100, --exp 0-100, --ow 1-1000, --sv 1-6, --zoom 1-2 (Custom Zoom)       |
| --cref, --cw         | V6, V6.1, niji 6 only; --oref, --ow, --exp, --draft: V7 and later      |

Assumed, not documented: with no --v/--niji the account's default version is unknown here, so
a value passes when some version a default can be today (V5 to V8.1, niji 5 to 7) takes it;
stray words after a one-value parameter are refused because Midjourney answers them with
"Unrecognized parameter(s)" (seen in public bug reports); --style takes any code (Style Tuner
codes are free-form), and --no any text.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from . import errors as E
from .params import ALIASES, PARAMS, split_params

# Names params.py keeps in `other` (no history column) that Midjourney takes: name -> (aliases, kind).
EXTRA: dict[str, tuple[tuple[str, ...], str]] = {
    "exp": (("exp",), "int"),
    "oref": (("oref",), "list"),
    "ow": (("ow",), "int"),
    "sv": (("sv",), "int"),
    "zoom": (("zoom",), "float"),  # Custom Zoom's prompt
    "sameseed": (("sameseed",), "int"),
    "profile": (("profile",), "list"),  # V7's other name for --p
    "fast": (("fast",), "flag"),
    "relax": (("relax",), "flag"),
    "turbo": (("turbo",), "flag"),
    "hd": (("hd",), "flag"),  # V1-V3 legacy, and V8.1's HD mode
    "video": (("video",), "flag"),
    "motion": (("motion",), "str"),  # video: low or high
    "loop": (("loop",), "flag"),
    "end": (("end",), "list"),
    "bs": (("bs",), "int"),  # video batch size
    "public": (("public",), "flag"),
    "stealth": (("stealth",), "flag"),
    # legacy (V1-V4 era) parameters still found in saved prompts
    "test": (("test",), "flag"),
    "testp": (("testp",), "flag"),
    "creative": (("creative",), "flag"),
    "upbeta": (("upbeta",), "flag"),
    "uplight": (("uplight",), "flag"),
    "upanime": (("upanime",), "flag"),
}
KINDS = {name: kind for name, (_, kind) in {**PARAMS, **EXTRA}.items()}
NAMES = {**ALIASES, **{alias: name for name, (aliases, _) in EXTRA.items() for alias in aliases}}

VERSIONS = ("1", "2", "3", "4", "5", "5.1", "5.2", "6", "6.1", "7", "8", "8.1")
NIJI = ("4", "5", "6", "7")
OLD = {"1", "2", "3"}  # models whose ranges differ most
# models a /settings default can be today: the "no --v" check passes what any of them takes
DEFAULTS = ("5", "5.1", "5.2", "6", "6.1", "7", "8", "8.1", "niji 5", "niji 6", "niji 7")

QUALITY = {**{v: (0.25, 0.5, 1, 2, 5) for v in OLD},
           **{v: (0.25, 0.5, 1, 2) for v in ("4", "5", "5.1", "5.2", "6", "6.1",
                                               "niji 4", "niji 5", "niji 6")},
           "7": (1, 2, 4), "niji 7": (1, 2, 4), "8": (0.25, 0.5, 1, 2, 4), "8.1": (0.25, 0.5, 1, 2, 4)}
IMAGE_WEIGHT = {**{v: (-10000, 10000) for v in OLD},
                **{v: (0, 2) for v in ("4", "5", "5.1", "5.2", "niji 4", "niji 5")}}  # later: 0-3
# integer parameters: name -> (low, high), the same in every version (stylize: V1-V3 below)
INT_RANGES = {"chaos": (0, 100), "weird": (0, 3000), "seed": (0, 4294967295),
              "sameseed": (0, 4294967295), "stop": (10, 100), "repeat": (1, 40), "sw": (0, 1000),
              "cw": (0, 100), "exp": (0, 100), "ow": (1, 1000), "sv": (1, 6), "stylize": (0, 1000)}
ONLY_WITH = {  # parameter -> the models that take it
    "cref": ("6", "6.1", "niji 6"), "cw": ("6", "6.1", "niji 6"),
    "oref": ("7", "8", "8.1", "niji 7"), "ow": ("7", "8", "8.1", "niji 7"),
    "exp": ("7", "8", "8.1", "niji 7"), "draft": ("7", "8", "8.1", "niji 7"),
}
NEEDS_VALUE = {"sref": "a URL, a style code or 'random'", "cref": "an image URL",
               "oref": "an image URL", "end": "an image URL", "style": "a style such as raw",
               "motion": "low or high"}
HINT = ("Change the prompt, or pass validate=False to send the prompt unchanged (for a parameter "
        "Midjourney added after this check was written)")
_INT = re.compile(r"[+-]?\d+")
_NUM = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_RATIO = re.compile(r"(\d+):(\d+)")


class ParameterError(E.ValidationError):
    """A prompt parameter Midjourney would refuse; `parameter` is the first one (as typed) and
    `problems` lists (parameter, what is wrong) for every one found."""

    def __init__(self, message: str, *, parameter: str, problems: list, **kw):
        self.parameter = parameter
        self.problems = problems
        super().__init__(message, field="prompt", **kw)


@dataclass
class _Found:
    flag: str  # as typed, lower case, e.g. "s"
    name: str  # canonical, e.g. "stylize"
    value: str

    @property
    def label(self) -> str:
        long = f"--{self.name}"
        return f"--{self.flag}" if self.flag == self.name else f"--{self.flag} ({long})"


def problems(prompt: str | None) -> list[tuple[str, str]]:
    """(parameter, what is wrong) for each parameter of `prompt` that Midjourney would refuse."""
    _, flags = split_params(prompt)
    found, out = [], []
    for flag, value in flags:
        name = NAMES.get(flag)
        if name is None:
            out.append((f"--{flag}", _unknown(flag)))
        else:
            found.append(_Found(flag, name, value))
    model, bad_model = _model(found)
    out += bad_model
    for item in found:
        text = _check(item, model)
        if text:
            out.append((f"--{item.flag}", f"{item.label} {item.value}".strip() + ": " + text))
    return out


def check_prompt(prompt: str | None) -> None:
    """Raise ParameterError when Midjourney would refuse a parameter of `prompt` (see module doc)."""
    found = problems(prompt)
    if found:
        detail = "; ".join(text for _, text in found)
        only_unknown = all(text.startswith("unknown parameter") for _, text in found)
        raise ParameterError(f"prompt: Midjourney would refuse {_plural(len(found))}: {detail}",
                             parameter=found[0][0], problems=found, hint=None if only_unknown else HINT)


# ---------------------------------------------------------------- the checks


def _plural(n: int) -> str:
    return "this parameter" if n == 1 else f"these {n} parameters"


def _unknown(flag: str) -> str:
    close = difflib.get_close_matches(flag, list(NAMES), n=1, cutoff=0.75)
    maybe = f" (did you mean --{close[0]}?)" if close else ""
    known = ", ".join(f"--{n}" for n in _primary_names())
    return (f"unknown parameter --{flag}{maybe}; Midjourney's parameters are {known}; "
            f"pass validate=False to send it anyway")


def _primary_names() -> list[str]:
    """One name per parameter (the short one Midjourney's docs lead with)."""
    lead = {"aspect": "ar", "p": "p"}
    return [lead.get(name) or (name if name in aliases else min(aliases, key=len))
            for name, (aliases, _) in {**PARAMS, **EXTRA}.items()]


def _version(text: str) -> str:
    """'6.0' -> '6', '5.2' -> '5.2': the form VERSIONS uses."""
    return text[:-2] if text.endswith(".0") else text


def _model(found: list[_Found]) -> tuple[str | None, list]:
    """The model the prompt asks for ('6.1', 'niji 6'; None: the account's default) and problems."""
    model, bad = None, []
    for item in found:
        first = item.value.split()[0] if item.value else ""
        if item.name == "version":
            if not first:
                bad.append((f"--{item.flag}", f"{item.label}: needs a version, one of {', '.join(VERSIONS)}"))
            elif _version(first) not in VERSIONS:
                bad.append((f"--{item.flag}", f"{item.label} {first}: Midjourney's versions are "
                                              f"{', '.join(VERSIONS)}"))
            else:
                model = _version(first)
        elif item.name == "niji":
            if first and _version(first) not in NIJI:
                bad.append((f"--{item.flag}", f"{item.label} {first}: niji versions are {', '.join(NIJI)} "
                                              f"(or --niji alone for the current one)"))
            elif first:
                model = f"niji {_version(first)}"
            else:
                model = model or "niji"
    if model == "niji":
        model = None  # the current niji: which one is not known here
    return model, bad


def _check(item: _Found, model: str | None) -> str | None:
    """What is wrong with one known parameter's value (None: nothing)."""
    kind, name, value = KINDS[item.name], item.name, item.value
    first, _, rest = value.partition(" ")
    rest = rest.strip()
    if kind == "flag":
        return _stray(value)
    if kind in ("int", "float", "str") and rest:
        return _stray(rest)
    if name in ONLY_WITH and model is not None and model not in ONLY_WITH[name]:
        return (f"Midjourney takes --{name} only with {_models(ONLY_WITH[name])}, not with "
                f"{_models((model,))}")
    if name in ("version", "niji"):
        return None  # checked in _model
    if kind == "list":
        if not value and name in NEEDS_VALUE:
            return f"needs {NEEDS_VALUE[name]}"
        return None
    if kind in ("text", "str"):
        if not value and name in NEEDS_VALUE:
            return f"needs {NEEDS_VALUE[name]}"
        if name == "motion" and value.lower() not in ("low", "high"):
            return "Midjourney takes --motion low or --motion high"
        if name == "aspect":
            return _aspect(first, model)
        return None
    if name in INT_RANGES or name in ("bs",):
        return _integer(item, first, model)
    if name == "quality":
        return _quality(first, model)
    if name == "iw":
        return _number(first, *_iw_range(model), model)
    if name == "zoom":
        return _number(first, 1, 2, None)
    return None


def _stray(words: str) -> str | None:
    if not words:
        return None
    return (f"'{words}' after it is not a value Midjourney takes (it answers \"Unrecognized "
            f"parameter(s)\"); put words before the parameters")


def _models(models) -> str:
    return ", ".join(m.replace("niji ", "--niji ") if m.startswith("niji") else f"--v {m}" for m in models)


def _for(model: str | None) -> str:
    if model is None:
        return " (with no --v, any current version; the exact values depend on the version)"
    return f" with {_models((model,))}"


def _integer(item: _Found, text: str, model: str | None) -> str | None:
    name = item.name
    if name == "bs":
        return None if text in ("1", "2", "4") else "Midjourney takes --bs 1, 2 or 4"
    low, high = INT_RANGES[name]
    if name == "stylize" and model in OLD:
        low, high = 625, 60000
    allowed = f"an integer from {low} to {high}"
    if name == "repeat":
        allowed += " (your plan may allow fewer: Basic 4, Standard 10)"
    if not text:
        return f"needs a value: {allowed}"
    if not _INT.fullmatch(text):
        return f"not a whole number; Midjourney takes {allowed}{_for(model) if name == 'stylize' else ''}"
    if not low <= int(text) <= high:
        return f"out of range; Midjourney takes {allowed}{_for(model) if name == 'stylize' else ''}"
    return None


def _quality(text: str, model: str | None) -> str | None:
    if model is None:
        allowed = sorted({q for m in DEFAULTS for q in QUALITY.get(m, ())})
    else:
        allowed = QUALITY.get(model, QUALITY["8.1"])
    words = ", ".join(f"{q:g}" for q in allowed)
    if not text:
        return f"needs a value: one of {words}"
    if not _NUM.fullmatch(text) or float(text) not in allowed:
        return f"Midjourney takes one of {words}{_for(model)}"
    return None


def _iw_range(model: str | None) -> tuple[float, float]:
    return IMAGE_WEIGHT.get(model, (0, 3)) if model is not None else (0, 3)


def _number(text: str, low: float, high: float, model: str | None) -> str | None:
    allowed = f"a number from {low:g} to {high:g}"
    where = _for(model) if model is not None or low != 1 else ""
    if not text:
        return f"needs a value: {allowed}"
    if not _NUM.fullmatch(text):
        return f"not a number; Midjourney takes {allowed}{where}"
    if not low <= float(text) <= high:
        return f"out of range; Midjourney takes {allowed}{where}"
    return None


def _aspect(text: str, model: str | None) -> str | None:
    allowed = "two whole numbers above 0 as width:height, such as 16:9"
    if not text:
        return f"needs a value: {allowed}"
    m = _RATIO.fullmatch(text.replace("：", ":"))
    if not m:
        return f"not a ratio; Midjourney takes {allowed}"
    w, h = int(m[1]), int(m[2])
    if w <= 0 or h <= 0:
        return f"out of range; Midjourney takes {allowed}"
    limits = {**{v: (2, 5) for v in OLD}, "4": (1, 2), "niji 4": (1, 2)}.get(model or "")
    if limits and not limits[0] * max(w, h) <= limits[1] * min(w, h):
        lo, hi = limits
        return f"out of range; Midjourney takes ratios from {lo}:{hi} to {hi}:{lo}{_for(model)}"
    return None
