"""Encode synthetic clips with PyAV (the demo database, the tests, bench/). No patient data."""
from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# container suffix -> (codec, pixel format)
CODECS = {
    ".mp4": ("libx264", "yuv420p"),
    ".mov": ("libx264", "yuv420p"),
    ".mkv": ("libx264", "yuv420p"),
    ".webm": ("libvpx-vp9", "yuv420p"),
    ".avi": ("mjpeg", "yuvj420p"),
}


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 30.0,
                times: Iterable[float] | None = None, codec: str | None = None,
                pix_fmt: str | None = None, rotation: int | None = None,
                options: dict | None = None) -> Path:
    """Encode RGB uint8 frames. `times` (seconds) gives explicit pts for a variable frame rate;
    `rotation` (degrees counterclockwise) writes a display matrix like a phone held upright."""
    path = Path(path)
    default_codec, default_pix = CODECS[path.suffix.lower()]
    codec = codec or default_codec
    pix_fmt = pix_fmt or default_pix
    time_base = Fraction(1, 1000) if times is not None else Fraction(1, int(round(fps)))
    time_list = list(times) if times is not None else None
    with av.open(str(path), mode="w") as container:
        stream = None
        for i, rgb in enumerate(frames):
            if stream is None:
                stream = container.add_stream(codec, rate=int(round(fps)))
                stream.width, stream.height = rgb.shape[1], rgb.shape[0]
                stream.pix_fmt = pix_fmt
                stream.codec_context.time_base = time_base
                stream.time_base = time_base
                opts = {"preset": "ultrafast"} if codec == "libx264" else {}
                if codec in ("libvpx", "libvpx-vp9"):
                    opts = {"deadline": "realtime", "cpu-used": "8"}
                if codec == "libsvtav1":
                    opts = {"preset": "12"}
                opts.update(options or {})
                stream.codec_context.options = opts
                if rotation:
                    stream.set_display_rotation(rotation)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if time_list is not None:
                frame.pts = int(round(time_list[i] * 1000))
            else:
                frame.pts = i
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        if stream is None:
            raise ValueError("no frames to write")
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_audio_only(path: str | Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    """A synthetic 220 Hz tone in an audio-only container (m4a/aac or wav by suffix)."""
    path = Path(path)
    codec = "pcm_s16le" if path.suffix == ".wav" else "aac"
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        fmt = "s16" if codec == "pcm_s16le" else "fltp"
        data = samples[None, :] if fmt == "s16" else (samples[None, :] / 32767).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="mono")
        frame.sample_rate = rate
        for chunk_start in range(0, data.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[:, chunk_start:chunk_start + 1024]),
                                               format=fmt, layout="mono")
            chunk.sample_rate = rate
            chunk.pts = chunk_start
            for packet in stream.encode(chunk):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
