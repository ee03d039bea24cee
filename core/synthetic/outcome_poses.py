"""SYNTHETIC pose sequences of the physical-therapy outcome tests (Timed Up and Go, Five Times Sit
to Stand) with known phase times, for the tests and the bench. Nobody was recorded: a scripted
body in metres (hips, trunk, head, arms, legs and stepping feet) is projected through a pinhole
camera at hip height, side-on to the walkway or at 45 degrees, to normalised image coordinates
as MediaPipe BlazePose reports them, with landmark jitter and the artefacts real MediaPipe shows
(MP_* below: a raised seated hip landmark, ankles misplaced under a deep forward lean).

World axes: X along the walkway away from the chair (the chair seat is at X = 0), Y to the left
of a person walking out, Z up. Each generator returns (PoseSeries, truth), truth a dict of the
event and phase times (s) by the definitions the pipelines use (core/movement/tug.py,
core/movement/sit_to_stand.py), computed from the script itself.
"""
from __future__ import annotations

import numpy as np

from core.movement.landmarks import PoseSeries

TORSO = 0.5  # m, mid-hip to mid-shoulder
THIGH, SHANK = 0.45, 0.42
SEATED_HIP, STANDING_HIP = 0.48, 0.88
HIP_HALF_WIDTH, SHOULDER_HALF_WIDTH = 0.10, 0.18
FOOT = 0.22
IMAGE = (1280, 720)
FOCAL = 1000.0  # px
CAMERA_HEIGHT = 0.9
# What real MediaPipe does that a clean projection does not (measured on the outcome composites,
# tests/core/movement/test_outcome_end_to_end.py; core/movement/posture.py's module doc): the hip
# landmark sits above the hip joint, by about twice as much on a seated person, so the seated hips
# look higher and the seated torso shorter; and under the deepest forward lean of a rise or a sit
# the feet are lost for a few frames and the ankles guessed far too high.
MP_HIP_RAISE = 0.02  # m, standing
MP_SEATED_HIP_RAISE = 0.05  # m, more when seated
MP_LOST_FEET_LEAN = np.radians(36.0)  # near the peak lean of a rise: the ankles misplaced (a few frames)
MP_LOST_ANKLE_RAISE = 0.3  # m
TURN_SPEED_FRACTION = 0.3  # the pipelines' turn boundary: pelvis progression below 30% of walking speed


def _ramp(t, t0, t1):
    """0 before t0, 1 after t1, minimum-jerk in between."""
    u = np.clip((np.asarray(t, float) - t0) / max(t1 - t0, 1e-9), 0.0, 1.0)
    return u**3 * (10 - 15 * u + 6 * u**2)


def _knee(hip, ankle, forward):
    """Knee position from hip and ankle (two-link leg bending forward)."""
    d = ankle - hip
    dist = np.linalg.norm(d, axis=1, keepdims=True)
    dist = np.clip(dist, 1e-6, THIGH + SHANK - 1e-6)
    u = d / dist
    a = (THIGH**2 - SHANK**2 + dist**2) / (2 * dist)
    h = np.sqrt(np.clip(THIGH**2 - a**2, 0, None))
    perp = forward - np.sum(forward * u, axis=1, keepdims=True) * u
    perp /= np.clip(np.linalg.norm(perp, axis=1, keepdims=True), 1e-9, None)
    return hip + a * u + h * perp


