"""What each server flavour puts on the wire: envelopes, codes and task JSON (spec 2.3, 4, 5, 10).

The routes decide *what* happened (a SimError kind, a task); this module decides how the chosen
profile says it.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

from .engine import SimError, SimTask

INSTANCE_ID = "1290011223344556677"
DASHBOARD_PAGE = (b'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>New API</title>'
                  b'</head><body><div id="root"></div></body></html>')
QUEUE_TEXT = "排队中，前面还有{n}个任务"


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict = field(default_factory=dict)
    padding: int = 0  # trailing JSON whitespace bytes (the oversize fault)
    trickle: float = 0.0  # seconds between body bytes (the trickle fault)


def json_reply(status: int, obj, headers: dict | None = None) -> Reply:
    return Reply(status, json.dumps(obj, ensure_ascii=False).encode(), headers=headers or {})


def text_reply(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), "text/plain; charset=utf-8")


def empty_reply(status: int) -> Reply:
    return Reply(status, b"", "")


def submit_result(code: int, description: str, result=None, properties=None, http: int = 200) -> Reply:
    return json_reply(http, {"code": code, "description": description, "result": result,
                             "properties": properties if properties is not None else {}})


def relay_error(code: int, description: str, result: str = "", http: int = 400) -> Reply:
    """new-api's own MJ error: note the space before the (usually empty) result."""
    return json_reply(http, {"description": f"{description} {result}", "type": "upstream_error",
                             "code": code})


def openai_error(status: int, message: str, type_: str = "new_api_error") -> Reply:
    request_id = time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(4)
    return json_reply(status, {"error": {"message": f"{message} (request id: {request_id})",
                                         "type": type_}})


def spring_error(status: int, error: str, path: str) -> Reply:
    return json_reply(status, {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime()),
                               "status": status, "error": error, "path": path})


def _ms(t: float | None) -> int | None:
    return None if t is None else int(t * 1000)


def _percent(status: str, progress: int) -> str | None:
    if status == "NOT_START" or status == "MODAL":
        return None
    if status == "FAILURE":
        return ""
    return f"{progress}%"


class Flavour:
    """The raw upstream behaviour shared by the open-source servers; subclasses differ."""

    name = "base"
    routes_missing: frozenset = frozenset()
    business_http = {}  # SimError kind -> HTTP status when not 200

    # ---- submit answers
    def accepted(self, task: SimTask, ahead: int | None) -> tuple[Reply, str]:
        """The answer to an accepted submit, and the text a relay would keep as description."""
        props = {"discordInstanceId": INSTANCE_ID}
        if ahead is None:
            return submit_result(1, "提交成功", task.id, props), "提交成功"
        text = QUEUE_TEXT.format(n=ahead)
        return submit_result(22, text, task.id, {**props, "numberOfQueues": ahead}), text

    def modal_created(self, task: SimTask) -> tuple[Reply, str]:
        text = "Waiting for window confirm"
        return submit_result(21, text, task.id, {"finalPrompt": task.final_prompt, "remix": True}), text

    def error(self, err: SimError, route: str, path: str) -> Reply:
        kind, msg = err.kind, err.message
        if kind == "parent_not_found":
            return submit_result(3, "关联任务不存在或已失效", http=self.business_http.get(kind, 200))
        if kind == "parent_status":
            return submit_result(4, "关联任务状态错误", http=self.business_http.get(kind, 200))
        if kind == "queue_full":
            return submit_result(23, "队列已满，请稍后尝试", properties={"discordInstanceId": INSTANCE_ID})
        if kind == "banned":
            return submit_result(24, "可能包含敏感词",
                                 properties={"promptEn": err.extra.get("prompt", ""),
                                             "bannedWord": err.extra.get("word", "")})
        if kind == "no_account":
            return submit_result(3, "无可用的账号实例")
        if kind == "discord_error":
            return submit_result(9, "提交失败，系统异常", properties={"discordInstanceId": INSTANCE_ID})
        if kind in ("crash", "no_channel"):
            return spring_error(500, "Internal Server Error", path)
        if kind == "bad_json":
            return spring_error(400, "Bad Request", path)
        if kind == "seed_not_ready":
            return submit_result(4, "关联任务状态错误", http=self.business_http.get(kind, 200))
        if kind == "seed_not_found":
            return submit_result(3, "关联任务不存在或已失效", http=self.business_http.get(kind, 200))
        # validation, quota, unknown_action and relay-only checks: a plain code 4
        return submit_result(4, msg)

    # ---- auth, limits, routing
    def unauthorized(self, missing: bool) -> Reply:
        return empty_reply(401)

    def forbidden(self, why: str, detail: str = "") -> Reply:
        return empty_reply(403)

    def rate_limited(self, retry_after: int) -> Reply:
        return empty_reply(429)

    def route_not_found(self, method: str, path: str) -> Reply:
        return spring_error(404, "Not Found", path)

    def fetch_unknown(self) -> Reply:
        return empty_reply(200)

    # ---- task JSON
    def task_json(self, task: SimTask, view: dict | None) -> dict:
        v = view or {}
        status = v.get("status", "NOT_START")
        return {
            "id": task.id, "action": task.action, "status": status, "prompt": task.prompt,
            "promptEn": task.prompt, "description": task.description, "state": task.state,
            "submitTime": _ms(task.submit_time), "startTime": _ms(v.get("start_time")),
            "finishTime": _ms(v.get("finish_time")), "imageUrl": v.get("image_url"),
            "progress": _percent(status, v.get("progress", 0)),
            "failReason": v.get("fail_reason") or None,
            "properties": self.properties(task, v),
        }

    def properties(self, task: SimTask, v: dict) -> dict:
        props = {"finalPrompt": v.get("final_prompt", task.final_prompt),
                 "discordInstanceId": INSTANCE_ID, "messageHash": task.job_hash,
                 "notifyHook": None, "flags": 0, "nonce": str(int(task.submit_time * 1e6))}
        props.update(task.properties)
        return props


