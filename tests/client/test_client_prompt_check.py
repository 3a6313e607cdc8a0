"""The parameter catalogue: Midjourney parameters are checked before a submit (issue 11, Deliver 8).

Good prompts people really post pass; each bad value is refused with a ValidationError naming the
parameter and what Midjourney takes, before any HTTP request (the simulator's request counts do
not move). `validate=False` sends the prompt, and the simulator then fails the job the way
Midjourney does, with its "Invalid parameter" failReason.
"""

from __future__ import annotations

import pytest
from client_support import PROFILES, done, until

import mjnb
import mjnb.sim
from mjnb import Experiment, TaskFailedError, TaskStatus, ValidationError
from mjnb.prompt_check import ParameterError, check_prompt

FAST = dict(speed=300.0, seed=4)  # the relay's own 15 s clock, sped up
U1 = "https://s.mj.run/3kRzXj0bNoc"
U2 = "https://s.mj.run/Qw7pLm2aXyE"
CDN = "https://cdn.discordapp.com/attachments/1087654321/1198765432/portrait_ref.png?ex=65b1c2d3&is=659f4d5e"

GOOD = [  # real-world prompts, v1 to v8.1 and niji 4 to 7 (many from tests/history/test_history_params.py)
    "a cute corgi astronaut floating in space, digital art --v 4",
    "portrait of an old fisherman, weathered skin, golden hour, 85mm lens --ar 2:3 --s 750 --v 5",
    "isometric cozy bedroom, pastel colors, 3d render --c 20 --q .5 --v 5.2",
    "a bioluminescent jellyfish in a dark ocean --q 2 --v 4",
    "red fox in the snow, national geographic photo --seed 123 --ar 16:9",
    "cyberpunk street market at night, neon rain --seed 2227065045 --v 6.0",
    "candid street photo of a woman laughing, Kodak Portra 400 --style raw --v 6",
    "vintage travel poster of Lisbon trams --style 4b --v 5 --ar 3:4",
    "cathedral made of glass --v 4 --style 4c",
    "a teapot that is also a cat, surreal --w 1000 --v 5.2",
    "seamless pattern of tropical leaves and flamingos --tile --v 5",
    "minimalist logo of a mountain, vector, flat --no text, watermark --v 6.1",
    "product photo of a perfume bottle on marble --ar 4:5 --no people, hands, blurry background",
    f"{U1} watercolor portrait of the same woman --iw 1.5 --v 6",
    f"<{U1}> <{U2}> a knight in ornate armor --iw .5 --ar 9:16 --v 5.1",
    f"{CDN} blend of both, oil painting --iw 2",
    f"a lighthouse on a cliff at dusk --sref {U1} {U2} --sw 200 --v 6",
    "a cozy cabin in the woods --sref random --v 6.1",
    "fashion editorial, red dress --sref 2412569483 --sv 4 --v 7",
    f"pink twintails tsundere girl --no evil --ar 3:4 --seed 7 --niji 6 --sref <{U1}> --cref <{U2}>",
    f"the same girl sitting in a cafe --cref {U1} --cw 0 --v 6.0",
    "ethereal forest spirit, soft light --p --v 6.1",
    "a bowl of ramen --personalize m7xq2 k3pz1 --stylize 250",
    "logo concepts for a coffee brand --r 4 --v 6",
    "abstract fluid art --repeat 10 --chaos 100",
    "sketch of a dragon, rough pencil --stop 80 --v 5",
    "aerial view of rice terraces in the mist --raw --draft --v 7",
    f"the hero on a rooftop --oref {U1} --ow 100 --exp 25 --v 7",
    "studio ghibli style meadow with a small house —ar 16:9 —v 5.2",
    "neon samurai —ar 21:9 --s 1000 —no blood",
    "hot dog::1.5 food::-.5 --v 5",
    "Moody forest at dawn --AR 16:9 --V 6 --Stylize 400 --SEED 42",
    "a ceramic vase --aspect 1:1 --version 5.1 --chaos 5 --quality 1 --weird 250",
    "a tiny island in a vast sea --zoom 2 --v 5.2",
    "a bowl of fruit, still life --fast --v 6 --relax --turbo",
    "cute anime girl with cat ears, cherry blossoms --niji",
    "a shonen hero powering up, dramatic --niji 5 --style expressive --ar 9:16",
    "watercolor fox spirit --niji 6 --style raw --s 50",
    "水墨画风格的山水 --ar 16：9 --niji 5",
    "a photograph of a golden retriever puppy playing in autumn leaves",
    "a paper boat on a puddle --v 8.1 --ar 3:2 --q 4",
    "a kitsune in a bamboo forest --niji 7 --ar 2:3",
    "a brutalist library, dramatic light --v 7 --q 2 --seed 0 --stop 100",
]

