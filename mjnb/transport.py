"""The HTTP side of mjnb: one method per Midjourney-proxy endpoint over a requests.Session.

It speaks every flavour of the spec and returns data (task snapshots, submit results) or typed
errors: it retries only what is safe to retry, finishes every call within one deadline and size
cap, sends the API key only to the relay's own origin, and never lets it reach a message or a
log. It knows nothing of Tasks, threads, widgets or disk; mjnb.client builds those on top.
"""

from __future__ import annotations

import codecs
import json
import logging
import random
import re
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import NewConnectionError

from . import errors as E
from .config import Config
from .images import ImageTooLargeError, check_image
from .models import SubmitResult, TaskSnapshot

log = logging.getLogger("mjnb")

RETRY_STATUSES = (429, 502, 503, 504)
MAX_RETRY_AFTER = 30.0  # longer waits are the caller's decision: we raise RateLimitedError instead
LIST_CHUNK = 100
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 3  # same-origin hops an API call follows (a relay moving /mj behind a slash, say)
READ_CHUNK = 16384  # at most this much per socket read: the deadline is checked between reads
ERROR_BODY_BYTES = 64 * 1024  # an error answer is only quoted, so its start is enough

class _KeyAuth(requests.auth.AuthBase):
    """Adds the key per request, so it never sits in session headers that someone may print.
    Only requests to the relay's own origin get it (see Client._request)."""

    def __init__(self, headers: dict):
        self._headers = headers

    def __call__(self, request):
        request.headers.update(self._headers)
        return request

    def __repr__(self) -> str:
        return "<mjnb key auth>"



