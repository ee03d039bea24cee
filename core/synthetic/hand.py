"""Synthetic finger-tapping and rest-tremor clips made from one real, openly licensed photograph
of a hand (hand_palm.jpg here; provenance in PROVENANCE.md): the thumb is warped towards the
index finger and back (tapping) or the whole hand is shaken (tremor), with small whole-image
motions like a hand-held camera. No person was recorded: every clip is synthetic.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.synthetic.video import write_video

HAND_PHOTO = Path(__file__).with_name("hand_palm.jpg")
# Landmarks MediaPipe (hand full) finds on the photo, in pixels: thumb MCP (pivot) and tip.
_THUMB_CHAIN = [(45, 164), (126, 92), (196, 53), (243, 23)]
_THUMB_PIVOT = (110, 105)


def hand_photo() -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(HAND_PHOTO).convert("RGB"))


def _thumb_layers():
    """(background without the thumb, thumb mask 0..1) for warping the thumb."""
    import cv2

    img = hand_photo()
    mask = np.zeros(img.shape[:2], np.uint8)
    chain = np.array(_THUMB_CHAIN[1:] + [(265, 8)], np.int32)
    cv2.polylines(mask, [chain], False, 255, thickness=58)
    cv2.circle(mask, _THUMB_CHAIN[-1], 30, 255, -1)
    background = cv2.inpaint(img, cv2.dilate(mask, np.ones((9, 9), np.uint8)), 7, cv2.INPAINT_TELEA)
    soft = cv2.GaussianBlur(mask, (9, 9), 0).astype(np.float32) / 255.0
    return img, background, soft


def _blend(background: np.ndarray, thumb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(background * (1 - alpha) + thumb * alpha) as uint8, computed only inside the box where
    alpha is not zero (the warped thumb): the same pixels as the whole-frame blend, at a
    fraction of its cost (the demo database makes its clips at build time)."""
    inside = alpha[..., 0] > 0
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    frame = background.copy()
    if len(rows):
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        a = alpha[box]
        frame[box] = (background[box] * (1 - a) + thumb[box] * a).astype(np.uint8)
    return frame


def _shift(rgb: np.ndarray, dx: float, dy: float, angle_deg: float = 0.0, scale: float = 1.0) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle_deg, scale)
    m[:, 2] += (dx, dy)
    return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def tapping_frames(seconds: float = 10.0, fps: float = 30.0, rate_hz: float = 2.5,
                   close_deg: float = 62.0, seed: int = 0, start_closed: bool = False, times=None):
    """The real hand photo with its thumb rotated towards the index finger and back at
    `rate_hz` (a warped, synthetic tapping movement), plus small whole-image affine motions.
    start_closed: the fingers start together, so the openings (taps) fall at (k + 1/2) / rate_hz
    and a clip of `seconds` holds exactly floor(seconds * rate_hz + 1/2) of them. `times` (s)
    overrides the uniform timing (a variable frame rate)."""
    import cv2

    rng = np.random.default_rng(seed)
    img, background, soft = _thumb_layers()
    h, w = img.shape[:2]
    phase = np.pi if start_closed else 0.0
    times = np.arange(int(seconds * fps)) / fps if times is None else np.asarray(times, float)
    for t in times:
        closing = close_deg * (1 - np.cos(2 * np.pi * rate_hz * t + phase)) / 2
        m = cv2.getRotationMatrix2D(_THUMB_PIVOT, -closing, 1.0)
        thumb = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(soft, m, (w, h))[..., None]
        frame = _blend(background, thumb, alpha)
        frame = _shift(frame, 4 * np.sin(0.7 * t) + rng.normal(0, 0.3), 3 * np.sin(0.5 * t), 1.5 * np.sin(0.3 * t))
        yield t, frame


def shaking_frames(seconds: float = 10.0, fps: float = 30.0, freq_hz: float = 5.0,
                   amplitude_px: float = 6.0, scale: float = 0.8):
    """The real hand photo, shrunk by `scale` inside the frame and translated along x by a
    sinusoid of `amplitude_px` (peak) at `freq_hz`: a synthetic rest tremor of known size."""
    img = hand_photo()
    for i in range(int(seconds * fps)):
        t = i / fps
        yield t, _shift(img, amplitude_px * np.sin(2 * np.pi * freq_hz * t), 0.0, 0.0, scale)


def two_hands_frames(seconds: float = 6.0, fps: float = 30.0):
    """The photo (a left hand) beside its mirror image (which looks like a right hand)."""
    import cv2

    img = cv2.resize(hand_photo(), (320, 240), interpolation=cv2.INTER_AREA)
    both = np.concatenate([img[:, ::-1], img], axis=1)
    canvas = np.full((480, 640, 3), 200, np.uint8)
    canvas[120:360] = both
    for i in range(int(seconds * fps)):
        t = i / fps
        yield t, _shift(canvas, 3 * np.sin(2 * t), 0.0)


def frames_only(timed_frames):
    return (rgb for _, rgb in timed_frames)


def irregular_tapping_frames(seconds: float = 10.0, fps: float = 30.0, rate_hz: float = 2.2,
                             rate_jitter: float = 0.25, close_deg: float = 62.0, final_opening: float = 0.55,
                             seed: int = 3):
    """(t, RGB) frames: closing angle close_deg * (1 - a(t) (1 - cos phi(t)) / 2), where phi
    advances at a rate that wanders by +-rate_jitter and a(t) falls from 1 to final_opening."""
    import cv2

    rng = np.random.default_rng(seed)
    img, background, soft = _thumb_layers()
    h, w = img.shape[:2]
    n = int(seconds * fps)
    # a slowly wandering tapping rate (one new rate per tap, smoothed)
    knots = rate_hz * (1 + rate_jitter * rng.uniform(-1, 1, size=int(seconds * rate_hz) + 3))
    rate = np.interp(np.arange(n) / fps, np.linspace(0, seconds, len(knots)), knots)
    phase = 2 * np.pi * np.cumsum(rate) / fps
    opening = np.linspace(1.0, final_opening, n) * (1 + 0.08 * rng.standard_normal(n).cumsum() / np.sqrt(n))
    for i in range(n):
        t = i / fps
        closing = close_deg * (1 - np.clip(opening[i], 0.3, 1.0) * (1 - np.cos(phase[i])) / 2)
        m = cv2.getRotationMatrix2D(_THUMB_PIVOT, -closing, 1.0)
        thumb = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(soft, m, (w, h))[..., None]
        frame = _blend(background, thumb, alpha)
        yield t, _shift(frame, 4 * np.sin(0.7 * t) + rng.normal(0, 0.3), 3 * np.sin(0.5 * t), 1.5 * np.sin(0.3 * t))


def write_tapping_clip(path: str | Path, seconds: float = 10.0, **kwargs) -> Path:
    return write_video(path, (rgb for _, rgb in irregular_tapping_frames(seconds=seconds, **kwargs)), fps=30)
