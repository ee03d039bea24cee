"""Timed Up and Go from one video: decode -> pose landmarks -> quality -> posture, walking
direction and steps -> phase times. There is no model for this test: measures only, score None.

Phases (each from the end of the one before, so they add up to the total):
- sit-to-stand: the start of rising (the trunk leans forward, or the hips leave the seat) to
  the hips reaching the person's own standing level (core.movement.posture);
- walk out: standing to the start of the turn;
- turn: the pelvis's progression along the walkway (picture velocity along the walking axis, in
  torso lengths per second) falls below 30% of the person's own walking speed on the way out,
  until it passes 30% of that speed in the other direction (the walking direction reverses);
- walk back: to where the progression towards the chair falls below 30% of the walking speed
  (arriving in front of the chair);
- turn-to-sit: the final turn in front of the chair and sitting down, until the hips reach the
  seated level again (the end of the test).
Steps: heel strikes of either foot from the heel's picture speed (a planted foot stands still for
a still camera), used for the steps in the turn and the cadence of the walking phases.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.movement import posture as pst
from core.movement.gait import HEEL, HIP, SIDES, PoseTracks, _crossing_time, _foot_speed, pose_tracks
from core.vocabulary import MeasureInfo

TASK = "tug"
TURN_SPEED_FRACTION = 0.3  # of the own walking speed: below it the person is turning, not walking
WALKING_SPEED_FRACTION = 0.6  # reached on the way out (and back) before a turn is looked for
MAX_LOST_S = 0.5  # longer untracked stretch during the test: the person left the picture
HEEL_MOVING = 0.7  # torso lengths / s: the heel is swinging
HEEL_STILL = 0.3  # and planted again below this (the heel strike)
MIN_SWING_S = 0.1
MIN_STANCE_S = 0.2

_NOCERA = ("Nocera et al., Arch Phys Med Rehabil 2013;94:1300-5 (2097 people with Parkinson's; "
           "proposed cut score 11.5 s for fallers vs non-fallers)")
_LONGER = "direction: a slower phase makes a slower test, and a slower TUG a higher fall risk (Nocera 2013)"
_BOHANNON = ("Bohannon, J Geriatr Phys Ther 2006;29:64-8 (meta-analysis, healthy adults 60+: mean 9.4 s, "
             "95% CI 8.9-9.9; 60-69 y 8.1, 70-79 y 9.2, 80-99 y 11.3 s)")


def _tug(name, label, unit, normal_range, higher_is_worse, source, description, cutoff=None, cutoff_text=""):
    return MeasureInfo(name, label, unit, TASK, normal_range, source, higher_is_worse, description,
                       cutoff, cutoff_text)


MEASURES: tuple[MeasureInfo, ...] = (
    _tug("tug_time_s", "Timed Up and Go", "s", (None, 9.9), True, _BOHANNON,
         "From the start of rising from the chair to seated again, after walking to the line 3 m "
         "away, turning and walking back (video timing; a stopwatch starts on 'go'). Healthy adults "
         "over 60 take about 8-11 s by age (Bohannon 2006); over 11.5 s marks a higher fall risk in "
         "Parkinson's (Nocera 2013).",
         11.5, "above 11.5 s: higher fall risk in Parkinson's (Nocera et al. 2013)"),
    _tug("tug_sit_to_stand_s", "TUG: sit-to-stand", "s", None, True, _LONGER,
         "From the start of rising (trunk leaning forward) to standing (hips at their standing "
         "height). No published reference for this video phase."),
    _tug("tug_walk_out_s", "TUG: walk out", "s", None, True, _LONGER,
         "From standing to the start of the turn at the line."),
    _tug("tug_turn_s", "TUG: turn", "s", None, True, _LONGER,
         "From slowing below 30% of the own walking speed at the line to walking back at over 30% "
         "of it. Slow, many-step turns are typical of Parkinson's."),
    _tug("tug_walk_back_s", "TUG: walk back", "s", None, True, _LONGER,
         "From the end of the turn to arriving in front of the chair."),
    _tug("tug_turn_to_sit_s", "TUG: turn and sit", "s", None, True, _LONGER,
         "The final turn in front of the chair and sitting down, until seated."),
    _tug("tug_turn_steps", "TUG: steps in the turn", "steps", None, True,
         "direction only: turning in more steps is slower, more cautious turning; no reference value used",
         "Heel strikes of either foot during the turn at the line. Not reported when fewer than two "
         "were found (a turn takes at least two: the feet were not followed well enough to count)."),
    _tug("tug_cadence_steps_per_min", "TUG: cadence while walking", "steps/min", None, None, "",
         "Steps per minute in the walk out and back (median step time), turns excluded."),
)
MEASURES_BY_NAME = {m.name: m for m in MEASURES}
MIN_TURN_STEPS = 2  # a 180-degree turn takes at least two steps


def measure_infos() -> tuple[MeasureInfo, ...]:
    return MEASURES


# --------------------------------------------------------------------------- signals

def heel_strikes(tracks: PoseTracks, start: float, end: float) -> dict[str, np.ndarray]:
    """Heel strikes per foot between start and end: the heel's picture speed (torso lengths per
    second) falls below HEEL_STILL after a swing above HEEL_MOVING of at least MIN_SWING_S, and
    stays below halfway between the two for MIN_STANCE_S (a foot lifted on the spot is still for
    an instant at the top of its lift: not a landing; a stance lasts longer even in quick
    shuffling turns); dated where it crosses HEEL_STILL."""
    out = {}
    hold = max(1, int(round(MIN_STANCE_S * tracks.fs)))
    for side in SIDES:
        speed = _foot_speed(tracks, HEEL[side])
        strikes, moving_since, i = [], None, 1
        while i < len(speed):
            x = speed[i]
            if not np.isfinite(x):
                moving_since = None
            elif moving_since is None and x > HEEL_MOVING:
                moving_since = i
            elif moving_since is not None and x < HEEL_STILL:
                after = speed[i:i + hold]
                settled = 0.5 * (HEEL_STILL + HEEL_MOVING)
                if np.isfinite(after).all() and (after < settled).all() and len(after) == hold:
                    if tracks.t[i] - tracks.t[moving_since] >= MIN_SWING_S:
                        strikes.append(_crossing_time(tracks.t, speed, i, HEEL_STILL))
                    moving_since = None
            i += 1
        s = np.asarray(strikes, float)
        out[side] = s[(s >= start) & (s <= end)]
    return out


def progression(tracks: PoseTracks, start: float, end: float) -> np.ndarray:
    """Pelvis velocity along the walking axis in torso lengths per second (positive: away from
    the chair), the axis being the main direction of the pelvis's picture positions between start
    and end. NaN where untracked."""
    pelvis = 0.5 * (tracks.point(HIP["left"]) + tracks.point(HIP["right"]))
    inside = (tracks.t >= start) & (tracks.t <= end) & np.all(np.isfinite(pelvis), axis=1)
    out = np.full(len(tracks.t), np.nan)
    if inside.sum() < 5:
        return out
    pts = pelvis[inside]
    centred = pts - pts.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axis = vt[0]
    first = pts[0]
    along = (pts - first) @ axis
    if along[int(np.argmax(np.abs(along)))] < 0:  # walking out is positive
        axis = -axis
    vel = np.gradient(pelvis, axis=0) * tracks.fs / tracks.torso[:, None]
    out = vel @ axis
    out[~np.isfinite(tracks.torso)] = np.nan
    return _step_average(out, tracks.fs)


PROGRESSION_WINDOW_S = 0.5  # about one step: the pelvis surges and stalls within each step


def _step_average(v: np.ndarray, fs: float) -> np.ndarray:
    """Centred moving average over PROGRESSION_WINDOW_S (NaN stays NaN). Real MediaPipe pelvis
    velocity dips to a fraction of the walking speed within single steps (the pelvis stalls at
    each heel strike, and the hip landmarks swap between the legs seen side-on), which passed for
    the start of the turn; averaged over a step only the turn slows the progression for long.
    A centred average does not move the crossings of a ramp."""
    w = max(1, int(round(PROGRESSION_WINDOW_S * fs)) | 1)
    if len(v) < w:
        return v
    ok = np.isfinite(v)
    kernel = np.ones(w)
    num = np.convolve(np.where(ok, v, 0.0), kernel, mode="same")
    den = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    return np.where(ok, out, np.nan)


def _first_crossing(t, x, i0, i1, level, downwards: bool) -> tuple[int, float] | None:
    """First sample in [i0, i1) at which x crosses `level` (downwards or upwards)."""
    for i in range(max(i0, 1), i1):
        a, b = x[i - 1], x[i]
        if np.isfinite(a) and np.isfinite(b) and ((a >= level > b) if downwards else (a <= level < b)):
            return i, _crossing_time(t, x, i, level)
    return None


def find_phases(tracks: PoseTracks, posture: pst.Posture) -> dict[str, float] | str:
    """Phase boundary times, or the reason (a key of REASONS) why the test could not be timed."""
    if not posture.has_range():
        return "not_seated" if posture.state.size and (posture.state == pst.STANDING).any() else "never_stands"
    if not posture.seated_at_start():
        return "not_seated"
    rises = posture.rises
    if not rises:
        return "never_stands"
    rise = rises[0]
    sits = [s for s in posture.sits if s.start > rise.end]
    if not sits:
        return "no_sit"
    sit = sits[-1]
    lost, longest = pst.in_view_span(tracks, rise.start, sit.end)
    if longest > MAX_LOST_S:
        return "left_view"
    t = tracks.t
    v = progression(tracks, rise.end, sit.start)
    i_stand = int(np.searchsorted(t, rise.end))
    i_sit = int(np.searchsorted(t, sit.start))
    walking = v[i_stand:i_sit]
    walking = np.abs(walking[np.isfinite(walking)])
    if len(walking) < 5:
        return "no_turn"
    speed = float(np.percentile(walking, 90))
    thr, fast = TURN_SPEED_FRACTION * speed, WALKING_SPEED_FRACTION * speed
    out = _first_crossing(t, v, i_stand, i_sit, fast, downwards=False)
    turn0 = out and _first_crossing(t, v, out[0], i_sit, thr, downwards=True)
    turn1 = turn0 and _first_crossing(t, v, turn0[0], i_sit, -thr, downwards=True)
    back = turn1 and _first_crossing(t, v, turn1[0], i_sit, -fast, downwards=True)
    arrive = back and _first_crossing(t, v, back[0], i_sit + 1, -thr, downwards=False)
    if not arrive:
        return "no_turn"
    return {"rise_start": rise.start, "standing": rise.end, "turn_start": turn0[1], "turn_end": turn1[1],
            "walk_back_end": arrive[1], "sit_start": sit.start, "seated": sit.end,
            "walking_speed": speed, "lost_s": lost}


REASONS = {
    "not_seated": ("seated_at_start", "The person was not seated at the start: start recording while the "
                   "patient sits in the chair; pdlens finds the chair from the seated posture."),
    "never_stands": ("stands_up", "The person was not seen standing up from the chair: record the whole "
                     "test, from seated through standing up, with the whole body in view."),
    "no_sit": ("sits_again", "The person did not sit down again at the end: keep recording until the "
               "patient is seated back in the chair (the test ends when they sit)."),
    "left_view": ("in_view", "The person left the picture during the test: step the camera back so the "
                  "chair and the 3 m line are both in view, with the whole body, feet included."),
    "no_turn": ("turn", "No walk out, turn and walk back was seen: have the patient walk to the line "
                "3 m away, turn and walk back, and film side-on or at 45 degrees to the walkway."),
}


def walking_strikes(pose_series, tracks: PoseTracks, start: float, end: float) -> np.ndarray | None:
    """Heel strikes of either foot between start and end from core.movement.gait's event
    detector (Zeni's coordinate method side-on, foot speed end-on), sorted; None if it found
    none. On real MediaPipe landmarks a planted heel jitters by more than HEEL_STILL, so the
    heel-speed detector above misses most walking steps, while gait's detector finds the
    scripted ones within 0.12 s (tests/core/movement/test_outcome_clips_pose.py). It finds no
    steps while turning on the spot: the turn's steps stay with heel_strikes."""
    from core.movement.gait import events_from_pose

    try:
        events = events_from_pose(pose_series, tracks)
    except ValueError:
        return None
    found = np.sort(np.concatenate([np.asarray(events.heel_strikes[k], float) for k in events.heel_strikes]))
    found = found[(found >= start) & (found <= end)]
    return found if len(found) else None


def tug_measures(tracks: PoseTracks, phases: dict[str, float],
                 pose_series=None) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Phase times, steps in the turn (heel_strikes) and the cadence of the walks out and back
    (walking_strikes when the pose series is given, else heel_strikes)."""
    p = phases
    values = {
        "tug_time_s": p["seated"] - p["rise_start"],
        "tug_sit_to_stand_s": p["standing"] - p["rise_start"],
        "tug_walk_out_s": p["turn_start"] - p["standing"],
        "tug_turn_s": p["turn_end"] - p["turn_start"],
        "tug_walk_back_s": p["walk_back_end"] - p["turn_end"],
        "tug_turn_to_sit_s": p["seated"] - p["walk_back_end"],
    }
    strikes = heel_strikes(tracks, p["standing"], p["sit_start"])
    merged = np.sort(np.concatenate([strikes[s] for s in SIDES]))
    turn_steps = int(np.sum((merged >= p["turn_start"]) & (merged <= p["turn_end"])))
    # Nobody turns round in fewer than MIN_TURN_STEPS steps: fewer found means the feet were not
    # followed well enough to count them (not measured, rather than a wrong count).
    values["tug_turn_steps"] = float(turn_steps) if turn_steps >= MIN_TURN_STEPS else float("nan")
    # Both step detectors miss steps rather than invent them (strikes closer than 0.25 s are one
    # step seen twice, dropped): gait's validated detector misses steps when the walk is not seen
    # side-on (at 45 degrees), the heel-speed one where a planted heel jitters. The one that finds
    # more steps in the walking phases counts.
    candidates = [_walking_intervals(merged, p)]
    walking = walking_strikes(pose_series, tracks, p["standing"], p["sit_start"]) if pose_series is not None else None
    if walking is not None:
        candidates.append(_walking_intervals(walking, p))
    intervals = max(candidates, key=len)
    values["tug_cadence_steps_per_min"] = float(60.0 / np.median(intervals)) if len(intervals) >= 3 else float("nan")
    return values, strikes


def _walking_intervals(strikes: np.ndarray, p: dict[str, float]) -> np.ndarray:
    """Step intervals (s) in the walks out and back, from the merged heel strikes of both feet."""
    intervals = []
    for a, b in ((p["standing"], p["turn_start"]), (p["turn_end"], p["walk_back_end"])):
        inside = strikes[(strikes >= a) & (strikes <= b)]
        intervals.extend(np.diff(inside))
    intervals = np.asarray(intervals, float)
    return intervals[intervals >= 0.25]  # closer heel strikes are one step seen twice


# --------------------------------------------------------------------------- quality and analysis

def outcome_quality(pose_series, task: str, failure: tuple[str, str] | None, passed: list) -> "Quality":
    """Duration, frame rate, person in view, then the test's own checks (passed ones and the
    first failure with its reason)."""
    from core.movement.quality import duration_check, frame_rate_check
    from core.pipeline import Quality, QualityCheck

    times, detected = pose_series.times, pose_series.detected
    checks = [duration_check(times, task), frame_rate_check(times, task)]
    share = float(np.mean(detected)) if len(detected) else 0.0
    if share == 0.0:
        checks.append(QualityCheck(
            "person_in_view", False, 0.0, "%",
            "No person was found in the video: film the chair and the whole body, feet included, "
            "side-on or at 45 degrees, in good light, and record again."))
        return Quality(tuple(checks))
    checks.append(QualityCheck("person_in_view", True, 100 * share, "%",
                               f"A person was in view in {100 * share:.0f}% of the frames."))
    checks.extend(passed)
    if failure is not None:
        checks.append(QualityCheck(failure[0], False, None, "", failure[1]))
    return Quality(tuple(checks))


def _signal(tracks: PoseTracks, posture: pst.Posture, pose_series, phases, strikes, key_frame, extra=None) -> dict:
    pelvis = 0.5 * (tracks.point(HIP["left"]) + tracks.point(HIP["right"]))
    signal = {"times": tracks.t, "posture_state": posture.state, "posture_names": dict(pst.STATE_NAMES),
              "posture_level": posture.p, "trunk_deg": posture.trunk_deg,
              "transitions": [(x.kind, x.start, x.end) for x in posture.transitions],
              "phases": phases if isinstance(phases, dict) else {},
              "pelvis": pelvis / np.asarray(pose_series.image_size, float),
              "heel_strikes": strikes or {}, "pose_times": np.asarray(pose_series.times),
              "landmarks": np.asarray(pose_series.landmarks), "image_size": pose_series.image_size,
              "key_frame": key_frame}
    signal.update(extra or {})
    return signal


def in_picture(pose_series):
    """The series with frames blanked (NaN) in which a hip lies outside the picture: MediaPipe
    still guesses a body that is leaving the picture, and such guesses are no posture or walk."""
    from core.movement.landmarks import PoseSeries

    lm = np.asarray(pose_series.landmarks)
    hips = lm[:, [HIP["left"], HIP["right"]], :2]
    with np.errstate(invalid="ignore"):
        outside = np.any((hips < 0.0) | (hips > 1.0), axis=(1, 2))
    if not outside.any():
        return pose_series
    lm = lm.copy()
    lm[outside] = np.nan
    vis = np.asarray(pose_series.visibility, float).copy()
    vis[outside] = np.nan
    return PoseSeries(pose_series.times, lm, vis, pose_series.world, pose_series.image_size,
                      pose_series.model, pose_series.people_in_view)


def analyze_pose(pose_series, key_frame=None):
    """A PoseSeries of a TUG clip -> TaskResult (measures only when every check passed)."""
    from core.pipeline import QualityCheck, TaskResult

    pose_series = in_picture(pose_series)
    times = np.asarray(pose_series.times, float)
    duration = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    if not pose_series.detected.any():
        quality = outcome_quality(pose_series, TASK, None, [])
        return TaskResult(TASK, None, duration, quality, [], None, {"times": times})
    tracks = pose_tracks(pose_series, min_rate=pst.ANALYSIS_RATE_HZ)
    posture = pst.find_posture(tracks)
    phases = find_phases(tracks, posture)
    passed, failure, values, strikes = [], None, {}, None
    if isinstance(phases, str):
        failure = REASONS[phases]
    else:
        passed.append(QualityCheck("seated_at_start", True, None, "", "Seated in the chair at the start."))
        passed.append(QualityCheck("in_view", True, phases["lost_s"], "s",
                                   "The person stayed in the picture through the test."))
        values, strikes = tug_measures(tracks, phases, pose_series)
        passed.append(QualityCheck("turn", True, values["tug_turn_s"], "s",
                                   f"Turn at the line found ({values['tug_turn_s']:.1f} s)."))
    quality = outcome_quality(pose_series, TASK, failure, passed)
    measures = [MEASURES_BY_NAME[k].measure(v) for k, v in values.items()
                if quality.ok and v is not None and np.isfinite(v)]
    signal = _signal(tracks, posture, pose_series, phases, strikes, key_frame, {"measure_values": values})
    return TaskResult(TASK, None, duration, quality, measures, None, signal)


def decode_pose(path: str | Path, cache_path: str | Path | None = None, choose=None):
    """(PoseSeries, key frame) of a clip, read from or written to the .npz cache when given.
    `choose` picks the tested person among those tracked (default: gait's walker, the one who
    travels farthest). Raises UnusableInput for files that are not a usable video."""
    from core.media.video import VideoReader
    from core.movement.frames import OUTCOME_FRAME_GAP_S, FrameSampler, thinned
    from core.movement.gait import NUM_POSES, _pose_key_frame, choose_walker
    from core.movement.landmarks import PoseSeries, extract_pose_landmarks, load_series

    if cache_path is not None and Path(cache_path).is_file():
        cached = load_series(cache_path)
        if isinstance(cached, PoseSeries):
            return cached, None
    with VideoReader(path) as reader:
        sampler = FrameSampler(thinned(reader.frames(), OUTCOME_FRAME_GAP_S), keep=8)
        pose = extract_pose_landmarks(sampler, num_poses=NUM_POSES, choose=choose or choose_walker)
    key_frame = _pose_key_frame(sampler.samples, pose)
    if cache_path is not None:
        pose.save_series(cache_path)
    return pose, key_frame


def analyze(path: str | Path, side: str | None = None, cache_path: str | Path | None = None):
    """TUG video -> TaskResult: decode -> pose landmarks -> quality -> posture and walking
    direction -> phase times (cache_path: the pose series .npz, as gait.analyze)."""
    pose, key_frame = decode_pose(path, cache_path)
    return analyze_pose(pose, key_frame)