# (prompt, the parameter as typed, words the message must hold about what Midjourney takes)
BAD = [
    ("a cat --ar 0:0", "--ar", "whole numbers above 0"),
    ("a cat --ar 3:0", "--ar", "whole numbers above 0"),
    ("a cat --ar abc", "--ar", "width:height"),
    ("a cat --ar 1.5:1", "--ar", "whole numbers"),
    ("a cat --ar 3:1 --v 4", "--ar", "1:2 to 2:1"),
    ("a cat --v 99", "--v", "5.2, 6, 6.1, 7"),
    ("a cat --version 6.2", "--version", "6.1, 7"),
    ("a cat --niji 9", "--niji", "4, 5, 6, 7"),
    ("a cat --stylize -5", "--stylize", "from 0 to 1000"),
    ("a cat --s 1001", "--s", "from 0 to 1000"),
    ("a cat --chaos 500", "--chaos", "from 0 to 100"),
    ("a cat --c 2.5", "--c", "an integer from 0 to 100"),
    ("a cat --weird 3001", "--weird", "from 0 to 3000"),
    ("a cat --quality 3", "--quality", "0.25, 0.5, 1, 2, 4"),
    ("a cat --q .5 --v 7", "--q", "1, 2, 4"),
    ("a cat --seed -1", "--seed", "from 0 to 4294967295"),
    ("a cat --seed 4294967296", "--seed", "from 0 to 4294967295"),
    ("a cat --seed", "--seed", "needs a value"),
    ("a cat --stop 5", "--stop", "from 10 to 100"),
    (f"{U1} a cat --iw 9", "--iw", "from 0 to 3"),
    (f"{U1} a cat --iw 2.5 --v 5.2", "--iw", "from 0 to 2"),
    ("a cat --repeat 0", "--repeat", "from 1 to 40"),
    ("a cat --r 41", "--r", "from 1 to 40"),
    ("a cat --sw 2000", "--sw", "from 0 to 1000"),
    ("a cat --cw 101", "--cw", "from 0 to 100"),
    ("a cat --exp 101 --v 7", "--exp", "from 0 to 100"),
    ("a cat --zoom 3", "--zoom", "from 1 to 2"),
    (f"a cat --cref {U1} --v 7", "--cref", "only with --v 6, --v 6.1, --niji 6"),
    (f"a cat --oref {U1} --v 6.1", "--oref", "only with --v 7"),
    ("a cat --foo", "--foo", "unknown parameter --foo; Midjourney's parameters are --version"),
    ("a cat --stylze 250", "--stylze", "did you mean --stylize?"),
    ("cyberpunk city --ar 16:9 --v 5 ultra detailed", "--v", "'ultra detailed' after it"),
    ("a cat --tile seamless", "--tile", "'seamless' after it"),
    ("an owl --s high", "--s", "not a whole number"),
]


@pytest.fixture(scope="module")
def quiet_sims():
    """Simulators that only ever see refused prompts: their request counts must stay empty."""
    started = {p: mjnb.sim.start(profile=p, **FAST) for p in PROFILES}
    yield started
    for s in started.values():
        s.stop()


