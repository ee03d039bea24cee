"""Live capture for the browser recorder (streamlit-webrtc frame processors), without Streamlit:
`AudioClipRecorder` and `VideoClipRecorder` (countdown, fixed-length window; only complete clips
ever leave memory) and `LandmarkOverlay` (the live landmark drawing). A finished clip goes into
the visit through core.capture.add_clip, like an upload.
"""
from __future__ import annotations

import io
import math
import threading
import time
import wave
from fractions import Fraction

import numpy as np


COUNTDOWN_S = 3.0
STALL_S = 2.5  # no frame for this long while recording: the connection dropped


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level of int16 (or float in [-1, 1]) samples in dB full scale; -120 for silence."""
    x = samples.astype(np.float64)
    if samples.dtype == np.int16:
        x /= 32768.0
    rms = math.sqrt(float(np.mean(x * x))) if x.size else 0.0
    return 20 * math.log10(rms) if rms > 1e-6 else -120.0


class ClipRecorder:
    """A fixed-length clip taken from a live stream: idle -> countdown -> recording -> complete,
    or -> aborted (connection dropped, stopped, page left). Frames arrive on a WebRTC thread;
    the page polls. The clip lives in memory only: `take_clip()` hands out complete clips once,
    and nothing is ever written for an aborted one."""

    suffix = ""

    def __init__(self, target_seconds: float, countdown_s: float = COUNTDOWN_S):
        self.target_seconds = float(target_seconds)
        self.countdown_s = float(countdown_s)
        self._lock = threading.Lock()
        self.state = "idle"
        self.reason = ""
        self._start_at = 0.0
        self.last_frame_at: float | None = None
        self._clip: bytes | None = None

    # -- control, from the page
    def arm(self, now: float | None = None) -> None:
        """Start the countdown; recording begins when it ends (on the first frame after)."""
        with self._lock:
            self._reset()
            self.state = "countdown"
            self._start_at = (time.monotonic() if now is None else now) + self.countdown_s

    def abort(self, reason: str) -> None:
        with self._lock:
            if self.state in ("countdown", "recording"):
                self.state, self.reason = "aborted", reason
            self._reset()

    def acknowledge(self) -> str:
        """The page has shown why a recording was aborted: back to idle. Returns the reason."""
        with self._lock:
            reason = self.reason
            if self.state == "aborted":
                self.state, self.reason = "idle", ""
            return reason

    def poll(self, now: float | None = None) -> str:
        """Check for a dropped connection; returns the state."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self.state == "recording" and self.last_frame_at is not None and now - self.last_frame_at > STALL_S:
                self.state = "aborted"
                self.reason = "The connection dropped during the recording: nothing was saved. Record it again."
                self._reset()
            elif self.state == "countdown" and now - self._start_at > STALL_S:
                self.state = "aborted"
                self.reason = ("Nothing arrives from the microphone or camera: check the connection, "
                               "stop and start it again, then record.")
                self._reset()
            return self.state

    def countdown_left(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return max(0.0, self._start_at - now) if self.state == "countdown" else 0.0

    def take_clip(self) -> bytes | None:
        """The complete clip (once); None while not complete."""
        with self._lock:
            clip, self._clip = self._clip, None
            if clip is not None:
                self.state = "idle"
            return clip

    # -- frames, from the WebRTC thread
    def _should_record(self, now: float) -> bool:
        """Called with the lock held for each frame; moves countdown -> recording."""
        self.last_frame_at = now
        if self.state == "countdown" and now >= self._start_at:
            self.state = "recording"
            self._begin()
        return self.state == "recording"

    @property
    def recorded_seconds(self) -> float:
        raise NotImplementedError

    def _begin(self) -> None:
        raise NotImplementedError

    def _reset(self) -> None:
        raise NotImplementedError


class AudioClipRecorder(ClipRecorder):
    """Voice: mono 16-bit samples at the stream's rate -> a wav clip of exactly the target length.
    Also keeps the live level (dBFS) for the meter."""

    suffix = ".wav"

    def __init__(self, target_seconds: float, countdown_s: float = COUNTDOWN_S):
        super().__init__(target_seconds, countdown_s)
        self.level_dbfs = -120.0
        self.sample_rate: int | None = None
        self._chunks: list[np.ndarray] = []
        self._samples = 0

    def _reset(self) -> None:
        self._chunks, self._samples = [], 0

    def _begin(self) -> None:
        self._reset()

    @property
    def recorded_seconds(self) -> float:
        return self._samples / self.sample_rate if self.sample_rate else 0.0

    def add_samples(self, mono: np.ndarray, sample_rate: int, now: float | None = None) -> None:
        """int16 mono samples as they arrive."""
        now = time.monotonic() if now is None else now
        self.level_dbfs = level_dbfs(mono)
        with self._lock:
            if not self._should_record(now):
                return
            if self.sample_rate not in (None, sample_rate) and self._samples:
                self.state, self.reason = "aborted", "The microphone changed during the recording: record it again."
                self._reset()
                return
            self.sample_rate = sample_rate
            need = int(round(self.target_seconds * sample_rate)) - self._samples
            self._chunks.append(mono[:need].astype(np.int16, copy=False))
            self._samples += min(need, len(mono))
            if self._samples >= int(round(self.target_seconds * sample_rate)):
                self._clip = wav_bytes(np.concatenate(self._chunks), sample_rate)
                self._reset()
                self._samples = int(round(self.target_seconds * sample_rate))
                self.state = "complete"

    def samples_so_far(self) -> tuple[np.ndarray, int | None]:
        """A copy of the samples recorded so far (int16 mono) and their rate, for the live
        measures (core/live.py); empty outside a recording."""
        with self._lock:
            if self.state != "recording" or not self._chunks:
                return np.zeros(0, np.int16), self.sample_rate
            return np.concatenate(self._chunks), self.sample_rate

    def add_frame(self, frame) -> None:
        """An av.AudioFrame from WebRTC (s16, packed or planar, any layout)."""
        self.add_samples(audio_frame_mono(frame), frame.sample_rate)


def audio_frame_mono(frame) -> np.ndarray:
    """av.AudioFrame -> int16 mono samples (channels averaged)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        mono = data.reshape(channels, -1).astype(np.int32).mean(axis=0) if channels > 1 else data.reshape(-1)
    else:
        mono = data.reshape(-1, channels).astype(np.int32).mean(axis=1) if channels > 1 else data.reshape(-1)
    if data.dtype != np.int16:  # float formats
        return np.clip(np.asarray(mono, np.float64) * 32767, -32768, 32767).astype(np.int16)
    return np.asarray(mono).astype(np.int16)


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())
    return buf.getvalue()


class VideoClipRecorder(ClipRecorder):
    """Movement: frames are encoded as they arrive (H.264 in an in-memory mp4, with their true
    timestamps) until the clip spans the target length. Memory stays small (a few MB)."""

    suffix = ".mp4"

    def __init__(self, target_seconds: float, countdown_s: float = COUNTDOWN_S):
        super().__init__(target_seconds, countdown_s)
        # a live tracker (core.live.LiveVideoTracker) receives each encoded packet before it is
        # muxed: it decodes them itself, so it sees exactly the frames the stored clip holds
        self.listener = None
        self._buffer: io.BytesIO | None = None
        self._container = None
        self._stream = None
        self._t0: float | None = None
        self._last_ms = -1
        self._span = 0.0

    def _reset(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # an aborted encoder may refuse to finish: it is discarded anyway
                pass
        self._buffer = self._container = self._stream = None
        self._t0, self._last_ms, self._span = None, -1, 0.0

    def _begin(self) -> None:
        self._reset()

    @property
    def recorded_seconds(self) -> float:
        return self._span

    def add_rgb(self, rgb: np.ndarray, t: float, now: float | None = None) -> None:
        """One RGB frame with its stream time in seconds."""
        import av

        now = time.monotonic() if now is None else now
        with self._lock:
            if not self._should_record(now):
                return
            h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
            if self._container is None:
                self._buffer = io.BytesIO()
                self._container = av.open(self._buffer, mode="w", format="mp4")
                self._stream = self._container.add_stream("libx264", rate=30)
                self._stream.width, self._stream.height = w, h
                self._stream.pix_fmt = "yuv420p"
                self._stream.codec_context.time_base = Fraction(1, 1000)
                self._stream.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "20"}
                self._t0 = t
            ms = int(round((t - self._t0) * 1000))
            if ms <= self._last_ms:
                ms = self._last_ms + 1
            self._last_ms = ms
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), format="rgb24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            for packet in self._stream.encode(frame):
                self._feed(packet)
                self._container.mux(packet)
            self._span = ms / 1000.0
            if self._span >= self.target_seconds:
                self._complete(self.target_seconds)

    def _complete(self, span: float) -> None:
        """Flush the encoder and hand out the clip (lock held)."""
        for packet in self._stream.encode():
            self._feed(packet)
            self._container.mux(packet)
        if self.listener is not None:
            self.listener.end()
        self._container.close()
        self._clip = self._buffer.getvalue()
        self._container = None
        self._reset()
        self._span = span
        self.state = "complete"

    def _feed(self, packet) -> None:
        """Hand an encoded packet (bytes, pts in ms) to the live tracker before muxing (the muxer
        takes the packet's data)."""
        if self.listener is not None and packet.size:
            self.listener.packet(bytes(packet), packet.pts, bytes(self._stream.codec_context.extradata or b""))

    def finish(self, min_seconds: float = 0.0) -> bool:
        """The therapist stops a recording that runs until stopped (a timed outcome test):
        the clip so far becomes the clip when it spans at least `min_seconds`. Returns whether
        it did; a shorter one keeps recording."""
        with self._lock:
            if self.state != "recording" or self._container is None or self._span < min_seconds:
                return False
            self._complete(self._span)
            return True

    def add_frame(self, frame) -> None:
        """An av.VideoFrame from WebRTC."""
        t = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else time.monotonic()
        self.add_rgb(frame.to_ndarray(format="rgb24"), t)


class LandmarkOverlay:
    """Live tracking feedback: MediaPipe hand (lite) or pose landmarks drawn on a frame, so the
    therapist sees that the hand or body is tracked before a clip is saved. To keep up with the
    camera it runs on a downscaled copy (`max_side`) and only on the frames it is given (the
    recorder passes the latest frame of each batch). Close it (`with` or `close()`)."""

    def __init__(self, kind: str, max_side: int = 320):
        if kind not in ("hand", "pose"):
            raise ValueError("kind must be 'hand' or 'pose'")
        self.kind = kind
        self.max_side = max_side
        self._landmarker = None
        self._last_ms = -1
        self._lock = threading.Lock()  # frames arrive on a WebRTC thread; close() may come from another
        self.detected = 0  # hands or people found in the last processed frame
        self.tracker = None  # a live tracker whose landmarks the recorder draws while it runs

    def __enter__(self) -> LandmarkOverlay:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._landmarker is not None:
                self._landmarker.close()
                self._landmarker = None

    def _ensure(self):
        if self._landmarker is None:
            from core.movement import landmarks

            self._landmarker = (landmarks.hand_landmarker("lite", num_hands=2) if self.kind == "hand"
                                else landmarks.pose_landmarker())
        return self._landmarker

    def detect(self, rgb: np.ndarray, t: float) -> list[np.ndarray]:
        """Landmarks (n, 2) in normalised image coordinates, one array per hand or person."""
        import cv2
        import mediapipe as mp

        h, w = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = cv2.resize(rgb, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        ms = int(round(t * 1000))
        ms = ms if ms > self._last_ms else self._last_ms + 1
        self._last_ms = ms
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(small))
        with self._lock:
            result = self._ensure().detect_for_video(image, ms)
        found = result.hand_landmarks if self.kind == "hand" else result.pose_landmarks
        return [np.array([[p.x, p.y] for p in person], dtype=np.float32) for person in found]

    def process(self, rgb: np.ndarray, t: float, people: list[np.ndarray] | None = None) -> np.ndarray:
        """The frame with the landmarks drawn on it (a new array) and a tracking banner.
        `people`: landmarks already found (by the live tracker of a recording), drawn instead of
        detecting them again."""
        import cv2
        from mediapipe.tasks.python import vision

        people = self.detect(rgb, t) if people is None else people
        self.detected = len(people)
        out = rgb.copy()
        h, w = out.shape[:2]
        connections = (vision.HandLandmarksConnections.HAND_CONNECTIONS if self.kind == "hand"
                       else vision.PoseLandmarksConnections.POSE_LANDMARKS)
        thickness = max(1, round(max(h, w) / 320))
        for points in people:
            xy = np.round(points * (w, h)).astype(np.int32)
            for c in connections:
                cv2.line(out, tuple(map(int, xy[c.start])), tuple(map(int, xy[c.end])), (31, 111, 139), thickness + 1)
            for x, y in xy:
                cv2.circle(out, (int(x), int(y)), thickness + 2, (255, 255, 255), -1)
                cv2.circle(out, (int(x), int(y)), thickness + 1, (230, 90, 40), -1)
        what = "hand" if self.kind == "hand" else "body"
        text, colour = ((f"{what} tracked", (20, 140, 60)) if people else (f"no {what} found", (200, 40, 40)))
        cv2.rectangle(out, (0, 0), (min(w, 12 + 11 * len(text)), 26), colour, -1)
        cv2.putText(out, text, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
        return out
