"""Image inputs and outputs: accept what users hold, check it decodes, encode it as the API wants."""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import os
import secrets
from pathlib import Path
from typing import Callable, Union

from PIL import Image, UnidentifiedImageError

from .errors import ValidationError

ImageInput = Union[str, bytes, bytearray, os.PathLike, Image.Image]
MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif",
        "BMP": "image/bmp"}


MAX_PIXELS = 64_000_000  # Config.max_image_pixels' default: an upscale is 16.8 M, a grid 4.2 M


class ImageTooLargeError(ValidationError):
    """An image over max_image_bytes or max_image_pixels (a real image, but refused)."""


def check_image(data: bytes, field: str, max_bytes: int, max_pixels: int = MAX_PIXELS) -> str:
    """The image's MIME type, or a ValidationError naming `field` when it is too big or not an image.

    Only the header is read: the pixel count is checked before anything is decoded, so a small
    file claiming gigapixels costs no memory."""
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"{field}: the image is {len(data) / 1e6:.1f} MB; the limit is "
                              f"{max_bytes / 1e6:.1f} MB (max_image_bytes). Downscale it or save it as JPEG",
                              field=field)
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            _check_pixels(img.size, field, max_pixels)
            img.verify()
    except ValidationError:
        raise
    except Image.DecompressionBombError:  # past Pillow's own limit: it refuses to even open it
        raise _too_many_pixels(field, None, max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(f"{field}: the data does not decode as an image ({exc.__class__.__name__}); "
                              f"give PNG, JPEG, WebP or GIF", field=field) from None
    return MIME.get(fmt or "", "image/png")


def open_image(data: bytes, max_pixels: int = MAX_PIXELS, field: str = "image") -> Image.Image:
    """Decode image bytes, refusing before decoding when they claim more than `max_pixels`."""
    try:
        img = Image.open(io.BytesIO(data))
        _check_pixels(img.size, field, max_pixels)
        img.load()
    except ValidationError:
        raise
    except Image.DecompressionBombError:
        raise _too_many_pixels(field, None, max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(f"{field}: the data does not decode as an image ({exc.__class__.__name__})",
                              field=field) from None
    return img


def _check_pixels(size: tuple[int, int], field: str, max_pixels: int) -> None:
    if size[0] * size[1] > max_pixels:
        raise _too_many_pixels(field, size, max_pixels)


def _too_many_pixels(field: str, size, max_pixels: int) -> ImageTooLargeError:
    shown = f"{size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.0f} Mpx)" if size else "more pixels than Pillow opens"
    return ImageTooLargeError(f"{field}: the image is {shown}; the limit is {max_pixels / 1e6:g} Mpx "
                           f"(max_image_pixels). If you really need it, raise max_image_pixels "
                           f"(mjnb.configure(max_image_pixels=...) or MJNB_MAX_IMAGE_PIXELS)", field=field)


def image_bytes(value: ImageInput, field: str, max_bytes: int,
                fetch: Callable[[str], bytes] | None = None, max_pixels: int = MAX_PIXELS) -> bytes:
    """Bytes of an image given as a path, bytes, PIL image, data URL or http(s) URL (via `fetch`)."""
    if isinstance(value, Image.Image):
        buf = io.BytesIO()
        value.save(buf, "PNG")
        data = buf.getvalue()
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif isinstance(value, os.PathLike):
        data = _read(Path(value), field)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("data:"):
            header, sep, payload = text.partition(",")
            if not sep or ";base64" not in header:
                raise ValidationError(f"{field}: a data URL must look like data:image/png;base64,...",
                                      field=field)
            data = _b64(payload, field)
        elif text.startswith(("http://", "https://")):
            if fetch is None:
                raise ValidationError(f"{field}: an http(s) URL is not accepted here", field=field)
            data = fetch(text)
        elif len(text) < 1024 and Path(text).expanduser().exists():
            data = _read(Path(text).expanduser(), field)
        else:
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise ValidationError(f"{field}: expected a file path, bytes, a PIL image, a data URL or an "
                                  f"http(s) URL; {shown!r} is none of these (no such file)", field=field)
    else:
        raise ValidationError(f"{field}: expected a file path, bytes, a PIL image, a data URL or an "
                              f"http(s) URL, not {type(value).__name__}", field=field)
    check_image(data, field, max_bytes, max_pixels)
    return data


def data_url(data: bytes, field: str = "image", max_bytes: int = 10 * 1024 * 1024,
             max_pixels: int = MAX_PIXELS) -> str:
    """`data:image/<type>;base64,...` for checked image bytes (what every flavour accepts)."""
    mime = check_image(data, field, max_bytes, max_pixels)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _read(path: Path, field: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"{field}: cannot read {str(path)!r}: {exc.strerror or exc}", field=field) from None


def _b64(payload: str, field: str) -> bytes:
    try:
        return base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"{field}: the data URL's base64 is malformed", field=field) from None


def box_mask(size: tuple[int, int], box) -> bytes:
    """Vary Region's mask (spec 3.6): a PNG of the image's size, black, with `box` white.

    `box` is (x0, y0, x1, y1) as fractions 0-1 of the image, or as pixels."""
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValidationError(f"box must be four numbers (x0, y0, x1, y1), not {box!r}", field="box") from None
    w, h = size
    if max(x0, y0, x1, y1) <= 1.0:
        x0, x1, y0, y1 = x0 * w, x1 * w, y0 * h, y1 * h
    x0, x1 = max(0, min(x0, x1)), min(w, max(x0, x1))
    y0, y1 = max(0, min(y0, y1)), min(h, max(y0, y1))
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise ValidationError(f"box {box!r} selects no pixels of the {w}x{h} image", field="box")
    from PIL import ImageDraw
    mask = Image.new("RGB", (w, h), "black")
    ImageDraw.Draw(mask).rectangle([round(x0), round(y0), round(x1) - 1, round(y1) - 1], fill="white")
    return png_bytes(mask)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def thumbnail_png(img: Image.Image, max_side: int) -> bytes:
    """A downscaled copy for display; the full image stays untouched."""
    copy = img.convert("RGB") if img.mode not in ("RGB", "RGBA") else img.copy()
    copy.thumbnail((max_side, max_side))
    return png_bytes(copy)


def thumbnail_jpeg(img: Image.Image, max_side: int, quality: int = 80) -> bytes:
    """A downscaled JPEG for the browser: a photo-like 512 px preview is ~60 KB where PNG is ~400 KB."""
    copy = img.convert("RGB")
    copy.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    copy.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


DISPLAY_MAX_SIDE = 1024  # the most a Task keeps in RAM: cards show 512 px, a retina card 1024


def display_copy(data: bytes, max_side: int = DISPLAY_MAX_SIDE, max_pixels: int = MAX_PIXELS,
                 quality: int = 90) -> bytes:
    """A JPEG of `data` no larger than `max_side` on its long side: what a Task keeps of a picture.

    A decoded 2048 px grid is 12-16 MB and even a decoded 1024 px copy is 3 MB, so the copy is
    held compressed (~0.1-0.3 MB) and decoded when a view asks; the full image stays on disk."""
    with open_image(data, max_pixels) as img:  # the size is checked before anything is decoded
        copy = img.convert("RGB")
    copy.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    copy.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def polygon_mask(size: tuple[int, int], points) -> bytes:
    """Vary Region's mask from a lasso: a PNG of the image's size, black, the polygon white.

    `points` are (x, y) fractions 0-1 of the image, at least three of them."""
    try:
        pts = [(float(x), float(y)) for x, y in points]
    except (TypeError, ValueError):
        raise ValidationError("points must be (x, y) pairs of fractions 0-1", field="points") from None
    if len(pts) < 3 or any(not (0 <= v <= 1) for p in pts for v in p):
        raise ValidationError(f"points: a lasso needs at least 3 points inside the image (0-1), got {len(pts)}",
                              field="points")
    area = abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]))) / 2
    if area < 0.0005:  # a stroke or a dot: nothing a user meant to redraw
        raise ValidationError(f"points: the lasso encloses {area:.2%} of the image; draw around a region",
                              field="points")
    w, h = size
    from PIL import ImageDraw
    mask = Image.new("RGB", (w, h), "black")
    ImageDraw.Draw(mask).polygon([(x * w, y * h) for x, y in pts], fill="white")
    return png_bytes(mask)