@pytest.fixture
def quiet(quiet_sims, profile, connect):
    sim = quiet_sims[profile]
    return sim, connect(sim)


def test_catalogue_sizes():
    assert len(GOOD) >= 30 and len(set(GOOD)) == len(GOOD)
    assert len(BAD) >= 20 and len({b[0] for b in BAD}) == len(BAD)


@pytest.mark.parametrize("prompt", GOOD)
def test_good_prompt_passes(prompt):
    check_prompt(prompt)  # raises on a false refusal


@pytest.mark.parametrize("prompt, parameter, allowed", BAD, ids=[b[0] for b in BAD])
def test_bad_prompt_is_refused_before_any_request(quiet, prompt, parameter, allowed):
    sim, client = quiet
    before = sim.stats()["requests"]
    with pytest.raises(ValidationError) as info:
        client.imagine(prompt)
    err = info.value
    assert isinstance(err, ParameterError) and err.field == "prompt" and err.parameter == parameter
    assert parameter in str(err) and allowed in str(err), str(err)
    assert sim.stats()["requests"] == before  # nothing was sent
    assert client.history.dataframe(server=client.config.host).empty  # nor recorded as a paid submit


def test_every_bad_parameter_is_named_at_once(quiet):
    sim, client = quiet
    with pytest.raises(ParameterError) as info:
        client.imagine("a cat --stylize -5 --chaos 500 --foo --ar 0:0")
    text = str(info.value)
    for name in ("--stylize -5", "--chaos 500", "--foo", "--ar (--aspect) 0:0"):
        assert name in text
    assert [p for p, _ in info.value.problems] == ["--foo", "--stylize", "--chaos", "--ar"]
    assert "validate=False" in text
    assert sim.stats()["requests"] == {}


def test_module_level_imagine_refuses_and_passes_validate_through(quiet, monkeypatch):
    sim, client = quiet
    monkeypatch.setattr(mjnb, "_client", client)
    with pytest.raises(ValidationError, match="--chaos"):
        mjnb.imagine("a cat --chaos 500")
    with pytest.raises(ValidationError, match="--stylize"):
        mjnb.experiment("a cat", {"--stylize": [50, -5]}, name="refused-at-once")
    assert sim.stats()["requests"] == {}


# ---------------------------------------------------------------- validate=False: Midjourney's answer


@pytest.fixture
def live(sims, profile, connect):
    sim = sims[profile]
    return sim, connect(sim)


def _imagines(sim) -> int:
    return sim.stats()["requests"].get("imagine", 0)


@pytest.mark.parametrize("prompt, reason", [
    ("a cat --foo", "Unrecognized parameter(s): `--foo`"),
    ("a cat --v 5 ultra detailed", "Unrecognized parameter(s): `ultra`, `detailed`"),
    ("a cat --stylize -5", "Invalid value `-5` for `--stylize`"),
    ("a cat --ar 0:0", "Invalid value `0:0` for `--ar`"),
    ("a cat --quality 3 --v 7", "Invalid value `3` for `--quality`"),
])
def test_validate_false_sends_it_and_the_job_fails_with_midjourneys_reason(live, profile, prompt, reason):
    sim, client = live
    before = _imagines(sim)
    task = client.imagine(prompt, validate=False)
    assert _imagines(sim) == before + 1  # sent once
    with pytest.raises(TaskFailedError) as info:
        task.wait(15)
    title = "Invalid parameter, " if profile == "trueai" else "[Invalid parameter] "
    assert info.value.fail_reason.startswith(title) and reason in info.value.fail_reason
    assert task.status == TaskStatus.FAILURE


def test_module_level_imagine_validate_false(sims, connect, monkeypatch):
    client = connect(sims["relay"])
    monkeypatch.setattr(mjnb, "_client", client)
    task = mjnb.imagine("a cat --seed -1", validate=False)
    with pytest.raises(TaskFailedError, match=r"Invalid value `-1` for `--seed`"):
        task.wait(15)


