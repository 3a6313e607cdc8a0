"""The session over one relay: what users call (mjnb.Client), above the HTTP transport.

Every submit is recorded in the history before it is sent and completed after; answers become
live Task handles that the tracker keeps fresh; a submit whose answer was lost is looked for
again where the server can list tasks. The HTTP itself (deadlines, caps, the key's origin,
every error envelope) is mjnb.transport's; this module builds no widgets and touches no disk
itself (the injected History does).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import secrets
import threading
import weakref
from typing import Any, Iterable, Mapping, Sequence

import requests

from . import errors as E
from .config import Config, price_model
from .images import ImageInput, data_url, image_bytes, open_image, thumbnail_jpeg
from .money import Balance, billing_model, learned_price, read_balance
from .models import (EXPECTED_ACTION, SubmitResult, TaskAction, TaskSnapshot, TaskStatus, classify,
                     newest_per_id)
from .prompt_check import check_prompt
from .task import Task
from .transport import Transport, arg_bot, arg_id, arg_list, arg_prompt, arg_text


log = logging.getLogger("mjnb")

BLEND_DIMENSIONS = ("PORTRAIT", "SQUARE", "LANDSCAPE")
CHANGE_ACTIONS = ("UPSCALE", "VARIATION", "REROLL")
SIMULATOR_STATE = "simulator-state.pickle"  # in MJNB_HOME: the embedded simulator's finished tasks
SIMULATOR_NAME = "built-in simulator"  # the embedded simulator's server in the history
EMBEDDED_KEY = "sk-mjnb-built-in-simulator"  # the embedded simulator's key: a local toy, worth nothing
SIMULATOR_NOTICE = ("mjnb: no relay configured, so using the built-in simulator at {url} "
                    "(set MJNB_BASE_URL and MJNB_API_KEY, or call mjnb.configure(base_url=..., "
                    "api_key=...), to use a real relay)")


class Client:
    """A connection to one relay (or, with no base URL, to a simulator it starts itself)."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 config: Config | None = None, session: requests.Session | None = None,
                 announce: bool = True, history: Any = True, **settings: Any):
        if config is None:
            config = Config.from_env(base_url=base_url, api_key=api_key, **settings)
        elif base_url or api_key or settings:
            config = config.with_changes(**{k: v for k, v in
                                            dict(base_url=base_url, api_key=api_key, **settings).items()
                                            if v is not None})
        if history is True:  # the default: MJNB_HOME (or ~/.mjnb) keeps every submit and image
            from .store import History
            history = History()
        self.history = history or None  # a History, or None to keep nothing
        self._sim = None
        if config.base_url is None:
            from . import sim  # the simulator is an independent server; we only start it
            # beside the history, it keeps its finished tasks (and port) for the next kernel, as a
            # relay would: a same-name experiment then finds its tasks instead of submitting anew
            home = getattr(self.history, "home", None)
            state = str(home / SIMULATOR_STATE) if home is not None else None
            self._sim = sim.start(state_file=state)
            # one name in the history whatever port it got (another kernel may hold the last one)
            # and a key of its own, so the simulated relay shows it a balance as a real one would (the
            # same key in every kernel: the relay shows a key only its own tasks)
            config = config.with_changes(base_url=self._sim.url, server_name=config.server_name or SIMULATOR_NAME,
                                         api_key=config.api_key or EMBEDDED_KEY)
            if announce:
                print(SIMULATOR_NOTICE.format(url=self._sim.url), flush=True)
        self.config = config
        self.transport = Transport(config, session)  # the HTTP; this class is the session above it
        self._tasks: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._balance: Balance | None = None  # the last reading, for repr and views
        self._learning = False  # learn prices around submits: on once a balance was read
        self._learn_lock = threading.Lock()  # a learning submit is the only one in flight
        self._learned: dict | None = None  # model -> USD learned on this relay (from the history)
        self._task_prices: dict = {}  # task id -> USD charged at its submit

    # ------------------------------------------------------------ identity

    @property
    def is_simulator(self) -> bool:
        """True when this client talks to the simulator it started itself."""
        return self._sim is not None

    @property
    def simulator(self):
        """The embedded simulator (None for a real relay): its stats, options and faults."""
        return self._sim

    def __repr__(self) -> str:
        where = "simulator " + self.config.base_url if self.is_simulator else self.config.base_url
        mode = f" mode={self.config.mode}" if self.config.mode else ""
        money = self._balance.text if self._balance is not None else "balance: not read yet (client.balance())"
        return f"<mjnb.Client {where}{mode} auth={self.config.auth_header}; {money}>"

    # ------------------------------------------------------------ money

    def balance(self) -> Balance:
        """The key's remaining quota, read now from the relay (in its units and in USD); when the
        server shows none, the Balance says so in `.text` instead of raising. Reading it also
        turns on learning prices from the balance around submits whose price is unknown."""
        if not self.config.api_key:
            reading = Balance(False, reason="no API key is configured, and a relay shows a balance only to "
                                            "a key (MJNB_API_KEY or mjnb.configure(api_key=...))")
        else:
            reading = read_balance(self.transport, self.config.quota_per_usd)
        self._balance = reading
        self._learning = reading.offered
        return reading

    @property
    def last_balance(self) -> Balance | None:
        """The latest balance read (None before the first): for views, without a request."""
        return self._balance

    def price(self, action: str) -> float | None:
        """USD per call of an action ("imagine", "upscale", or new-api's "mj_pan"...): configured
        with mjnb.configure(prices=...), else learned on this relay; None while unknown."""
        model = price_model(action) if isinstance(action, str) else None
        if model is None:
            raise E.ValidationError(f"action must name a priced action such as 'imagine' or 'upscale', "
                                    f"not {action!r}", field="action")
        return self._price_of(model)

    def task_price(self, task_id: str) -> float | None:
        """What a task of this session was charged at submit (USD), when its price was known."""
        return self._task_prices.get(task_id)

    def _price_of(self, model: str) -> float | None:
        configured = dict(self.config.prices or ())
        if model in configured:
            return configured[model]
        if self._learned is None:
            self._learned = self.history.learned_prices(self.config.host) if self.history else {}
        return self._learned.get(model)

    @contextlib.contextmanager
    def _pricing(self, model: str | None, context: dict):
        """Around one submit: note its price in `context` (for the history) when known; else, once a
        balance has been read, learn it from the balance just before and just after, with no other
        submit of this client in between. Yields a function to call with the ids the submit made."""
        price = self._price_of(model) if model else None
        context["price"] = price
        if price is not None or model is None or not self._learning:
            yield lambda ids: self._task_prices.update(dict.fromkeys(ids, price))
            return
        with self._learn_lock:
            before = self.balance()

            def learn(ids: list) -> None:
                after = self.balance() if before.offered else before
                found = learned_price(before, after, self.config.quota_per_usd) if len(ids) == 1 else None
                if found is not None:
                    self._learned[model] = context["price"] = found
                    if self.history:
                        self.history.price_learned(self.config.host, model, found, ids[0])
                    log.info("mjnb: learned the price of %s on %s: %.4f USD", model, self.config.host, found)
                self._task_prices.update(dict.fromkeys(ids, context["price"]))
            yield learn

    def close(self) -> None:
        self.transport.close()
        if self._sim is not None:
            self._sim.stop()
            self._sim = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ submit endpoints

    def imagine(self, prompt: str, *, images: Sequence[ImageInput] = (), bot: str | None = None,
                state: str | None = None, notify_hook: str | None = None,
                account_filter: Mapping | None = None, experiment: str | None = None,
                validate: bool = True) -> Task:
        """POST /mj/submit/imagine. `images` are reference images placed before the prompt;
        `experiment` names the batch the history files this submit under; `validate=False` sends
        parameters Midjourney would refuse (see prompt_check) instead of raising ValidationError."""
        body = {"prompt": arg_prompt(prompt, "prompt"), **self._common(state, notify_hook, account_filter)}
        if validate:
            check_prompt(body["prompt"])
        if bot is not None:
            body["botType"] = arg_bot(bot)
        if images:
            body["base64Array"] = [self._image(img, f"images[{i}]") for i, img in enumerate(arg_list(images, "images"))]
        return self._submit("imagine", "/mj/submit/imagine", body, TaskAction.IMAGINE, prompt=body["prompt"],
                            experiment=experiment)

    def action(self, task_id: str, custom_id: str, *, enable_remix: bool | None = None,
               choose_same_channel: bool | None = None, state: str | None = None,
               notify_hook: str | None = None, experiment: str | None = None) -> Task:
        """POST /mj/submit/action: press a button of a finished task (`experiment`: see imagine)."""
        body = {"taskId": arg_id(task_id, "task_id"), "customId": arg_text(custom_id, "custom_id"),
                **self._common(state, notify_hook)}
        if enable_remix is not None:
            body["enableRemix"] = bool(enable_remix)
        if choose_same_channel is not None:
            body["chooseSameChannel"] = bool(choose_same_channel)
        parent = self._tasks.get(body["taskId"])
        expected = TaskAction.parse(EXPECTED_ACTION.get(classify(body["customId"])[0].value))
        return self._submit("action", "/mj/submit/action", body, expected,
                            prompt=parent.prompt if parent is not None else "",
                            parent_id=body["taskId"], custom_id=body["customId"], experiment=experiment)

    def modal(self, task_id: str, prompt: str | None = None, *, mask: ImageInput | None = None,
              state: str | None = None, notify_hook: str | None = None, validate: bool = True) -> Task:
        """POST /mj/submit/modal: confirm a MODAL task (Custom Zoom, Vary Region, remix) with its input
        (`validate`: see imagine)."""
        body: dict = {"taskId": arg_id(task_id, "task_id"), **self._common(state, notify_hook)}
        if prompt is not None:
            body["prompt"] = arg_prompt(prompt, "prompt")
            if validate:
                check_prompt(body["prompt"])
        if mask is not None:
            raw = image_bytes(mask, "mask", self.config.max_image_bytes, self._fetch_input,
                              self.config.max_image_pixels)
            body["maskBase64"] = data_url(raw, "mask", self.config.max_image_bytes, self.config.max_image_pixels)
        return self._submit("modal", "/mj/submit/modal", body, TaskAction.UNKNOWN, prompt=prompt or "")

    def blend(self, images: Sequence[ImageInput], *, dimensions: str = "SQUARE", bot: str | None = None,
              state: str | None = None, notify_hook: str | None = None,
              account_filter: Mapping | None = None) -> Task:
        """POST /mj/submit/blend: 2 to 5 images into one grid."""
        images = arg_list(images, "images")
        if not 2 <= len(images) <= 5:
            raise E.ValidationError(f"images: blend takes 2 to 5 images, not {len(images)}", field="images")
        dims = str(dimensions or "").strip().upper()
        if dims not in BLEND_DIMENSIONS:
            raise E.ValidationError(f"dimensions must be one of {', '.join(BLEND_DIMENSIONS)}, "
                                    f"not {dimensions!r}", field="dimensions")
        body = {"base64Array": [self._image(img, f"images[{i}]") for i, img in enumerate(images)],
                "dimensions": dims, **self._common(state, notify_hook, account_filter)}
        if bot is not None:
            body["botType"] = arg_bot(bot)
        task = self._submit("blend", "/mj/submit/blend", body, TaskAction.BLEND)
        task.sources = tuple(_source_thumbnail(url) for url in body["base64Array"])  # the card shows them
        return task

    def describe(self, image: ImageInput, *, bot: str | None = None, state: str | None = None,
                 notify_hook: str | None = None, account_filter: Mapping | None = None) -> Task:
        """POST /mj/submit/describe: four prompts that could have made this image."""
        body = {"base64": self._image(image, "image"), **self._common(state, notify_hook, account_filter)}
        if bot is not None:
            body["botType"] = arg_bot(bot)
        return self._submit("describe", "/mj/submit/describe", body, TaskAction.DESCRIBE)

    def shorten(self, prompt: str, *, bot: str | None = None, state: str | None = None,
                notify_hook: str | None = None, account_filter: Mapping | None = None) -> Task:
        """POST /mj/submit/shorten: which words of a prompt matter, and five shorter prompts."""
        body = {"prompt": arg_prompt(prompt, "prompt"), **self._common(state, notify_hook, account_filter)}
        if bot is not None:
            body["botType"] = arg_bot(bot)
        return self._submit("shorten", "/mj/submit/shorten", body, TaskAction.SHORTEN, prompt=body["prompt"])

    def swap_face(self, source: ImageInput, target: ImageInput, *, state: str | None = None,
                  notify_hook: str | None = None, account_filter: Mapping | None = None) -> Task:
        """POST /mj/insight-face/swap: put the face of `source` into `target`."""
        body = {"sourceBase64": self._image(source, "source"), "targetBase64": self._image(target, "target"),
                **self._common(state, notify_hook, account_filter)}
        return self._submit("swap_face", "/mj/insight-face/swap", body, TaskAction.SWAP_FACE)

    def change(self, task_id: str, action: str, index: int | None = None, *, state: str | None = None,
               notify_hook: str | None = None) -> Task:
        """POST /mj/submit/change: the legacy U/V/reroll (open-source proxy, relays, older TRUEAI)."""
        act = str(action or "").strip().upper()
        if act not in CHANGE_ACTIONS:
            raise E.ValidationError(f"action must be one of {', '.join(CHANGE_ACTIONS)}, not {action!r}",
                                    field="action")
        if act == "REROLL":
            index = 1  # relays demand a non-zero index even for a reroll
        elif not isinstance(index, int) or isinstance(index, bool) or not 1 <= index <= 4:
            raise E.ValidationError(f"index must be 1, 2, 3 or 4 for {act}, not {index!r}", field="index")
        body = {"taskId": arg_id(task_id, "task_id"), "action": act, "index": index,
                **self._common(state, notify_hook)}
        return self._submit("change", "/mj/submit/change", body, TaskAction.parse(act),
                            parent_id=body["taskId"])

    def simple_change(self, content: str, *, state: str | None = None,
                      notify_hook: str | None = None) -> Task:
        """POST /mj/submit/simple-change: '<taskId> U1..U4 | V1..V4 | R'."""
        text = arg_text(content, "content")
        m = re.fullmatch(r"(\d+)\s+([UuVv][1-4]|[Rr])", text)
        if not m:
            raise E.ValidationError(f"content must look like '<task id> U1' (U1-U4, V1-V4 or R), "
                                    f"not {content!r}", field="content")
        body = {"content": text, **self._common(state, notify_hook)}
        op = m[2].upper()
        action = {"U": TaskAction.UPSCALE, "V": TaskAction.VARIATION, "R": TaskAction.REROLL}[op[0]]
        return self._submit("simple_change", "/mj/submit/simple-change", body, action, parent_id=m[1])

    # ------------------------------------------------------------ queries

    def fetch(self, task_id: str) -> TaskSnapshot:
        """GET /mj/task/{id}/fetch: the task as the server sees it now (see latest())."""
        return self.transport.fetch(task_id)

    def list_by_condition(self, ids: Iterable[str]) -> list[TaskSnapshot]:
        """POST /mj/task/list-by-condition: many tasks in one request; unknown ids are left out."""
        return self.transport.list_by_condition(ids)

    def image_seed(self, task_id: str) -> str:
        """GET /mj/task/{id}/image-seed: the seed Midjourney used (a string)."""
        return self.transport.image_seed(task_id)

    def download(self, url: str, *, timeout: float | None = None) -> bytes:
        """An image's bytes, capped and within `timeout` s; never sent with the key."""
        return self.transport.download(url, timeout=timeout)

    @property
    def session(self) -> requests.Session:
        """The requests.Session underneath (proxies, adapters); it never holds the key."""
        return self.transport.session

    def task(self, task_id: str) -> Task:
        """A live handle for an existing task id (fetched now)."""
        return self._handle(self.latest(task_id))

    def latest(self, task_id: str) -> TaskSnapshot:
        """The task's newest state. A new-api relay's fetch reads the oldest row of an id, which
        goes stale after /submit/modal (spec §13 R3), so relays are asked for every row."""
        if self.config.flavour != "relay":
            return self.fetch(task_id)
        ident = arg_id(task_id, "task_id")
        rows = newest_per_id(self.list_by_condition([ident]))
        if not rows:
            raise E.NotFoundError("no such task for this key", endpoint="POST /mj/task/list-by-condition",
                                  hint="Check the id; relays only show tasks created with the same key")
        return rows[0]

    def tasks(self, ids: Iterable[str]) -> list[Task]:
        """Handles for many ids in one batched request, in the order asked; unknown ids raise."""
        wanted = list(dict.fromkeys(arg_id(i, "ids") for i in ids))
        found = {s.id: s for s in newest_per_id(self.list_by_condition(wanted))}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise E.NotFoundError(f"no task with id {', '.join(missing)} for this key",
                                  endpoint="POST /mj/task/list-by-condition",
                                  hint="Check the ids; relays only show tasks created with the same key")
        return [self._handle(found[i]) for i in wanted]

    # ------------------------------------------------------------ internals: building requests

    def _common(self, state, notify_hook, account_filter=None) -> dict:
        body: dict = {}
        if state is not None:
            body["state"] = arg_text(state, "state")
        if notify_hook is not None:
            body["notifyHook"] = arg_text(notify_hook, "notify_hook")
        if account_filter is not None:
            if not isinstance(account_filter, Mapping):
                raise E.ValidationError("account_filter must be a dict such as {'modes': ['FAST']}",
                                        field="account_filter")
            body["accountFilter"] = dict(account_filter)
        return body

    def _image(self, value: ImageInput, field: str) -> str:
        raw = image_bytes(value, field, self.config.max_image_bytes, self._fetch_input, self.config.max_image_pixels)
        return data_url(raw, field, self.config.max_image_bytes, self.config.max_image_pixels)

    def _fetch_input(self, url: str) -> bytes:
        return self.download(url)

    def _submit(self, name: str, path: str, body: dict, action: TaskAction, *, prompt: str = "",
                parent_id: str | None = None, custom_id: str = "", experiment: str | None = None) -> Task:
        endpoint = f"POST {path}"
        if experiment is not None:
            experiment = arg_text(experiment, "experiment")
        if not body.get("state"):  # ours is unique, so a submit whose answer is lost can be found again
            body["state"] = _new_state()
        context = self._context(prompt=prompt, parent_id=parent_id, custom_id=custom_id, experiment=experiment)
        with self._pricing(billing_model(name, body), context) as priced:
            record = self.history.submit_started(self.config.host, endpoint, body, context) if self.history else None
            try:
                result = self.transport.submit(path, body)
                ids = result.ids
            except E.MjnbError as exc:
                found = self._settle_failed_submit(exc, record, name, body, context)
                if not found:
                    raise
                priced([s.id for s in found])
                return self._new_tasks(found, SubmitResult(code=1, description=RECONCILED_TEXT,
                                                           result=[s.id for s in found]), context)
            priced(ids)
        status = TaskStatus.MODAL if result.is_modal else TaskStatus.NOT_START
        snaps = [TaskSnapshot(id=ident, action=action, status=status, prompt=prompt,
                              description=result.description, submit_time=_now(),
                              custom_id=custom_id, parent_id=parent_id, state=body.get("state") or "")
                 for ident in ids]
        if record is not None:
            self.history.submit_finished(record, result, [] if name == "modal" else snaps, context)
        if name == "modal":  # the modal step continues the same task
            existing = self._tasks.get(ids[0])
            if existing is not None:
                existing._submitted(result)
                existing._modal_sent(prompt)
                return existing
        return self._new_tasks(snaps, result, context)

    def _new_tasks(self, snaps: list[TaskSnapshot], result: SubmitResult, context: dict) -> Task:
        tasks = []
        for snap in snaps:
            task = self._handle(snap)
            task.button_text = context.get("button") or ""
            task._submitted(result)
            tasks.append(task)
        if len(tasks) > 1:  # TRUEAI's "Imagine all" makes four tasks at once
            tasks[0].siblings = tasks[1:]
        return tasks[0]

    # ------------------------------------------------------------ internals: lost answers

    def _settle_failed_submit(self, exc: E.MjnbError, record: int | None, name: str, body: dict,
                              context: dict) -> list[TaskSnapshot]:
        """Record a failed submit. When the task may exist (the answer was lost), look for it by
        its state where the server lists tasks, and return what was found (then the submit counts
        as accepted); otherwise say honestly, in the error's hint, what is known and where to look."""
        ambiguous = _ambiguous(exc)
        if not ambiguous:
            if record is not None:
                self.history.submit_failed(record, exc, False)
            return []
        exc.maybe_submitted = True
        found = self._look_for_lost_task(exc, record, name, body)
        if record is not None:  # until here the row says "sent": visible as outcome unknown too
            if found:
                self.history.submit_reconciled(record, found, context, RECONCILED_HOW, error=str(exc))
            else:
                self.history.submit_failed(record, exc, True)
        return found

    def _look_for_lost_task(self, exc: E.MjnbError, record: int | None, name: str, body: dict) -> list[TaskSnapshot]:
        state = body.get("state") or ""
        exc.state = state
        where = ("mjnb.history() keeps it as a row with status UNKNOWN" if record is not None else
                 "this client keeps no history, so note its state")
        if name == "modal":
            _rehint(exc, f"The modal step may or may not have reached the server; fetch task {body.get('taskId')} "
                         f"to see whether it left MODAL before sending it again ({where})")
            return []
        if self.config.flavour not in LISTING_FLAVOURS:
            _rehint(exc, f"{LOST_LEAD}. A relay cannot list tasks, so mjnb cannot find it; {where} "
                         f"(state {state!r}). Look for it in the relay's web dashboard (its Midjourney task "
                         "log), by prompt and time, before submitting again")
            return []
        try:
            found, why = self._match_state(self.transport.task_list(), state, body,
                                           lambda ids: self._claimed(ids, record))
        except E.MjnbError as list_exc:
            found, why = [], f"looking for it with GET /mj/task/list failed too ({list_exc.summary})"
        if found:
            log.warning("%s: the answer was lost, but GET /mj/task/list shows task %s with this submit's "
                        "state %r; carrying on with it", exc.endpoint, ", ".join(s.id for s in found), state)
            return found
        _rehint(exc, f"{LOST_LEAD}; {why}. {where[0].upper() + where[1:]} (state {state!r}) and "
                     "mjnb.resume() looks again; submit again only if a second charge is fine")
        return []

    def _claimed(self, ids: list[str], record: int | None = None) -> set[str]:
        """Task ids already made by another recorded submit (never matched to a lost answer)."""
        if self.history is not None:
            return self.history.claimed_task_ids(self.config.host, ids, record)
        return {i for i in ids if i in self._tasks}

    def _match_state(self, listed: list, state: str, body: Mapping,
                     claimed) -> tuple[list[TaskSnapshot], str]:
        """The listed task(s) a submit with this state made, or ([], why not)."""
        if not state:
            return [], "it carried no state to look for"
        snaps = []
        for item in listed:
            if isinstance(item, Mapping) and item.get("state") == state:
                try:
                    snaps.append(TaskSnapshot.parse(item))
                except (TypeError, ValueError):
                    continue
        taken = claimed([s.id for s in snaps]) if snaps else set()
        snaps = [s for s in snaps if s.id not in taken]
        if not snaps:
            return [], (f"GET /mj/task/list shows no new task with state {state!r} (a trueai server lists "
                        "only its newest 100), so it was probably not created")
        if body.get("customId") == "MJ::Job::PicReader::all":  # TRUEAI: four tasks, one state
            return snaps, ""
        prompt = " ".join(str(body.get("prompt") or "").split())
        if len(snaps) > 1 and prompt:  # a state the user reused: the prompt may tell them apart
            snaps = [s for s in snaps if prompt in " ".join(s.prompt.split())] or snaps
        if len(snaps) > 1:
            return [], (f"{len(snaps)} tasks carry its state {state!r} (a state used more than once), "
                        "so mjnb cannot tell which one is this submit's")
        return snaps, ""

    def reconcile(self) -> list[Task]:
        """Look again for the tasks of submits whose answer was lost or never recorded (history
        outcome unknown or sent): where the server lists tasks (trueai, novicezk), one
        GET /mj/task/list finds them by the unique state every submit carries, and their history
        rows become the real tasks. Returns live handles on what was found; on a relay (no
        listing) it finds nothing and the rows stay 'outcome unknown'. mjnb.resume() and resumed
        experiments call it."""
        if self.history is None or self.config.flavour not in LISTING_FLAVOURS:
            return []
        pending = [p for p in self.history.unanswered_submits(self.config.host)
                   if p["state"] and not p["endpoint"].endswith("/modal")]
        if not pending:
            return []
        listed = self.transport.task_list()
        found_tasks: list = []
        adopted: set[str] = set()
        for p in pending:
            snaps, _ = self._match_state(listed, p["state"], p["body"],
                                         lambda ids, p=p: self._claimed(ids, p["submit_id"]) | (set(ids) & adopted))
            if not snaps:
                continue
            context = self._context(prompt=p["body"].get("prompt") or "", parent_id=p["parent_id"],
                                    custom_id=p["custom_id"], experiment=p["experiment"])
            if p["button"]:
                context["button"] = p["button"]
            self.history.submit_reconciled(p["submit_id"], snaps, context, RECONCILED_HOW)
            adopted |= {s.id for s in snaps}
            log.warning("found task %s of an earlier submit whose answer was lost (state %r)",
                        ", ".join(s.id for s in snaps), p["state"])
            for snap in snaps:
                task = self._handle(snap)
                task.button_text = p["button"] or ""
                found_tasks.append(task)
        return found_tasks

    def _record_seen(self, task: Task) -> None:
        """History keeps every change a Task saw (called by the Task, often on the tracker thread)."""
        if self.history is None:
            return
        context = self._context(prompt=task.prompt, parent_id=task.parent_id, custom_id=task.snapshot.custom_id)
        if task.button_text:
            context["button"] = task.button_text
        try:
            self.history.task_seen(self.config.host, task.snapshot, context)
        except Exception:  # a full disk must not stop the cards; say it in the log
            log.exception("could not record task %s in the history", task.id)

    def _cached_image(self, task_id: str) -> bytes | None:
        return self.history.cached_image(self.config.host, task_id) if self.history else None

    def _cache_image(self, task_id: str, data: bytes) -> str | None:
        """Keep a final image on disk: its path, or None when there is no disk to keep it on."""
        info = self.history.cache_image(self.config.host, task_id, data) if self.history is not None else None
        return info["path"] if info else None

    def _context(self, **known) -> dict:
        """What history keeps beside a submit or a snapshot: where, how, and from which button."""
        context = {"server": self.config.host, "mode": self.config.mode, "simulator": self.is_simulator,
                   **{k: v for k, v in known.items() if v}}
        parent = self._tasks.get(known.get("parent_id") or "")
        if parent is not None and known.get("custom_id"):
            for button in parent.buttons:
                if button.custom_id == known["custom_id"]:
                    context["button"] = button.text
        return context

    # ------------------------------------------------------------ internals: reading answers

    def _handle(self, snapshot: TaskSnapshot) -> Task:
        task = self._tasks.get(snapshot.id)
        if task is None:
            task = Task(self, snapshot)
            self._tasks[snapshot.id] = task
        else:
            task.on_snapshot(snapshot)
        return task

