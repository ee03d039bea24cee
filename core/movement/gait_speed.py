"""Gait speed (10 m walk test): speed over the timed middle part of a walk, step length, cadence.

Stages as core/movement/gait.py, whose pose tracks, walker choice and gait events it reuses:
decode -> pose landmarks -> quality -> signal (pelvis track, events) -> measures. There is no
model for this outcome test: measures only, score None.

A video has no metres, so the speed needs a scale, and the method is stated in the result
(signal["speed_method"], the explanation of the speed measure):

* floor marks (preferred): two points on the floor a known distance apart, clicked by the
  clinician on a frame of the clip (ClipSetup.marks, fractions of the picture's width and height).
  Side-on, the time between the person's PELVIS (mid-hip) crossing the vertical through mark 1 and
  through mark 2 (sub-frame, interpolated) is the timed walk; speed = distance / time. The pelvis
  and not a foot: it moves smoothly, whereas a foot stands still for each stance phase, so a foot
  crosses a line up to a stance phase (about 0.6 s) early or late depending on where it lands.
  With a level camera, the vertical through a mark on the walking line passes through the body
  point above that mark. No scale is needed, so perspective does not matter; either walking
  direction works, and every pass across both marks in view is timed (the mean is the result).
* patient height (no marks; ClipSetup.height_m from the patient record): pixels per metre from
  the person's trunk, thigh and shank lengths in the picture against their standing proportions
  of body height (Drillis & Contini 1966, in Winter 2009, Biomechanics and Motor Control of Human
  Movement, Fig. 4.1: shoulder 0.818 H, hip 0.530 H, knee 0.285 H, ankle 0.039 H above the floor,
  i.e. trunk 0.288 H, thigh 0.245 H, shank 0.246 H). Segment lengths, not heights in the picture,
  because walking legs are never upright. The speed is the pelvis's horizontal progression over
  the steady part of each pass (the acceleration at the start and the slowing at the end left
  out), converted frame by frame (the person's size in the picture changes when the walk is not
  exactly across the view). Its uncertainty (gait_speed_uncertainty_pct) is stated from the method.
* neither: the clip fails the "scale" check, saying what to do; a 10 m walk without its speed is
  not a result.
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import ndimage

from core.movement.gait import (ANKLE, HIP, NUM_POSES, SHOULDER, SIDES, PoseTracks, _feet_usable,
                                _finite_segments, _mostly_side_on, _pose_key_frame, choose_walker,
                                events_from_pose, feet_visible_fraction, pose_tracks)
from core.vocabulary import MeasureInfo

TASK = "gait_speed"
KNEE = {"left": 25, "right": 26}

# Marks closer together than this share of the picture's width time too short a walk to trust.
MIN_MARKS_APART = 0.10
MARKS_DISTANCE_RANGE_M = (1.0, 20.0)
# pdlens' own assumption (not a published figure): a clinician clicks a mark to within 0.5 % of
# the picture's width; it enters the stated uncertainty of the marks method.
CLICK_PRECISION = 0.005

# Drillis & Contini 1966 (Winter 2009, Fig. 4.1): segment lengths as fractions of body height.
TRUNK_FRACTION = 0.818 - 0.530  # mid-shoulder to hip
THIGH_FRACTION = 0.530 - 0.285  # hip to knee
SHANK_FRACTION = 0.285 - 0.039  # knee to ankle
BODY_FRACTION = TRUNK_FRACTION + THIGH_FRACTION + SHANK_FRACTION  # 0.779
# pdlens' floor on the body-proportion part of the uncertainty: the between-person spread of these
# proportions was not verified, so the spread seen between this person's own three segments is
# used, never less than this (a design choice, said so in the result).
MIN_PROPORTION_UNCERTAINTY_PCT = 5.0
# Assumed focal length of a phone's main camera, as a share of the picture width (a ~67 degree
# horizontal view); used only to turn a change of body size into the walk's angle to the view.
ASSUMED_FOCAL_WIDTHS = 0.75

STEADY_SPEED_FRACTION = 0.85  # steady walking: within 85% of the pass's top (90th percentile) speed
MIN_STEADY_S = 2.0  # at least this much steady walking in view (height method)
MAX_WALK_ANGLE_DEG = 25.0  # beyond this the walk is not across the view (height method)
MIN_HEEL_STRIKES = 3  # cadence needs at least two steps inside the timed part
MIN_FEET_VISIBLE = 0.7


# --------------------------------------------------------------------------- measure vocabulary

_HASS = ("Hass et al. 2014, J Neurol Phys Ther 38(4):233 (PD: small 0.06, moderate 0.14, large "
         "0.22 m/s)")
_BOHANNON = "Bohannon 1997, Age Ageing 26:15 (comfortable speed of healthy adults 20-79 y)"
_STEP_MCID = ("MCIDs of spatiotemporal gait variables in Parkinson disease, Gait Posture "
              "2024;108:257 (step length 3.6 cm)")
_PAUL_LINDHOLM = ("the 3-step fall prediction model of Paul et al., externally validated in mild PD by "
                  "Lindholm et al., J Neurol 2016")


def _speed(name: str, label: str, unit: str, normal_range, higher_is_worse, source: str, description: str,
           cutoff: float | None = None, cutoff_text: str = "") -> MeasureInfo:
    return MeasureInfo(name, label, unit, TASK, normal_range, source, higher_is_worse, description,
                       cutoff, cutoff_text)


MEASURES: tuple[MeasureInfo, ...] = (
    _speed("gait_speed_m_s", "Gait speed (10 m walk)", "m/s", (1.27, None), False, f"{_BOHANNON}; {_HASS}",
           "Comfortable walking speed over the timed middle part of the walk. Healthy adults 20-79 walk "
           "at a mean 1.27 (women in their seventies) to 1.46 m/s (men in their forties) (Bohannon 1997). "
           "In Parkinson's a change of 0.06 m/s is small, 0.14 moderate and 0.22 large (Hass et al. "
           "2014); the minimal detectable change of the comfortable 10 m walk in PD is 0.09 m/s "
           "(Combs et al. 2014, Gait Posture 39:784). How the speed was scaled (floor marks or the "
           "patient's height) is stated with the result.",
           cutoff=1.1, cutoff_text=("below 1.1 m/s: one of the three steps of a fall-risk model in "
                                    f"Parkinson's ({_PAUL_LINDHOLM})")),
    _speed("gait_speed_time_s", "Time over the timed distance", "s", None, True,
           "as gait speed (the same walk: time = distance / speed)",
           "Time the walk took between the two floor marks (or over the steady part measured, "
           "without marks)."),
    _speed("gait_speed_distance_m", "Timed distance", "m", None, None, "",
           "Distance timed: between the floor marks, or as measured from the patient's height."),
    _speed("gait_speed_step_length_m", "Step length (10 m walk)", "m", None, False, _STEP_MCID,
           "Speed divided by step frequency (cadence / 60) over the timed part: the mean length of "
           "a step. Short in Parkinson's (shuffling); a clinically important change of mean step "
           "length in PD is 3.6 cm (Gait Posture 2024;108:257, instrumented walkway)."),
    _speed("gait_speed_cadence_steps_per_min", "Cadence (10 m walk)", "steps/min", (100.0, 125.0), None,
           "Hollman 2011; Hausdorff 2009",
           "Steps per minute from the heel strikes inside the timed part. Healthy older adults about "
           "100-125 steps/min (as for the gait task's cadence)."),
    _speed("gait_speed_uncertainty_pct", "Gait speed uncertainty", "%", None, None, "",
           "Stated uncertainty of the speed from its scaling method: with floor marks, the frame "
           "timing of the two crossings and the clicking of the marks (about 1-2 %); with the "
           "patient's height, body proportions (the spread between the trunk, thigh and shank "
           "estimates, at least 5 %) and perspective (a walk not square to the view)."),
)
MEASURES_BY_NAME = {m.name: m for m in MEASURES}


def measure_infos() -> tuple[MeasureInfo, ...]:
    return MEASURES


# --------------------------------------------------------------------------- signal

def _crossings(t: np.ndarray, x: np.ndarray, level: float) -> list[tuple[float, int]]:
    """(time, direction +1/-1) where x crosses `level` between consecutive finite samples,
    interpolated linearly between the two samples (sub-frame)."""
    out = []
    d = x - level
    for i in range(1, len(x)):
        a, b = d[i - 1], d[i]
        if not (np.isfinite(a) and np.isfinite(b)) or a == b:
            continue
        if (a < 0 <= b) or (a > 0 >= b):
            frac = a / (a - b)
            out.append((float(t[i - 1] + frac * (t[i] - t[i - 1])), 1 if b > a else -1))
    return out


def _tracked_between(t: np.ndarray, x: np.ndarray, start: float, end: float) -> bool:
    inside = (t >= start) & (t <= end)
    return bool(inside.any() and np.isfinite(x[inside]).all())


def marks_passes(tracks: PoseTracks, marks_x_px: tuple[float, float]) -> list[tuple[float, float]]:
    """(start, end) times of each pass of the pelvis from one mark's vertical to the other's,
    tracked all the way (a pass broken by the person leaving the picture is not timed). A
    crossing back over the same mark (hesitation at the line) restarts the pass there."""
    pelvis_x = tracks.pelvis[:, 0]
    events = sorted([(tc, k, direction) for k, level in enumerate(marks_x_px)
                     for tc, direction in _crossings(tracks.t, pelvis_x, level)])
    passes = []
    for (t0, k0, d0), (t1, k1, d1) in zip(events, events[1:]):
        going_there = (marks_x_px[k1] - marks_x_px[k0]) * d0 > 0
        if k0 != k1 and d0 == d1 and going_there and _tracked_between(tracks.t, pelvis_x, t0, t1):
            passes.append((t0, t1))
    return passes


def body_scale(tracks: PoseTracks) -> dict[str, np.ndarray]:
    """Per sample, the person's body height in pixels from each segment (trunk, thigh, shank:
    its length in the picture divided by its fraction of body height), and their sum's estimate
    ("body"). Legs are the mean of both sides. Smoothed by a 1 s running median."""
    xy = tracks.xy
    mid_sh = 0.5 * (xy[:, SHOULDER["left"]] + xy[:, SHOULDER["right"]])
    trunk = np.linalg.norm(mid_sh - tracks.pelvis, axis=1)
    thigh = np.mean([np.linalg.norm(xy[:, HIP[s]] - xy[:, KNEE[s]], axis=1) for s in SIDES], axis=0)
    shank = np.mean([np.linalg.norm(xy[:, KNEE[s]] - xy[:, ANKLE[s]], axis=1) for s in SIDES], axis=0)
    size = max(3, int(tracks.fs)) | 1
    out = {}
    for name, length, fraction in (("trunk", trunk, TRUNK_FRACTION), ("thigh", thigh, THIGH_FRACTION),
                                   ("shank", shank, SHANK_FRACTION)):
        finite = np.isfinite(length)
        smooth = ndimage.median_filter(np.where(finite, length, 0.0), size=size, mode="nearest")
        out[name] = np.where(finite & (smooth > 0), smooth / fraction, np.nan)
    out["body"] = (out["trunk"] * TRUNK_FRACTION + out["thigh"] * THIGH_FRACTION
                   + out["shank"] * SHANK_FRACTION) / BODY_FRACTION
    return out


def _smoothed_velocity(t: np.ndarray, x: np.ndarray, window_s: float) -> np.ndarray:
    """dx/dt averaged over `window_s` (about one stride: the pelvis surges within each step)."""
    fs = 1.0 / float(np.median(np.diff(t)))
    v = np.gradient(x) * fs
    size = max(3, int(round(window_s * fs)))
    finite = np.isfinite(v)
    num = ndimage.uniform_filter1d(np.where(finite, v, 0.0), size, mode="nearest")
    den = ndimage.uniform_filter1d(finite.astype(float), size, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~finite] = np.nan
    return out


def steady_runs(tracks: PoseTracks, metres_per_px: np.ndarray) -> list[tuple[int, int]]:
    """(start, end_exclusive) sample ranges of steady walking: in each tracked stretch, the longest
    run at >= 85% of that stretch's top (90th percentile) speed, in one direction, at least
    MIN_STEADY_S long. Starting, stopping and turning are slower and fall outside."""
    pelvis_x = tracks.pelvis[:, 0]
    v = _smoothed_velocity(tracks.t, pelvis_x, 1.0) * metres_per_px
    runs = []
    for s, e in _finite_segments(np.isfinite(v)):
        seg = v[s:e]
        if e - s < 3:
            continue
        direction = 1.0 if np.nanmedian(seg) >= 0 else -1.0
        speed = direction * seg
        top = float(np.percentile(speed, 90))
        if top <= 0:
            continue
        steady = speed >= STEADY_SPEED_FRACTION * top
        best = max(_finite_segments(steady), key=lambda r: r[1] - r[0], default=None)
        if best is not None and tracks.t[best[1] - 1] - tracks.t[best[0]] >= MIN_STEADY_S:
            runs.append((s + best[0], s + best[1]))
    return runs


def _heel_strikes_in(events, spans: list[tuple[float, float]]) -> list[np.ndarray]:
    both = np.sort(np.concatenate([np.asarray(events.heel_strikes.get(s, ()), float) for s in SIDES]))
    return [both[(both >= a) & (both <= b)] for a, b in spans]


def cadence_in(events, spans: list[tuple[float, float]]) -> tuple[float, int]:
    """Steps per minute from the heel strikes (either foot) inside the timed spans: steps between
    the first and last strike of each span over the time between them. (cadence, heel strikes)."""
    steps, seconds, n = 0, 0.0, 0
    for hs in _heel_strikes_in(events, spans):
        n += len(hs)
        if len(hs) >= 2:
            steps += len(hs) - 1
            seconds += float(hs[-1] - hs[0])
    if n < MIN_HEEL_STRIKES or seconds <= 0:
        return float("nan"), n
    return 60.0 * steps / seconds, n


def speed_from_marks(tracks: PoseTracks, setup, image_size) -> dict:
    """Speed between the floor marks: distance / mean time of the passes."""
    width = float(image_size[0])
    marks_x = tuple(float(m[0]) * width for m in setup.marks)
    passes = marks_passes(tracks, marks_x)
    out = {"speed_method": "floor marks", "marks_px": [list(map(float, m)) for m in setup.marks],
           "marks_distance_m": float(setup.marks_distance_m), "passes": passes, "timed_spans": passes,
           "speed_point": "pelvis (mid-hip), crossing the vertical through each mark"}
    if not passes:
        return out
    times = np.array([b - a for a, b in passes])
    time_s = float(np.mean(times))
    speed = float(setup.marks_distance_m) / time_s
    # frame timing (half a frame per crossing, interpolation is usually better) and clicking
    # (CLICK_PRECISION of the width per mark, as time at the pelvis's picture speed)
    px_per_s = abs(marks_x[1] - marks_x[0]) / time_s
    per_crossing = math.hypot(0.5 / tracks.fs, CLICK_PRECISION * width / px_per_s)
    out.update(speed_m_s=speed, time_s=time_s, distance_m=float(setup.marks_distance_m),
               pass_times_s=[float(x) for x in times],
               uncertainty_pct=100.0 * math.sqrt(2.0) * per_crossing / time_s)
    return out


def speed_from_height(tracks: PoseTracks, height_m: float, image_size) -> dict:
    """Speed from the patient's height: pelvis progression over the steady runs, each sample's
    displacement converted with that sample's body scale."""
    scale = body_scale(tracks)
    px_per_m = scale["body"] / height_m
    metres_per_px = 1.0 / px_per_m
    runs = steady_runs(tracks, metres_per_px)
    spans = [(float(tracks.t[s]), float(tracks.t[e - 1])) for s, e in runs]
    out = {"speed_method": "patient height", "height_m": float(height_m), "timed_spans": spans,
           "speed_point": "pelvis (mid-hip), horizontal progression over the steady part",
           "segment_fractions": {"trunk": TRUNK_FRACTION, "thigh": THIGH_FRACTION, "shank": SHANK_FRACTION,
                                 "source": "Drillis & Contini 1966 (Winter 2009, Fig. 4.1)"}}
    if not runs:
        return out
    pelvis_x = tracks.pelvis[:, 0]
    distance, seconds, angles, spreads = 0.0, 0.0, [], []
    for s, e in runs:
        dx = np.diff(pelvis_x[s:e])
        mid = 0.5 * (metres_per_px[s:e - 1] + metres_per_px[s + 1:e])
        distance += abs(float(np.nansum(dx * mid)))
        seconds += float(tracks.t[e - 1] - tracks.t[s])
        # the person's size changes when the walk is not square to the view: the change in depth
        # over the run (depth ~ focal length / px per m) against the distance walked gives its angle
        focal = ASSUMED_FOCAL_WIDTHS * float(image_size[0])
        k = max(1, int(0.5 * tracks.fs))
        near, far = np.nanmedian(px_per_m[s:s + k]), np.nanmedian(px_per_m[e - k:e])
        run_m = abs(float(np.nansum(dx * mid)))
        if run_m > 0 and np.isfinite(near) and np.isfinite(far):
            depth_change = abs(focal / far - focal / near)
            angles.append(math.degrees(math.atan2(depth_change, run_m)))
        heights = np.array([np.nanmedian(scale[p][s:e]) for p in ("trunk", "thigh", "shank")])
        spreads.append(100.0 * float(np.std(heights, ddof=1) / np.mean(heights)))
    speed = distance / seconds
    angle = float(max(angles)) if angles else 0.0
    proportion_pct = max(MIN_PROPORTION_UNCERTAINTY_PCT, float(np.mean(spreads)))
    perspective_pct = 100.0 * (1.0 - math.cos(math.radians(angle)))
    out.update(speed_m_s=speed, time_s=seconds, distance_m=distance, walk_angle_deg=angle,
               proportion_spread_pct=float(np.mean(spreads)), proportion_uncertainty_pct=proportion_pct,
               perspective_uncertainty_pct=perspective_pct,
               uncertainty_pct=math.hypot(proportion_pct, perspective_pct))
    return out


