"""Video decoding with PyAV: any clip a phone, a webcam or a browser produces (mp4/H.264, mov,
webm VP8/VP9/AV1, avi, mkv) -> timed RGB frames.

Frames are streamed one at a time (memory stays bounded whatever the clip length), carry their
TRUE presentation time (phones and browsers record at a variable frame rate, so a frame index
divided by a nominal rate would be wrong) and are turned upright according to the rotation
metadata (a phone held upright stores landscape pixels plus a display matrix).

Anything that cannot be used raises core.pipeline.UnusableInput with one clinician-readable line.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np

from core.pipeline import UnusableInput

MAX_VIDEO_SECONDS = 600.0  # 10 minutes: far beyond any task; longer files are refused
DEFAULT_MAX_SIDE = 640  # MediaPipe resizes to 224-256 px anyway; 640 keeps detail for quality checks

# Container formats FFmpeg uses for single pictures: a photo renamed .mp4 opens as one of these.
_IMAGE_FORMATS = ("image2", "_pipe", "gif", "webp", "apng")


@dataclass(frozen=True)
class VideoInfo:
    """What the container says before decoding (the duration may be unknown: browser webm)."""

    width: int  # as displayed, after rotation and downscaling
    height: int
    duration_s: float | None
    nominal_fps: float | None  # average rate from the container; the real timing is per frame
    codec: str
    container_format: str
    rotation: int  # degrees counterclockwise applied to the stored pixels for display
    has_audio: bool


def _unusable_open(path: Path, exc: Exception) -> UnusableInput:
    return UnusableInput(
        "The file could not be opened as a video (it may be corrupt, incomplete or not a "
        "video file): export or record the clip again as mp4 or webm."
    )


def _rotation_from_tag(stream: av.video.stream.VideoStream) -> int:
    """Legacy 'rotate' tag (clockwise degrees) -> counterclockwise degrees."""
    try:
        return -int(float(stream.metadata.get("rotate", 0))) % 360
    except (TypeError, ValueError):
        return 0


def _scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if not max_side or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    # even sizes keep swscale and encoders happy
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


class VideoReader:
    """Open, validate and stream one video file. Use as a context manager:

        with VideoReader(path, max_side=640) as reader:
            for t, rgb in reader.frames():
                ...

    Validation happens on open (not a video, audio only, too long) so a caller learns about an
    unusable file before any decoding work. `decode_errors` counts frames lost to corruption.

    Frames are yielded at `max_side`; `source_rgb()` gives the frame last yielded at the full
    resolution of the file (upright), converted only when asked, so a small hand can be cropped
    from the original pixels. `max_fps` drops frames closer than 0.6 / max_fps s to the previous
    one before they are converted (a 60 fps phone clip analysed at about 30 fps).
    """

    def __init__(self, path: str | Path, max_side: int | None = DEFAULT_MAX_SIDE,
                 max_duration_s: float = MAX_VIDEO_SECONDS, max_fps: float | None = None):
        self.path = Path(path)
        self.max_side = max_side
        self.max_duration_s = max_duration_s
        self.max_fps = max_fps
        self.decode_errors = 0
        self._frame = None  # the av.VideoFrame last yielded, for source_rgb()
        self._frame_rgb = None
        self._frame_rotation = 0
        self._source_rgb = None
        if not self.path.is_file():
            raise UnusableInput("The video file was not found: upload or record the clip again.")
        if self.path.stat().st_size == 0:
            raise UnusableInput("The file is empty (0 bytes): record or export it again.")
        try:
            self._container = av.open(str(self.path), mode="r")
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise _unusable_open(self.path, exc) from None
        try:
            info = self._validate()
            # Decode the first frame now: it proves there is a picture and gives the display
            # rotation, which FFmpeg only exposes on decoded frames.
            self._decoder = self._decode(info)
            self._first = next(self._decoder, None)
            if self._first is None:
                raise UnusableInput(
                    "No picture could be decoded from the file: it is empty or corrupt. "
                    "Record or export the clip again."
                )
            height, width = self._first[1].shape[:2]
            self.info = replace(info, width=width, height=height, rotation=self._first_rotation)
            w, h = self._codec_size
            # (width, height) of the file's pixels once upright: the frame of source_rgb()
            self.source_size = (w, h) if self._first_rotation % 180 == 0 else (h, w)
        except BaseException:
            self._container.close()
            raise

    def _validate(self) -> VideoInfo:
        container = self._container
        fmt = container.format.name or ""
        has_audio = bool(container.streams.audio)
        if not container.streams.video:
            if has_audio:
                raise UnusableInput(
                    "This file has sound but no picture: record the movement task as a video "
                    "with the camera, not the microphone only."
                )
            raise UnusableInput("The file contains no video: record the task with the camera.")
        stream = container.streams.video[0]
        codec = stream.codec_context.name if stream.codec_context else "unknown"
        if any(f in fmt for f in _IMAGE_FORMATS) or stream.codec_context.name in ("png", "bmp", "tiff"):
            raise UnusableInput(
                "The file is a still picture, not a video: record a video clip of the task."
            )
        duration_s = None
        if stream.duration is not None and stream.time_base is not None:
            duration_s = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration_s = container.duration / av.time_base
        if duration_s is not None and duration_s > self.max_duration_s:
            raise UnusableInput(
                f"The clip is {duration_s / 60:.1f} minutes long; clips over "
                f"{self.max_duration_s / 60:.0f} minutes are not analysed: trim it to the task "
                "(about 10-20 seconds) and upload it again."
            )
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise UnusableInput("The file has a video track without a picture size: it is probably corrupt. "
                                "Record or export the clip again.")
        self._out_size = _scaled_size(width, height, self.max_side)
        self._codec_size = (width, height)
        self._tag_rotation = _rotation_from_tag(stream)
        rate = stream.average_rate or stream.guessed_rate
        return VideoInfo(
            width=self._out_size[0], height=self._out_size[1], duration_s=duration_s,
            nominal_fps=float(rate) if rate else None, codec=codec,
            container_format=fmt, rotation=self._tag_rotation, has_audio=has_audio,
        )

    def frames(self) -> Iterator[tuple[float, np.ndarray]]:
        """Yield (seconds since the first frame, H x W x 3 uint8 RGB upright frame).

        Timestamps come from each frame's pts and are strictly increasing (a duplicate pts, which
        some muxers write, is dropped). Stops with UnusableInput if the clip runs past the
        maximum duration (containers without a duration, e.g. browser webm). Call once.
        """
        if self._first is None:
            raise RuntimeError("VideoReader.frames() can be iterated only once")
        first, self._first = self._first, None
        yield first
        yield from self._decoder

    def _decode(self, info: VideoInfo) -> Iterator[tuple[float, np.ndarray]]:
        container = self._container
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        width, height = self._out_size
        nominal = info.nominal_fps or 30.0
        self._first_rotation = self._tag_rotation
        first_time: float | None = None
        last_time = -np.inf
        count = n_decoded = 0
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.EOFError:
                break
            except av.error.FFmpegError:
                self.decode_errors += 1
                break  # a truncated or damaged container: keep what decoded so far
            try:
                decoded = packet.decode()
            except av.error.FFmpegError:
                self.decode_errors += 1
                continue
            for frame in decoded:
                n_decoded += 1
                if frame.time is not None:
                    t_abs = float(frame.time)
                else:  # no pts (rare, some avi): fall back to the nominal rate
                    t_abs = (n_decoded - 1) / nominal
                if first_time is None:
                    first_time = t_abs
                t = t_abs - first_time
                if t <= last_time:
                    continue
                if self.max_fps and count and t - last_time < 0.6 / self.max_fps:
                    continue
                if t > self.max_duration_s:
                    raise UnusableInput(
                        f"The clip runs past {self.max_duration_s / 60:.0f} minutes: trim it to the "
                        "task (about 10-20 seconds) and upload it again."
                    )
                rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
                rotation = int(round(frame.rotation or 0)) % 360 or self._tag_rotation
                if count == 0:
                    self._first_rotation = rotation
                if rotation:
                    rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
                last_time = t
                count += 1
                self._frame, self._frame_rgb, self._frame_rotation = frame, rgb, rotation
                self._source_rgb = None
                yield t, rgb

    def source_rgb(self) -> np.ndarray:
        """The frame last yielded by frames() at the file's full resolution, upright (H x W x 3
        RGB; may be a non-contiguous view: copy the part you need)."""
        if self._frame is None:
            raise RuntimeError("source_rgb() needs a frame from frames() first")
        if self._source_rgb is None:
            if self._out_size == self._codec_size:
                self._source_rgb = self._frame_rgb
            else:
                rgb = self._frame.to_ndarray(format="rgb24")
                k = self._frame_rotation // 90
                self._source_rgb = np.rot90(rgb, k=k) if k else rgb
        return self._source_rgb

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def iter_frames(path: str | Path, max_side: int | None = DEFAULT_MAX_SIDE,
                max_duration_s: float = MAX_VIDEO_SECONDS) -> Iterator[tuple[float, np.ndarray]]:
    """Convenience generator over VideoReader.frames(); closes the file when exhausted."""
    with VideoReader(path, max_side=max_side, max_duration_s=max_duration_s) as reader:
        yield from reader.frames()


def probe_video(path: str | Path) -> VideoInfo:
    """Validate a file and read its container facts without decoding frames."""
    with VideoReader(path, max_side=None) as reader:
        return reader.info