LISTING_FLAVOURS = ("trueai", "novicezk")  # servers with GET /mj/task/list (spec 3.14); relays have none
LOST_LEAD = ("No usable answer came back, so the task may or may not have been created (it may exist, "
             "and be charged)")
RECONCILED_HOW = "the answer was lost; found by its state in GET /mj/task/list"
RECONCILED_TEXT = "answer lost; task found by its state in GET /mj/task/list"


def _new_state() -> str:
    """A state no other submit carries: mjnb.<16 hex digits> (trueai allows 255 characters)."""
    return "mjnb." + secrets.token_hex(8)


def _ambiguous(exc: Exception) -> bool:
    """Whether a failed submit may have created a task: sent with no usable answer, a gateway's
    500/502/504 (it may have passed the request on), the relay's code 5 (its upstream call broke
    after sending, or its answer was unreadable), or accepted without an id. 503 and the servers'
    own refusals (codes 3, 4, 9, 23, 24, 30, 4xx) mean no task."""
    if getattr(exc, "maybe_submitted", False):
        return True
    if isinstance(exc, E.TransportError):
        return False
    return isinstance(exc, E.ServerError) and (exc.http_status in (500, 502, 504) or exc.code == 5)


# advice a lost answer's own hint replaces: "look for it" said vaguely, or "try again" (not for a
# submit that may already be paid for); any other advice (base_url, a redirect) is kept after it
SUPERSEDED_HINTS = ("The request was sent but no answer came back", "The relay or its upstream failed",
                    "Try again")


def _rehint(exc: E.MjnbError, hint: str) -> None:
    """Put what is known about a lost answer into an error's advice (its message is rebuilt; the
    error object stays the same)."""
    if exc.hint and not exc.hint.startswith(SUPERSEDED_HINTS):
        hint = f"{hint}. Also: {exc.hint}"
    exc.hint = hint
    exc.args = (exc._compose(),)


def _now():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc)


def _source_thumbnail(url: str) -> bytes:
    """A small JPEG of a submitted image (a data URL we built and checked), for the card."""
    return thumbnail_jpeg(open_image(base64.b64decode(url.split(",", 1)[1])), 96, quality=70)
