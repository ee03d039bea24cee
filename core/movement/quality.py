"""Quality checks of a movement clip, as core.pipeline.Quality: is the hand (or body) seen often
enough, long enough, big enough, sharp enough and at a frame rate that resolves the movement?
Every message says what to change for the next recording.

The checks are separate functions so the gait pipeline can reuse the generic ones
(duration_check, frame_rate_check, detection_check, longest_gap_check).
"""
from __future__ import annotations

import numpy as np

from core.movement.landmarks import INDEX_TIP, THUMB_TIP, WRIST, HandSeries
from core.pipeline import Quality, QualityCheck
from core.tasks import task_spec

MIN_DETECTION_RATE = 0.8
MAX_GAP_S = 1.0
# Hand bounding box, in pixels of the picture MediaPipe looked at (the file's own pixels where
# the hand was found on a crop of a whole-body view). 60 px is about 0.12 of a 640x480 webcam
# frame's height, the old close-up limit; a phone's 1080 px wide portrait view allows a hand of
# under a tenth of the width.
MIN_HAND_PIXELS = 60.0
MIN_SHARPNESS = 2.0  # Laplacian variance of the grey hand region; calibrated on one webcam photo: 4.0 sharp, 1.4-2.0 blurred (Gaussian sigma 1.5-3, 25 px motion)
# A movement needs about 3 samples per cycle to be timed: tapping runs to ~5 Hz, tremor to 8 Hz.
MIN_FPS = {"finger_tapping": 15.0, "tremor": 20.0, "gait": 15.0,
           # the outcome tests analyse at most 15 frames a second (core.movement.frames.thinned):
           # a 29.97 fps phone clip thinned by two runs at 14.985
           "tug": 14.5, "sit_to_stand": 14.5, "gait_speed": 14.5}


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
    """Median size (pixels) of the hand's bounding box in the picture MediaPipe looked at."""
    px = series.seen_pixels()[series.detected]
    if len(px) == 0:
        return 0.0
    extent = np.max(px.max(axis=1) - px.min(axis=1), axis=1)
    return float(np.median(extent))


def hand_quality(series: HandSeries, task: str) -> Quality:
    """All checks for a clip of one hand (finger tapping, rest tremor)."""
    detected = series.detected
    checks = [duration_check(series.times, task), frame_rate_check(series.times, task),
              detection_check(detected, "hand")]
    if detected.any():
        checks.append(longest_gap_check(series.times, detected, "hand"))
        size = hand_size(series)
        checks.append(QualityCheck("hand_size", size >= MIN_HAND_PIXELS, size, "px",
                                   f"The hand is {size:.0f} pixels across in the video" +
                                   (": too small to follow the fingers. Move the camera closer (or zoom in), "
                                    "or record at a higher resolution, and record again." if size < MIN_HAND_PIXELS
                                    else ".")))
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
    checks.extend(framing_checks(series))
    return Quality(tuple(checks))


def framing_checks(series: HandSeries) -> list[QualityCheck]:
    """Informational (always passed): how the tested hand was found. The other hand in view is
    fine (the seated clinic framing rests it on the lap): the chosen side is followed."""
    checks = []
    side = series.side or "chosen"
    n = len(series.times)
    cropped = float(np.mean(series.cropped)) if n else 0.0
    if cropped > 0:
        checks.append(QualityCheck(
            "framing", True, 100 * cropped, "%",
            f"A person is in view: the {side} hand was found next to the body's {side} wrist and followed "
            f"close up in {100 * cropped:.0f}% of the frames; the other hand was left aside."))
    two = float(np.mean(series.hands_in_view >= 2)) if n else 0.0
    if two > 0:
        checks.append(QualityCheck("other_hand", True, 100 * two, "%",
                                   f"Both hands are in view in {100 * two:.0f}% of the frames; the {side} hand "
                                   "was followed."))
    return checks