class Transport:
    """HTTP to one relay: answers as models, failures as typed errors."""

    def __init__(self, config: Config, session: requests.Session | None = None):
        self.config = config
        self.session = session or requests.Session()
        self._auth = _KeyAuth(config.auth_headers())
        # new-api's quota routes read only "Authorization: Bearer" (mj-api-secret counts on /mj alone)
        self._bearer = _KeyAuth({"Authorization": f"Bearer {config.api_key}"} if config.api_key else {})
        self._origin = _origin(config.base_url)  # the only origin the key is sent to
        self._dropped_rows = 0  # malformed rows a list answer carried: the first is logged loudly

    def close(self) -> None:
        self.session.close()

    def __repr__(self) -> str:
        return f"<mjnb.Transport {self.config.base_url} auth={self.config.auth_header}>"

    # ------------------------------------------------------------ endpoints

    def submit(self, path: str, body: dict) -> SubmitResult:
        """POST a submit once (never retried once it may have been sent): the accepted answer, or
        the error its code stands for; an answer without a task id raises, maybe_submitted."""
        endpoint = f"POST {path}"
        data = self._json("POST", path, endpoint, kind="submit", idempotent=False, body=body)
        result = self._check_code(SubmitResult.parse(data) if isinstance(data, Mapping) else
                                  SubmitResult(code=0), endpoint, "submit", data)
        if not result.ids:
            lost = E.ServerError("the submit was accepted but no task id came back", endpoint=endpoint,
                                 code=result.code, server_message=self._scrub(result.description))
            lost.maybe_submitted = True  # accepted: the task exists
            raise lost
        return result

    def fetch(self, task_id: str) -> TaskSnapshot:
        """GET /mj/task/{id}/fetch: the task as the server sees it now."""
        ident = arg_id(task_id, "task_id")
        endpoint = f"GET /mj/task/{ident}/fetch"
        data = self._json("GET", f"/mj/task/{ident}/fetch", endpoint, kind="task", idempotent=True)
        return self._snapshot(data, endpoint)

    def list_by_condition(self, ids: Iterable[str]) -> list[TaskSnapshot]:
        """POST /mj/task/list-by-condition: many tasks in one request; unknown ids are left out."""
        wanted = list(dict.fromkeys(arg_id(i, "ids") for i in ids))
        out: list[TaskSnapshot] = []
        endpoint = "POST /mj/task/list-by-condition"
        deadline = time.monotonic() + self.config.timeout  # one deadline for all chunks
        for start in range(0, len(wanted), LIST_CHUNK):
            data = self._json("POST", "/mj/task/list-by-condition", endpoint, kind="list", idempotent=True,
                              body={"ids": wanted[start:start + LIST_CHUNK]}, deadline=deadline)
            if not isinstance(data, list):
                raise E.TransportError("expected a JSON array of tasks", endpoint=endpoint,
                                       server_message=self._scrub(json.dumps(data)[:300]))
            for item in data:  # one malformed row (an id like '../../x') must not hide the others
                try:
                    out.append(self._snapshot(item, endpoint))
                except E.TransportError as exc:
                    self._dropped_rows += 1
                    (log.warning if self._dropped_rows == 1 else log.debug)(
                        "mjnb: %s; that row is ignored (the server's other tasks are not)", exc.summary)
        return out

    def image_seed(self, task_id: str) -> str:
        """GET /mj/task/{id}/image-seed: the seed Midjourney used (a string)."""
        ident = arg_id(task_id, "task_id")
        endpoint = f"GET /mj/task/{ident}/image-seed"
        data = self._json("GET", f"/mj/task/{ident}/image-seed", endpoint, kind="seed", idempotent=True)
        result = self._check_code(SubmitResult.parse(data), endpoint, "seed")
        seed = result.task_id  # the same tolerant number-or-string handling as ids
        if not seed:
            raise E.ServerError("the answer carried no seed", endpoint=endpoint,
                                server_message=result.description)
        return seed

    def task_list(self) -> list:
        """GET /mj/task/list (novicezk: every stored task; trueai: the newest 100), raw."""
        endpoint = "GET /mj/task/list"
        data = self._json("GET", "/mj/task/list", endpoint, kind="list", idempotent=True)
        if not isinstance(data, list):
            raise E.TransportError("expected a JSON array of tasks", endpoint=endpoint,
                                   server_message=self._scrub(json.dumps(data)[:300]))
        return data

    def download(self, url: str, *, timeout: float | None = None) -> bytes:
        """An image's bytes (size- and pixel-capped, must decode), within `timeout` s (at most
        config.timeout). Never sent with the key: image URLs (the relay's /mj/image/<id>, Discord's
        CDN) need none, and often point at another host or at plain http."""
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise E.ValidationError(f"url must be an http(s) URL, not {url!r}", field="url")
        endpoint = f"GET {_short_url(url)}"
        deadline = None if timeout is None else time.monotonic() + timeout
        answer = self._send("GET", url, endpoint, idempotent=True, key=False, cap="max_image_bytes",
                            deadline=deadline)
        if answer.status_code in (403, 404, 410):
            raise E.NotFoundError("the image is gone: its signed URL has expired (Discord links last "
                                  "about 24 h) or it never existed", endpoint=endpoint,
                                  http_status=answer.status_code, server_message=self._body_text(answer),
                                  hint="Use the copy in mjnb's image cache, or fetch the task again for a fresh URL")
        if answer.status_code >= 300:
            self._raise_http(answer, endpoint, kind="image")
        try:  # header checks only: nothing is decoded here
            check_image(answer.content, "image", self.config.max_image_bytes, self.config.max_image_pixels)
        except E.ValidationError as exc:
            what = "an image mjnb refuses" if isinstance(exc, ImageTooLargeError) else "something that is not an image"
            raise E.ServerError(f"the server sent {what} ({exc.summary})", endpoint=endpoint,
                                http_status=answer.status_code) from None
        return bytes(answer.content)

    def token_usage(self) -> Mapping:
        """GET /api/usage/token/ (new-api): the key's quota counters in the relay's units, as
        {"total_granted", "total_used", "total_available", "unlimited_quota", ...}."""
        data = self._money("/api/usage/token/")
        inner = data.get("data")
        if data.get("code") is not True or not isinstance(inner, Mapping):
            raise E.UnsupportedEndpointError("the server's answer is not a key's usage",
                                             endpoint="GET /api/usage/token/",
                                             server_message=self._scrub(json.dumps(data, ensure_ascii=False)[:300]))
        return inner

    def billing(self, which: str) -> Mapping:
        """GET /v1/dashboard/billing/<subscription|usage>: the OpenAI-style view, in USD
        (usage's total_usage in cents)."""
        if which not in ("subscription", "usage"):
            raise E.ValidationError(f"which must be subscription or usage, not {which!r}", field="which")
        return self._money(f"/v1/dashboard/billing/{which}")

    def _money(self, path: str) -> Mapping:
        """A quota route: on the relay's own origin (no mode prefix), the key as a Bearer token."""
        endpoint = f"GET {path}"
        answer = self._send("GET", (self.config.base_url or "") + path, endpoint, idempotent=True,
                            auth=self._bearer)
        if answer.status_code >= 300 or answer.status_code == 204:
            self._raise_http(answer, endpoint, kind="money")
        try:
            data = json.loads(answer.text)
        except ValueError:
            data = None
        if not isinstance(data, Mapping):  # a relay's dashboard page, say: the route is not there
            raise E.UnsupportedEndpointError("the server answered with something other than its quota",
                                             endpoint=endpoint, http_status=answer.status_code,
                                             server_message=self._scrub(_page_text(answer.text)[:300]))
        if isinstance(data.get("error"), Mapping):  # new-api's billing routes fail with HTTP 200
            raise E.ServerError("the server could not read the quota", endpoint=endpoint,
                                server_message=self._scrub(str(data["error"].get("message") or "")))
        return data

    # ------------------------------------------------------------ internals: sending

    def _url(self, path: str) -> str:
        return self.config.api_root + path

    def _send(self, method: str, url: str, endpoint: str, *, idempotent: bool, body=None, key: bool = True,
              cap: str = "max_json_bytes", deadline: float | None = None,
              auth: "_KeyAuth | None" = None) -> "_Answer":
        """One call, over within one deadline (config.timeout, or an earlier `deadline`) that covers
        connecting, retries, redirects and the whole answer, whose size is capped by the Config
        setting named `cap`. Retries only what is safe: idempotent calls on connection errors, 429
        and 502/503/504; submits only when the connection was never made."""
        started = time.monotonic()
        deadline = min(deadline or float("inf"), started + self.config.timeout)
        attempts = 1 + self.config.retries
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                answer = self._request(method, url, endpoint, body, key, cap, deadline, idempotent, auth)
            except (requests.ConnectionError, requests.Timeout) as exc:
                never_sent = _never_sent(exc)
                log.debug("%s failed after %.3fs: %s", endpoint, time.monotonic() - started,
                          exc.__class__.__name__)
                if not last and (idempotent or never_sent) and self._pause(attempt, None, deadline):
                    continue
                raise self._transport_error(exc, url, endpoint, idempotent, never_sent, deadline - started) from None
            log.debug("%s -> HTTP %s in %.3fs", endpoint, answer.status_code, time.monotonic() - started)
            if idempotent and not last and answer.status_code in RETRY_STATUSES:
                wait = _retry_after(answer)
                if (wait is None or wait <= MAX_RETRY_AFTER) and self._pause(attempt, wait, deadline):
                    continue
            return answer
        raise AssertionError("unreachable")

    def _request(self, method: str, url: str, endpoint: str, body, key: bool, cap: str, deadline: float,
                 idempotent: bool, auth: "_KeyAuth | None" = None) -> "_Answer":
        """Send once and read the whole answer. Redirects are followed by hand: API calls (with the
        key) only within the relay's own origin, since requests would carry a custom key header
        anywhere; downloads (never with the key) wherever they lead."""
        for _ in range(MAX_REDIRECTS + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise requests.ConnectTimeout("no time left to send the request")
            resp = self.session.request(method, url, json=body, auth=(auth or self._auth) if key else None,
                                        allow_redirects=False, stream=True, timeout=left)
            try:
                status, location = resp.status_code, resp.headers.get("Location")
                if status not in REDIRECTS or not location:
                    return self._read(resp, endpoint, cap, deadline, idempotent)
            finally:
                resp.close()
            target = urljoin(url, location)
            if key and _origin(target) != self._origin:
                raise E.TransportError(
                    f"the relay redirected this call to another address, {_origin_text(target)}; mjnb did not "
                    f"follow it, so the API key was not sent there", endpoint=endpoint, http_status=status,
                    maybe_submitted=not idempotent and status not in (307, 308),
                    hint="Set base_url to that address if it is really your relay (mjnb.configure(base_url=...) "
                         "or MJNB_BASE_URL); otherwise tell the relay's operator")
            if key and not idempotent and status not in (307, 308):  # only 307/308 say "not done, repeat it"
                raise E.TransportError(f"the relay answered the submit with a redirect (HTTP {status})",
                                       endpoint=endpoint, http_status=status, maybe_submitted=True,
                                       hint="The task may exist: look for it (mjnb.history()) before "
                                            "submitting again, and check base_url")
            url = target
        raise E.TransportError(f"more than {MAX_REDIRECTS} redirects", endpoint=endpoint,
                               maybe_submitted=not idempotent, hint="Check base_url; the relay redirects in a loop")

    def _read(self, resp: requests.Response, endpoint: str, cap: str, deadline: float,
              idempotent: bool) -> "_Answer":
        """The whole body, read in small pieces so the deadline is checked as it trickles in and
        the size cap holds memory down (an error answer is cut short instead: it is only quoted)."""
        status = resp.status_code
        limit = getattr(self.config, cap) if status < 300 else ERROR_BODY_BYTES
        declared = resp.headers.get("Content-Length", "")
        if status < 300 and declared.isdigit() and int(declared) > limit:
            raise self._too_large(endpoint, cap, status, idempotent)
        sock = getattr(getattr(resp.raw, "connection", None), "sock", None)
        data = bytearray()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise requests.ReadTimeout("the answer did not finish in time")
                if sock is not None:
                    sock.settimeout(left)  # a server gone silent also ends at the deadline
                chunk = resp.raw.read1(READ_CHUNK, decode_content=True)  # one socket read at most
                if not chunk:
                    break
                data += chunk
                if len(data) > limit:
                    if status >= 300:
                        del data[limit:]
                        break
                    raise self._too_large(endpoint, cap, status, idempotent)
        except requests.RequestException:
            raise
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
            raise requests.ReadTimeout(exc.__class__.__name__) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise requests.ConnectionError(exc.__class__.__name__) from None
        return _Answer(status, resp.headers, data)

    def _too_large(self, endpoint: str, cap: str, status: int, idempotent: bool) -> E.TransportError:
        return E.TransportError(f"the answer is larger than {cap} ({getattr(self.config, cap) / 1e6:.1f} MB), so mjnb "
                                f"stopped reading it", endpoint=endpoint, http_status=status,
                                maybe_submitted=not idempotent,
                                hint=f"If the relay really sends answers this large, raise {cap} "
                                     f"(mjnb.configure({cap}=...) or MJNB_{cap.upper()})")

    def _pause(self, attempt: int, retry_after: float | None, deadline: float) -> bool:
        """Sleep before a retry; False (and no sleep) when the retry could not start before `deadline`."""
        if retry_after is not None:
            delay = retry_after
        else:  # exponential backoff with full jitter
            delay = random.uniform(0, self.config.backoff * (2 ** attempt))
        delay = min(delay, MAX_RETRY_AFTER)
        if time.monotonic() + delay >= deadline:
            return False
        time.sleep(delay)
        return True

    def _transport_error(self, exc: Exception, url: str, endpoint: str, idempotent: bool, never_sent: bool,
                         seconds: float) -> E.TransportError:
        host = _origin_text(url).partition("://")[2]  # the relay, or an image host
        if isinstance(exc, requests.Timeout):  # every timeout is the call's deadline running out
            kind = f"the call to {host} did not finish within {seconds:.3g} s"
        elif never_sent:
            kind = f"could not connect to {host}"
        else:
            kind = f"lost the connection to {host}"
        maybe = not idempotent and not never_sent
        hint = ("The request was sent but no answer came back: the task may exist. Look for it "
                "(mjnb.history(), or list your recent tasks) before submitting again" if maybe else
                "The relay or the network is slow; try again, or raise timeout (mjnb.configure(timeout=...) "
                "or MJNB_TIMEOUT)" if isinstance(exc, requests.Timeout) else
                "Check the base URL and your network, then try again")
        return E.TransportError(f"{kind} ({exc.__class__.__name__})", endpoint=endpoint,
                                maybe_submitted=maybe, hint=hint)

    def _json(self, method: str, path: str, endpoint: str, *, kind: str, idempotent: bool, body=None,
              deadline: float | None = None):
        """Send, then return the decoded JSON of a good answer or raise the matching error."""
        answer = self._send(method, self._url(path), endpoint, idempotent=idempotent, body=body, deadline=deadline)
        if answer.status_code >= 300 or answer.status_code == 204:
            self._raise_http(answer, endpoint, kind)
        text = answer.text
        if not text.strip():
            if kind in ("task", "seed"):  # the open-source proxy answers an unknown id with 200 and nothing
                raise self._not_found(endpoint, answer.status_code, "(empty body)")
            raise E.TransportError("the server answered with an empty body", endpoint=endpoint,
                                   http_status=answer.status_code, maybe_submitted=kind == "submit",
                                   hint="Try again; if it persists, the relay is broken")
        try:
            return json.loads(text)
        except ValueError:
            raise E.TransportError("the answer is not JSON", endpoint=endpoint, http_status=answer.status_code,
                                   maybe_submitted=kind == "submit",
                                   server_message=self._scrub(_page_text(text)),
                                   hint="Check that the base URL points at the relay's API, not its web page") from None

    # ------------------------------------------------------------ internals: reading answers

    def _snapshot(self, data, endpoint: str) -> TaskSnapshot:
        try:
            return TaskSnapshot.parse(data)
        except (TypeError, ValueError) as exc:
            raise E.TransportError(f"the answer is not a task ({exc})", endpoint=endpoint,
                                   server_message=self._scrub(json.dumps(data, ensure_ascii=False)[:300])) from None

    def _scrub(self, text: str) -> str:
        key = self.config.api_key
        if key and text:
            text = text.replace(key, "***")
            if key.startswith("sk-"):
                text = text.replace(key[3:], "***")
        return text

    def _body_text(self, resp: "_Answer") -> str:
        return self._scrub(_page_text(resp.text)) if resp.content else "(empty body)"

    def _not_found(self, endpoint: str, status: int | None, said: str | None, code: int | None = None) -> E.NotFoundError:
        return E.NotFoundError("no such task for this key", endpoint=endpoint, http_status=status, code=code,
                               server_message=said,
                               hint="Check the id; relays only show tasks created with the same key")

    def _raise_http(self, resp: "_Answer", endpoint: str, kind: str):
        """Raise the error an HTTP status >= 300 (or 204) stands for, per flavour."""
        status = resp.status_code
        said = self._body_text(resp)
        try:
            data = json.loads(resp.text) if resp.content else None
        except ValueError:
            data = None
        message = _message(data) if data is not None else None
        quoted = self._scrub(message) if message else said
        if status == 204:
            raise self._not_found(endpoint, status, "(empty body)")
        if status in (401, 403):
            quota = any(w in (quoted or "") for w in ("额度", "quota"))
            cls = E.QuotaError if quota else E.AuthError
            raise cls("the server refused the key" if status == 401 else "the key may not do this",
                      endpoint=endpoint, http_status=status, server_message=quoted,
                      hint="Check MJNB_API_KEY, and MJNB_AUTH_HEADER (bearer, mj-api-secret, or authorization "
                           "for servers that compare the raw header)")
        if status == 429:
            raise E.RateLimitedError("too many requests", endpoint=endpoint, http_status=status,
                                     code=_code(data), server_message=quoted, retry_after=_retry_after(resp),
                                     hint=_wait_hint(_retry_after(resp)))
        if status >= 500:
            title = "an HTML error page" if "<html" in resp.text[:500].lower() else "an error"
            maybe = kind == "submit"
            raise E.ServerError(f"the server failed and answered with {title}", endpoint=endpoint,
                                http_status=status, code=_code(data), server_message=quoted,
                                hint=("The relay or its upstream failed; the task may or may not have been created, "
                                      "so look for it before submitting again" if maybe else
                                      "The relay or its upstream failed; try again in a minute"))
        if status == 404:
            if isinstance(data, Mapping) and _code(data) == 3:
                raise self._not_found(endpoint, status, quoted, 3)
            if kind == "image":
                raise self._not_found(endpoint, status, quoted)
            raise E.UnsupportedEndpointError("this server has no such endpoint", endpoint=endpoint,
                                             http_status=status, server_message=quoted,
                                             hint="The server's flavour lacks it (the open-source proxy has no "
                                                  "action/modal/shorten/seed/swap; TRUEAI v10+ has no change); "
                                                  "check the base URL too")
        if isinstance(data, Mapping) and _code(data) is not None:
            # relay 400 upstream_error envelopes and TRUEAI's 400 SubmitResults
            result = SubmitResult(code=_code(data), description=str(message or ""),
                                  properties=data.get("properties") or {})
            self._check_code(result, endpoint, kind, data, http_status=status)
        if message and "task_not_found" in message:  # relay /mj/image/{id}: {"error": "midjourney_task_not_found"}
            raise self._not_found(endpoint, status, quoted)
        if message and "unknown_action" in message:
            raise E.ValidationError("the relay does not accept this button", field="custom_id",
                                    endpoint=endpoint, http_status=status, server_message=quoted,
                                    hint="Relays take only upscale, variation, reroll, zoom, pan and vary buttons; "
                                         "describe/shorten picks, bookmarks and animate need a TRUEAI server")
        raise E.ValidationError("the server refused the request", endpoint=endpoint, http_status=status,
                                server_message=quoted, hint="Check the arguments against the error above")

    def _check_code(self, result: SubmitResult, endpoint: str, kind: str, data: Any = None,
                    http_status: int | None = None) -> SubmitResult:
        """Return an accepted SubmitResult; raise the error its code stands for (spec 4, 2.4)."""
        code, said = result.code, self._scrub(result.description.strip())
        if kind != "seed" and code in (1, 21, 22) or kind == "seed" and code == 1:
            return result
        kw = dict(endpoint=endpoint, http_status=http_status, code=code, server_message=said)
        if isinstance(data, Mapping) and data.get("success") is False and not code:
            said = self._scrub(str(data.get("message") or ""))
            kw.update(server_message=said, code=None)
            if "队列" in said:
                raise E.QueueFullError("the account's queue is full", hint=_QUEUE_HINT, **kw)
            if "上限" in said or "limit" in said.lower():
                raise E.QuotaError("a usage limit of this key is reached", hint="Wait for the limit to reset "
                                   "or raise it with the relay", **kw)
            raise E.ValidationError("the server refused the request", hint="Check the arguments", **kw)
        lowered = said.lower()
        if code == 24:
            word = (result.properties or {}).get("bannedWord") or None
            raise E.BannedPromptError("Midjourney's filter refused the prompt" + (f" (banned word {word!r})" if word else ""),
                                      banned_word=word, hint="Rephrase the prompt without that word", **kw)
        if code == 23 or (code in (4, 9) and "队列" in said):  # TRUEAI: code 9 队列已满, code 4 队列数已达上限
            raise E.QueueFullError("the account's queue is full", hint=_QUEUE_HINT, **kw)
        if code == 30:
            raise E.RateLimitedError("the relay's group is saturated", hint=_wait_hint(None), **kw)
        if code == 5 or code == 9:
            raise E.ServerError("the relay or its upstream failed", hint="Try again in a minute; if it persists, "
                                "tell the relay", **kw)
        if code == 3 and ("账号" in said or "account" in lowered):
            raise E.ServerError("the server has no Midjourney account available", hint="Try again later or "
                                "tell the relay", **kw)
        if code == 3 and "seed" in lowered:  # 未找到 seed: Midjourney did not answer within 60 s (spec 3.4)
            raise E.ServerError("Midjourney did not return the seed in time", hint="Try again in a minute",
                                **kw)
        if code == 3 or "task_no_found" in lowered or "task_not_found" in lowered:
            raise self._not_found(endpoint, http_status, said, code)
        if "task_status_not_success" in lowered or "状态错误" in said:
            raise E.ParentNotReadyError("the task is not finished (as the server sees it)", field="task_id",
                                        hint="Wait until it shows SUCCESS (relays sync every ~15 s), then try again",
                                        **kw)
        if "quota_not_enough" in lowered or "上限" in said or "额度" in said:
            raise E.QuotaError("the key's quota is spent", hint="Top up or wait for the limit to reset", **kw)
        if code == 4 or http_status == 400:
            raise E.ValidationError("the server refused the request", hint="Check the arguments against the "
                                    "server's words above", **kw)
        raise E.ServerError(f"unexpected answer code {code}", hint="Check the relay's documentation", **kw)


_QUEUE_HINT = ("The account runs 3 jobs and queues 10: wait for some to finish (mjnb.experiment "
               "waits for you), then submit again")


def _wait_hint(seconds: float | None) -> str:
    return f"Wait {seconds:g} s and try again" if seconds else "Slow down and try again shortly"


def _code(data: Any) -> int | None:
    if isinstance(data, Mapping) and isinstance(data.get("code"), (int, float)) and not isinstance(data.get("code"), bool):
        return int(data["code"])
    return None


def _message(data: Any) -> str | None:
    """The human text of any error envelope: MJ description, OpenAI error.message, plain message."""
    if isinstance(data, Mapping):
        err = data.get("error")
        if isinstance(err, Mapping) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str):
            return err
        for key in ("description", "message", "title", "detail"):
            if data.get(key):
                return str(data[key])
    return None


