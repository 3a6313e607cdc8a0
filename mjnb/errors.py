"""One exception hierarchy for every error envelope of the spec (sections 2.3, 2.4 and 4).

Every message names the endpoint, quotes what the server said and says what to do next.
None carries the API key: the client scrubs it from server text before building one.
"""

from __future__ import annotations


class MjnbError(Exception):
    """Base of every mjnb error."""

    def __init__(self, message: str, *, endpoint: str | None = None, http_status: int | None = None,
                 code: int | None = None, server_message: str | None = None, hint: str | None = None,
                 task_id: str | None = None):
        self.endpoint = endpoint
        self.http_status = http_status
        self.code = code
        self.server_message = server_message
        self.hint = hint
        self.task_id = task_id
        self.summary = message
        super().__init__(self._compose())

    def _compose(self) -> str:
        return ". ".join(part for part in self._parts() if part)

    def _parts(self) -> tuple[str, str, str]:
        """What failed, what the server said, what to do ('' where there is nothing to say)."""
        text = f"{self.endpoint}: {self.summary}" if self.endpoint else self.summary
        status = []
        if self.http_status is not None:
            status.append(f"HTTP {self.http_status}")
        if self.code is not None:
            status.append(f"code {self.code}")
        said = ""
        if self.server_message:
            quoted = self.server_message if len(self.server_message) <= 300 else self.server_message[:297] + "..."
            said = f"The server said ({', '.join(status) or 'no status'}): \"{quoted}\""
        elif status:
            text += f" ({', '.join(status)})"
        return text, said, self.hint or ""

    def _render_traceback_(self) -> list[str]:
        """How IPython shows this error when a cell raises it: what failed, the server's words and
        what to do, in at most 4 lines; the traceback through mjnb's internals is one %tb away
        (IPython asks again for the same error then, and gets the whole traceback)."""
        if getattr(self, "_shown_short", False):
            return _full_traceback(self)
        self._shown_short = True
        what, said, hint = self._parts()
        lines = [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {what}"]
        lines += [said] if said else []
        lines += [f"What to do: {hint}"] if hint else []
        lines.append("\x1b[2m(the full traceback: run %tb)\x1b[0m")
        return lines


def _full_traceback(exc: BaseException) -> list[str]:
    """IPython's own rendering of the traceback, or the standard library's outside IPython."""
    try:
        from IPython import get_ipython
        shell = get_ipython()
        if shell is not None:
            return shell.InteractiveTB.structured_traceback(type(exc), exc, exc.__traceback__)
    except Exception:  # no IPython, or its formatter failed: the plain traceback still helps
        pass
    import traceback
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).splitlines()


class ConfigError(MjnbError, ValueError):
    """A setting is invalid; the message names it and what is allowed."""


class ValidationError(MjnbError, ValueError):
    """The request was refused as invalid (code 4, relay 400 request errors, or a client-side check)."""

    def __init__(self, message: str, *, field: str | None = None, **kw):
        self.field = field
        super().__init__(message, **kw)


class ParentNotReadyError(ValidationError):
    """An action was sent for a task that has not reached SUCCESS (yet, as the relay sees it)."""


class AuthError(MjnbError):
    """401 or 403: the key is missing, wrong, expired, out of quota for that model, or banned."""


class QuotaError(AuthError):
    """The key's quota or daily limit is spent."""


class RateLimitedError(MjnbError):
    """429 or code 30: too many requests; `retry_after` is in seconds when the server said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        self.retry_after = retry_after
        super().__init__(message, **kw)


class QueueFullError(MjnbError):
    """Code 23 (or TRUEAI code 9 with the queue text): the account runs 3 jobs and queues 10."""


class BannedPromptError(ValidationError):
    """Code 24: Midjourney's banned-word filter refused the prompt; `banned_word` names the word."""

    def __init__(self, message: str, *, banned_word: str | None = None, **kw):
        self.banned_word = banned_word
        super().__init__(message, field="prompt", **kw)


class NotFoundError(MjnbError):
    """The task does not exist for this key (code 3, HTTP 404/204, task_no_found, task_not_found)."""


class UnsupportedEndpointError(NotFoundError):
    """The server has no such route (e.g. /submit/action on the open-source proxy)."""


class ServerError(MjnbError):
    """The server or relay failed: 5xx, HTML error pages, code 5, code 9 system errors."""


class TransportError(ServerError):
    """No usable answer: connection refused or dropped, timeout, empty or non-JSON body."""

    def __init__(self, message: str, *, maybe_submitted: bool = False, **kw):
        self.maybe_submitted = maybe_submitted
        super().__init__(message, **kw)


class TaskFailedError(MjnbError):
    """The task ended in FAILURE; `fail_reason` is Midjourney's or the relay's text."""

    def __init__(self, message: str, *, fail_reason: str | None = None, **kw):
        self.fail_reason = fail_reason
        super().__init__(message, server_message=fail_reason, **kw)


class TaskTimeoutError(MjnbError, TimeoutError):
    """wait(timeout=) ran out before the task finished."""


class HistoryWarning(UserWarning):
    """The history cannot be written (read-only or full MJNB_HOME): tasks still run, nothing is kept.

    Issued once per history; silence it with warnings.filterwarnings("ignore", category=...)."""


__all__ = [name for name in dir() if name.endswith("Error")]
