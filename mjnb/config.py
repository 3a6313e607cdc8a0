"""Settings from arguments and MJNB_* environment variables (imports only the leaf `errors`)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

MODES = ("fast", "relax", "turbo")
FLAVOURS = ("relay", "trueai", "novicezk")
AUTH_HEADERS = ("bearer", "mj-api-secret", "authorization")
ENV = {"base_url": "MJNB_BASE_URL", "api_key": "MJNB_API_KEY", "mode": "MJNB_MODE",
       "auth_header": "MJNB_AUTH_HEADER", "timeout": "MJNB_TIMEOUT", "flavour": "MJNB_FLAVOUR",
       "max_json_bytes": "MJNB_MAX_JSON_BYTES", "max_image_pixels": "MJNB_MAX_IMAGE_PIXELS"}
SIZE_SETTINGS = ("max_image_bytes", "max_json_bytes", "max_image_pixels")
# new-api's billing models for Midjourney (spec §13 R11); prices may name them or the short action
PRICED_MODELS = ("mj_imagine", "mj_variation", "mj_reroll", "mj_blend", "mj_modal", "mj_zoom", "mj_shorten",
                 "mj_high_variation", "mj_low_variation", "mj_pan", "mj_inpaint", "mj_custom_zoom",
                 "mj_describe", "mj_upscale", "swap_face", "mj_upload")


@dataclass(frozen=True)
class Config:
    """Where the relay is and how to talk to it. The key never shows in repr or str."""

    base_url: str | None = None  # None: use the built-in simulator
    api_key: str | None = field(default=None, repr=False)
    mode: str | None = None  # fast | relax | turbo -> /mj-fast/mj/... (None: no prefix)
    auth_header: str = "bearer"  # bearer: "Authorization: Bearer <key>"; mj-api-secret; authorization: raw
    timeout: float = 30.0  # seconds for a whole call: connecting, retries and reading the full answer
    retries: int = 4  # extra attempts for idempotent calls (fetch, list, seed, downloads)
    backoff: float = 0.5  # first retry delay in seconds; doubles, with jitter
    max_image_bytes: int = 10 * 1024 * 1024  # images sent or downloaded larger than this are refused
    max_json_bytes: int = 16 * 1024 * 1024  # API answers larger than this are refused, unread
    max_image_pixels: int = 64_000_000  # images with more pixels are refused before decoding (4096x4096 is 16.8 M)
    flavour: str = "relay"  # relay | trueai | novicezk: which buttons the server will accept
    poll_interval: float = 1.0  # tracker: seconds between batched polls while tasks change
    poll_max_interval: float = 10.0  # tracker: the slowest polling when nothing changes
    stall_after: float = 180.0  # seconds without any change before a card says the task looks stuck
    prices: Any = None  # USD per call, e.g. {"imagine": 0.1, "upscale": 0.05}: model -> USD after checking
    quota_per_usd: float = 500_000.0  # the relay's quota units per USD (new-api's QuotaPerUnit)
    server_name: str | None = None  # how the history files this relay's tasks (default: host:port of base_url)

    def __post_init__(self) -> None:
        base, mode = _normalise_base_url(self.base_url), self.mode
        if isinstance(mode, str):
            mode = mode.strip().lower() or None
            mode = mode[3:] if mode and mode.startswith("mj-") else mode
        if base and mode is None:  # a base URL like https://relay/mj-fast/mj carries the mode
            m = re.search(r"/mj-(fast|relax|turbo)$", base)
            if m:
                base, mode = base[: m.start()], m[1]
        elif base:
            base = re.sub(r"/mj-(fast|relax|turbo)$", "", base)
        object.__setattr__(self, "base_url", base)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "auth_header", str(self.auth_header).strip().lower())
        object.__setattr__(self, "flavour", str(self.flavour).strip().lower())
        if isinstance(self.api_key, str):
            object.__setattr__(self, "api_key", self.api_key.strip() or None)
        _check_key(self.api_key)
        object.__setattr__(self, "prices", _check_prices(self.prices))
        self._validate()

    def _validate(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)} (or None for no prefix), "
                              f"not {self.mode!r}")
        if self.auth_header not in AUTH_HEADERS:
            raise ConfigError(f"auth_header must be one of {', '.join(AUTH_HEADERS)}, "
                              f"not {self.auth_header!r}")
        if self.flavour not in FLAVOURS:
            raise ConfigError(f"flavour must be one of {', '.join(FLAVOURS)}, not {self.flavour!r}")
        for name in ("timeout", "backoff", "poll_interval", "poll_max_interval", "stall_after", "quota_per_usd"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{name} must be a number of seconds > 0, not {value!r}")
        if self.server_name is not None and (not isinstance(self.server_name, str) or not self.server_name.strip()):
            raise ConfigError(f"server_name must be a non-empty string (or None for the base URL's host), "
                              f"not {self.server_name!r}")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigError(f"retries must be an integer >= 0, not {self.retries!r}")
        for name in SIZE_SETTINGS:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name} must be a positive integer, not {value!r}")

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides) -> "Config":
        """MJNB_* variables, then explicit arguments on top (None arguments are ignored)."""
        env = os.environ if environ is None else environ
        values: dict = {}
        for name, var in ENV.items():
            if env.get(var, "").strip():
                values[name] = env[var].strip()
        if "timeout" in values:
            try:
                values["timeout"] = float(values["timeout"])
            except ValueError:
                raise ConfigError(f"MJNB_TIMEOUT must be a number of seconds, not {values['timeout']!r}") from None
        for name in SIZE_SETTINGS:
            if name in values:
                try:
                    values[name] = int(values[name])
                except ValueError:
                    raise ConfigError(f"{ENV[name]} must be a whole number, not {values[name]!r}") from None
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_changes(self, **changes) -> "Config":
        return replace(self, **changes)

    @property
    def api_root(self) -> str:
        """base URL plus the mode prefix; routes are appended as /mj/..."""
        prefix = f"/mj-{self.mode}" if self.mode else ""
        return f"{self.base_url or ''}{prefix}"

    @property
    def host(self) -> str:
        """The server as the history names it: `server_name`, else the base URL's host:port."""
        return self.server_name or urlsplit(self.base_url or "").netloc

    def auth_headers(self) -> dict:
        """The header carrying the key, in the style the server expects."""
        if not self.api_key:
            return {}
        if self.auth_header == "mj-api-secret":
            return {"mj-api-secret": self.api_key}
        if self.auth_header == "authorization":  # TRUEAI compares the raw header value
            return {"Authorization": self.api_key}
        return {"Authorization": f"Bearer {self.api_key}"}

    def __repr__(self) -> str:
        parts = [f"base_url={self.base_url!r}", f"api_key={'<set>' if self.api_key else None}",
                 f"mode={self.mode!r}", f"auth_header={self.auth_header!r}", f"timeout={self.timeout!r}"]
        return f"Config({', '.join(parts)})"

    __str__ = __repr__