def _page_text(text: str) -> str:
    """An HTML error page shown by its title; anything else trimmed."""
    m = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
    if m:
        return m[1].strip()
    return re.sub(r"\s+", " ", text).strip()[:300]


@dataclass(frozen=True)
class _Answer:
    """A whole HTTP answer, read within its call's deadline and size cap."""

    status_code: int
    headers: CaseInsensitiveDict
    content: bytearray  # not copied to bytes: json.loads reads it as it is

    @property
    def text(self) -> str:
        """The body decoded by its declared charset, else UTF-8 (relays' Chinese texts are UTF-8)."""
        m = re.search(r"charset=[\"']?([\w.:-]+)", self.headers.get("Content-Type", ""), re.I)
        charset = "utf-8"
        if m:
            try:
                charset = codecs.lookup(m[1]).name
            except LookupError:
                pass
        return self.content.decode(charset, errors="replace")


def _origin(url: str | None) -> tuple:
    """(scheme, host, port) of a URL: the key may only go where this equals the relay's."""
    parts = urlsplit(url or "")
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # a malformed port: matches nothing
        port = parts.netloc
    return scheme, (parts.hostname or "").lower(), port


def _origin_text(url: str) -> str:
    """scheme://host[:port] of a URL, without user info, path or query (which may hold secrets)."""
    scheme, host, port = _origin(url)
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + ("" if port == default else f":{port}")


