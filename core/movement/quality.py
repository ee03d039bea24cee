"""Quality checks of a movement clip, as core.pipeline.Quality: is the hand (or body) seen often
enough, long enough, big enough, sharp enough and at a frame rate that resolves the movement?
Every message says what to change for the next recording.

The checks are separate functions so the gait pipeline can reuse the generic ones
(duration_check, frame_rate_check, detection_check, longest_gap_check).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from core.movement.landmarks import INDEX_TIP, THUMB_TIP, WRIST, HandSeries
from core.pipeline import Quality, QualityCheck
from core.tasks import task_spec

MIN_DETECTION_RATE = 0.8
MAX_GAP_S = 1.0
MIN_HAND_SIZE = 0.12  # hand bounding box side / shorter frame side
MIN_SHARPNESS = 2.0  # Laplacian variance of the grey hand region; calibrated on one webcam photo: 4.0 sharp, 1.4-2.0 blurred (Gaussian sigma 1.5-3, 25 px motion)
TWO_HANDS_MAX_FRACTION = 0.3  # finger tapping: the other hand should stay out of view
# A movement needs about 3 samples per cycle to be timed: tapping runs to ~5 Hz, tremor to 8 Hz.
MIN_FPS = {"finger_tapping": 15.0, "tremor": 20.0, "gait": 15.0}


class FrameSampler:
    """Passes (t, rgb) frames through unchanged and keeps at most `keep` of them, spread over the
    clip (the stride doubles when full), for the blur check and the key frame: bounded memory
    whatever the clip length."""

    def __init__(self, frames: Iterable[tuple[float, np.ndarray]], keep: int = 16):
        self._frames = frames
        self.keep = keep
        self.samples: list[tuple[int, np.ndarray]] = []  # (frame index, rgb)
        self._stride = 1

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        for i, (t, rgb) in enumerate(self._frames):
            if i % self._stride == 0:
                self.samples.append((i, rgb))
                if len(self.samples) > self.keep:
                    self._stride *= 2
                    self.samples = [(j, f) for j, f in self.samples if j % self._stride == 0]
            yield t, rgb

    def _hand_crops(self, series: HandSeries):
        px = series.pixels()
        for i, rgb in self.samples:
            if i >= len(px) or np.isnan(px[i, WRIST, 0]):
                continue
            lo = np.floor(np.nanmin(px[i], axis=0)).astype(int)
            hi = np.ceil(np.nanmax(px[i], axis=0)).astype(int)
            x0, y0 = np.maximum(lo, 0)
            x1, y1 = np.minimum(hi, [rgb.shape[1], rgb.shape[0]])
            if x1 - x0 >= 8 and y1 - y0 >= 8:
                yield i, rgb, rgb[y0:y1, x0:x1]

    def hand_sharpness(self, series: HandSeries) -> float:
        """Median variance of the Laplacian over the hand region of the sampled frames (NaN if
        the hand is in none of them). Motion blur and focus blur both lower it."""
        import cv2

        values = [float(cv2.Laplacian(cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY),
                                      cv2.CV_64F).var())
                  for _, _, crop in self._hand_crops(series)]
        return float(np.median(values)) if values else float("nan")

    def key_frame(self, series: HandSeries, max_side: int = 320) -> np.ndarray | None:
        """The sampled frame with the widest thumb-index opening (hand in view), downscaled."""
        import cv2

        px = series.pixels()
        best, best_open = None, -1.0
        for i, rgb, _ in self._hand_crops(series):
            opening = float(np.hypot(*(px[i, THUMB_TIP] - px[i, INDEX_TIP])))
            if opening > best_open:
                best, best_open = rgb, opening
        if best is None:
            best = self.samples[len(self.samples) // 2][1] if self.samples else None
        if best is None:
            return None
        scale = max_side / max(best.shape[:2])
        if scale < 1:
            best = cv2.resize(best, (int(best.shape[1] * scale), int(best.shape[0] * scale)),
                              interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(best)


# ---------------------------------------------------------------- generic checks

def duration_check(times: np.ndarray, task: str) -> QualityCheck:
    spec = task_spec(task)
    duration = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    if duration < spec.min_seconds:
        return QualityCheck("duration", False, duration, "s",
                            f"The clip is {duration:.1f} s long; at least {spec.min_seconds:.0f} s are needed: "
                            f"record about {spec.target_seconds:.0f} s of the task.")
    if duration > spec.max_seconds:
        return QualityCheck("duration", False, duration, "s",
                            f"The clip is {duration:.0f} s long; keep it under {spec.max_seconds:.0f} s: "
                            f"trim it to the task (about {spec.target_seconds:.0f} s).")
    return QualityCheck("duration", True, duration, "s", f"Duration {duration:.1f} s.")


def frame_rate_check(times: np.ndarray, task: str) -> QualityCheck:
    steps = np.diff(times)
    fps = float(1.0 / np.median(steps)) if len(steps) and np.median(steps) > 0 else 0.0
    needed = MIN_FPS.get(task, 15.0)
    if fps < needed:
        return QualityCheck("frame_rate", False, fps, "fps",
                            f"The video runs at {fps:.0f} frames per second; at least {needed:.0f} are needed "
                            "to time the movement: use the camera's normal video mode (30 fps) in good light.")
    return QualityCheck("frame_rate", True, fps, "fps", f"Frame rate {fps:.0f} fps.")


def detection_check(detected: np.ndarray, what: str = "hand") -> QualityCheck:
    rate = float(np.mean(detected)) if len(detected) else 0.0
    if rate == 0.0:
        return QualityCheck("detection_rate", False, 0.0, "%",
                            f"No {what} was found in the video: keep the whole {what} in view, well lit, "
                            "and record again.")
    if rate < MIN_DETECTION_RATE:
        return QualityCheck("detection_rate", False, 100 * rate, "%",
                            f"The {what} was found in only {100 * rate:.0f}% of the frames: keep the whole "
                            f"{what} in view all the time, with good light and a plain background.")
    return QualityCheck("detection_rate", True, 100 * rate, "%", f"The {what} was found in {100 * rate:.0f}% of the frames.")


def longest_gap_check(times: np.ndarray, detected: np.ndarray, what: str = "hand") -> QualityCheck:
    """Longest span (s) in which tracking was lost, after the first detection."""
    longest, start = 0.0, None
    for t, ok in zip(times, detected):
        if not ok and start is None:
            start = t
        elif ok and start is not None:
            longest, start = max(longest, t - start), None
    if start is not None:
        longest = max(longest, float(times[-1] - start))
    if longest > MAX_GAP_S:
        return QualityCheck("tracking_gap", False, longest, "s",
                            f"The {what} was lost for {longest:.1f} s at a stretch: keep it in view all the "
                            "time and avoid covering it.")
    return QualityCheck("tracking_gap", True, longest, "s", f"Longest tracking gap {longest:.2f} s.")


# ---------------------------------------------------------------- hand checks

def hand_size(series: HandSeries) -> float:
    """Median size of the hand's bounding box as a fraction of the shorter frame side."""
    px = series.pixels()[series.detected]
    if len(px) == 0:
        return 0.0
    extent = np.max(px.max(axis=1) - px.min(axis=1), axis=1)
    return float(np.median(extent) / min(series.image_size))