class NovicezkFlavour(Flavour):
    name = "novicezk"
    routes_missing = frozenset({"action", "modal", "shorten", "image_seed", "swap_face",
                                "image", "list_by_ids"})

    def accepted(self, task, ahead):
        # DiscordInstanceImpl reads the executor's queue size before adding the job: the first
        # job to wait hears "submitted" (code 1), the next "1 ahead" (spec §13 R8)
        if not ahead:
            return submit_result(1, "提交成功", task.id, {"discordInstanceId": INSTANCE_ID}), "提交成功"
        return super().accepted(task, ahead)


class TrueaiFlavour(Flavour):
    name = "trueai"
    routes_missing = frozenset({"change", "simple_change", "image"})
    business_http = {"parent_not_found": 404, "seed_not_found": 404, "seed_not_ready": 400}

    def accepted(self, task, ahead):
        reply, text = super().accepted(task, ahead)
        body = json.loads(reply.body)
        body["properties"]["discordChannelId"] = INSTANCE_ID
        return json_reply(200, body), text

    def error(self, err, route, path):
        if err.kind == "queue_full":
            return submit_result(9, "提交失败，队列已满，请稍后重试",
                                 properties={"discordInstanceId": INSTANCE_ID})
        if err.kind == "quota" and route != "imagine":
            # TRUEAI's second envelope for limits hit by submits other than imagine
            return json_reply(200, {"success": False, "code": 0, "message": err.message,
                                    "timestamp": str(int(time.time() * 1e7))})
        if err.kind in ("crash", "no_channel"):
            return json_reply(500, {"success": False, "message": "操作失败", "code": 500,
                                    "timestamp": str(int(time.time() * 1e7))})
        if err.kind == "bad_json":
            return json_reply(400, {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                                    "title": "One or more validation errors occurred.",
                                    "status": 400, "errors": {"$": [err.message]}})
        return super().error(err, route, path)

    def unauthorized(self, missing):
        return text_reply(401, "Authorization header missing.")

    def forbidden(self, why, detail=""):
        return text_reply(403, "账号不可用")

    def route_not_found(self, method, path):
        return empty_reply(404)

    def fetch_unknown(self):
        return empty_reply(204)

    def task_json(self, task, view):
        out = super().task_json(task, view)
        v = view or {}
        w, h = task.image_size if task.kind != "grid" else (task.tile_size[0] * 2, task.tile_size[1] * 2)
        out.update({
            "parentId": task.parent_id, "botType": task.bot_type, "customId": task.custom_id,
            "buttons": v.get("buttons", []), "seed": str(task.seed) if task.seed_known_early or
            v.get("status") == "SUCCESS" else None,
            "mode": (task.mode or "fast").upper(), "requestMode": task.mode.upper() if task.mode else None,
            "jobId": task.job_hash if v.get("status") == "SUCCESS" else None,
            "messageId": None, "nonce": str(int(task.submit_time * 1e6)), "instanceId": INSTANCE_ID,
            "version": task.version, "promptFull": task.final_prompt, "width": w, "height": h,
            "url": v.get("image_url"), "proxyUrl": None, "contentType": "image/png",
            "size": None, "thumbnailUrl": None, "imageUrls": None, "videoUrl": None,
            "videoUrls": None, "accountFilter": {"instanceId": None, "modes": [], "remix": None},
            "isCompleted": v.get("status") in ("SUCCESS", "FAILURE"),
            "useTime": None, "displays": {}, "remixAutoSubmit": False, "isPartner": False,
            "isOfficial": False, "maskBase64": None, "isReplicate": False, "userId": None,
        })
        if task.kind in ("describe", "shorten"):
            out["promptEn"] = v.get("final_prompt", task.final_prompt)
        out["properties"]["discordChannelId"] = INSTANCE_ID
        out["properties"]["botType"] = task.bot_type
        return out