def _retry_after(resp: "_Answer") -> float | None:
    value = resp.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _never_sent(exc: Exception) -> bool:
    """True when the connection was never made, so even a submit is safe to repeat."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", None)
    return isinstance(inner, NewConnectionError) or isinstance(reason, NewConnectionError)


def _short_url(url: str) -> str:
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def arg_text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise E.ValidationError(f"{field} must be a non-empty string, not {value!r}", field=field)
    return value.strip()


def arg_prompt(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise E.ValidationError(f"{field} must be a non-empty string such as 'a pig in space --ar 3:2', "
                                f"not {value!r}", field=field)
    return value.strip()


def arg_id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise E.ValidationError(f"{field} must be a task id (a string of digits), not {value!r}", field=field)
    text = str(value).strip()
    if not text or not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", text):
        raise E.ValidationError(f"{field} must be a task id (a string of digits), not {value!r}", field=field)
    return text


def arg_list(value: Any, field: str) -> list:
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Sequence):
        raise E.ValidationError(f"{field} must be a list of images", field=field)
    return list(value)


def arg_bot(value: str) -> str:
    text = str(value or "").strip().upper()
    if text in ("MJ", "MID_JOURNEY", "MIDJOURNEY"):
        return "MID_JOURNEY"
    if text in ("NIJI", "NIJI_JOURNEY"):
        return "NIJI_JOURNEY"
    raise E.ValidationError(f"bot must be 'mj' or 'niji', not {value!r}", field="bot")