def price_model(name: str) -> str | None:
    """new-api's billing model for a price name: "imagine" or "mj_imagine" -> "mj_imagine"."""
    name = name.strip().lower().replace("-", "_").replace(" ", "_")
    for candidate in (name, "mj_" + name):
        if candidate in PRICED_MODELS:
            return candidate
    return "swap_face" if name == "mj_swap_face" else None


def _check_prices(prices) -> tuple | None:
    """Prices as ((model, USD), ...), checked: each bad entry is named in the error."""
    if prices is None:
        return None
    items = prices.items() if hasattr(prices, "items") else prices
    try:
        items = [(k, v) for k, v in items]
    except (TypeError, ValueError):
        raise ConfigError(f"prices must map actions to USD per call, like {{'imagine': 0.1}}, "
                          f"not {prices!r}") from None
    out = {}
    for name, usd in items:
        model = price_model(name) if isinstance(name, str) else None
        if model is None:
            raise ConfigError(f"prices[{name!r}]: not an action a relay prices; use one of "
                              f"{', '.join(m.removeprefix('mj_') for m in PRICED_MODELS)}")
        if isinstance(usd, bool) or not isinstance(usd, (int, float)) or not usd >= 0 or usd == float("inf"):
            raise ConfigError(f"prices[{name!r}] must be a number of USD >= 0, not {usd!r}")
        out[model] = float(usd)
    return tuple(sorted(out.items()))


def _check_key(key) -> None:
    """Refuse a key no server can take, without ever quoting it: a pasted key may carry an
    invisible character or a line break, and a URL in its place means swapped arguments."""
    if key is None:
        return
    if not isinstance(key, str):
        raise ConfigError(f"api_key must be a string, not {type(key).__name__}")
    if key.startswith(("http://", "https://")):
        raise ConfigError("api_key looks like a URL: are base_url and api_key swapped?")
    for i, ch in enumerate(key):
        if not ("!" <= ch <= "~"):  # printable ASCII, no spaces: what an HTTP header can carry
            what = "a space" if ch == " " else "a line break" if ch in "\r\n" else \
                f"an invisible or non-ASCII character (U+{ord(ch):04X})"
            raise ConfigError(f"api_key has {what} at position {i + 1} of {len(key)}; copy the key "
                              f"again (it is not shown here)")


def _normalise_base_url(url: str | None) -> str | None:
    """https://relay, https://relay/ , https://relay/mj and https://relay/mj/ all mean the same."""
    if url is None:
        return None
    if not isinstance(url, str):
        raise ConfigError(f"base_url must be a string like 'https://relay.example', not {type(url).__name__}")
    text = url.strip().rstrip("/")
    if not text:
        return None
    parts = urlsplit(text)
    # the value itself is never quoted: a swapped argument or a pasted ?key= would put the key
    # into the message
    if parts.scheme not in ("http", "https") or not parts.netloc:
        swapped = " (it looks like an API key: are base_url and api_key swapped?)" if \
            re.match(r"(sk-|Bearer\s)", text) or "://" not in text else ""
        raise ConfigError(f"base_url must start with http:// or https:// and name a host, like "
                          f"'https://relay.example'; the value given does not{swapped}")
    if parts.query or parts.fragment:
        raise ConfigError(f"base_url must not carry a query or fragment (got one after "
                          f"{parts.scheme}://{parts.hostname}); give the key as api_key")
    while text.endswith("/mj"):
        text = text[:-3].rstrip("/")
    return text