@pytest.mark.parametrize("profile", ["relay"])
def test_good_prompts_also_succeed_on_the_simulator(live):
    """The simulator's own rules agree with the client's on the whole good catalogue."""
    _, client = live
    for start in range(0, len(GOOD), 3):  # the account runs 3 jobs at once
        tasks = [client.imagine(p) for p in GOOD[start:start + 3]]
        for task in tasks:
            assert done(task).status == TaskStatus.SUCCESS, (task.prompt, task.fail_reason)


# ---------------------------------------------------------------- prompts given to a Task's buttons


@pytest.mark.parametrize("profile", ["relay", "trueai"])
def test_task_methods_refuse_a_bad_prompt_before_pressing_the_button(live):
    sim, client = live
    grid = done(client.imagine("a pig in a hat"))
    up = done(grid.upscale(1))
    calls = [
        lambda: grid.vary(1, prompt="a pig --stylize -5"),
        lambda: grid.reroll(prompt="a pig --foo"),
        lambda: up.vary_subtle(prompt="a pig --chaos 500"),
        lambda: up.vary_strong(prompt="a pig --ar 0:0"),
        lambda: up.pan("left", prompt="a pig --v 99"),
        lambda: up.zoom(1.5, prompt="a pig --quality 3"),
        lambda: up.vary_region(box=(0, 0, 0.5, 0.5), prompt="a pig --iw 9"),
    ]
    children = (len(grid.children), len(up.children))
    before = {k: v for k, v in sim.stats()["requests"].items() if k in ("action", "modal")}
    for call in calls:
        with pytest.raises(ParameterError):
            call()
    after = {k: v for k, v in sim.stats()["requests"].items() if k in ("action", "modal")}
    assert after == before and (len(grid.children), len(up.children)) == children


@pytest.mark.parametrize("profile", ["relay", "trueai"])
def test_confirm_checks_a_remix_prompt_and_the_simulator_fails_what_is_sent_anyway(fault_sim, connect):
    fault_sim.configure(remix=True)
    client = connect(fault_sim)
    grid = done(client.imagine("a pig in a hat"))
    child = client.action(grid.id, grid.snapshot.button("V1").custom_id)
    until(lambda: child.status == TaskStatus.MODAL, what="the remix child to show MODAL")
    modals = fault_sim.stats()["requests"].get("modal", 0)
    with pytest.raises(ParameterError, match=r"--ar \(--aspect\) 0:0"):
        child.confirm("a pig in a crown --ar 0:0")
    assert fault_sim.stats()["requests"].get("modal", 0) == modals
    child.confirm("a pig in a crown --ar 0:0", validate=False)
    assert fault_sim.stats()["requests"].get("modal", 0) == modals + 1
    with pytest.raises(TaskFailedError, match=r"Invalid parameter.*Invalid value `0:0` for `--ar`"):
        child.wait(15)


# ---------------------------------------------------------------- experiments


def test_experiment_refuses_a_bad_factor_before_its_first_submit(live):
    sim, client = live
    before = _imagines(sim)
    with pytest.raises(ParameterError) as info:
        Experiment(client, ["a pig", "a cow"], {"--stylize": [50, 1500]}, name="bad-factor")
    text = str(info.value)
    assert "experiment item 1 (a pig · stylize 1500)" in text and "--stylize 1500" in text
    assert "from 0 to 1000" in text and "nothing was submitted" in text
    assert _imagines(sim) == before
    assert client.history.dataframe(experiment="bad-factor").empty


@pytest.mark.parametrize("profile", ["relay"])
def test_experiment_validate_false_sends_and_the_items_fail(live):
    sim, client = live
    exp = Experiment(client, "a pig", {"--chaos": [10, 500]}, name="sent-anyway", validate=False)
    exp.wait(30)
    assert [i.status for i in exp.items] == ["done", "failed"]
    assert "Invalid value `500` for `--chaos`" in exp.items[1].reason
