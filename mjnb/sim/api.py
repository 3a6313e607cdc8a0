"""The Midjourney-proxy routes: request checks, task creation and answers, per flavour.

Each handler gets a `Call` (who asks, the decoded body, the clock) and returns a Reply or
raises SimError, which the flavour turns into its envelope.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from . import buttons as btn
from . import midjourney_rules
from . import render
from .engine import Engine, SimError, SimTask, param, prompt_seed, prompt_zoom
from .flavours import Flavour, Reply, json_reply
from .billing import Ledger
from .relay import RelayTable

MAX_IMAGE_BYTES = 10 * 1024 * 1024
BLEND_DIMENSIONS = {"PORTRAIT": "2:3", "SQUARE": "1:1", "LANDSCAPE": "3:2"}
GRID_PARENT_ACTIONS = ("IMAGINE", "VARIATION", "REROLL", "BLEND")
ACTION_PREFIXES_TRUEAI = ("MJ::JOB::", "MJ::Inpaint::", "MJ::Outpaint::", "MJ::CustomZoom::",
                          "MJ::Job::PicReader::", "MJ::Picread::")


@dataclass
class Call:
    route: str
    path: str
    key: str
    body: dict
    now: float
    mode: str | None = None


class Api:
    def __init__(self, engine: Engine, flavour: Flavour):
        self.engine = engine
        self.flavour = flavour
        self.relay = RelayTable(engine)  # only the relay profile writes rows
        self.ledger = Ledger()  # the relay's charges (spec §13 R11)

    @property
    def profile(self) -> str:
        return self.engine.options.profile

    # ------------------------------------------------------------ shared checks

    def _visible(self, task: SimTask | None, call: Call) -> bool:
        """Relays only show a caller the tasks made with their own key."""
        return task is not None and (self.profile != "relay" or task.key == call.key)

    def _view(self, task: SimTask, now: float) -> dict | None:
        """The state a check sees: upstream's own, or on a relay its oldest row (GetByMJId)."""
        if self.profile != "relay":
            return task.snapshot()
        return self.relay.view(task, self.relay.first(task), now)

    def task_jsons(self, task: SimTask, now: float) -> list[dict]:
        """The task as the caller reads it: one object, or on a relay one per row of its id."""
        if self.profile != "relay":
            return [self.flavour.task_json(task, task.snapshot())]
        address = self.engine.options.server_address or self.engine.base_url
        out = []
        for row in self.relay.rows_of(task):
            view = self.relay.view(task, row, now)
            out.append(self.flavour.row_json(task, row, view,
                                             self.relay.image_url(task, view, address)))
        return out

    def _before_submit(self, call: Call, model: str) -> None:
        """Limits that refuse a submit before any task exists: quota and outages."""
        opts = self.engine.options
        acct = self.engine.account(call.key)
        if opts.daily_limit is not None and acct.submits >= opts.daily_limit:
            raise SimError("quota", "用户今日绘图次数已达上限")
        state = call.body.get("state")
        if self.profile == "trueai" and isinstance(state, str) and len(state) > 255:
            raise SimError("quota", "State参数过长，最大255字符")  # a task-creation limit, like quota
        if self.profile == "relay":  # new-api checks the account's quota against the price first
            price = self.ledger.price(opts, model)
            if self.ledger.may_fall_short(opts, call.key, price) and \
                    self.counters(call.key, call.now)["wallet_remain"] < price:
                raise SimError("quota", "quota_not_enough")
        outage = opts.outage
        if outage == "no-channel" and self.profile != "relay":
            outage = "crash"
        if outage != "none":
            raise SimError(outage.replace("-", "_"), outage, model=model)

    def _image(self, value, field_name: str) -> bytes:
        """Decode a data URL (TRUEAI and relays also take bare base64) into checked image bytes."""
        if not isinstance(value, str) or not value.strip():
            raise SimError("validation", f"{field_name}不能为空")
        text = value.strip()
        if text.startswith(("http://", "https://")):
            data = self._own_attachment(text)
            if data is None or self.profile != "trueai":
                raise SimError("validation", "链接格式错误")
            return data
        if text.startswith("data:"):
            header, _, text = text.partition(",")
            if ";base64" not in header:
                raise SimError("validation", "base64格式错误")
        elif self.profile == "novicezk":
            raise SimError("validation", "base64格式错误")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise SimError("validation", "base64格式错误") from None
        if len(data) > MAX_IMAGE_BYTES:
            raise SimError("validation", "图片过大")
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.verify()
        except (UnidentifiedImageError, OSError, SyntaxError):
            raise SimError("validation", "base64格式错误") from None
        return data

    def _own_attachment(self, url: str) -> bytes | None:
        m = re.search(r"/attachments/\d+/(\d+)/", url)
        att = self.engine.attachments.get(m[1]) if m else None
        if att is None:
            return None
        return self.engine.image_bytes(att)[0]

    def _accept(self, task: SimTask, call: Call, route: str) -> Reply:
        """Queue a new task and answer the submit; a full queue removes it again."""
        try:
            ahead = self.engine.enqueue(task, call.now)
        except SimError:
            del self.engine.tasks[task.id]
            raise
        self.engine.account(call.key).submits += 1
        queued = None if ahead == 0 else ahead - 1
        reply, text = self.flavour.accepted(task, queued)
        if self.profile == "relay":
            self.relay.insert(task, text, call.now)
            self._charge(call, task)
        return reply

    def _charge(self, call: Call, task: SimTask) -> None:
        """An accepted submit pays its model's price on the row it created (spec §13 R11)."""
        model = relay_model(call.route, call.body) or "mj_imagine"
        self.ledger.charge(self.engine.options, call.key, model, task.id,
                           len(self.relay.rows[task.id]) - 1)

    def counters(self, key: str, now: float) -> dict:
        """The key's and its account's quota as the relay shows them at `now`."""
        return self.ledger.counters(self.engine.options, key, self.relay, self.engine, now)

    def _new(self, call: Call, action: str, kind: str, prompt: str, **kw) -> SimTask:
        if self.profile == "trueai" and call.mode:
            kw.setdefault("mode", call.mode)
        return self.engine.new_task(call.key, action, kind, prompt, call.now,
                                    state=call.body.get("state"), **kw)

    def _bot(self, call: Call) -> str:
        bot = str(call.body.get("botType") or "MID_JOURNEY")
        return "NIJI_JOURNEY" if bot.upper() in ("NIJI_JOURNEY", "NIJI") else "MID_JOURNEY"

    # ------------------------------------------------------------ submit routes

    def imagine(self, call: Call) -> Reply:
        prompt = call.body.get("prompt")
        if self.profile == "relay" and not prompt:
            raise SimError("relay", "prompt_is_required")
        if not isinstance(prompt, str) or not prompt.strip():
            raise SimError("validation", "prompt不能为空")
        prompt = prompt.strip()
        images = call.body.get("base64Array") or []
        if not isinstance(images, list):
            raise SimError("validation", "base64Array参数错误")
        decoded = [self._image(v, "base64Array") for v in images]
        self._before_submit(call, "mj_imagine")
        word = self.engine.banned_word(prompt)
        if word and self.profile != "trueai":
            raise SimError("banned", "可能包含敏感词", word=word, prompt=prompt)
        bot = self._bot(call)
        default = "niji 6" if bot == "NIJI_JOURNEY" else self.engine.options.default_version
        version = btn.model_version(prompt, default)
        final = prompt
        if param(prompt, "v", "version", "niji") is None:
            final += f" --niji {version.split()[-1]}" if version.startswith("niji") else f" --v {version}"
        seed = prompt_seed(prompt) or self.engine.rng.randrange(1, 2**32)
        task = self._new(call, "IMAGINE", "grid", prompt, final_prompt=final,
                         description=f"/imagine {prompt}", seed=seed, version=version,
                         bot_type=bot, seed_known_early=self.profile == "trueai",
                         tile_size=render.tile_size(param(prompt, "ar", "aspect"), self.engine.options.tile_side))
        if decoded:  # reference images go to Discord; their links are prepended to the prompt
            links = [self.engine.register_upload(task, data, call.now) for data in decoded]
            task.prompt = " ".join(links + [prompt])
            task.final_prompt = " ".join(f"<https://s.mj.run/{task.job_hash[:8]}{i}>"
                                         for i in range(len(links))) + " " + final
        task.tiles = self.engine.grid_tiles_generate(prompt, seed)
        if reason := midjourney_rules.fail_reason(prompt, self.profile, default):
            task.outcome, task.fail_reason = "invalid", reason  # Midjourney refuses the parameters
        if word:
            task.outcome = "banned"
        return self._accept(task, call, "imagine")

    def blend(self, call: Call) -> Reply:
        images = call.body.get("base64Array")
        if not isinstance(images, list) or not 2 <= len(images) <= 5:
            raise SimError("validation", "图片参数错误，2~5张图片" if self.profile == "trueai"
                           else "base64List参数错误")
        if "dimensions" in call.body and call.body["dimensions"] is None:
            raise SimError("validation", "dimensions参数错误")
        dims = str(call.body.get("dimensions") or "SQUARE").upper()
        if dims not in BLEND_DIMENSIONS:
            raise SimError("validation", "dimensions参数错误")
        decoded = tuple(self._image(v, "base64Array") for v in images)
        self._before_submit(call, "mj_blend")
        seed = self.engine.rng.randrange(1, 2**32)
        task = self._new(call, "BLEND", "grid", "", seed=seed, bot_type=self._bot(call),
                         tile_size=render.tile_size(BLEND_DIMENSIONS[dims], self.engine.options.tile_side),
                         seed_known_early=self.profile == "trueai")
        task.description = f"/blend {task.id} {len(decoded)}"
        task.final_prompt = " ".join(f"<https://s.mj.run/{task.job_hash[:6]}{i}>"
                                     for i in range(len(decoded))) + f" --v {self.engine.options.default_version}"
        task.tiles = tuple(render.Blend(decoded, seed, i) for i in range(4))
        return self._accept(task, call, "blend")

    def describe(self, call: Call) -> Reply:
        source = call.body.get("base64")
        if not source and self.profile == "trueai":
            source = call.body.get("link")
        if not source:
            raise SimError("validation", "base64或link不能为空" if self.profile == "trueai"
                           else "base64不能为空")
        data = self._image(source, "base64")
        self._before_submit(call, "mj_describe")
        prompts = render.describe_prompts(data)
        keycaps = ["1️⃣", "2️⃣", "3️⃣", "4️⃣"]
        result = "\n\n".join(f"{k} {p}" for k, p in zip(keycaps, prompts))
        task = self._new(call, "DESCRIBE", "describe", "", final_prompt=result,
                         bot_type=self._bot(call))
        task.description = "/describe" if self.profile == "trueai" else f"/describe {task.id}.png"
        task.properties["candidates"] = prompts
        task.image_url = self.engine.register_upload(task, data, call.now)
        task.history[-1] = (call.now, task.snapshot())
        return self._accept(task, call, "describe")

    def shorten(self, call: Call) -> Reply:
        prompt = call.body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise SimError("relay" if self.profile == "relay" and not prompt else "validation",
                           "prompt_is_required" if self.profile == "relay" and not prompt else "prompt不能为空")
        prompt = prompt.strip()
        self._before_submit(call, "mj_shorten")
        task = self._new(call, "SHORTEN", "shorten", prompt, description=f"/shorten {prompt}",
                         bot_type=self._bot(call))
        task.final_prompt = shorten_markdown(prompt)
        return self._accept(task, call, "shorten")

    def swap_face(self, call: Call) -> Reply:
        src, tgt = call.body.get("sourceBase64"), call.body.get("targetBase64")
        if self.profile == "trueai":
            src = src or call.body.get("sourceUrl")
            tgt = tgt or call.body.get("targetUrl")
        if not src or not tgt:
            if self.profile == "relay":
                raise SimError("relay", "sour_base64_and_target_base64_is_required")
            raise SimError("validation", "人脸图片和目标图片不能为空")
        source, target = self._image(src, "sourceBase64"), self._image(tgt, "targetBase64")
        if source == target and self.profile == "trueai":
            raise SimError("validation", "人脸图片和目标图片不能相同")
        self._before_submit(call, "mj_swap_face")
        with Image.open(io.BytesIO(target)) as img:
            w, h = img.size
        scale = min(1.0, 512 / max(w, h))
        task = self._new(call, "SWAP_FACE", "swap", "InsightFace" if self.profile == "relay" else "",
                         bot_type="INSIGHT_FACE", tile_size=(max(16, int(w * scale)), max(16, int(h * scale))))
        task.tiles = (render.Swap(target, source),)
        return self._accept(task, call, "swap_face")

    # ------------------------------------------------------------ actions on a parent

    def _parent(self, call: Call, task_id) -> SimTask:
        if self.profile == "relay" and not task_id:
            raise SimError("relay", "task_id_is_required")
        parent = self.engine.tasks.get(str(task_id).strip()) if task_id else None
        if not self._visible(parent, call):
            raise SimError("parent_not_found", "parent not found")
        view = self._view(parent, call.now) or {}
        if view.get("status") != "SUCCESS":
            raise SimError("parent_status", "parent not finished")
        return parent

    def action(self, call: Call) -> Reply:
        custom_id = call.body.get("customId")
        custom_id = custom_id.strip() if isinstance(custom_id, str) else ""
        if self.profile == "trueai":
            # trueai looks the parent up first and trusts any customId of a known kind (R9)
            parent = self._parent(call, call.body.get("taskId"))
            if not custom_id:
                raise SimError("validation", "参数错误")
            if not custom_id.startswith(ACTION_PREFIXES_TRUEAI):
                raise SimError("validation", "未知的 Action 类型")
        else:
            if not relay_accepts(custom_id):
                raise SimError("unknown_action", "unknown action", custom_id=custom_id)
            parent = self._parent(call, call.body.get("taskId"))
            if custom_id not in [b["customId"] for b in parent.buttons]:
                raise SimError("validation", "参数错误")
        remix = bool(self.engine.options.remix or call.body.get("enableRemix"))
        if custom_id == "MJ::Job::PicReader::all":  # TRUEAI: four IMAGINE children at once
            self._before_submit(call, "mj_imagine")
            ids = []
            for prompt in parent.properties["candidates"]:
                child = self._imagine_child(call, parent, prompt, custom_id)
                self.engine.enqueue(child, call.now)
                ids.append(child.id)
            return json_reply(200, {"code": 1, "description": "提交成功", "result": ",".join(ids),
                                    "properties": {}})
        self._before_submit(call, relay_action_model(custom_id) or "mj_imagine")
        try:
            child = self.make_child(call, parent, custom_id, remix)
        except (ValueError, IndexError, KeyError):  # a trusted customId that fits no tile
            raise SimError("validation", "参数错误") from None
        if child.modal:
            child.status = "MODAL"
            child.record(call.now)
            reply, text = self.flavour.modal_created(child)
            if self.profile == "relay":
                self.relay.insert(child, text, call.now)
            return reply
        return self._accept(child, call, "action")

    def _imagine_child(self, call, parent, prompt, custom_id) -> SimTask:
        seed = self.engine.rng.randrange(1, 2**32)
        child = self._new(call, "IMAGINE", "grid", prompt, parent_id=parent.id, custom_id=custom_id,
                          description=f"/imagine {prompt}", seed=seed,
                          version=btn.model_version(prompt, self.engine.options.default_version),
                          tile_size=render.tile_size(param(prompt, "ar", "aspect"), self.engine.options.tile_side))
        child.tiles = self.engine.grid_tiles_generate(prompt, seed)
        return child

    def make_child(self, call: Call, parent: SimTask, custom_id: str, remix: bool) -> SimTask:
        """Create (not queue) the task a button press makes, with the picture it will show."""
        parts = custom_id.split("::")
        seeds = self.engine.child_seeds()
        base = parent.tiles[0] if parent.tiles else None
        common = dict(parent_id=parent.id, custom_id=custom_id, version=parent.version,
                      tile_size=parent.tile_size, bot_type=parent.bot_type)

        def grid_child(action, relay_action, tiles, modal=None, description=None):
            child = self._new(call, action, "grid", parent.prompt, relay_action=relay_action,
                              final_prompt=parent.final_prompt,
                              description=description or f"/up {parent.id}", **common)
            child.tiles, child.modal = tuple(tiles), modal
            return child

        if parts[1] == "JOB":
            op, index = parts[2], int(parts[3])
            if op == "upsample":
                child = self._new(call, "UPSCALE", "single", parent.prompt, final_prompt=parent.final_prompt,
                                  description=f"/up {parent.id} U{index}", scale=2, **common)
                child.tiles = (parent.tiles[index - 1],)
                child.properties["imageIndex"] = index
                return child
            if op.startswith("upsample_"):
                hd_base = base if "creative" not in op else render.Creative(base, seeds[0])
                child = self._new(call, "UPSCALE_HD" if self.profile == "trueai" else "UPSCALE", "single",
                                  parent.prompt, final_prompt=parent.final_prompt, hd=True,
                                  description=f"/up {parent.id} {op}", scale=4, **common)
                child.tiles = (hd_base,)
                return child
            modal = "remix" if remix else None
            if op == "variation":
                return grid_child("VARIATION", "VARIATION",
                                  [render.Vary(parent.tiles[index - 1], s, 0.6) for s in seeds], modal,
                                  f"/up {parent.id} V{index}")
            if op in ("low_variation", "high_variation"):
                strength = 0.3 if op == "low_variation" else 1.0
                return grid_child("VARIATION", op.upper(), [render.Vary(base, s, strength) for s in seeds], modal)
            if op == "reroll":
                action = parent.action if self.profile == "trueai" else "REROLL"
                return grid_child(action, "REROLL", [reroll(t, s) for t, s in zip(parent.tiles, seeds)],
                                  modal, f"/up {parent.id} R")
            if op.startswith("pan_"):
                direction = op[4:]
                return grid_child("PAN", "PAN", [render.Pan(base, direction, s) for s in seeds], modal)
            raise SimError("validation", "该操作暂不支持")  # animate_*: video is not simulated
        if parts[1] == "Outpaint":
            factor = 2.0 if parts[2] == "50" else 1.5
            child = grid_child("ZOOM", "ZOOM", [render.Zoom(base, factor, s) for s in seeds])
            child.properties["zoom"] = factor
            return child
        if parts[1] == "CustomZoom":
            child = grid_child("ZOOM", "CUSTOM_ZOOM", [], modal="customzoom")
            child.final_prompt = f"{parent.final_prompt} --zoom 2"
            return child
        if parts[1] == "Inpaint":
            return grid_child("VARIATION", "INPAINT", [], modal="inpaint")
        if parts[1] == "Job" and parts[2] == "PicReader":
            prompt = parent.properties["candidates"][int(parts[3]) - 1]
            child = self._imagine_child(call, parent, prompt, custom_id)
            child.modal, child.final_prompt = "picreader", prompt
            return child
        if parts[1] == "Picread":
            child = self._new(call, "DESCRIBE", "describe", "", final_prompt=parent.final_prompt,
                              description="/describe", parent_id=parent.id, custom_id=custom_id)
            child.properties["candidates"] = parent.properties["candidates"]
            child.image_url = parent.image_url
            return child
        raise SimError("validation", "未知的 Action 类型")

    def modal(self, call: Call) -> Reply:
        task_id = call.body.get("taskId")
        if self.profile == "relay" and not task_id:
            raise SimError("relay", "task_id_is_required")
        task = self.engine.tasks.get(str(task_id).strip()) if task_id else None
        if not self._visible(task, call):
            raise SimError("parent_not_found", "task not found")
        if task.status != "MODAL" or task.modal is None:  # None: its form was already submitted
            raise SimError("validation", "任务状态错误，不是 MODAL 状态")
        parent = self.engine.tasks.get(task.parent_id)
        prompt = call.body.get("prompt")
        prompt = prompt.strip() if isinstance(prompt, str) else ""
        if not prompt:
            prompt = task.final_prompt if task.modal == "picreader" else (parent.prompt if parent else "")
        if not prompt:
            raise SimError("validation", "prompt不能为空")
        seeds = self.engine.child_seeds()
        base = parent.tiles[0] if parent and parent.tiles else None
        if task.modal == "customzoom":
            zoom = prompt_zoom(prompt)
            if zoom is None or not 1.0 <= zoom <= 2.0:
                raise SimError("validation", "Custom Zoom 需要 --zoom 参数，取值 1 到 2")
            task.tiles = tuple(render.Zoom(base, zoom, s) for s in seeds)
        elif task.modal == "inpaint":
            mask = call.body.get("maskBase64")
            if not mask:
                raise SimError("validation", "maskBase64不能为空")
            data = self._image(mask, "maskBase64")
            with Image.open(io.BytesIO(data)) as img:
                if img.size != parent.image_size:
                    raise SimError("validation", f"蒙版尺寸必须与图片一致 {parent.image_size[0]}x{parent.image_size[1]}")
            task.tiles = tuple(render.Inpaint(base, data, s) for s in seeds)
        elif task.modal == "remix" and prompt != parent.prompt:
            # an edited prompt in remix mode steers the new images towards the new words
            task.tiles = tuple(render.Vary(render.Generate(prompt, s, i), seeds[i], 0.3)
                               for i, s in enumerate(seeds))
        if task.modal == "picreader":
            task.tiles = self.engine.grid_tiles_generate(prompt, task.seed)
        self._before_submit(call, "mj_modal")
        if reason := midjourney_rules.fail_reason(prompt, self.profile, task.version):
            task.outcome, task.fail_reason = "invalid", reason  # a remix/zoom prompt Midjourney refuses
        task.prompt, task.final_prompt = prompt, prompt
        task.modal = None  # the form is in; the status stays MODAL until the job reaches Discord
        task.record(call.now)
        self.engine.account(call.key).submits += 1
        ahead = self.engine.enqueue(task, call.now)
        reply, text = self.flavour.accepted(task, None if ahead == 0 else ahead - 1)
        if self.profile == "relay":
            self.relay.continue_with_modal(task, text, call.now)
            self._charge(call, task)
        return reply

    def change(self, call: Call) -> Reply:
        action = str(call.body.get("action") or "").upper()
        index = call.body.get("index")
        if self.profile == "relay":
            if not call.body.get("taskId"):
                raise SimError("relay", "task_id_is_required")
            if not action:
                raise SimError("relay", "action_is_required")
            if not index:
                raise SimError("relay", "index_is_required")
        if action not in ("UPSCALE", "VARIATION", "REROLL"):
            raise SimError("validation", "action参数错误")
        if action != "REROLL" and (not isinstance(index, int) or not 1 <= index <= 4):
            raise SimError("validation", "index参数错误")
        return self._change(call, call.body.get("taskId"), action, index)

    def simple_change(self, call: Call) -> Reply:
        content = call.body.get("content")
        if self.profile == "relay" and not content:
            raise SimError("relay", "content_is_required")
        m = re.fullmatch(r"\s*(\d+)\s+([UV])([1-4])\s*|\s*(\d+)\s+(R)\s*", str(content or ""), re.I)
        if not m:
            raise SimError("relay" if self.profile == "relay" else "validation",
                           "content_parse_failed" if self.profile == "relay" else "content参数错误")
        if m[1]:
            action = "UPSCALE" if m[2].upper() == "U" else "VARIATION"
            return self._change(call, m[1], action, int(m[3]))
        return self._change(call, m[4], "REROLL", 0)

    def _change(self, call: Call, task_id, action: str, index: int) -> Reply:
        parent = self._parent(call, task_id)
        if parent.action not in GRID_PARENT_ACTIONS:
            raise SimError("validation", "关联任务不允许执行变化")
        self._before_submit(call, "mj_" + action.lower())
        h = parent.job_hash
        custom_id = {"UPSCALE": f"MJ::JOB::upsample::{index}::{h}",
                     "VARIATION": f"MJ::JOB::variation::{index}::{h}",
                     "REROLL": f"MJ::JOB::reroll::0::{h}::SOLO"}[action]
        child = self.make_child(call, parent, custom_id, remix=False)
        child.action = action
        return self._accept(child, call, "change")

    # ------------------------------------------------------------ queries

    def fetch(self, call: Call, task_id: str) -> Reply:
        task = self.engine.tasks.get(task_id)
        if not self._visible(task, call):
            return self.flavour.fetch_unknown()
        return json_reply(200, self.task_jsons(task, call.now)[0])  # a relay reads the oldest row

    def list_by_condition(self, call: Call) -> Reply:
        ids = call.body.get("ids") or []
        if self.profile == "relay" and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
            raise SimError("relay", "do_request_failed")  # Go binds ids as []string
        if not isinstance(ids, list):
            ids = []
        seen, found = set(), []
        for raw in ids:
            task_id = str(raw).strip() if self.profile == "trueai" else str(raw)
            task = self.engine.tasks.get(task_id)
            if task_id not in seen and self._visible(task, call):
                seen.add(task_id)
                found.append(task)
        if self.profile == "relay":
            # every row of every id; SQL without ORDER BY: by the mj_id index, and the two rows
            # of one id (after a modal, R3) in no order a client may count on
            rows = [(t.id, self.engine.rng.random(), obj) for t in found
                    for obj in self.task_jsons(t, call.now)]
            return json_reply(200, [obj for _, _, obj in sorted(rows, key=lambda r: r[:2])])
        # like the open-source proxy: unfinished tasks first, then stored ones
        found.sort(key=lambda t: (t.status in ("SUCCESS", "FAILURE"), t.submit_time))
        return json_reply(200, [self.task_jsons(t, call.now)[0] for t in found])

    def task_list(self, call: Call) -> Reply:
        """GET /mj/task/list (spec 3.14): novicezk every stored task, trueai the newest 100;
        newest first. Relays do not route it (their web page answers instead)."""
        newest = sorted(self.engine.tasks.values(), key=lambda t: t.submit_time, reverse=True)
        if self.profile == "trueai":
            newest = newest[:100]
        return json_reply(200, [self.task_jsons(t, call.now)[0] for t in newest])

    def image_seed(self, call: Call, task_id: str) -> Reply:
        task = self.engine.tasks.get(task_id)
        if not self._visible(task, call):
            raise SimError("seed_not_found", "task not found")
        # a relay only checks that the row exists; the upstream answers from its own state
        if not (task.seed_known_early and self.profile == "trueai") and task.status != "SUCCESS":
            raise SimError("seed_not_ready", "task not finished")
        return json_reply(200, {"code": 1, "description": "成功", "result": str(task.seed),
                                "properties": {}})