def hand_quality(series: HandSeries, task: str) -> Quality:
    """All checks for a clip of one hand (finger tapping, rest tremor)."""
    detected = series.detected
    checks = [duration_check(series.times, task), frame_rate_check(series.times, task),
              detection_check(detected, "hand")]
    if detected.any():
        checks.append(longest_gap_check(series.times, detected, "hand"))
        size = hand_size(series)
        checks.append(QualityCheck("hand_size", size >= MIN_HAND_SIZE, 100 * size, "%",
                                   f"The hand spans {100 * size:.0f}% of the picture height"
                                   + (": move the camera closer (or zoom in) so the hand fills at least "
                                      f"{100 * MIN_HAND_SIZE:.0f}% of the picture height." if size < MIN_HAND_SIZE else ".")))
        if not np.isnan(series.sharpness):
            sharp = series.sharpness >= MIN_SHARPNESS
            checks.append(QualityCheck("sharpness", sharp, series.sharpness, "",
                                       "The hand looks sharp." if sharp else
                                       "The hand looks blurred: use more light (less motion blur), hold the "
                                       "camera still or on a stand, and let it focus on the hand."))
        if series.side is not None:
            p_side = float(np.nanmean(series.side_probability[detected]))
            other = "left" if series.side == "right" else "right"
            checks.append(QualityCheck(
                "hand_side", p_side >= 0.5, p_side, "",
                f"The tracked hand looks like the {series.side} hand." if p_side >= 0.5 else
                f"The camera sees the {other} hand, but the {series.side} hand was chosen for this test: "
                "check the side, or turn off mirroring (selfie cameras swap left and right)."))
    two = float(np.mean(series.hands_in_view >= 2)) if len(series.hands_in_view) else 0.0
    if task == "finger_tapping":
        checks.append(QualityCheck(
            "other_hand", two <= TWO_HANDS_MAX_FRACTION, 100 * two, "%",
            "Only the tested hand is in view." if two <= TWO_HANDS_MAX_FRACTION else
            f"Both hands are in view in {100 * two:.0f}% of the frames: rest the other hand on the lap "
            "out of the picture and record again."))
    elif two > 0:
        checks.append(QualityCheck("other_hand", True, 100 * two, "%",
                                   f"Both hands in view in {100 * two:.0f}% of the frames; the {series.side or 'chosen'} "
                                   "hand was tracked."))
    return Quality(tuple(checks))