# --------------------------------------------------------------------------- quality

def _feet_visible_in(tracks: PoseTracks, spans: list[tuple[float, float]]) -> float | None:
    if not spans or tracks.feet_seen is None:
        return None
    inside = np.zeros(len(tracks.t), bool)
    for a, b in spans:
        inside |= (tracks.t >= a) & (tracks.t <= b)
    return float(np.mean(tracks.feet_seen[inside])) if inside.any() else None


def gait_speed_quality(pose, tracks: PoseTracks, setup, speed: dict, n_heel_strikes: int):
    """What a 10 m walk needs: a scale (floor marks or height), the person walking side-on through
    the timed part in view, feet visible, and for marks: far enough apart and both crossed."""
    from core.movement.quality import duration_check, frame_rate_check
    from core.pipeline import Quality, QualityCheck

    times, detected = pose.times, pose.detected
    checks = [duration_check(times, TASK), frame_rate_check(times, TASK)]
    share = float(np.mean(detected)) if len(detected) else 0.0
    if share == 0.0:
        checks.append(QualityCheck(
            "person_in_view", False, 0.0, "%",
            "No person was found in the video: film the walk side-on with the whole body, feet "
            "included, in the picture, in good light, and record again."))
    else:
        checks.append(QualityCheck("person_in_view", True, 100 * share, "%",
                                   f"A person was in view in {100 * share:.0f}% of the frames."))
    method = speed.get("speed_method")
    if method is None:
        checks.append(QualityCheck(
            "scale", False, None, "",
            "Gait speed needs a scale: click the two floor marks on the frame of this clip (and give "
            "the distance between them), or enter the patient's height on the patient record."))
        return Quality(tuple(checks))
    checks.append(QualityCheck(
        "scale", True, None, "",
        f"Scaled by the floor marks {speed['marks_distance_m']:g} m apart." if method == "floor marks" else
        f"Scaled by the patient's height ({100 * speed['height_m']:.0f} cm); floor marks clicked on the "
        "frame would time the walk more exactly."))
    if share == 0.0:
        return Quality(tuple(checks))
    if method == "floor marks":
        apart = abs(setup.marks[1][0] - setup.marks[0][0])
        checks.append(QualityCheck(
            "marks_apart", apart >= MIN_MARKS_APART, 100 * apart, "% of width",
            f"The floor marks are {100 * apart:.0f}% of the picture's width apart."
            + ("" if apart >= MIN_MARKS_APART else
               f" They must be at least {100 * MIN_MARKS_APART:.0f}% apart: click the two marks at either "
               "end of the timed distance (placed across the walkway), or step the camera back so that "
               "both are in view far apart.")))
    side_on = _mostly_side_on(tracks)
    checks.append(QualityCheck(
        "side_on", side_on, None, "",
        "The walk is seen side-on." if side_on else
        "The walk is not seen side-on: place the camera at the side of the walkway, square to it, at "
        "hip height, so the person walks across the picture, and record again."))
    spans = speed.get("timed_spans") or []
    if method == "floor marks":
        n = len(speed.get("passes", []))
        checks.append(QualityCheck(
            "marks_crossed", n > 0, float(n), "passes",
            f"The person walked across both floor marks in view {n} time{'s' if n != 1 else ''}." if n else
            "The person was not seen walking from one floor mark to the other: both marks and the whole "
            "walk between them must be in the picture. Check the marks clicked on the frame, and film "
            "from far enough back (about 5-6 m) that the person crosses both in view."))
    else:
        seconds = float(speed.get("time_s", 0.0) or 0.0)
        checks.append(QualityCheck(
            "steady_walk", bool(spans), seconds, "s",
            f"{seconds:.1f} s of steady walking were in view." if spans else
            f"Less than {MIN_STEADY_S:.0f} s of steady walking was seen in the picture: film from far "
            "enough back that several steps of the walk's middle part are in view (the person starts "
            "and stops outside the picture)."))
        if spans:
            angle = float(speed.get("walk_angle_deg", 0.0))
            ok = angle <= MAX_WALK_ANGLE_DEG
            checks.append(QualityCheck(
                "walk_across_view", ok, angle, "degrees",
                f"The walk was about {angle:.0f} degrees off square to the camera's view."
                + ("" if ok else " The person grew or shrank in the picture too much to scale the speed "
                   "from their height: place the camera square to the walkway, or click floor marks.")))
    feet = _feet_visible_in(tracks, spans)
    if feet is None:
        feet = feet_visible_fraction(pose)
    checks.append(QualityCheck(
        "feet_visible", feet >= MIN_FEET_VISIBLE, 100 * feet, "%",
        f"Both feet were visible in {100 * feet:.0f}% of the timed frames."
        + ("" if feet >= MIN_FEET_VISIBLE else
           " Keep the whole body, feet included, in the picture: step the camera back or tilt it down.")))
    if spans:
        checks.append(QualityCheck(
            "steps", True, float(n_heel_strikes), "heel strikes",
            f"{n_heel_strikes} heel strikes in the timed part."
            + ("" if n_heel_strikes >= MIN_HEEL_STRIKES else
               " Too few to measure cadence and step length; the speed is still measured.")))
    return Quality(tuple(checks))