def _body(t, pelvis_xy, heading, hip_h, lean, feet, arms):
    """(n, 33, 3) world landmarks from the scripted trajectories.

    feet: {"left"/"right": (heel (n, 3), foot heading (n,))}; arms: (n,) mode weights dict with
    "chest", "hang", "push" (summing to 1) and "chair" (3,) seat centre for pushing."""
    n = len(t)
    world = np.zeros((n, 33, 3))
    f = np.c_[np.cos(heading), np.sin(heading), np.zeros(n)]
    left = np.c_[-np.sin(heading), np.cos(heading), np.zeros(n)]
    up = np.array([0.0, 0.0, 1.0])
    mid_hip = np.c_[pelvis_xy, hip_h]
    share = np.clip((np.asarray(hip_h, float) - SEATED_HIP) / (STANDING_HIP - SEATED_HIP), 0.0, 1.0)
    axis = np.sin(lean)[:, None] * f + np.cos(lean)[:, None] * up
    mid_sh = mid_hip + TORSO * axis
    head = mid_sh + 0.25 * axis + 0.05 * f
    for j in range(0, 11):
        world[:, j] = head + (0.08 * f if j in (0, 9, 10) else 0.0) + (0.04 * left if j in (1, 2, 3, 7, 9) else 0.0) \
            - (0.04 * left if j in (4, 5, 6, 8, 10) else 0.0)
    push = arms.get("push", np.zeros(n))
    chest = arms.get("chest", np.zeros(n))
    hang = arms.get("hang", np.zeros(n))
    chair = np.asarray(arms.get("chair", np.zeros(3)), float)
    for side, sign, (sh, el, wr, hp, kn, an, he, to) in (
            ("left", 1.0, (11, 13, 15, 23, 25, 27, 29, 31)), ("right", -1.0, (12, 14, 16, 24, 26, 28, 30, 32))):
        hip = mid_hip + sign * HIP_HALF_WIDTH * left
        shoulder = mid_sh + sign * SHOULDER_HALF_WIDTH * left
        heel, foot_heading = feet[side]
        fd = np.c_[np.cos(foot_heading), np.sin(foot_heading), np.zeros(n)]
        ankle = heel + 0.05 * fd + np.array([0, 0, 0.08])
        toe = heel + FOOT * fd
        toe[:, 2] = np.maximum(heel[:, 2] - 0.02, 0.0)
        knee = _knee(hip, ankle, f)
        wrist_chest = mid_sh - 0.15 * axis + 0.14 * f - sign * 0.06 * left
        wrist_hang = shoulder - 0.55 * up + 0.05 * f
        wrist_push = chair + np.c_[np.zeros(n), np.full(n, sign * 0.24), np.zeros(n)]  # beside the hips
        wrist = chest[:, None] * wrist_chest + hang[:, None] * wrist_hang + push[:, None] * wrist_push
        elbow = 0.5 * (shoulder + wrist) - 0.06 * f - 0.05 * up
        # MediaPipe's artefacts (see the module doc): the hip landmark above the hip joint, more
        # so seated; the ankles guessed too high under the deepest forward lean
        hip_landmark = hip + (MP_HIP_RAISE + MP_SEATED_HIP_RAISE * (1.0 - share))[:, None] * up
        ankle_landmark = ankle + np.where(lean > MP_LOST_FEET_LEAN, MP_LOST_ANKLE_RAISE, 0.0)[:, None] * up
        world[:, sh], world[:, el], world[:, wr], world[:, hp] = shoulder, elbow, wrist, hip_landmark
        world[:, kn], world[:, an], world[:, he], world[:, to] = knee, ankle_landmark, heel, toe
        for j in ((17, 19, 21) if side == "left" else (18, 20, 22)):
            world[:, j] = wrist
    return world


def _project(world, view: str, centre_x: float):
    """Pinhole camera at hip height, 5 m from the walkway's middle, looking at it side-on
    (view "side") or at 45 degrees ("45")."""
    phi = {"side": 0.0, "45": np.pi / 4}[view]
    d = np.array([np.sin(phi), np.cos(phi), 0.0])  # viewing direction
    r = np.array([np.cos(phi), -np.sin(phi), 0.0])  # picture's x to the right
    distance = 5.0 if view == "side" else 4.2
    cam = np.array([centre_x, 0.0, CAMERA_HEIGHT]) - distance * d
    rel = world - cam
    depth = rel @ d
    x = IMAGE[0] / 2 + FOCAL * (rel @ r) / depth
    y = IMAGE[1] / 2 - FOCAL * rel[..., 2] / depth
    return x, y


