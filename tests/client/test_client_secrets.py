"""The API key never shows: not in a repr or str, not in an error, not in a log line (design.md).

A distinctive key runs through a sequence of good and failing calls against each simulator
profile (and a scripted server that echoes the key back, as careless relays do), with every
logger at DEBUG; then everything a user could see is searched for it.
"""

from __future__ import annotations

import logging
import traceback

import pytest
from client_support import MISSING, NATIVE_AUTH, QUICK, UNKNOWN_ID, done

import mjnb
from mjnb import MjnbError

CANARY = "sk-SECRET-canary-12345"
NEEDLES = (CANARY, CANARY[3:], "canary-12345")


def _visible_text(obj) -> str:
    """Everything a person could see of an object: repr, str, and for errors every attribute
    and the formatted traceback."""
    parts = [repr(obj), str(obj)]
    if isinstance(obj, BaseException):
        parts += [repr(obj.args), "".join(traceback.format_exception(type(obj), obj, obj.__traceback__))]
        parts += [repr(v) for v in vars(obj).values()]
    return "\n".join(parts)


def _assert_clean(text: str, what: str) -> None:
    for needle in NEEDLES:
        assert needle not in text, f"the key leaked into {what}: ...{text[max(0, text.find(needle) - 80):][:200]}..."


def _expect_error(errors: list, call) -> None:
    try:
        call()
    except MjnbError as exc:
        errors.append(exc)
    else:
        raise AssertionError("expected an error")


def test_key_never_leaks(fault_sim, profile, caplog, capsys, fake):
    caplog.set_level(logging.DEBUG)  # root: urllib3, requests, everything
    for name in ("mjnb", "mjnb.tracker", "urllib3", "urllib3.connectionpool"):
        caplog.set_level(logging.DEBUG, logger=name)
    errors: list = []
    client = mjnb.Client(fault_sim.url, CANARY, auth_header=NATIVE_AUTH[profile], announce=False,
                         flavour=profile, **QUICK)
    seen = [client, client.config, mjnb.Config.from_env({"MJNB_API_KEY": CANARY}), vars(client)]

    # good calls
    grid = done(client.imagine("pig --v 6.1"))
    seen += [grid, client.fetch(grid.id), client.list_by_condition([grid.id]), client.task(grid.id),
             client.tasks([grid.id]), client.download(grid.image_url)[:8], grid.image]
    if "image_seed" not in MISSING[profile]:
        seen.append(client.image_seed(grid.id))
    if "action" not in MISSING[profile]:
        seen.append(done(grid.upscale(2)))
    else:
        seen.append(done(client.change(grid.id, "UPSCALE", 2)))

    # failing calls
    _expect_error(errors, lambda: client.fetch(UNKNOWN_ID))
    _expect_error(errors, lambda: client.imagine("  "))
    _expect_error(errors, lambda: client.describe(b"not an image"))
    if profile == "trueai":
        _expect_error(errors, lambda: client.change(grid.id, "UPSCALE", 1))  # unsupported
        _expect_error(errors, lambda: client.imagine("a gore pig").wait(10))  # TaskFailedError
    else:
        _expect_error(errors, lambda: client.imagine("a gore pig"))  # BannedPromptError
        if profile == "novicezk":
            _expect_error(errors, lambda: client.shorten("pig"))  # unsupported
    fault_sim.configure(error_rate=1.0)
    _expect_error(errors, lambda: client.fetch(grid.id))
    _expect_error(errors, lambda: client.imagine("pig"))
    fault_sim.configure(error_rate=0.0, drop_rate=1.0)
    _expect_error(errors, lambda: client.imagine("pig"))
    _expect_error(errors, lambda: client.list_by_condition([grid.id]))
    fault_sim.configure(drop_rate=0.0, keys=["sk-someone-else"])
    _expect_error(errors, lambda: client.imagine("pig"))  # 401
    fault_sim.configure(keys=[], disabled_keys=[CANARY])
    _expect_error(errors, lambda: client.fetch(grid.id))  # 403

    # a careless relay echoing the key in its error texts: the client scrubs it
    echo = mjnb.Client(fake.url, CANARY, auth_header=NATIVE_AUTH[profile], announce=False, **QUICK)
    seen.append(echo)
    fake.on("/mj/submit/imagine", (400, {"code": 4, "description": f"bad token Bearer {CANARY}"}, {}))
    fake.on(f"/mj/task/{UNKNOWN_ID}/fetch", (401, {"error": {"message": f"无效的令牌 {CANARY[3:]}"}}, {}))
    fake.on("/mj/task/list-by-condition", (502, f"<html><title>502 for {CANARY}</title></html>", {}))
    fake.on(f"/mj/task/{UNKNOWN_ID}/image-seed", (200, f"key={CANARY}", {}))
    fake.on("/mj/submit/shorten", (200, {"success": False, "code": 0, "message": f"{CANARY} 并发数已达上限"}, {}))
    _expect_error(errors, lambda: echo.imagine("pig"))
    _expect_error(errors, lambda: echo.fetch(UNKNOWN_ID))
    _expect_error(errors, lambda: echo.list_by_condition([UNKNOWN_ID]))
    _expect_error(errors, lambda: echo.image_seed(UNKNOWN_ID))
    _expect_error(errors, lambda: echo.shorten("pig"))
    assert any(CANARY in r[2].get("Authorization", "") + r[2].get("mj-api-secret", "")
               for r in fake.requests)  # the key was really sent, and echoed
    echo.close()

    assert len(errors) >= 13 and {type(e).__name__ for e in errors} >= {
        "NotFoundError", "ValidationError", "ServerError", "TransportError", "AuthError"}
    for err in errors:
        _assert_clean(_visible_text(err), f"{type(err).__name__}: {err}")
    for obj in seen:
        _assert_clean(_visible_text(obj), repr(type(obj)))
    for task in (grid, *grid.children):
        _assert_clean(_visible_text(task), "a Task")
        _assert_clean(str(task._repr_mimebundle_()), "a Task's display")
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # DEBUG logging was on
    assert any(r.name == "mjnb" for r in caplog.records)
    _assert_clean(caplog.text, "the log")
    _assert_clean("\n".join(r.getMessage() for r in caplog.records), "the log records")
    out = capsys.readouterr()
    _assert_clean(out.out + out.err, "stdout/stderr")
    if client.history is not None:  # the history database keeps requests, never the key
        client.close()
        for path in client.history.home.rglob("*"):
            if path.is_file():
                _assert_clean(path.read_bytes().decode("latin-1"), f"the history file {path.name}")
    client.close()


