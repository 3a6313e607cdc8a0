"""Deterministic pictures for the simulator.

A task's picture is a *recipe* (a small frozen dataclass) rendered on demand at any size, so an
upscale re-renders exactly the tile it came from, and a variation, zoom, pan or inpaint starts
from its parent's recipe. Same prompt and seed, same picture.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import math
import random
import re
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

TILE_LONG_SIDE = 256  # one grid tile; a grid is 2x2 tiles, an upscale 2x a tile, an HD upscale 4x


class Recipe:
    """Marker base: every recipe is a frozen, hashable dataclass."""


@dataclass(frozen=True)
class Generate(Recipe):
    prompt: str
    seed: int
    tile: int


@dataclass(frozen=True)
class Vary(Recipe):
    base: Recipe
    seed: int
    strength: float  # 0.3 subtle .. 1.0 strong


@dataclass(frozen=True)
class Creative(Recipe):
    base: Recipe
    seed: int


@dataclass(frozen=True)
class Zoom(Recipe):
    base: Recipe
    factor: float
    seed: int


@dataclass(frozen=True)
class Pan(Recipe):
    base: Recipe
    direction: str  # left, right, up, down
    seed: int


@dataclass(frozen=True)
class Inpaint(Recipe):
    base: Recipe
    mask_png: bytes
    seed: int


@dataclass(frozen=True)
class Blend(Recipe):
    images: tuple  # of encoded image bytes
    seed: int
    tile: int


@dataclass(frozen=True)
class Upload(Recipe):
    data: bytes


@dataclass(frozen=True)
class Swap(Recipe):
    target: bytes
    source: bytes


# ---------------------------------------------------------------- sizes


def tile_size(aspect: str | None, long_side: int = TILE_LONG_SIDE) -> tuple[int, int]:
    """Pixel size of one grid tile for an `--ar W:H` value (clamped to 1:4..4:1); `long_side` is
    the tile's longer side (Midjourney's own: 1024, so a grid is 2048 px)."""
    w, h = 1.0, 1.0
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*", aspect or "")
    if match and float(match[1]) > 0 and float(match[2]) > 0:
        w, h = float(match[1]), float(match[2])
    ratio = min(4.0, max(0.25, w / h))
    if ratio >= 1:
        return long_side, _even(long_side / ratio)
    return _even(long_side * ratio), long_side


def _even(x: float) -> int:
    return max(16, int(round(x / 2)) * 2)


# ---------------------------------------------------------------- colours


def _rng(*parts) -> random.Random:
    return random.Random("|".join(str(p) for p in parts))


def _palette(prompt: str) -> list[tuple[int, int, int]]:
    """Five colours from the prompt's words: the same prompt always gets the same mood."""
    words = re.sub(r"--\S+(\s+[^-\s]\S*)?", " ", prompt).lower().split()
    digest = hashlib.sha256(" ".join(words).encode()).digest()
    hue = digest[0] / 255
    spread = 0.08 + digest[1] / 255 * 0.3
    out = []
    for i, (dh, s, v) in enumerate([(0, .55, .95), (spread, .65, .55), (-spread, .8, .98),
                                   (spread * 2, .6, .4), (.5, .5, .25)]):
        r, g, b = colorsys.hsv_to_rgb((hue + dh) % 1.0, s, v)
        out.append((int(r * 255), int(g * 255), int(b * 255)))
    return out


CJK_FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian's fonts-noto-cjk
             "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")


@functools.lru_cache(maxsize=16)
def _font(size: int):
    """A font with CJK glyphs when the system has one (captions of Chinese prompts), else Pillow's."""
    for path in CJK_FONTS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _caption(prompt: str) -> str:
    words = re.sub(r"--\S+(\s+[^-\s]\S*)?", " ", prompt).split()
    words = [w for w in words if not w.startswith(("http://", "https://", "<"))]
    text = " ".join(words[:4])
    return text[:28]


# ---------------------------------------------------------------- drawing