def reroll(tile, seed: int):
    """A reroll draws the same prompt anew (or re-blends / re-varies what the tile came from)."""
    if isinstance(tile, render.Generate):
        return render.Generate(tile.prompt, seed, tile.tile)
    if isinstance(tile, render.Blend):
        return render.Blend(tile.images, seed, tile.tile)
    return render.Vary(tile, seed, 1.0)


RELAY_ROUTE_MODELS = {"imagine": "mj_imagine", "modal": "mj_modal", "blend": "mj_blend",
                      "describe": "mj_describe", "shorten": "mj_shorten", "swap_face": "mj_swap_face"}
RELAY_ACTION_MODELS = {"variation": "mj_variation", "low_variation": "mj_low_variation",
                       "high_variation": "mj_high_variation", "reroll": "mj_reroll", "Outpaint": "mj_zoom",
                       "CustomZoom": "mj_custom_zoom", "Inpaint": "mj_inpaint"}
RELAY_CHANGE_MODELS = {"UPSCALE": "mj_upscale", "U": "mj_upscale", "VARIATION": "mj_variation",
                       "V": "mj_variation", "REROLL": "mj_reroll", "R": "mj_reroll"}


def relay_action_model(custom_id: str) -> str | None:
    """new-api's routing of a customId: part 2 if part 1 is JOB, else part 1 (spec 3.5); None = unknown."""
    parts = custom_id.split("::")
    if len(parts) < 2:
        return None
    op = parts[2] if parts[1] == "JOB" and len(parts) > 2 else parts[1]
    if op.startswith("upsample"):
        return "mj_upscale"
    if op.startswith("pan_"):
        return "mj_pan"
    return RELAY_ACTION_MODELS.get(op)


