"""A generated corpus of malformed and hostile inputs (issue 14, "bad input at scale"): built by
code at test time from the real fixtures, never committed as files. Every item is synthetic or
cut from the public vowel recording (tests/fixtures/voice) and the openly licensed hand photo.

`files(tmp)` -> list of Item(id, name, data, task, side): truncated, zero-length, wrong magic
bytes, lying headers (a WAV claiming 4 GB, an MP4 claiming 65535 x 65535 pixels), absurd sample
rates, channel counts and frame sizes, a decompression bomb (a few KB of video that decodes to
4096 x 4096 frames), containers with no usable stream, each under ordinary, path-traversal,
control-character and unicode names, for a voice task and a movement task.

`TEXTS`: HTML, script, markdown, Streamlit directives, LaTeX, SQL and oversized text for every
form field.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VOWEL = next((FIXTURES / "voice").glob("PD_sample__AH_545692309*.wav"))


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    data: bytes
    task: str
    side: str | None


def wav(rate: int = 16000, channels: int = 1, bits: int = 16, frames: bytes = b"\0\0" * 800,
        riff_size: int | None = None, data_size: int | None = None, fmt_code: int = 1,
        block_align: int | None = None) -> bytes:
    """A WAV whose every header field can lie."""
    block_align = channels * bits // 8 if block_align is None else block_align
    fmt = struct.pack("<HHIIHH", fmt_code, channels, rate & 0xFFFFFFFF, (rate * block_align) & 0xFFFFFFFF,
                      block_align & 0xFFFF, bits)
    data_size = len(frames) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_size) + frames
    riff_size = len(body) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", riff_size & 0xFFFFFFFF) + body


def _patch_avc1_size(mp4: bytes, width: int, height: int) -> bytes:
    """Set the width and height of an MP4's avc1 sample entry and tkhd (what the container
    declares; the coded stream keeps its own)."""
    out = bytearray(mp4)
    at = out.find(b"avc1")
    if at != -1:
        struct.pack_into(">HH", out, at + 4 + 24, width, height)
    at = out.find(b"tkhd")
    if at != -1:  # version 0: width, height as 16.16 at the end of the 84-byte box
        size = struct.unpack(">I", out[at - 4:at])[0]
        struct.pack_into(">II", out, at - 4 + size - 8, width << 16, height << 16)
    return bytes(out)


def _media(tmp: Path) -> dict[str, bytes]:
    from core.synthetic.hand import frames_only, tapping_frames
    from core.synthetic.video import write_audio_only, write_video

    tmp.mkdir(parents=True, exist_ok=True)
    tap = write_video(tmp / "tap.mp4", frames_only(tapping_frames(seconds=2.5)), fps=30).read_bytes()
    # a decompression bomb: uniform 4096 x 4096 frames, a few KB on disk, 50 MB each decoded
    bomb = write_video(tmp / "bomb.mp4", (np.full((4096, 4096, 3), 90, np.uint8) for _ in range(8)), fps=1).read_bytes()
    tiny = write_video(tmp / "tiny.mp4", (np.full((16, 16, 3), i, np.uint8) for i in range(150)), fps=30).read_bytes()
    one_frame = write_video(tmp / "one.mp4", [np.full((64, 64, 3), 128, np.uint8)], fps=30).read_bytes()
    fast = write_video(tmp / "fast.mp4", (np.full((32, 32, 3), i % 255, np.uint8) for i in range(60)),
                       times=[i * 0.001 for i in range(60)]).read_bytes()  # 60 frames in 60 ms
    m4a = write_audio_only(tmp / "tone.m4a", 1.5).read_bytes()
    tone = write_audio_only(tmp / "tone.wav", 0.4).read_bytes()
    return {"tap": tap, "bomb": bomb, "tiny": tiny, "one_frame": one_frame, "fast": fast, "m4a": m4a, "tone": tone}


def contents(tmp: Path) -> dict[str, bytes]:
    """id -> bytes of every malformed content."""
    media = _media(tmp)
    vowel = VOWEL.read_bytes()
    tap = media["tap"]
    out: dict[str, bytes] = {"zero": b""}
    for cut in (1, 2, 3, 4, 8, 11, 12, 16, 36, 44, 45, 100, 1000, 4096):
        out[f"vowel-first-{cut}"] = vowel[:cut]
        out[f"tap-first-{cut}"] = tap[:cut]
    for fraction in (0.1, 0.5, 0.9):
        out[f"vowel-{fraction:.0%}"] = vowel[: int(len(vowel) * fraction)]
        out[f"tap-{fraction:.0%}"] = tap[: int(len(tap) * fraction)]
    out["tap-no-moov"] = tap.replace(b"moov", b"mooX")
    out["tap-zeroed-middle"] = tap[:200] + b"\0" * (len(tap) - 400) + tap[-200:]
    out["tap-tail-only"] = tap[len(tap) // 2:]
    rng = np.random.default_rng(14)
    out.update({
        "random": rng.bytes(4096),
        "text": b"synthetic notes, not a recording\n" * 40,
        "html": b"<html><script>alert(1)</script></html>" * 20,
        "png": b"\x89PNG\r\n\x1a\n" + rng.bytes(500),
        "jpeg": (FIXTURES.parent.parent / "core" / "synthetic" / "hand_palm.jpg").read_bytes(),
        "pdf": b"%PDF-1.4\n" + rng.bytes(500),
        "zip": b"PK\x03\x04" + rng.bytes(500),
        "elf": b"\x7fELF\x02\x01\x01" + rng.bytes(500),
        "riff-other": b"RIFF\x10\0\0\0WEBPVP8 " + rng.bytes(200),
        "magic-wav-random": b"RIFF\xff\xff\0\0WAVE" + rng.bytes(2000),
        "magic-flac-random": b"fLaC" + rng.bytes(2000),
        "magic-ogg-random": b"OggS" + rng.bytes(2000),
        "magic-webm-random": b"\x1a\x45\xdf\xa3" + rng.bytes(2000),
        "magic-mp4-random": b"\0\0\0\x18ftypisom" + rng.bytes(2000),
        "magic-mp3-random": b"ID3\x03\0\0\0\0\0\0" + rng.bytes(2000),
        "magic-avi-random": b"RIFF\0\x10\0\0AVI LIST" + rng.bytes(2000),
        "mp4-box-size-huge": b"\xff\xff\xff\xffftypisom" + tap[16:],
        "mp4-box-size-zero": b"\0\0\0\0ftypisom" + tap[16:],
        "mp4-box-64bit-lie": b"\0\0\0\x01ftyp" + struct.pack(">Q", 2**63 - 1) + tap[16:],
        "mp4-65535x65535": _patch_avc1_size(tap, 65535, 65535),
        "mp4-0x0": _patch_avc1_size(tap, 0, 0),
        "bomb-4096": media["bomb"],
        "video-16px": media["tiny"],
        "video-one-frame": media["one_frame"],
        "video-60-frames-in-60ms": media["fast"],
        "audio-only-m4a": media["m4a"],
        "tone-0.4s": media["tone"],
        # WAV headers that lie
        "wav-riff-4GB": wav(riff_size=0xFFFFFFFF, data_size=0xFFFFFFF0),
        "wav-data-4GB": wav(data_size=0xFFFFFFFF),
        "wav-data-beyond-file": wav(data_size=10_000_000),
        "wav-rate-0": wav(rate=0),
        "wav-rate-1": wav(rate=1, frames=b"\0\0" * 20),
        "wav-rate-3": wav(rate=3, frames=b"\0\0" * 30),
        "wav-rate-4G": wav(rate=0xFFFFFFFF),
        "wav-rate-8": wav(rate=8, frames=b"\0\0" * 80),
        "wav-rate-1M": wav(rate=1_000_000, frames=b"\0\1" * 8000),
        "wav-rate-1.5M-6s": wav(rate=1_536_000, frames=b"\0\1" * 16000),
        "wav-rate-2G": wav(rate=2**31),
        "wav-channels-0": wav(channels=0),
        "wav-channels-65535": wav(channels=65535),
        "wav-bits-0": wav(bits=0),
        "wav-bits-7": wav(bits=7),
        "wav-bits-64": wav(bits=64),
        "wav-block-align-0": wav(block_align=0),
        "wav-format-code-unknown": wav(fmt_code=0x1234),
        "wav-float-nan": wav(fmt_code=3, bits=32, frames=struct.pack("<f", float("nan")) * 16000),
        "wav-float-inf": wav(fmt_code=3, bits=32, frames=struct.pack("<f", float("inf")) * 16000),
        "wav-no-frames": wav(frames=b""),
        "wav-odd-frames": wav(frames=b"\0" * 801),
        "wav-header-only": vowel[:44],
        "wav-silence-6s": wav(frames=b"\0\0" * 16000 * 6),
    })
    return out


# Names a browser or a clinic archive may send (traversal, control characters, unicode, markup).
NAMES = [
    "clip{ext}",
    "../../../etc/passwd{ext}",
    "..\\..\\windows\\evil{ext}",
    "/abs/path/clip{ext}",
    "clip\x00hidden{ext}",
    "new\nline\r{ext}",
    "\u202egnp.{ext}",  # right-to-left override
    "Ünïcödé 声音 ملف{ext}",
    "<script>alert(1)</script>{ext}",
    "**bold** :red[x] $x^2$ [l](javascript:alert(1)){ext}",
    "'; DROP TABLE recordings; --{ext}",
    "a" * 300 + "{ext}",
    "CON{ext}",
    ".hidden{ext}",
    "clip{ext}.exe",
    "clip",
]


TASKS = (("vowel", None, ".wav"), ("finger_tapping", "left", ".mp4"), ("gait", None, ".mov"))


def files(tmp: Path) -> list[Item]:
    """Every malformed content as a voice clip, a sided and an unsided movement clip, names cycling through
    NAMES (so each content and each name is seen, with both extensions)."""
    items = []
    for i, (key, data) in enumerate(sorted(contents(tmp).items())):
        for j, (task, side, ext) in enumerate(TASKS):
            name = NAMES[(len(TASKS) * i + j) % len(NAMES)].format(ext=ext)
            items.append(Item(f"{key}-{task}", name, data, task, side))
    return items


SQL = ("'; DROP TABLE patients; --", "\" OR 1=1 --", "Robert'); DELETE FROM visits WHERE ('1'='1",
       "%' OR '%'='", "\\x00\\'; SELECT pg_sleep(10); --")
MARKUP = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "**bold** _it_ `code`",
          "[link](javascript:alert(1))", ":red[x] :material/warning:", "$x^2$ $$\\frac{1}{0}$$", "# Heading\n---\n> q",
          "<!-- -->&lt;b&gt;", "{{7*7}} ${7*7}", "\u202e\u0000\x1b[31m", "名前 ملف Ünï")
# The texts every form field receives: markup and SQL, and an oversized one.
TEXTS = SQL + MARKUP + ("x" * 5000,)
