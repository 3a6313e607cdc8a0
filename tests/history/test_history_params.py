"""The prompt parser against prompts people actually post, v4 to v7 and niji.

Each case gives the whole expected parse: text, image prompts, every parameter that must be set
(all other canonical columns must be None) and the unknown parameters kept in `other`.
"""

from __future__ import annotations

import pytest

from mjnb.params import COLUMNS, PARAMS, parse_prompt

U1 = "https://s.mj.run/3kRzXj0bNoc"
U2 = "https://s.mj.run/Qw7pLm2aXyE"
CDN = ("https://cdn.discordapp.com/attachments/1087654321/1198765432/portrait_ref.png"
       "?ex=65b1c2d3&is=659f4d5e&hm=9a8b7c6d5e4f")
IMG = "https://i.imgur.com/8YtZQ2b.jpeg"

# (id, prompt, text, image_prompts, params, other)
CASES = [
    ("v4-plain", "a cute corgi astronaut floating in space, digital art --v 4",
     "a cute corgi astronaut floating in space, digital art", [], {"version": "4"}, {}),
    ("v5-ar-s", "portrait of an old fisherman, weathered skin, golden hour, 85mm lens --ar 2:3 --s 750 --v 5",
     "portrait of an old fisherman, weathered skin, golden hour, 85mm lens", [],
     {"aspect": "2:3", "stylize": 750, "version": "5"}, {}),
    ("v5.2-chaos-q-half", "isometric cozy bedroom, pastel colors, 3d render --c 20 --q .5 --v 5.2",
     "isometric cozy bedroom, pastel colors, 3d render", [],
     {"chaos": 20, "quality": 0.5, "version": "5.2"}, {}),
    ("v4-q2", "a bioluminescent jellyfish in a dark ocean --q 2 --v 4",
     "a bioluminescent jellyfish in a dark ocean", [], {"quality": 2.0, "version": "4"}, {}),
    ("seed", "red fox in the snow, national geographic photo --seed 123 --ar 16:9",
     "red fox in the snow, national geographic photo", [], {"seed": 123, "aspect": "16:9"}, {}),
    ("big-seed", "cyberpunk street market at night, neon rain --seed 2227065045 --v 6.0",
     "cyberpunk street market at night, neon rain", [], {"seed": 2227065045, "version": "6.0"}, {}),
    ("style-raw-v6", "candid street photo of a woman laughing, Kodak Portra 400 --style raw --v 6",
     "candid street photo of a woman laughing, Kodak Portra 400", [],
     {"style": "raw", "raw": True, "version": "6"}, {}),
    ("style-4b-v5", "vintage travel poster of Lisbon trams --style 4b --v 5 --ar 3:4",
     "vintage travel poster of Lisbon trams", [], {"style": "4b", "version": "5", "aspect": "3:4"}, {}),
    ("v4-style-4c", "cathedral made of glass --v 4 --style 4c",
     "cathedral made of glass", [], {"version": "4", "style": "4c"}, {}),
    ("weird", "a teapot that is also a cat, surreal --w 1000 --v 5.2",
     "a teapot that is also a cat, surreal", [], {"weird": 1000, "version": "5.2"}, {}),
    ("tile", "seamless pattern of tropical leaves and flamingos --tile --v 5",
     "seamless pattern of tropical leaves and flamingos", [], {"tile": True, "version": "5"}, {}),
    ("no-with-commas", "minimalist logo of a mountain, vector, flat --no text, watermark --v 6.1",
     "minimalist logo of a mountain, vector, flat", [], {"no": "text, watermark", "version": "6.1"}, {}),
    ("no-last", "product photo of a perfume bottle on marble --ar 4:5 --no people, hands, blurry background",
     "product photo of a perfume bottle on marble", [],
     {"aspect": "4:5", "no": "people, hands, blurry background"}, {}),
    ("image-prompt-iw", f"{U1} watercolor portrait of the same woman --iw 1.5 --v 6",
     "watercolor portrait of the same woman", [U1], {"iw": 1.5, "version": "6"}, {}),
    ("bracketed-image-prompts", f"<{U1}> <{U2}> a knight in ornate armor --iw .5 --ar 9:16 --v 5.1",
     "a knight in ornate armor", [U1, U2], {"iw": 0.5, "aspect": "9:16", "version": "5.1"}, {}),
    ("cdn-image-prompt", f"{CDN} {IMG} blend of both, oil painting --iw 2",
     "blend of both, oil painting", [CDN, IMG], {"iw": 2.0}, {}),
    ("image-only", f"{U1} {U2}", "", [U1, U2], {}, {}),
    ("sref-two-urls", f"a lighthouse on a cliff at dusk --sref {U1} {U2} --sw 200 --v 6",
     "a lighthouse on a cliff at dusk", [], {"sref": [U1, U2], "sw": 200, "version": "6"}, {}),
    ("sref-random", "a cozy cabin in the woods --sref random --v 6.1",
     "a cozy cabin in the woods", [], {"sref": ["random"], "version": "6.1"}, {}),
    ("sref-code-sv", "fashion editorial, red dress --sref 2412569483 --sv 4 --v 7",
     "fashion editorial, red dress", [], {"sref": ["2412569483"], "version": "7"}, {"sv": 4}),
    ("final-prompt-bracketed-refs",
     f"pink twintails tsundere girl --no evil --ar 3:4 --seed 7 --niji 6 --sref <{U1}> <{U2}> --cref <{IMG}>",
     "pink twintails tsundere girl", [],
     {"no": "evil", "aspect": "3:4", "seed": 7, "niji": "6", "sref": [U1, U2], "cref": [IMG]}, {}),
    ("cref-cw0", f"the same girl sitting in a cafe --cref {U1} --cw 0 --v 6.0",
     "the same girl sitting in a cafe", [], {"cref": [U1], "cw": 0, "version": "6.0"}, {}),
    ("cref-niji-cw", f"{U2} anime boy waving, Ghibli style --cref {U1} --cw 100 --niji 6",
     "anime boy waving, Ghibli style", [U2], {"cref": [U1], "cw": 100, "niji": "6"}, {}),
    ("p-bare", "ethereal forest spirit, soft light --p --v 6.1",
     "ethereal forest spirit, soft light", [], {"p": [], "version": "6.1"}, {}),
    ("p-code", "retro sci-fi book cover --p abc123 --ar 2:3",
     "retro sci-fi book cover", [], {"p": ["abc123"], "aspect": "2:3"}, {}),
    ("personalize-two-codes", "a bowl of ramen --personalize m7xq2 k3pz1 --stylize 250",
     "a bowl of ramen", [], {"p": ["m7xq2", "k3pz1"], "stylize": 250}, {}),
    ("repeat", "logo concepts for a coffee brand --r 4 --v 6",
     "logo concepts for a coffee brand", [], {"repeat": 4, "version": "6"}, {}),
    ("repeat-long", "abstract fluid art --repeat 10 --chaos 100",
     "abstract fluid art", [], {"repeat": 10, "chaos": 100}, {}),
    ("stop", "sketch of a dragon, rough pencil --stop 80 --v 5",
     "sketch of a dragon, rough pencil", [], {"stop": 80, "version": "5"}, {}),
    ("v7-raw-draft", "aerial view of rice terraces in the mist --raw --draft --v 7",
     "aerial view of rice terraces in the mist", [], {"raw": True, "draft": True, "version": "7"}, {}),
    ("v7-exp-oref", f"the hero on a rooftop --oref {U1} --ow 100 --exp 25 --v 7",
     "the hero on a rooftop", [], {"version": "7"}, {"oref": U1, "ow": 100, "exp": 25}),
    ("em-dash", "studio ghibli style meadow with a small house —ar 16:9 —v 5.2",
     "studio ghibli style meadow with a small house", [], {"aspect": "16:9", "version": "5.2"}, {}),
    ("em-dash-mixed", "neon samurai —ar 21:9 --s 1000 —no blood",
     "neon samurai", [], {"aspect": "21:9", "stylize": 1000, "no": "blood"}, {}),
    ("multi-prompt-weights", "hot dog::1.5 food::-.5 --v 5",
     "hot dog::1.5 food::-.5", [], {"version": "5"}, {}),
    ("multi-prompt-plain", "space:: ship --ar 3:2",
     "space:: ship", [], {"aspect": "3:2"}, {}),
    ("odd-case", "Moody forest at dawn --AR 16:9 --V 6 --Stylize 400 --SEED 42",
     "Moody forest at dawn", [], {"aspect": "16:9", "version": "6", "stylize": 400, "seed": 42}, {}),
    ("full-names", "a ceramic vase --aspect 1:1 --version 5.1 --chaos 5 --quality 1 --weird 250",
     "a ceramic vase", [],
     {"aspect": "1:1", "version": "5.1", "chaos": 5, "quality": 1.0, "weird": 250}, {}),
    ("zoom", "a tiny island in a vast sea --zoom 2 --v 5.2",
     "a tiny island in a vast sea", [], {"version": "5.2"}, {"zoom": 2}),
    ("fast-relax-turbo", "a bowl of fruit, still life --fast --v 6 --relax --turbo",
     "a bowl of fruit, still life", [], {"version": "6"}, {"fast": True, "relax": True, "turbo": True}),
    ("hd-v3", "mystical castle on a floating island --hd --ar 3:2",
     "mystical castle on a floating island", [], {"aspect": "3:2"}, {"hd": True}),
    ("video-sameseed", "a swirling galaxy --video --sameseed 5555",
     "a swirling galaxy", [], {}, {"video": True, "sameseed": 5555}),
    ("upbeta-creative-test", "portrait of a wizard --test --creative --upbeta",
     "portrait of a wizard", [], {}, {"test": True, "creative": True, "upbeta": True}),
    ("testp", "a photo of a vintage car --testp --ar 3:2",
     "a photo of a vintage car", [], {"aspect": "3:2"}, {"testp": True}),
    ("niji-bare", "cute anime girl with cat ears, cherry blossoms --niji",
     "cute anime girl with cat ears, cherry blossoms", [], {"niji": ""}, {}),
    ("niji5-expressive", "a shonen hero powering up, dramatic --niji 5 --style expressive --ar 9:16",
     "a shonen hero powering up, dramatic", [],
     {"niji": "5", "style": "expressive", "aspect": "9:16"}, {}),
    ("niji6-style-raw", "watercolor fox spirit --niji 6 --style raw --s 50",
     "watercolor fox spirit", [], {"niji": "6", "style": "raw", "raw": True, "stylize": 50}, {}),
    ("newlines-spacing", "  a quiet harbor at night,\n  lanterns reflecting   on water\n--ar  16:9\n--s 250  \n",
     "a quiet harbor at night, lanterns reflecting on water", [], {"aspect": "16:9", "stylize": 250}, {}),
    ("fullwidth-colon", "水墨画风格的山水 --ar 16：9 --niji 5",
     "水墨画风格的山水", [], {"aspect": "16:9", "niji": "5"}, {}),
    ("hyphens-in-text", "a well-known mid-century modern chair, 1960s ad - high detail --v 5",
     "a well-known mid-century modern chair, 1960s ad - high detail", [], {"version": "5"}, {}),
    ("url-with-dashes", "https://example.com/my--ref-image.png a cat in this pose --iw 1",
     "a cat in this pose", ["https://example.com/my--ref-image.png"], {"iw": 1.0}, {}),
    ("no-params", "a photograph of a golden retriever puppy playing in autumn leaves",
     "a photograph of a golden retriever puppy playing in autumn leaves", [], {}, {}),
    ("empty", "", "", [], {}, {}),
    ("blank", "   \n ", "", [], {}, {}),
    ("unknown-words-after-flag", "cyberpunk city --ar 16:9 --v 5 ultra detailed",
     "cyberpunk city", [], {"aspect": "16:9", "version": "5"}, {"v_text": "ultra detailed"}),
    ("bad-number", "an owl --s high --c nan",
     "an owl", [], {"stylize": None, "chaos": None}, {"s": "high", "c": "nan"}),
]