def _generate(recipe: Generate, size: tuple[int, int]) -> Image.Image:
    w, h = size
    pal = _palette(recipe.prompt)
    rng = _rng(recipe.prompt, recipe.seed, recipe.tile)
    sky_top, sky_bottom = (pal[0], pal[1]) if rng.random() < 0.5 else (pal[1], pal[0])
    gradient = Image.linear_gradient("L").resize((w, h))
    img = ImageOps.colorize(gradient, sky_top, sky_bottom).convert("RGBA")
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    s = min(w, h)

    # a sun or moon
    cx, cy, r = rng.uniform(.15, .85) * w, rng.uniform(.12, .5) * h, rng.uniform(.07, .17) * s
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=pal[2] + (235,))
    # rolling hills, each tile its own skyline
    for layer_i, colour in enumerate((pal[3], pal[4])):
        base = h * (0.62 + 0.14 * layer_i)
        amp, freq, phase = rng.uniform(.04, .12) * h, rng.uniform(1, 3.5), rng.uniform(0, 6.3)
        points = [(x, base - amp * math.sin(freq * x / w * 2 * math.pi + phase))
                  for x in range(0, w + 8, 8)]
        draw.polygon(points + [(w, h), (0, h)], fill=colour + (255,))
    # a few objects
    for _ in range(rng.randint(2, 5)):
        colour = rng.choice(pal) + (rng.randint(140, 230),)
        x, y = rng.uniform(0, w), rng.uniform(.2 * h, .9 * h)
        k = rng.uniform(.04, .12) * s
        shape = rng.choice(("ellipse", "rect", "tri"))
        if shape == "ellipse":
            draw.ellipse([x - k, y - k * .7, x + k, y + k * .7], fill=colour)
        elif shape == "rect":
            draw.rectangle([x - k * .5, y - k * 1.4, x + k * .5, y], fill=colour)
        else:
            draw.polygon([(x, y - k * 1.5), (x - k, y), (x + k, y)], fill=colour)
    img = Image.alpha_composite(img, layer)

    caption = _caption(recipe.prompt)
    if caption and s >= 96:
        draw = ImageDraw.Draw(img)
        font = _font(max(9, s // 20))
        draw.text((s * .04 + 1, h - s * .1 + 1), caption, font=font, fill=(0, 0, 0, 160))
        draw.text((s * .04, h - s * .1), caption, font=font, fill=(255, 255, 255, 230))
    return img.convert("RGB")


def _scatter(img: Image.Image, rng: random.Random, count: int, alpha: int) -> Image.Image:
    """Translucent shapes in colours picked from the picture itself: related, but different."""
    w, h = img.size
    small = img.resize((16, 16))
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(count):
        colour = small.getpixel((rng.randrange(16), rng.randrange(16)))[:3] + (alpha,)
        x, y, k = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(.05, .16) * min(w, h)
        if rng.random() < 0.5:
            draw.ellipse([x - k, y - k, x + k, y + k], fill=colour)
        else:
            draw.rectangle([x - k, y - k * .6, x + k, y + k * .6], fill=colour)
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


def _vary(recipe: Vary, size) -> Image.Image:
    img = render(recipe.base, size)
    rng = _rng("vary", recipe.seed)
    shift = int(recipe.strength * 0.06 * size[0]) * rng.choice((-1, 1))
    if shift:
        img = _roll(img, shift)
    return _scatter(img, rng, int(3 + 7 * recipe.strength), int(90 + 120 * recipe.strength))


def _roll(img: Image.Image, dx: int) -> Image.Image:
    out = Image.new("RGB", img.size)
    out.paste(img, (dx, 0))
    out.paste(img, (dx - img.size[0] if dx > 0 else dx + img.size[0], 0))
    return out


def _creative(recipe: Creative, size) -> Image.Image:
    img = render(recipe.base, size).filter(ImageFilter.DETAIL).filter(ImageFilter.EDGE_ENHANCE)
    return _scatter(img, _rng("creative", recipe.seed), 6, 70)


def _surround(base_img: Image.Image, seed: int) -> Image.Image:
    """New content around a parent: its own colours, blurred and re-decorated."""
    blurred = base_img.filter(ImageFilter.GaussianBlur(max(2, base_img.size[0] // 12)))
    return _scatter(blurred, _rng("surround", seed), 10, 200)


def _zoom(recipe: Zoom, size) -> Image.Image:
    base = render(recipe.base, size)
    out = _surround(base, recipe.seed)
    factor = min(2.0, max(1.0, recipe.factor))
    inner = (max(1, int(size[0] / factor)), max(1, int(size[1] / factor)))
    out.paste(base.resize(inner, Image.LANCZOS),
              ((size[0] - inner[0]) // 2, (size[1] - inner[1]) // 2))
    return out


def _pan(recipe: Pan, size) -> Image.Image:
    base = render(recipe.base, size)
    out = _surround(base, recipe.seed)
    w, h = size
    dx, dy = {"left": (w // 3, 0), "right": (-(w // 3), 0),
              "up": (0, h // 3), "down": (0, -(h // 3))}[recipe.direction]
    out.paste(base, (dx, dy))
    return out


def _inpaint(recipe: Inpaint, size) -> Image.Image:
    base = render(recipe.base, size)
    fill = _scatter(_surround(base, recipe.seed), _rng("inpaint", recipe.seed), 6, 230)
    mask = Image.open(io.BytesIO(recipe.mask_png)).convert("L").resize(size)
    return Image.composite(fill, base, mask)


def _decode(data: bytes, size) -> Image.Image:
    return ImageOps.fit(Image.open(io.BytesIO(data)).convert("RGB"), size)


def _blend(recipe: Blend, size) -> Image.Image:
    images = [_decode(d, size) for d in recipe.images]
    rng = _rng("blend", recipe.seed, recipe.tile)
    out = images[0]
    for i, img in enumerate(images[1:], start=2):  # a running mean, each tile weighted its own way
        out = Image.blend(out, img, min(0.9, rng.uniform(0.7, 1.3) / i))
    return _scatter(out, rng, 4, 120)


def _swap(recipe: Swap, size) -> Image.Image:
    target = _decode(recipe.target, size)
    w, h = size
    face_size = (int(w * .42), int(h * .42))
    face = _decode(recipe.source, face_size)
    mask = Image.new("L", face_size, 0)
    ImageDraw.Draw(mask).ellipse([0, 0, face_size[0] - 1, face_size[1] - 1], fill=255)
    target.paste(face, ((w - face_size[0]) // 2, int(h * .18)), mask.filter(ImageFilter.GaussianBlur(3)))
    return target


_RENDERERS = {
    Generate: _generate, Vary: _vary, Creative: _creative, Zoom: _zoom, Pan: _pan,
    Inpaint: _inpaint, Blend: _blend, Swap: _swap,
    Upload: lambda recipe, size: _decode(recipe.data, size),
}


@functools.lru_cache(maxsize=256)
def render(recipe: Recipe, size: tuple[int, int]) -> Image.Image:
    """The recipe's picture at `size`; cached, so callers must not mutate the result."""
    return _RENDERERS[type(recipe)](recipe, tuple(size))


def grid(tiles: tuple, size: tuple[int, int]) -> Image.Image:
    """A 2x2 grid of four tile recipes, each `size`."""
    w, h = size
    out = Image.new("RGB", (2 * w, 2 * h))
    for i, tile in enumerate(tiles):
        out.paste(render(tile, size), ((i % 2) * w, (i // 2) * h))
    return out


def preview(picture: Image.Image, progress: int) -> Image.Image:
    """The blurry, half-size picture Midjourney shows while a job runs; sharper as it goes."""
    w, h = picture.size
    detail = 0.03 + 0.12 * progress / 100
    rough = picture.resize((max(4, int(w * detail)), max(4, int(h * detail))), Image.BOX)
    return rough.resize((w // 2, h // 2), Image.BILINEAR).filter(
        ImageFilter.GaussianBlur(1 + (100 - progress) / 25))


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "webp":
        img.save(buf, "WEBP", quality=70)
    else:
        img.save(buf, "PNG", compress_level=3)
    return buf.getvalue()


def describe_prompts(data: bytes) -> list[str]:
    """Four candidate prompts 'read' from an image: its colours, brightness and shape."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = img.size
    r, g, b = img.resize((1, 1), Image.BOX).getpixel((0, 0))
    hue, sat, val = colorsys.rgb_to_hsv(r / 255, g / 255, b / 255)
    names = ["red", "orange", "yellow", "green", "teal", "blue", "violet", "magenta", "red"]
    colour = names[int(hue * 8 + 0.5)] if sat > 0.15 else ("white" if val > .8 else "grey" if val > .3 else "black")
    mood = "bright" if val > 0.6 else "moody"
    divisor = math.gcd(w, h) or 1
    ar = f"{w // divisor}:{h // divisor}"
    if max(w // divisor, h // divisor) > 21:  # no --ar 1023:767
        ar = "3:2" if w > h * 1.2 else "2:3" if h > w * 1.2 else "1:1"
    return [
        f"a {mood} {colour} landscape with rolling hills and a glowing sun, flat vector art --ar {ar}",
        f"minimalist poster in {colour} tones, soft gradients, geometric shapes --ar {ar}",
        f"{colour} dreamscape, children's book illustration, simple shapes, calm light --ar {ar}",
        f"abstract composition of circles over layered hills, {mood} {colour} palette --ar {ar}",
    ]
