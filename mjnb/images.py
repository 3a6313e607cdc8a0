"""Image inputs and outputs: accept what users hold, check it decodes, encode it as the API wants."""

from __future__ import annotations

import base64
import binascii
import io
import os
from pathlib import Path
from typing import Callable, Union

from PIL import Image, UnidentifiedImageError

from .errors import ValidationError

ImageInput = Union[str, bytes, bytearray, os.PathLike, Image.Image]
MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif",
        "BMP": "image/bmp"}


def check_image(data: bytes, field: str, max_bytes: int) -> str:
    """The image's MIME type, or a ValidationError naming `field` when it is too big or not an image."""
    if len(data) > max_bytes:
        raise ValidationError(f"{field}: the image is {len(data) / 1e6:.1f} MB; the limit is "
                              f"{max_bytes / 1e6:.1f} MB. Downscale it or save it as JPEG", field=field)
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(f"{field}: the data does not decode as an image ({exc.__class__.__name__}); "
                              f"give PNG, JPEG, WebP or GIF", field=field) from None
    return MIME.get(fmt or "", "image/png")


def image_bytes(value: ImageInput, field: str, max_bytes: int,
                fetch: Callable[[str], bytes] | None = None) -> bytes:
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
    check_image(data, field, max_bytes)
    return data


def data_url(data: bytes, field: str = "image", max_bytes: int = 10 * 1024 * 1024) -> str:
    """`data:image/<type>;base64,...` for checked image bytes (what every flavour accepts)."""
    mime = check_image(data, field, max_bytes)
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