def _same(actual, expected) -> bool:
    """Equal and of the same type (2.0 is not 2; True is not 1)."""
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            _same(a, e) for a, e in zip(actual, expected))
    return type(actual) is type(expected) and actual == expected


def test_table_is_large():
    assert len(CASES) >= 40
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("prompt, text, image_prompts, params, other",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_parse_real_world_prompt(prompt, text, image_prompts, params, other):
    parsed = parse_prompt(prompt)
    assert parsed.text == text
    assert parsed.image_prompts == image_prompts
    assert set(params) <= set(PARAMS), "the test names a parameter the parser does not know"
    for name in PARAMS:
        assert _same(parsed.params.get(name), params.get(name)), (
            f"{name}: got {parsed.params.get(name)!r}, expected {params.get(name)!r}")
    assert parsed.other == other
    for key, value in other.items():
        assert _same(parsed.other[key], value), key

    row = parsed.row()
    assert set(row) == set(COLUMNS)
    assert row["text"] == text and row["image_prompts"] == image_prompts and row["other"] == other
    for name in PARAMS:
        assert _same(row[name], params.get(name)), name


def test_none_prompt_is_empty():
    parsed = parse_prompt(None)
    assert parsed.text == "" and parsed.image_prompts == [] and parsed.params == {} and parsed.other == {}
    assert all(parsed.row()[name] is None for name in PARAMS)


def test_row_is_a_copy():
    parsed = parse_prompt(f"{U1} cat --zoom 2")
    row = parsed.row()
    row["image_prompts"].append("x")
    row["other"]["zoom"] = 3
    assert parsed.image_prompts == [U1] and parsed.other == {"zoom": 2}
