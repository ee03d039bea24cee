"""Any clinic or browser recording -> 16 kHz mono float32 samples, with PyAV.

Reads whatever FFmpeg reads: wav (PCM 16/24/32-bit, float), flac, mp3, ogg (vorbis, opus), m4a
(aac), webm (opus) and the sound track of mp4/mov video, at any sample rate and channel count.
Everything that cannot be analysed raises core.pipeline.UnusableInput with one line for the
clinician: what is wrong and what to do.

Memory stays bounded for long files: the container's declared duration is checked before
decoding, and decoding stops as soon as the limit is passed (some files declare no duration).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from core.pipeline import UnusableInput

SAMPLE_RATE = 16000
# Longest file any voice task accepts (the longest task, reading, targets 30 s and allows 120 s;
# 10 minutes leaves room for a whole clinic session file while keeping memory at ~40 MB).
MAX_AUDIO_SECONDS = 600.0
# A file whose decoded sound is this much shorter than its header says was cut off in transfer.
TRUNCATION_TOLERANCE_S = 0.5
TRUNCATION_MIN_FRACTION = 0.9


@dataclass(frozen=True)
class StreamInfo:
    index: int
    kind: str  # "audio", "video", "subtitle", "data"
    codec: str | None
    duration_s: float | None
    sample_rate: int | None = None  # audio
    channels: int | None = None  # audio
    width: int | None = None  # video
    height: int | None = None  # video
    frame_rate: float | None = None  # video, average frames per second
    frames: int | None = None  # video frame count when the container states it


@dataclass(frozen=True)
class MediaInfo:
    format_name: str  # FFmpeg demuxer name(s), e.g. "wav", "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"
    duration_s: float | None  # container duration; None when the file does not declare one
    size_bytes: int
    streams: tuple[StreamInfo, ...]

    @property
    def has_audio(self) -> bool:
        return any(s.kind == "audio" for s in self.streams)

    @property
    def has_video(self) -> bool:
        return any(s.kind == "video" for s in self.streams)

    def as_dict(self) -> dict:
        return asdict(self)


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise UnusableInput("The file was not found: upload it again.")
    if path.stat().st_size == 0:
        raise UnusableInput("The file is empty (0 bytes): record or export it again.")


@contextmanager
def open_media(path: str | Path) -> Iterator[av.container.InputContainer]:
    """av.open that turns 'not a media file' into UnusableInput and always closes the file."""
    path = Path(path)
    _check_file(path)
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
        raise UnusableInput(
            "The file is not an audio or video recording that can be read "
            "(damaged, or another kind of file renamed): export or record it again."
        ) from exc
    try:
        yield container
    finally:
        container.close()


def _seconds(value: int | None, time_base) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _container_duration(container) -> float | None:
    if container.duration is None or container.duration <= 0:
        return None
    return container.duration / av.time_base


def probe_media(path: str | Path) -> MediaInfo:
    """Format, duration and streams of a media file, without decoding it."""
    path = Path(path)
    with open_media(path) as container:
        streams = []
        undecodable = 0
        for s in container.streams:
            codec = s.codec_context.name if s.codec_context is not None else None
            duration = _seconds(s.duration, s.time_base)
            if s.type in ("audio", "video") and s.codec_context is None:
                # no decoder for it (a WAV with an unknown format code or 0 bits per sample):
                # not a sound or picture the analysis could use
                undecodable += 1
                streams.append(StreamInfo(s.index, "data", None, duration))
            elif s.type == "audio":
                streams.append(StreamInfo(s.index, "audio", codec, duration,
                                          sample_rate=s.codec_context.sample_rate,
                                          channels=s.codec_context.channels))
            elif s.type == "video":
                rate = s.average_rate or s.guessed_rate
                streams.append(StreamInfo(s.index, "video", codec, duration,
                                          width=s.codec_context.width, height=s.codec_context.height,
                                          frame_rate=float(rate) if rate else None,
                                          frames=s.frames or None))
            else:
                streams.append(StreamInfo(s.index, s.type or "data", codec, duration))
        if undecodable and not any(st.kind in ("audio", "video") for st in streams):
            raise UnusableInput("The sound or picture in this file is in an encoding that cannot be read "
                                "(a damaged or unusual export): export it again as WAV, M4A or MP4.")
        return MediaInfo(container.format.name, _container_duration(container), path.stat().st_size,
                         tuple(streams))


def _too_long(seconds: float, limit: float) -> UnusableInput:
    def span(s: float) -> str:
        return f"{s / 60:.1f} min" if limit >= 120 else f"{s:.0f} s"

    return UnusableInput(
        f"The recording is too long ({span(seconds)}; at most {span(limit)} can be analysed): "
        "trim it to the task, or record the task on its own."
    )


def load_audio(path: str | Path, max_seconds: float = MAX_AUDIO_SECONDS) -> tuple[np.ndarray, int]:
    """Decode the first sound track of any audio or video file to (float32 mono samples, 16000).

    Raises UnusableInput for a file that is not media, has no sound track, is cut off, longer
    than `max_seconds`, or decodes to nothing.
    """
    path = Path(path)
    with open_media(path) as container:
        if not container.streams.audio:
            if container.streams.video:
                raise UnusableInput(
                    "This video has no sound track: record the voice task again with the "
                    "microphone switched on (or upload the audio file)."
                )
            raise UnusableInput("The file contains no sound: upload the voice recording itself.")
        stream = container.streams.audio[0]
        declared = _seconds(stream.duration, stream.time_base) or _container_duration(container)
        if declared is not None and declared > max_seconds + 0.5:
            raise _too_long(declared, max_seconds)

        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        max_samples = int((max_seconds + 0.5) * SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        n_samples = 0
        try:
            for frame in container.decode(stream):
                frame.pts = None  # let the resampler count samples; broken timestamps do not matter
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    n_samples += chunk.size
                if n_samples > max_samples:
                    raise _too_long(n_samples / SAMPLE_RATE, max_seconds)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise UnusableInput(
                "The file is damaged and could not be decoded: export or record it again."
            ) from exc

    samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise UnusableInput("No sound could be decoded from the file: record or export it again.")
    if not np.all(np.isfinite(samples)):
        raise UnusableInput("The file contains invalid sample values: export or record it again.")
    decoded = samples.size / SAMPLE_RATE
    if (declared is not None and declared - decoded > TRUNCATION_TOLERANCE_S
            and decoded < TRUNCATION_MIN_FRACTION * declared):
        raise UnusableInput(
            f"The file is incomplete (sound stops at {decoded:.1f} s of {declared:.1f} s): "
            "it was cut off while copying or uploading; upload it again."
        )
    return samples, SAMPLE_RATE