class RelayFlavour(Flavour):
    """new-api in front of a PLUS upstream: its own envelopes, rewrites and 18-key task DTO."""

    name = "relay"
    routes_missing = frozenset({"list_by_ids"})

    def accepted(self, task, ahead):
        if ahead is None:
            return submit_result(1, "提交成功", task.id, {"discordInstanceId": INSTANCE_ID}), "提交成功"
        text = QUEUE_TEXT.format(n=ahead)  # the relay rewrites code 22 to 1 but keeps the text
        return submit_result(1, text, task.id, {"discordInstanceId": INSTANCE_ID,
                                                 "numberOfQueues": ahead}), text

    def modal_created(self, task):
        # new-api rewrites the text "code":21 to "code":1, except for Custom Zoom and Vary Region;
        # the upstream's description and properties pass through (spec §13 R4)
        reply, text = super().modal_created(task)
        if task.modal in ("customzoom", "inpaint"):
            return reply, text
        return Reply(reply.status, reply.body.replace(b'"code": 21', b'"code": 1', 1),
                     reply.content_type), text

    def error(self, err, route, path):
        kind, msg = err.kind, err.message
        if kind == "relay":  # the relay's own request checks
            return relay_error(4, msg)
        if kind == "parent_not_found":
            return relay_error(4, "task_not_found")
        if kind == "parent_status":
            return relay_error(4, "task_status_not_success")
        if kind in ("seed_not_found", "fetch_unknown"):
            return relay_error(4, "task_no_found")
        if kind == "unknown_action":
            return openai_error(400, f"无效的请求，unknown_action:{err.extra.get('custom_id', '')}")
        if kind == "quota":
            return relay_error(4, "quota_not_enough")
        if kind == "crash":
            return relay_error(5, "do_request_failed")
        if kind == "no_channel":
            return openai_error(503, f"当前分组 default 下对于模型 {err.extra.get('model', 'mj_imagine')} 无可用渠道")
        if kind == "bad_json":
            return relay_error(4, "bind_request_body_failed")
        return super().error(err, route, path)

    def unauthorized(self, missing):
        return openai_error(401, "未提供令牌" if missing else "无效的令牌")

    def forbidden(self, why, detail=""):
        messages = {"disabled": "用户已被封禁", "model": f"该令牌无权访问模型 {detail}",
                    "channel": "普通用户不支持指定渠道"}
        return openai_error(403, messages[why])

    def rate_limited(self, retry_after):
        reply = relay_error(30, "当前分组负载已饱和，请稍后再试", http=429)
        reply.headers["Retry-After"] = str(retry_after)
        return reply

    def route_not_found(self, method, path):
        if path.startswith(("/v1", "/api")):
            return json_reply(404, {"error": {"message": f"Invalid URL ({method} {path})",
                                              "type": "invalid_request_error", "param": "", "code": ""}})
        return Reply(200, DASHBOARD_PAGE, "text/html; charset=utf-8")  # web-router's NoRoute (R6)

    def fetch_unknown(self):
        return relay_error(4, "task_no_found")

    def task_json(self, task, view):
        raise NotImplementedError("a relay answers per row: use row_json")

    def row_json(self, task: SimTask, row, view: dict | None, image_url: str) -> dict:
        """One row of new-api's table as its MidjourneyDto; `view` None means not synced yet (R5)."""
        synced = view is not None
        v = view or {"status": "", "progress": 0}
        status = v.get("status", "")
        progress = 100 if status == "FAILURE" else v.get("progress", 0)
        return {
            "id": task.id, "action": row.action, "customId": "", "botType": "",
            "prompt": row.prompt, "promptEn": task.prompt if synced else "",
            "description": row.description, "state": (task.state or "") if synced else "",
            "submitTime": _ms(task.submit_time if synced else row.created),
            "startTime": _ms(v.get("start_time")) or 0, "finishTime": _ms(v.get("finish_time")) or 0,
            "imageUrl": image_url, "status": status, "progress": f"{progress}%",
            "failReason": v.get("fail_reason") or "", "buttons": v.get("buttons") or None,
            "maskBase64": "",
            "properties": {"finalPrompt": v.get("final_prompt", task.final_prompt),
                           "finalZhPrompt": ""} if synced else None,
        }


FLAVOURS = {"relay": RelayFlavour, "trueai": TrueaiFlavour, "novicezk": NovicezkFlavour}
