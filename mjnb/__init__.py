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
from .errors import (AuthError, BannedPromptError, ConfigError, HistoryWarning, MjnbError, NotFoundError,
                     ParentNotReadyError, QueueFullError, QuotaError, RateLimitedError, ServerError,
                     TaskFailedError, TaskTimeoutError, TransportError, UnsupportedEndpointError,
                     ValidationError)
from .images import ImageInput
from .money import Balance, Money
from .models import Button, ButtonKind, SubmitResult, TaskAction, TaskSnapshot, TaskStatus
from .experiment import Experiment
from .task import Task
from . import widgets  # noqa: F401,E402  (registers the card as the Task's view)

__version__ = "0.1.0"

_lock = threading.Lock()
_config: Config | None = None
_client: Client | None = None
_history: Any = True  # True: a History in MJNB_HOME; False: keep none
_retired: list[Client] = []  # earlier default clients whose built-in simulator still serves held tasks


def configure(*, history: Any = True, **settings: Any) -> Config:
    """Set how the default client reaches the relay: base_url, api_key, mode, auth_header, timeout...

    Arguments override MJNB_* environment variables. The next call builds a new default client.
    `history=False` keeps no history and no image cache (for a read-only or full disk).
    Tasks made on the built-in simulator before stay usable: their simulator keeps running."""
    global _config, _client, _history
    config = Config.from_env(**settings)
    with _lock:
        old, _config, _client, _history = _client, config, None, history
    _retire(old, config)
    return config


def _retire(old: Client | None, config: Config) -> None:
    """Close the previous default client, unless it runs the built-in simulator for tasks someone still
    holds: their cards, buttons and wait() need it, so it keeps running and says so (and is closed at a
    later configure() once none of its tasks is held any more)."""
    for earlier in list(_retired):
        if not len(earlier._tasks):
            _retired.remove(earlier)
            earlier.close()
    if old is None:
        return
    held = len(old._tasks)
    if not (old.is_simulator and held):
        old.close()
        return
    _retired.append(old)
    where = "the configured relay" if config.base_url else "a new built-in simulator"  # no URL: it may hold secrets
    print(f"mjnb: new tasks go to {where}; the built-in simulator at {old.config.base_url} keeps running "
          f"for the {held} task{'s' if held != 1 else ''} made on it, so their buttons still work", flush=True)


def default_client() -> Client:
    """The client behind mjnb.imagine & co.; starts the simulator when no relay is configured."""
    global _client
    with _lock:
        if _client is None:
            _client = Client(config=_config or Config.from_env(), history=_history)
        return _client


def imagine(prompt: str, **kwargs: Any) -> Task:
    """Submit a prompt; returns the live Task. See Client.imagine for images, bot, state, and
    validate=False (send parameters the pre-submit check would refuse)."""
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


def experiment(prompts: str | Sequence[str], params: dict | None = None, **kwargs: Any) -> Experiment:
    """Submit prompts × parameter values × repeats in the background, at most `concurrency` live
    tasks at once; the same `name` again resumes it. See Experiment for repeats, concurrency, name,
    mode, bot, and budget (USD: never crossed; exp.money() shows spent, committed, remaining)."""
    return Experiment(default_client(), prompts, params, **kwargs)


def balance() -> Balance:
    """The key's remaining quota on the relay (its quota units and USD), read now. On a server that
    does not show it, the answer says so (`.offered` is False, `.text` says why) rather than raising."""
    return default_client().balance()


def task(task_id: str) -> Task:
    """A live handle on an existing task."""
    return default_client().task(task_id)


def tasks(ids: Iterable[str]) -> list[Task]:
    """Live handles on many tasks, fetched in one batched request."""
    return default_client().tasks(ids)


