"""mjnb: Midjourney in Jupyter.

    import mjnb
    t = mjnb.imagine("pig --v 6.1")     # a live task; with no relay configured, the simulator

Module-level functions use one lazily created default Client, as requests.get sits over a
Session. `mjnb.configure(base_url=..., api_key=...)` (or MJNB_* variables) points it at a relay.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable, Sequence

from . import errors
from .client import Client
from .config import Config
from .errors import (AuthError, BannedPromptError, ConfigError, MjnbError, NotFoundError,
                     ParentNotReadyError, QueueFullError, QuotaError, RateLimitedError, ServerError,
                     TaskFailedError, TaskTimeoutError, TransportError, UnsupportedEndpointError,
                     ValidationError)
from .images import ImageInput
from .models import Button, ButtonKind, SubmitResult, TaskAction, TaskSnapshot, TaskStatus
from .task import Task

__version__ = "0.1.0"

_lock = threading.Lock()
_config: Config | None = None
_client: Client | None = None


def configure(**settings: Any) -> Config:
    """Set how the default client reaches the relay: base_url, api_key, mode, auth_header, timeout...

    Arguments override MJNB_* environment variables. The next call builds a new default client."""
    global _config, _client
    config = Config.from_env(**settings)
    with _lock:
        old, _config, _client = _client, config, None
    if old is not None:
        old.close()
    return config


def default_client() -> Client:
    """The client behind mjnb.imagine & co.; starts the simulator when no relay is configured."""
    global _client
    with _lock:
        if _client is None:
            _client = Client(config=_config or Config.from_env())
        return _client


def imagine(prompt: str, **kwargs: Any) -> Task:
    """Submit a prompt; returns the live Task. See Client.imagine for images, bot, state."""
    return default_client().imagine(prompt, **kwargs)


def blend(images: Sequence[ImageInput], **kwargs: Any) -> Task:
    """Blend 2 to 5 images (paths, bytes, PIL images, data URLs or URLs)."""
    return default_client().blend(images, **kwargs)


def describe(image: ImageInput, **kwargs: Any) -> Task:
    """Four prompts Midjourney reads from an image."""
    return default_client().describe(image, **kwargs)


def shorten(prompt: str, **kwargs: Any) -> Task:
    """Which words of a prompt matter, and five shorter prompts."""
    return default_client().shorten(prompt, **kwargs)


def swap_face(source: ImageInput, target: ImageInput, **kwargs: Any) -> Task:
    """Put the face of `source` into `target`."""
    return default_client().swap_face(source, target, **kwargs)


def task(task_id: str) -> Task:
    """A live handle on an existing task."""
    return default_client().task(task_id)


def tasks(ids: Iterable[str]) -> list[Task]:
    """Live handles on many tasks, fetched in one batched request."""
    return default_client().tasks(ids)


__all__ = [
    "configure", "default_client", "imagine", "blend", "describe", "shorten", "swap_face", "task",
    "tasks", "Client", "Config", "Task", "TaskSnapshot", "TaskStatus", "TaskAction", "Button",
    "ButtonKind", "SubmitResult", "errors", "MjnbError", "ConfigError", "ValidationError",
    "ParentNotReadyError", "AuthError", "QuotaError", "RateLimitedError", "QueueFullError",
    "BannedPromptError", "NotFoundError", "UnsupportedEndpointError", "ServerError",
    "TransportError", "TaskFailedError", "TaskTimeoutError",
]