# --------------------------------------------------------------------------- one clip

def measure_values(tracks: PoseTracks, events, speed: dict) -> dict[str, float]:
    nan = float("nan")
    spans = speed.get("timed_spans") or []
    cadence, _ = cadence_in(events, spans)
    v = float(speed.get("speed_m_s", nan))
    return {"gait_speed_m_s": v, "gait_speed_time_s": float(speed.get("time_s", nan)),
            "gait_speed_distance_m": float(speed.get("distance_m", nan)),
            "gait_speed_step_length_m": v / (cadence / 60.0) if np.isfinite(cadence) and cadence > 0 else nan,
            "gait_speed_cadence_steps_per_min": cadence,
            "gait_speed_uncertainty_pct": float(speed.get("uncertainty_pct", nan))}


def _as_measures(values: dict[str, float], speed: dict) -> list:
    out = []
    for name, value in values.items():
        if value is None or not np.isfinite(value):
            continue
        info = MEASURES_BY_NAME[name]
        if name == "gait_speed_m_s":  # the entry's measure, its description led by how it was scaled
            how = (f"Timed between floor marks {speed['marks_distance_m']:g} m apart (pelvis crossing), "
                   f"{len(speed['passes'])} pass(es)." if speed["speed_method"] == "floor marks" else
                   f"Scaled from the patient's height ({100 * speed['height_m']:.0f} cm) and body "
                   f"proportions, +- {speed['uncertainty_pct']:.0f} %.")
            out.append(replace(info.measure(value), description=f"{how} {info.description}"))
        else:
            out.append(info.measure(value))
    return out