def relay_accepts(custom_id: str) -> bool:
    """Whether a relay routes this customId at all (else 400 unknown_action)."""
    return relay_action_model(custom_id) is not None


def relay_model(route: str, body: dict) -> str | None:
    """The billing model a new-api relay charges (and checks the key against) for a request."""
    if route in RELAY_ROUTE_MODELS:
        return RELAY_ROUTE_MODELS[route]
    if route == "action":
        custom_id = body.get("customId")
        return relay_action_model(custom_id.strip()) if isinstance(custom_id, str) else None
    if route == "change":
        return RELAY_CHANGE_MODELS.get(str(body.get("action") or "").upper())
    if route == "simple_change":
        words = str(body.get("content") or "").split()
        return RELAY_CHANGE_MODELS.get(words[1][:1].upper()) if len(words) == 2 else None
    return None  # task queries are not billed


def shorten_markdown(prompt: str) -> str:
    """SHORTEN's analysis: important tokens in bold, dropped ones struck, five candidates."""
    body = re.sub(r"\s--\S+(\s+[^-\s]\S*)?", "", " " + prompt).strip()
    words = re.findall(r"[^\s,]+", body)
    keep = [w for w in words if len(w) > 3 and w.lower() not in {"with", "that", "this", "very", "from"}]
    marked = " ".join(f"**{w}**" if w in keep else f"~~{w}~~" for w in words)
    candidates = [" ".join(keep[: max(1, len(keep) - i)]) for i in range(5)]
    lines = ["## Important tokens", marked, "", "## Shortened prompts"]
    lines += [f"{k} {c}" for k, c in zip(["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣"], candidates)]
    return "\n".join(lines)
