"""Midjourney refuses bad prompt parameters: the proxy accepts the submit (it cannot know), the job
fails as it reaches Discord, and failReason carries Midjourney's "Invalid parameter" embed in the
flavour's style ("[Title] text" open-source and relays, "Title, text" TRUEAI; spec 9.4)."""

from __future__ import annotations

import ast
import pathlib

import pytest

import mjnb.sim

URL = "https://s.mj.run/3kRzXj0bNoc"
VERSIONS = "1, 2, 3, 4, 5, 5.1, 5.2, 6, 6.1, 7, 8, 8.1"

REFUSED = [  # (prompt, the embed's description) with the simulator's default version 7
    ("a cat --foo", "Unrecognized parameter(s): `--foo`"),
    ("a cat --foo --bar", "Unrecognized parameter(s): `--foo`, `--bar`"),
    ("cyberpunk city --ar 16:9 --v 5 ultra detailed", "Unrecognized parameter(s): `ultra`, `detailed`"),
    ("a cat --tile seamless", "Unrecognized parameter(s): `seamless`"),
    ("a cat --ar 0:0", "Invalid value `0:0` for `--ar`: expected width:height in whole numbers above 0"),
    ("a cat --ar 3:0", "Invalid value `3:0` for `--ar`: expected width:height in whole numbers above 0"),
    ("a cat --ar abc", "Invalid value `abc` for `--ar`: expected width:height in whole numbers above 0"),
    ("a cat --v 99", f"Invalid value `99` for `--v`: expected one of {VERSIONS}"),
    ("a cat --niji 9", "Invalid value `9` for `--niji`: expected one of 4, 5, 6, 7"),
    ("a cat --s -5", "Invalid value `-5` for `--s`: expected an integer between 0 and 1000"),
    ("a cat --chaos 500", "Invalid value `500` for `--chaos`: expected an integer between 0 and 100"),
    ("a cat --quality 3", "Invalid value `3` for `--quality`: expected one of 1, 2, 4"),
    ("a cat --q .5 --v 7", "Invalid value `.5` for `--q`: expected one of 1, 2, 4"),
    ("a cat --seed -1", "Invalid value `-1` for `--seed`: expected an integer between 0 and 4294967295"),
    ("a cat --stop 5", "Invalid value `5` for `--stop`: expected an integer between 10 and 100"),
    (f"{URL} a cat --iw 9", "Invalid value `9` for `--iw`: expected a number between 0 and 3"),
    ("a cat --repeat 0", "Invalid value `0` for `--repeat`: expected an integer between 1 and 40"),
    ("a cat --weird 5000", "Invalid value `5000` for `--weird`: expected an integer between 0 and 3000"),
    (f"a cat --cref {URL}", "`--cref` is not compatible with `--v 7`"),
    (f"a cat --oref {URL} --v 6.1", "`--oref` is not compatible with `--v 6.1`"),
]
ACCEPTED = [
    "a cat --ar 16:9 --s 250 --c 20 --q 2 --seed 7 --stop 90 --v 6.1",
    "a cat --q .5 --v 6.1",
    "a cat --v 4 --ar 2:1",
    f"a cat --niji 6 --cref {URL} --cw 50 --style raw",
    f"a cat --v 7 --oref {URL} --ow 200 --exp 10 --draft --raw",
    "a cat —ar 2:3 —no birds, trees",
    f"a cat --sref {URL} random --sw 300 --sv 4 --p --v 7",
    "a cat --repeat 40 --weird 3000 --seed 4294967295 --tile",
    "a cat --v 8.1 --q 4 --hd",
]


def reason(profile: str, text: str) -> str:
    return f"Invalid parameter, {text}" if profile == "trueai" else f"[Invalid parameter] {text}"


@pytest.mark.parametrize("prompt, text", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_parameters_are_accepted_then_fail_at_start(any_client, prompt, text):
    task_id = any_client.imagine(prompt)  # code 1: the proxy sends it to Discord
    task = any_client.wait(task_id)
    assert task["status"] == "FAILURE" and task["failReason"] == reason(any_client.profile, text)
    assert task["startTime"] is not None and not task["imageUrl"] and not task.get("buttons")


@pytest.mark.parametrize("prompt", ACCEPTED)
def test_parameters_midjourney_takes_succeed(any_client, prompt):
    task = any_client.done(any_client.imagine(prompt))
    assert task["failReason"] in ("", None)


@pytest.mark.parametrize("profile", ["relay", "trueai"])
def test_the_bot_and_default_version_decide_when_the_prompt_names_none(make_sim, profile):
    c = make_sim(profile=profile)
    assert c.done(c.imagine("a cat --q 4"))["status"] == "SUCCESS"  # the default V7 takes 4
    niji = c.wait(c.imagine("a cat --q 4", botType="NIJI_JOURNEY"))  # niji 6 does not
    assert niji["failReason"] == reason(profile, "Invalid value `4` for `--q`: expected one of 0.25, 0.5, 1, 2")
    older = make_sim(profile=profile, default_version="6.1")
    assert older.done(older.imagine("a cat --q .5"))["status"] == "SUCCESS"
    assert c.wait(c.imagine("a cat --q .5"))["status"] == "FAILURE"


@pytest.mark.parametrize("profile", ["relay", "trueai"])
def test_a_remix_prompt_midjourney_refuses_fails_the_child(make_sim, profile):
    c = make_sim(profile=profile, remix=True)
    grid = c.done(c.imagine("a harbour"))
    child_id = c.action(grid["id"], c.button(grid, "V1"))
    c.wait(child_id, until=lambda t: t["status"] == "MODAL")
    assert c.modal(child_id, prompt="a harbour at night --chaos 500") == child_id
    child = c.wait(child_id)
    assert child["status"] == "FAILURE"
    assert child["failReason"] == reason(profile, "Invalid value `500` for `--chaos`: "
                                                  "expected an integer between 0 and 100")


def test_custom_zoom_prompts_keep_their_zoom(make_sim):
    c = make_sim(profile="trueai")
    up = c.done(c.action((grid := c.done(c.imagine("a windmill")))["id"], c.button(grid, "U1")))
    child_id = c.action(up["id"], c.button(up, "Custom Zoom"))
    c.wait(child_id, until=lambda t: t["status"] == "MODAL")
    c.modal(child_id, prompt="a windmill --zoom 1.5 --ar 0:0")
    assert c.wait(child_id)["failReason"] == reason("trueai", "Invalid value `0:0` for `--ar`: "
                                                              "expected width:height in whole numbers above 0")


def test_trueai_banned_word_is_reported_before_bad_parameters(trueai):
    task = trueai.wait(trueai.imagine("an nsfw poster --foo"))
    assert task["status"] == "FAILURE" and task["failReason"] == "可能包含敏感词"


def test_rules_are_the_simulators_own():
    """midjourney_rules imports nothing from the client: the simulator stays a second implementation."""
    path = pathlib.Path(mjnb.sim.__file__).with_name("midjourney_rules.py")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            assert node.level <= 1 and (node.level == 1 or not (node.module or "").startswith("mjnb")), \
                ast.unparse(node)
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("mjnb") for a in node.names), ast.unparse(node)
