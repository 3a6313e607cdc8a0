"""The buttons Midjourney attaches to a finished job (spec section 8), built from the job hash."""

from __future__ import annotations

import re


def _button(custom_id: str, label: str = "", emoji: str = "", style: int = 2) -> dict:
    return {"customId": custom_id, "emoji": emoji, "label": label, "type": 2, "style": style}


def grid_buttons(job_hash: str) -> list[dict]:
    """U1-U4, reroll, V1-V4: the set after IMAGINE, VARIATION, REROLL, BLEND, PAN and ZOOM."""
    ups = [_button(f"MJ::JOB::upsample::{i}::{job_hash}", f"U{i}") for i in range(1, 5)]
    reroll = [_button(f"MJ::JOB::reroll::0::{job_hash}::SOLO", emoji="🔄")]
    vs = [_button(f"MJ::JOB::variation::{i}::{job_hash}", f"V{i}") for i in range(1, 5)]
    return ups + reroll + vs


def model_version(prompt: str, default: str) -> str:
    """'7', '6.1', '6', '5.2', 'niji 6' ...: the --v/--version or --niji a prompt asks for."""
    niji = re.search(r"(?:^|\s)--niji(?:\s+(\d+(?:\.\d+)?))?", prompt)
    if niji:
        return f"niji {niji[1] or '6'}"
    version = re.search(r"(?:^|\s)--(?:v|version)\s+(\d+(?:\.\d+)?)", prompt)
    return version[1] if version else default


def upscale_buttons(job_hash: str, version: str, hd: bool = False) -> list[dict]:
    """The single-image set after an upscale; chosen by model version (spec 8.2).

    `hd` is the result of an Upscale (Subtle/Creative): vary, zoom and animate, no more upscale
    or pan (TRUEAI's templates)."""
    number = version.split()[-1]
    major = number.split(".")[0]
    h = job_hash
    out: list[dict] = []
    if not hd:
        if major == "7":
            kind = "v7_2x"
        elif number == "6.1":
            kind = "v6r1_2x"
        elif major == "6":
            kind = "v6_2x"
        else:
            kind = None
        if kind:
            out += [_button(f"MJ::JOB::upsample_{kind}_subtle::1::{h}::SOLO", "Upscale (Subtle)", "upscale_1"),
                    _button(f"MJ::JOB::upsample_{kind}_creative::1::{h}::SOLO", "Upscale (Creative)", "upscale_1")]
        else:
            out += [_button(f"MJ::JOB::upsample_v5_2x::1::{h}::SOLO", "Upscale (2x)", "upscale_1"),
                    _button(f"MJ::JOB::upsample_v5_4x::1::{h}::SOLO", "Upscale (4x)", "upscale_1")]
    out += [_button(f"MJ::JOB::low_variation::1::{h}::SOLO", "Vary (Subtle)", "🪄"),
            _button(f"MJ::JOB::high_variation::1::{h}::SOLO", "Vary (Strong)", "🪄"),
            _button(f"MJ::Inpaint::1::{h}::SOLO", "Vary (Region)", "🖌️"),
            _button(f"MJ::Outpaint::50::1::{h}::SOLO", "Zoom Out 2x", "🔍"),
            _button(f"MJ::Outpaint::75::1::{h}::SOLO", "Zoom Out 1.5x", "🔍"),
            _button(f"MJ::CustomZoom::{h}", "Custom Zoom", "🔍")]
    if not hd:
        out += [_button(f"MJ::JOB::pan_{d}::1::{h}::SOLO", emoji=e)
                for d, e in (("left", "⬅️"), ("right", "➡️"), ("up", "⬆️"), ("down", "⬇️"))]
    if major == "7" and not version.startswith("niji"):
        out += [_button(f"MJ::JOB::animate_high::1::{h}::SOLO", "Animate (High motion)", "🎞️"),
                _button(f"MJ::JOB::animate_low::1::{h}::SOLO", "Animate (Low motion)", "🎞️")]
    out.append(_button(f"MJ::BOOKMARK::{h}", emoji="❤️"))
    return out


def describe_buttons() -> list[dict]:
    keycaps = ["1️⃣", "2️⃣", "3️⃣", "4️⃣"]
    return ([_button(f"MJ::Job::PicReader::{i}", emoji=keycaps[i - 1]) for i in range(1, 5)]
            + [_button("MJ::Picread::Retry", emoji="🔄"),
               _button("MJ::Job::PicReader::all", "Imagine all", "🎉")])


def shorten_buttons(job_hash: str) -> list[dict]:
    keycaps = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣"]
    return ([_button(f"MJ::Job::PromptAnalyzer::{job_hash}::{i}", emoji=keycaps[i - 1])
             for i in range(1, 6)]
            + [_button(f"MJ::Job::PromptAnalyzer::{job_hash}::SHOW_DETAILS", "Show Details")])
