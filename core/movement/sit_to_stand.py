"""Five Times Sit to Stand from one video: decode -> pose landmarks -> quality -> posture
(core.movement.posture) -> stands, repetition times, arms. No model: measures only, score None.

Timing: from the start of the first rise (the video's stand-in for 'go': the trunk starts leaning
forward) to the FIFTH FULL STAND (the hips at the person's own standing level), the protocol of
the usual instructions, "stop timing when the participant stands the 5th time" (the 5xSTS form
after Guralnik 2000 and Bohannon 2006, and e.g. the Cancer Exercise Toolkit's "stop timing when
the patient fully stands on the 5th time"). Some protocols stop when the person sits after the
fifth stand instead: that time is longer by the fifth sit-down.
Each repetition: from the start of a rise to seated again after it (rise, stand, sit down), so
repetitions compare like with like; the fifth is timed only when the clip shows the person
sitting after it. Trend: least-squares slope of repetition time over the repetitions (s per
repetition; positive = slowing, e.g. fatigue).
Arms used: a wrist leaves both the chest (the upper 60% of the trunk, within 0.35 torso lengths)
and the thighs (the outer 60% of the thigh, within 0.25 torso lengths) for at least 0.2 s during
a rise: the hands pushed on the seat or the armrests.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.movement import posture as pst
from core.movement.gait import HIP, SHOULDER, SIDES, WRIST, PoseTracks, pose_tracks
from core.movement.tug import decode_pose, outcome_quality
from core.vocabulary import MeasureInfo

TASK = "sit_to_stand"
STANDS = 5
MAX_LOST_S = 0.5
KNEE = {"left": 25, "right": 26}
CHEST_FROM, CHEST_RADIUS = 0.4, 0.35  # share of the trunk from the hips; torso lengths
THIGH_FROM, THIGH_RADIUS = 0.4, 0.25  # share of the thigh from the hip; torso lengths
ARMS_MIN_S = 0.2

_DUNCAN = ("Duncan, Leddy & Earhart, Arch Phys Med Rehabil 2011;92:1431-6 (80 people with Parkinson's: "
           "cut-off 16.0 s for fallers vs non-fallers, sensitivity .75, specificity .68; mean 20.25 s)")
_SLOWER = "direction: slower repetitions make a slower test, and a slower 5xSTS a higher fall risk (Duncan 2011)"
_BOHANNON = ("Bohannon, Percept Mot Skills 2006;103:215-22 (meta-analysis: worse than average above 11.4 s "
             "at 60-69 y, 12.6 s at 70-79 y, 14.8 s at 80-89 y)")


def _sts(name, label, unit, normal_range, higher_is_worse, source, description, cutoff=None, cutoff_text=""):
    return MeasureInfo(name, label, unit, TASK, normal_range, source, higher_is_worse, description,
                       cutoff, cutoff_text)


MEASURES: tuple[MeasureInfo, ...] = (
    _sts("sts_time_s", "Five Times Sit to Stand", "s", (None, 12.6), True, _BOHANNON,
         "From the start of the first rise to the fifth full stand, arms crossed over the chest. "
         "Healthy older adults: under 11.4 s (60-69 y), 12.6 s (70-79 y), 14.8 s (80-89 y) "
         "(Bohannon 2006); over 16 s marks a higher fall risk in Parkinson's (Duncan 2011).",
         16.0, "above 16 s: higher fall risk in Parkinson's (Duncan et al. 2011)"),
    _sts("sts_repetitions", "5xSTS: complete stands", "stands", None, None, "",
         "Rises from seated to fully standing counted in the clip."),
    *(_sts(f"sts_repetition_{k}_s", f"5xSTS: repetition {k}", "s", None, True, _SLOWER,
           f"Repetition {k}: from the start of the rise to seated again after it.") for k in range(1, 6)),
    _sts("sts_repetition_trend_s", "5xSTS: repetition trend", "s/repetition", None, True, _SLOWER,
         "Slope of repetition time across the repetitions (positive: slowing down, e.g. fatigue)."),
    _sts("sts_arms_used", "5xSTS: arms used", "", None, True,
         "the test is done without the arms, crossed over the chest (Duncan 2011; standard 5xSTS instructions)",
         "1 = the hands left the chest and thighs during a rise (pushed on the seat or armrests); "
         "the standard test is done with the arms crossed over the chest. Checked on synthetic poses "
         "only: confirm on the video before relying on it."),
)
MEASURES_BY_NAME = {m.name: m for m in MEASURES}


def measure_infos() -> tuple[MeasureInfo, ...]:
    return MEASURES


def _distance_to_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.clip(np.sum((p - a) * ab, axis=1) / np.sum(ab * ab, axis=1), 0.0, 1.0)
    return np.linalg.norm(p - (a + u[:, None] * ab), axis=1)


def hands_off_body(tracks: PoseTracks) -> np.ndarray:
    """(n,) True where a wrist is neither on the chest nor on a thigh (see module doc)."""
    hip = 0.5 * (tracks.point(HIP["left"]) + tracks.point(HIP["right"]))
    shoulder = 0.5 * (tracks.point(SHOULDER["left"]) + tracks.point(SHOULDER["right"]))
    chest_a = hip + CHEST_FROM * (shoulder - hip)
    off = np.zeros(len(tracks.t), bool)
    for side in SIDES:
        wrist = tracks.point(WRIST[side])
        near = _distance_to_segment(wrist, chest_a, shoulder) / tracks.torso <= CHEST_RADIUS
        for leg in SIDES:
            h, k = tracks.point(HIP[leg]), tracks.point(KNEE[leg])
            near |= _distance_to_segment(wrist, h + THIGH_FROM * (k - h), k) / tracks.torso <= THIGH_RADIUS
        off |= ~near & np.isfinite(wrist[:, 0])
    return off


def sts_measures(tracks: PoseTracks, posture: pst.Posture) -> dict[str, float]:
    rises = posture.rises
    values: dict[str, float] = {"sts_repetitions": float(len(rises))}
    if len(rises) >= STANDS:
        values["sts_time_s"] = rises[STANDS - 1].end - rises[0].start
    reps = []
    for k, rise in enumerate(rises[:STANDS]):
        nxt = rises[k + 1].start if k + 1 < len(rises) else np.inf
        sit = next((s for s in posture.sits if rise.end < s.start and s.end <= nxt), None)
        reps.append(sit.end - rise.start if sit is not None else np.nan)
    for k, r in enumerate(reps, start=1):
        values[f"sts_repetition_{k}_s"] = float(r)
    timed = np.asarray(reps, float)
    idx = np.flatnonzero(np.isfinite(timed))
    values["sts_repetition_trend_s"] = float(np.polyfit(idx + 1, timed[idx], 1)[0]) if len(idx) >= 3 else float("nan")
    off = hands_off_body(tracks)
    used = False
    for rise in rises[:STANDS]:
        inside = (tracks.t >= rise.start) & (tracks.t <= rise.end)
        if off[inside].sum() / tracks.fs >= ARMS_MIN_S:
            used = True
    values["sts_arms_used"] = float(used)
    return values


def _failure(tracks: PoseTracks, posture: pst.Posture) -> tuple[str, str] | None:
    seated_throughout = not posture.has_range() and (posture.state == pst.SEATED).any() \
        and not (posture.state == pst.STANDING).any()
    if not seated_throughout and not posture.seated_at_start():
        return ("seated_at_start", "The person was not seated at the start: start recording while the "
                "patient sits in the chair, arms crossed over the chest; pdlens finds the chair from the "
                "seated posture.")
    rises = posture.rises
    if rises:
        end = rises[min(STANDS, len(rises)) - 1].end
        _, longest = pst.in_view_span(tracks, rises[0].start, end)
        if longest > MAX_LOST_S:
            return ("in_view", f"The person was out of view for {longest:.1f} s during the test: keep the "
                    "chair and the whole body, feet included, in the picture (step the camera back).")
    if len(rises) < STANDS:
        return ("stands", f"Only {len(rises)} complete stand{'s' if len(rises) != 1 else ''} "
                f"{'were' if len(rises) != 1 else 'was'} seen: the test needs five full stands (hips and "
                "knees straight) from sitting; record the whole test, from seated until the fifth stand.")
    return None


def analyze_pose(pose_series, key_frame=None):
    """A PoseSeries of a 5xSTS clip -> TaskResult (measures only when every check passed)."""
    from core.movement.tug import _signal, in_picture
    from core.pipeline import QualityCheck, TaskResult

    pose_series = in_picture(pose_series)
    times = np.asarray(pose_series.times, float)
    duration = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    if not pose_series.detected.any():
        return TaskResult(TASK, None, duration, outcome_quality(pose_series, TASK, None, []), [], None,
                          {"times": times})
    tracks = pose_tracks(pose_series, min_rate=pst.ANALYSIS_RATE_HZ)
    posture = pst.find_posture(tracks)
    failure = _failure(tracks, posture)
    values = sts_measures(tracks, posture) if posture.has_range() else {"sts_repetitions": 0.0}
    passed = []
    if failure is None:
        passed = [QualityCheck("seated_at_start", True, None, "", "Seated in the chair at the start."),
                  QualityCheck("stands", True, values["sts_repetitions"], "stands",
                               f"{int(values['sts_repetitions'])} complete stands seen.")]
    quality = outcome_quality(pose_series, TASK, failure, passed)
    measures = [MEASURES_BY_NAME[k].measure(v) for k, v in values.items()
                if quality.ok and v is not None and np.isfinite(v)]
    phases = {"rise_starts": [r.start for r in posture.rises], "full_stands": [r.end for r in posture.rises],
              "seated_again": [s.end for s in posture.sits]}
    signal = _signal(tracks, posture, pose_series, phases, None, key_frame,
                     {"measure_values": values, "hands_off_body": hands_off_body(tracks)})
    return TaskResult(TASK, None, duration, quality, measures, None, signal)


def choose_sitter(tracks: list) -> list[int]:
    """Of the people tracked through a clip, the tested one: the track whose hips move farthest
    up and down relative to the ankles (5th to 95th percentile of the posture signal, torso
    lengths) among those tracked in at least a third as many frames as the longest track (the
    examiner may walk about more, but stands)."""
    if not tracks:
        return []
    frames = [int(tr.detected.sum()) for tr in tracks]
    best, best_score = int(np.argmax(frames)), -1.0
    for k, tr in enumerate(tracks):
        if frames[k] < max(frames) / 3 or frames[k] < 5:
            continue
        height, _ = pst.posture_signals(pose_tracks(tr))
        h = height[np.isfinite(height)]
        score = float(np.percentile(h, 95) - np.percentile(h, 5)) if len(h) >= 5 else 0.0
        if score > best_score:
            best, best_score = k, score
    return [best]


def analyze(path: str | Path, side: str | None = None, cache_path: str | Path | None = None):
    """5xSTS video -> TaskResult (cache_path: the pose series .npz, as gait.analyze)."""
    pose, key_frame = decode_pose(path, cache_path, choose=choose_sitter)
    return analyze_pose(pose, key_frame)