def _series(t, world, view, centre_x, noise_px, seed) -> PoseSeries:
    rng = np.random.default_rng(seed)
    x, y = _project(world, view, centre_x)
    x = x + rng.normal(0, noise_px, x.shape)
    y = y + rng.normal(0, noise_px, y.shape)
    landmarks = np.stack([x / IMAGE[0], y / IMAGE[1], np.zeros_like(x)], axis=-1).astype(np.float32)
    return PoseSeries(times=t, landmarks=landmarks, visibility=np.ones((len(t), 33), np.float32),
                      world=np.full((len(t), 33, 3), np.nan, np.float32), image_size=IMAGE)


def _rise(t, t0, s=1.0):
    """Sit-to-stand starting at t0 (trunk flexion begins), full stand at t0 + 1.0 s (x s):
    returns (hip height share 0..1, lean in degrees added, forward share 0..1)."""
    hip = _ramp(t, t0 + 0.3 * s, t0 + 1.0 * s)
    lean = 35.0 * (_ramp(t, t0, t0 + 0.5 * s) - _ramp(t, t0 + 0.55 * s, t0 + 1.0 * s))
    return hip, lean


def _sit(t, t0, s=1.0):
    """Stand-to-sit starting at t0, seated (hips on the seat) at t0 + 0.9 s (x s)."""
    hip = _ramp(t, t0 + 0.05 * s, t0 + 0.9 * s)
    lean = 30.0 * (_ramp(t, t0, t0 + 0.45 * s) - _ramp(t, t0 + 0.5 * s, t0 + 0.9 * s))
    return hip, lean


def _still_feet(n, x=0.45):
    return {side: (np.tile([x, sign * HIP_HALF_WIDTH, 0.0], (n, 1)), np.zeros(n))
            for side, sign in (("left", 1.0), ("right", -1.0))}


def synthetic_sit_to_stand(n_stands: int = 5, cycle_scale=None, push_reps=(), view: str = "side",
                           fps: float = 30.0, noise_px: float = 0.8, seed: int = 0, start: float = 1.0,
                           seated_after: bool = True, seated_at_start: bool = True):
    """SYNTHETIC Five Times Sit to Stand: `n_stands` stands from a chair, arms crossed over the
    chest; repetition k is scaled in time by cycle_scale[k] (1 = 2.1 s from the start of the rise
    to seated again); push_reps: repetitions (0-based) in which both hands push on the seat.
    Truth: rise_starts, full_stands, seated_again (s), repetition_s, sts_time_s."""
    scales = list(cycle_scale) if cycle_scale is not None else [1.0] * n_stands
    starts, stands, seated = [], [], []
    cur = start
    for k in range(n_stands):
        s = scales[k]
        starts.append(cur)
        stands.append(cur + 1.0 * s)
        seated.append(cur + 1.2 * s + 0.9 * s)
        cur = cur + 2.4 * s
    last_sit = seated_after or n_stands == 0
    end = (seated[-1] if n_stands and last_sit else (stands[-1] + 0.2 if n_stands else start)) + 1.5
    t = np.arange(0.0, end, 1.0 / fps)
    n = len(t)
    height_share = np.zeros(n) if seated_at_start else np.ones(n)
    lean = np.full(n, 5.0)
    push = np.zeros(n)
    for k in range(n_stands):
        s = scales[k]
        h, l = _rise(t, starts[k], s)
        height_share += h
        lean += l
        if k < n_stands - 1 or last_sit:
            h, l = _sit(t, starts[k] + 1.2 * s, s)
            height_share -= h
            lean += l
        if k in push_reps:
            push += _ramp(t, starts[k] - 0.4, starts[k] - 0.2) - _ramp(t, starts[k] + 0.9 * s, starts[k] + 1.1 * s)
    push = np.clip(push, 0, 1)
    hip_h = SEATED_HIP + (STANDING_HIP - SEATED_HIP) * height_share
    pelvis = np.c_[0.30 * height_share, np.zeros(n)]
    arms = {"chest": 1 - push, "push": push, "chair": np.array([0.0, 0.0, SEATED_HIP + 0.02])}
    world = _body(t, pelvis, np.zeros(n), hip_h, np.radians(lean), _still_feet(n), arms)
    pose = _series(t, world, view, 0.3, noise_px, seed)
    reps = [seated[k] - starts[k] for k in range(n_stands) if k < n_stands - 1 or last_sit]
    truth = {"rise_starts": starts, "full_stands": stands, "seated_again": seated[:len(reps)],
             "repetition_s": reps,
             "sts_time_s": (stands[min(4, n_stands - 1)] - starts[0]) if n_stands else float("nan")}
    return pose, truth