class ImageCache:
    """Final images on disk by content hash, each with a thumbnail: relay URLs die after a day.

    File names come from the SHA-256 of the bytes only, never from a task id or a URL a server
    sent, so no answer can place a file outside `folder`."""

    THUMB_SIDE = 256

    def __init__(self, folder: os.PathLike | str):
        self.folder = Path(folder)

    def put(self, data: bytes) -> dict:
        """Store image bytes (once per content); returns hash, path, thumb_path, width, height."""
        import hashlib
        digest = hashlib.sha256(data).hexdigest()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            ext = (img.format or "PNG").lower().replace("jpeg", "jpg")
            size = img.size
            path = self.folder / digest[:2] / f"{digest}.{ext}"
            thumb = self.folder / digest[:2] / f"{digest}.thumb.png"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                _atomic_write(path, data)
            if not thumb.exists():
                _atomic_write(thumb, thumbnail_png(img, self.THUMB_SIDE))
        return {"hash": digest, "path": str(path), "thumb_path": str(thumb), "width": size[0], "height": size[1]}


def _atomic_write(path: Path, data: bytes) -> None:
    """Write then rename, so a killed process never leaves half an image behind. The temporary
    name is unique per call: two threads keeping the same picture (two tasks with one seed) must
    not write into, or rename away, each other's file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:  # a full disk: leave no partial file behind to fill it further
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def split_grid(img: Image.Image) -> list[Image.Image]:
    """The four images of a 2x2 grid, in U1..U4 order (left to right, top to bottom)."""
    w, h = img.size
    hw, hh = w // 2, h // 2
    return [img.crop((x, y, x + hw, y + hh)) for y in (0, hh) for x in (0, hw)]