def analyze_pose(pose, setup=None, key_frame=None):
    """A PoseSeries (+ ClipSetup) -> TaskResult. Split from analyze() so synthetic pose sequences
    are tested without a video."""
    from core.analysis import ClipSetup
    from core.pipeline import TaskResult

    setup = setup or ClipSetup()
    duration = float(pose.times[-1] - pose.times[0]) if len(pose.times) > 1 else 0.0
    tracks = pose_tracks(pose)
    events = events_from_pose(pose, tracks)
    if setup.marks is not None and setup.marks_distance_m:
        speed = speed_from_marks(tracks, setup, pose.image_size)
    elif setup.height_m:
        speed = speed_from_height(tracks, float(setup.height_m), pose.image_size)
    else:
        speed = {"timed_spans": []}
    values = measure_values(tracks, events, speed)
    _, n_hs = cadence_in(events, speed.get("timed_spans") or [])
    quality = gait_speed_quality(pose, tracks, setup, speed, n_hs)
    usable = quality.ok and np.isfinite(values["gait_speed_m_s"])
    measures = _as_measures(values, speed) if usable else []
    signal = {"times": tracks.t, "pelvis_x": tracks.pelvis[:, 0], "events_method": events.method,
              "heel_strikes": {s: events.heel_strikes[s] for s in SIDES},
              "pose_times": np.asarray(pose.times), "landmarks": np.asarray(pose.landmarks),
              "visibility": np.asarray(pose.visibility), "image_size": pose.image_size,
              "key_frame": key_frame, "measure_values": values, "feet_usable": _feet_usable(tracks),
              **speed}
    return TaskResult(TASK, None, duration, quality, measures, None, signal)