def synthetic_tug(view: str = "side", fps: float = 30.0, noise_px: float = 0.8, seed: int = 0,
                  speed: float = 1.0, step_s: float = 0.55, turn_s: float = 2.5, final_turn_s: float = 1.5,
                  start: float = 1.0, line_m: float = 3.0, seated_at_start: bool = True):
    """SYNTHETIC Timed Up and Go: seated, rise (trunk flexion from `start`, standing 1.0 s later),
    walk out at `speed` m/s, slow down at the line at `line_m` and turn on the spot (slowing,
    turning and speeding up back take `turn_s`), walk back, stop in front of the chair, turn in place over `final_turn_s` and
    sit down. Steps every `step_s` from standing to sitting. With seated_at_start=False the
    person stands from the start (no rise) and walks the same course.

    Truth (s): rise_start, standing, turn_start, turn_end, walk_back_end, seated, the phase
    durations under the agreed names (tug_*), the heel strikes and the turn's steps."""
    dt_fine = 1.0 / 1000.0
    t_stand = start + 1.0
    t_walk = t_stand + 0.1
    accel = 0.8
    brake = 0.7  # s to slow from walking to turning on the spot (and to speed up after it)
    reversal = 0.5 * speed * brake  # distance covered while slowing into the turn
    ramp_dist = 0.5 * speed * accel
    x_start = 0.30
    t_rev = t_walk + accel + (line_m - reversal - x_start - ramp_dist) / speed
    t_rev_end = t_rev + turn_s
    # walk back to x_start + the slowing distance, then slow to a stop over `accel`
    t_slow = t_rev_end + (line_m - 2 * reversal - x_start - ramp_dist) / speed
    t_stop = t_slow + accel
    t_final_end = t_stop + final_turn_s
    t_sit = t_final_end - 0.2
    t_seated = t_sit + 0.9
    end = t_seated + 1.5

    def velocity(tt):
        """Pelvis velocity along the walkway (m/s): up to speed, slowing to turn on the spot,
        rotating (the heading turns half a circle), speeding up back, slowing at the chair."""
        tt = np.asarray(tt, float)
        out = speed * (_ramp(tt, t_walk, t_walk + accel) - _ramp(tt, t_rev, t_rev + brake))
        back = -speed * (_ramp(tt, t_rev_end - brake, t_rev_end) - _ramp(tt, t_slow, t_stop))
        return np.where(tt < t_rev + brake, out, back)

    fine = np.arange(0.0, end, dt_fine)
    v_fine = velocity(fine)
    x_fine = x_start + np.cumsum(v_fine) * dt_fine
    t = np.arange(0.0, end, 1.0 / fps)
    n = len(t)
    x_walk = np.interp(t, fine, x_fine)
    if seated_at_start:
        rise_h, rise_l = _rise(t, start)
    else:
        rise_h, rise_l = np.ones(n), np.zeros(n)
    sit_h, sit_l = _sit(t, t_sit)
    height_share = rise_h - sit_h
    lean = 5.0 + rise_l + sit_l
    # pelvis: moves forward 0.3 m while rising, walks, and moves back onto the seat while sitting
    px = np.where(t < t_walk, x_start * height_share, x_walk)
    px = np.where(t > t_sit, x_start * height_share + (x_walk - x_start) * (t <= t_sit), px)
    heading = np.pi * _ramp(t, t_rev + 0.3, t_rev_end - 0.3) + np.pi * _ramp(t, t_stop - 0.2, t_final_end)
    hip_h = SEATED_HIP + (STANDING_HIP - SEATED_HIP) * height_share

    # feet: planted positions, a step landing every step_s from t_walk + step_s until sitting
    def pose_at(tt):
        xx = float(np.interp(tt, t, px))
        hh = float(np.interp(tt, t, heading))
        return xx, hh

    landings = np.arange(t_walk + step_s, t_sit - 0.1, step_s)
    feet = {}
    strikes = []
    for side, sign, first in (("right", -1.0, 0), ("left", 1.0, 1)):
        heel = np.tile([0.45, sign * HIP_HALF_WIDTH, 0.0], (n, 1)).astype(float)
        fh = np.zeros(n)
        prev_pos, prev_h = np.array([0.45, sign * HIP_HALF_WIDTH]), 0.0
        for k, tl in enumerate(landings):
            if k % 2 != first:
                continue
            xx, hh = pose_at(tl)
            share = min(abs(float(velocity(tl))) / speed, 1.0)
            vel = float(velocity(tl))
            motion = np.array([np.sign(vel), 0.0])  # the foot lands ahead in the direction of travel
            lat = np.array([-np.sin(hh), np.cos(hh)])
            pos = np.array([xx, 0.0]) + 0.30 * share * motion + sign * HIP_HALF_WIDTH * lat
            swing0 = tl - 0.8 * step_s
            w = _ramp(t, swing0, tl)
            during = (t >= swing0) & (t <= tl)
            after = t > tl
            heel[during, :2] = prev_pos + w[during, None] * (pos - prev_pos)
            heel[during, 2] = 0.07 * np.sin(np.pi * (t[during] - swing0) / (tl - swing0))
            fh[during] = prev_h + w[during] * (hh - prev_h)
            heel[after, :2] = pos
            fh[after] = hh
            strikes.append(float(tl))  # every landing is a step (in place too: the foot lifts)
            prev_pos, prev_h = pos, hh
        feet[side] = (heel, fh)
    arms = {"hang": np.ones(n)}
    world = _body(t, np.c_[px, np.zeros(n)], heading, hip_h, np.radians(lean), feet, arms)
    pose = _series(t, world, view, 0.5 * line_m, noise_px, seed)

    # truth by the pipeline's definitions, from the scripted (world) velocity
    thr = TURN_SPEED_FRACTION * speed
    after_walk = fine > t_walk + accel
    turn_start = float(fine[np.flatnonzero(after_walk & (v_fine < thr))[0]])
    turn_end = float(fine[np.flatnonzero((fine > turn_start) & (v_fine < -thr))[0]])
    back_end = float(fine[np.flatnonzero((fine > turn_end + 0.5) & (v_fine > -thr))[0]])
    rise_start = start if seated_at_start else float("nan")
    strikes = sorted(strikes)
    truth = {"rise_start": rise_start, "standing": t_stand, "turn_start": turn_start, "turn_end": turn_end,
             "walk_back_end": back_end, "seated": t_seated, "heel_strikes": strikes,
             "tug_time_s": t_seated - rise_start,
             "tug_sit_to_stand_s": t_stand - rise_start, "tug_walk_out_s": turn_start - t_stand,
             "tug_turn_s": turn_end - turn_start, "tug_walk_back_s": back_end - turn_end,
             "tug_turn_to_sit_s": t_seated - back_end,
             "tug_turn_steps": sum(1 for s in strikes if turn_start <= s <= turn_end),
             "tug_cadence_steps_per_min": 60.0 / step_s}
    return pose, truth