def history(**filters: Any):
    """Every task the default client's history holds, one row per task, as a pandas DataFrame.

    Filters: since=, until= (timestamps or strings), status=, action= (a value or a list),
    prompt= (text the prompt contains), tag=, experiment=, server=. Columns: id, parent_id,
    root_id, action, button, prompt, prompt_en, final_prompt, text, image_prompts, one column
    per Midjourney parameter (version, niji, aspect, stylize, chaos, quality, seed, style,
    weird, tile, no, iw, sref, cref, sw, cw, p, repeat, stop, raw, draft), other (unknown
    parameters), status, fail_reason, submit/start/finish (UTC timestamps), queue_s, run_s,
    total_s, image_path, thumb_path, image_url, mode, server, simulator, tags, rating, note,
    experiment, state, progress, custom_id, price (USD charged at submit, when known: configured
    with mjnb.configure(prices=...) or learned from the balance) and cost (the price, or 0 once the
    task failed: relays refund failures; NaN when the price is unknown).

    A submit whose outcome is unknown (sent, and its answer was lost or never came: the task may
    exist and be charged) is a row too: status UNKNOWN, no id, its prompt and state, and the
    reason in fail_reason. `history(status="UNKNOWN")` lists them; mjnb.resume() looks for their
    tasks again where the server can list tasks."""
    return _history_store().dataframe(**filters)


def snapshots(task_ids: Iterable[str] | None = None):
    """The progress timeline: task_id, time, status, progress, elapsed_s since submit."""
    return _history_store().snapshots(task_ids)


def fill_seeds() -> int:
    """Ask the server for the seed of every successful task that has none yet; returns how many."""
    client = default_client()
    store = _history_store()
    done = 0
    for server, task_id in store.missing_seeds():
        if server != client.config.host:
            continue
        store.set_seed(server, task_id, client.image_seed(task_id))
        done += 1
    return done


def resume(display: bool = False) -> list[Task]:
    """Re-attach tracking (and cards, with display=True) to tasks unfinished when the kernel stopped.

    First, submits whose answer was lost or never recorded are looked for again (trueai and
    novicezk servers list tasks; each submit's unique state finds its task), so a task that
    exists stops being 'outcome unknown'. On a relay they stay UNKNOWN rows in mjnb.history()."""
    client = default_client()
    store = _history_store()
    try:
        client.reconcile()
    except MjnbError as exc:  # the listing failed: the rows stay UNKNOWN; try again later
        import logging
        logging.getLogger("mjnb").warning("could not look for tasks of unanswered submits: %s", exc)
    ids = store.unfinished(client.config.host)
    found = {s.id: s for s in client.list_by_condition(ids)} if ids else {}
    tasks = [client._handle(found[i]) for i in ids if i in found]
    for task in tasks:
        if task.done:  # it finished while no kernel watched: the history learns it now, or every
            client._record_seen(task)  # later resume() would offer it again
    if display:
        from IPython.display import display as show
        for task in tasks:
            show(task)
    return tasks


def export(path: str) -> str:
    """Write the history as CSV (and Parquet when pyarrow is installed) with the images and a manifest."""
    from .exporter import export_history
    return export_history(_history_store(), path)


def _history_store():
    client = default_client()
    if client.history is None:
        raise MjnbError("the default client keeps no history; call mjnb.configure(history=True) for one")
    return client.history


__all__ = [
    "configure", "default_client", "balance", "Balance", "Money", "imagine", "blend", "describe", "shorten", "swap_face", "experiment", "Experiment", "task",
    "tasks", "history", "snapshots", "fill_seeds", "resume", "export", "Client", "Config", "Task", "TaskSnapshot", "TaskStatus", "TaskAction", "Button",
    "ButtonKind", "SubmitResult", "errors", "MjnbError", "ConfigError", "ValidationError",
    "ParentNotReadyError", "AuthError", "QuotaError", "RateLimitedError", "QueueFullError",
    "BannedPromptError", "NotFoundError", "UnsupportedEndpointError", "ServerError",
    "TransportError", "TaskFailedError", "TaskTimeoutError", "HistoryWarning",
]
