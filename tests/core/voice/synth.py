"""Synthetic (not patient) test signals and PyAV encoders for the voice tests.

Every signal here is generated: a glottal-pulse-like source (Rosenberg pulses) filtered by the
formants of /a/, with optional cycle-to-cycle period jitter and amplitude shimmer.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from scipy.signal import lfilter

# Formants (Hz) and bandwidths of an adult /a/ (Peterson & Barney 1952, male averages).
A_FORMANTS = ((730, 90), (1090, 110), (2440, 170), (3400, 250))


def _rosenberg_pulse(n: int, open_fraction: float = 0.6, closing_fraction: float = 0.25) -> np.ndarray:
    t = np.arange(n) / n
    rise, fall = open_fraction, open_fraction + closing_fraction
    pulse = np.zeros(n)
    up = t < rise
    pulse[up] = 0.5 * (1 - np.cos(np.pi * t[up] / rise))
    down = (t >= rise) & (t < fall)
    pulse[down] = np.cos(np.pi / 2 * (t[down] - rise) / (fall - rise))
    return pulse


def synthetic_vowel(f0: float = 120.0, seconds: float = 5.0, sr: int = 16000, jitter: float = 0.0,
                    shimmer: float = 0.0, seed: int = 0, noise_db: float | None = -60.0,
                    peak: float = 0.5, vibrato_hz: float = 0.0, vibrato_depth: float = 0.0) -> np.ndarray:
    """/a/-like vowel: `jitter` and `shimmer` are the relative SD of period and cycle amplitude
    (independent Gaussian per cycle); `noise_db` adds white noise relative to the peak."""
    rng = np.random.default_rng(seed)
    n_total = int(seconds * sr)
    source = np.zeros(n_total + sr)
    pos, t = 0.0, 0.0
    while pos < n_total:
        f = f0 * (1 + vibrato_depth * np.sin(2 * np.pi * vibrato_hz * t))
        period = sr / f * (1 + jitter * rng.standard_normal())
        amp = 1 + shimmer * rng.standard_normal()
        n = int(round(period))
        start = int(round(pos))
        source[start:start + n] += amp * _rosenberg_pulse(n)
        pos += period
        t = pos / sr
    x = np.diff(source[: n_total + 1])  # glottal flow derivative with lip radiation
    for freq, bw in A_FORMANTS:
        r = np.exp(-np.pi * bw / sr)
        a = [1, -2 * r * np.cos(2 * np.pi * freq / sr), r * r]
        x = lfilter([1 - r], a, x)
    x = x / np.max(np.abs(x)) * peak
    if noise_db is not None:
        x = x + peak * 10 ** (noise_db / 20) * rng.standard_normal(x.size)
    return x.astype(np.float32)


def speech_like(segments: list[tuple[str, float]], sr: int = 16000, seed: int = 1) -> np.ndarray:
    """Alternating 'syllable trains' and pauses: [("speech", 1.2), ("pause", 0.5), ...].
    Speech is a vowel at a slowly gliding F0, amplitude-modulated at 4 syllables per second."""
    rng = np.random.default_rng(seed)
    parts = []
    for kind, seconds in segments:
        n = int(seconds * sr)
        if kind == "pause":
            parts.append(1e-4 * rng.standard_normal(n).astype(np.float32))
        else:
            v = synthetic_vowel(f0=110 + 30 * rng.random(), seconds=seconds, sr=sr, seed=int(rng.integers(1e6)),
                                vibrato_hz=0.7, vibrato_depth=0.12, noise_db=None)
            t = np.arange(n) / sr
            envelope = np.sin(np.pi * 4.0 * t) ** 2  # 4 syllable nuclei a second
            parts.append((v[:n] * (0.05 + 0.95 * envelope)).astype(np.float32))
    return np.concatenate(parts)


# container, codec, extension, encoder sample rate, options
FORMATS = {
    "wav_s16": ("wav", "pcm_s16le", "wav", 44100, {}),
    "wav_s24": ("wav", "pcm_s24le", "wav", 48000, {}),
    "wav_s32": ("wav", "pcm_s32le", "wav", 22050, {}),
    "wav_float": ("wav", "pcm_f32le", "wav", 16000, {}),
    "flac": ("flac", "flac", "flac", 44100, {}),
    "mp3": ("mp3", "libmp3lame", "mp3", 44100, {}),
    "ogg_vorbis": ("ogg", "vorbis", "ogg", 44100, {"strict": "experimental"}),
    "ogg_opus": ("ogg", "libopus", "opus", 48000, {}),
    "m4a_aac": ("ipod", "aac", "m4a", 44100, {}),
    "webm_opus": ("webm", "libopus", "webm", 48000, {}),
}

_SAMPLE_FORMATS = {"pcm_s16le": "s16", "pcm_s24le": "s32", "pcm_s32le": "s32", "pcm_f32le": "flt",
                   "flac": "s16", "libmp3lame": "fltp", "libopus": "flt", "aac": "fltp", "vorbis": "fltp"}


def _resample_float(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return x
    from scipy.signal import resample_poly
    g = np.gcd(sr_in, sr_out)
    return resample_poly(x, sr_out // g, sr_in // g).astype(np.float32)


def _encode_audio_stream(container, stream, x: np.ndarray, channels: int) -> None:
    """Feed float samples (mono) to an opened audio stream, duplicated to `channels`."""
    rate = stream.codec_context.sample_rate
    fmt = stream.codec_context.format.name
    frame_size = stream.codec_context.frame_size or 1024
    layout = "stereo" if channels == 2 else "mono"
    data = np.repeat(x[None, :], channels, axis=0)
    pts = 0
    for start in range(0, data.shape[1], frame_size):
        block = data[:, start:start + frame_size]
        if fmt.endswith("p"):
            arr = block.astype(np.float32)
        else:
            arr = block.T.reshape(1, -1).astype(np.float32)
        if fmt in ("s16", "s16p"):
            arr = np.clip(arr * 32767, -32768, 32767).astype(np.int16)
        elif fmt in ("s32", "s32p"):
            arr = np.clip(arr * 2147483647.0, -2147483648, 2147483647).astype(np.int32)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=fmt, layout=layout)
        frame.sample_rate = rate
        frame.pts = pts
        frame.time_base = Fraction(1, rate)
        pts += block.shape[1]
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def write_audio(path: Path, x: np.ndarray, sr: int, kind: str = "wav_s16", channels: int = 2) -> Path:
    """Encode mono float samples `x` at `sr` into one of FORMATS (resampled to the format's rate)."""
    container_fmt, codec, _ext, rate, options = FORMATS[kind]
    y = _resample_float(np.asarray(x, np.float32), sr, rate)
    with av.open(str(path), mode="w", format=container_fmt) as container:
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.codec_context.layout = "stereo" if channels == 2 else "mono"
        stream.codec_context.format = _SAMPLE_FORMATS[codec]
        _encode_audio_stream(container, stream, y, channels)
    return path


def write_video(path: Path, x: np.ndarray | None, sr: int, seconds: float, container_fmt: str = "mp4",
                fps: int = 15) -> Path:
    """Small h264 video (moving gradient), with an AAC sound track of `x` unless x is None."""
    with av.open(str(path), mode="w", format=container_fmt) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = None
        if x is not None:
            audio = container.add_stream("aac", rate=44100)
            audio.codec_context.layout = "mono"
        for i in range(int(seconds * fps)):
            img = np.full((48, 64, 3), (i * 8) % 255, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None:
            _encode_audio_stream(container, audio, _resample_float(np.asarray(x, np.float32), sr, 44100), 1)
    return path