def test_config_and_client_reprs_hide_the_key():
    config = mjnb.Config(base_url="https://relay.example/mj", api_key=CANARY)
    assert "api_key=<set>" in repr(config) and str(config) == repr(config)
    assert mjnb.Config(base_url="https://relay.example").__repr__().count("api_key=None") == 1
    client = mjnb.Client(config=config, announce=False)
    assert repr(client) == "<mjnb.Client https://relay.example auth=bearer; balance: not read yet (client.balance())>"
    assert CANARY not in repr(client.session.headers)  # sent per request, not kept in the session
    assert repr(client.transport._auth) == "<mjnb key auth>"
    client.close()


@pytest.mark.parametrize("text", [f"token {CANARY} refused", f"token {CANARY[3:]} refused"])
def test_scrub(text):
    client = mjnb.Client("https://relay.example", CANARY, announce=False)
    assert client.transport._scrub(text) == "token *** refused"
    client.close()


@pytest.mark.parametrize("settings, words", [
    (dict(base_url=CANARY, api_key="https://relay.example"), "swapped"),
    (dict(base_url="https://relay.example", api_key="https://relay.example"), "swapped"),
    (dict(base_url="https://relay.example", api_key=CANARY[:8] + "\u200b" + CANARY[8:]), "U+200B"),
    (dict(base_url="https://relay.example", api_key=CANARY[:8] + "\n" + CANARY[8:]), "line break"),
    (dict(base_url="https://relay.example", api_key=CANARY[:8] + " " + CANARY[8:]), "a space"),
    (dict(base_url=f"https://relay.example/?key={CANARY}", api_key="x"), "give the key as api_key"),
])
def test_a_misplaced_or_mangled_key_is_refused_without_being_quoted(settings, words):
    with pytest.raises(mjnb.ConfigError) as info:
        mjnb.Client(history=False, **settings)
    message = str(info.value)
    assert words in message
    assert CANARY not in message and CANARY[3:11] not in message and CANARY[-8:] not in message