def analyze(path: str | Path, side: str | None = None, cache_path: str | Path | None = None, setup=None):
    """Walking video (10 m walk, filmed side-on) -> TaskResult: decode -> pose landmarks ->
    quality -> pelvis track and gait events -> speed, step length, cadence (no model, no score).

    cache_path: a .npz pose series, read if it exists, written otherwise (setting the floor marks
    re-analyses from it without decoding). Raises UnusableInput for files that are not a usable
    video."""
    from core.media.video import VideoReader
    from core.movement.frames import OUTCOME_FRAME_GAP_S, FrameSampler, thinned
    from core.movement.landmarks import PoseSeries, extract_pose_landmarks, load_series

    pose, key_frame = None, None
    if cache_path is not None and Path(cache_path).is_file():
        cached = load_series(cache_path)
        pose = cached if isinstance(cached, PoseSeries) else None
    if pose is None:
        with VideoReader(path) as reader:
            sampler = FrameSampler(thinned(reader.frames(), OUTCOME_FRAME_GAP_S), keep=8)
            pose = extract_pose_landmarks(sampler, num_poses=NUM_POSES, choose=choose_walker)
        key_frame = _pose_key_frame(sampler.samples, pose)
        if cache_path is not None:
            pose.save_series(cache_path)
    return analyze_pose(pose, setup, key_frame)
