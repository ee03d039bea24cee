"""Sit and stand from pose landmarks, shared by the Timed Up and Go and the Five Times Sit to
Stand pipelines.

The posture signal is the hip's height above the ankles in torso lengths (mid-shoulder to mid-hip,
the body scale that pose_tracks already gives): about 0.8-1.0 seated on a chair and 1.6-1.9
standing, whatever the camera's distance, and the same seen side-on or at 45 degrees (a vertical
distance in the picture does not depend on the direction the camera looks from, at hip height).
Every threshold is relative to the person's own seated and standing levels in the clip, never in
pixels. The trunk's inclination from vertical (mid-hip to mid-shoulder) dates the start of a rise:
the trunk leans forward before the hips leave the seat.

Transitions are found with hysteresis on the normalised height p (0 = own seated level, 1 = own
standing level): standing once p >= 0.8, seated once p <= 0.2. Each transition's start and end
are then dated by fitting a minimum-jerk movement (the usual model of a smooth human movement)
through the flank's 25% and 75% crossings: a threshold at 5% or 95% would be late or early by
a fifth of the movement's duration, since a smooth movement starts and ends slowly, and the
steep middle of the flank is not moved by landmark jitter on the plateaus.

What real MediaPipe landmarks taught (tests/core/movement/test_outcome_end_to_end.py, composites
of a real photo that MediaPipe tracks): the hip height above the ankles is a good TIMING signal
but a poor ABSOLUTE one. MediaPipe puts a seated person's hip landmark higher than the hip joint
and its torso (shoulder to hip) is longer than a drawn or anthropometric one, so a seated person
was 1.07 torso lengths above the ankles and a standing one only 1.40-1.55 (not 0.8-1.0 and
1.6-1.9): the range between them (0.35-0.45) and the seated/standing ratio (0.72-0.76) failed
fixed thresholds in torso lengths although the two postures were unmistakable. And while the
trunk leans forward to rise, MediaPipe loses the feet for a few frames (ankle visibility ~0.1)
and guesses them half a shank too high, which made the hips look lower at the very moment they
leave the seat. So:
- the ground is the lower ankle's rolling median over a second (a glitch of a few frames is
  gone; the planted foot of a walk and a depth change at 45 degrees are followed);
- whether the two levels ARE seated and standing is decided by the thigh, scale-free: the
  knee's drop below the hip as a share of the hip's height above the ground, (knee - hip) /
  (ground - hip), is ~0 with the thigh horizontal on a seat (MediaPipe: 0.15-0.25) and about
  half (thigh about as long as the shank) standing or walking (0.5-0.55). The levels must
  straddle THIGH_LEVEL, and differ by more than landmark jitter (MIN_LEVEL_RANGE).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from numpy.lib.stride_tricks import sliding_window_view

from core.movement.gait import ANKLE, HIP, SHOULDER, PoseTracks, _crossing_time

KNEE = {"left": 25, "right": 26}
SEATED, RISING, STANDING, SITTING_DOWN, UNKNOWN = 0, 1, 2, 3, -1
# The posture is read on a grid of at least this rate whatever the clip's (the pipelines analyse
# at most 15 frames a second, core.movement.frames.thinned): the flank, plateau and lean searches
# step sample by sample, and on a 15 Hz grid they dated a rise's end 0.2 s off the 30 Hz result.
ANALYSIS_RATE_HZ = 30.0
STATE_NAMES = {SEATED: "seated", RISING: "rising", STANDING: "standing", SITTING_DOWN: "sitting down",
               UNKNOWN: "not seen"}

STAND_LEVEL = 0.8  # share of the way from the own seated to the own standing level: standing
SEAT_LEVEL = 0.2  # and back below this: seated
# Hip above the ground seated vs standing differs by about the thigh length less MediaPipe's
# raised seated hip (real landmarks: 0.35-0.45 torso lengths); less than this between the lowest
# and highest posture of the clip is landmark jitter (~0.05), no sit-to-stand. The thigh (below)
# decides whether the two levels are seated and standing.
MIN_LEVEL_RANGE = 0.2  # torso lengths
# The knee's drop below the hip over the hip's height above the ground: ~0 with the thigh level
# on a seat (MediaPipe 0.15-0.25 with its raised seated hip; up to 0.3 with the feet far forward
# or a high seat sloping the thigh down), ~0.5 standing (thigh ~ shank; MediaPipe 0.5-0.55).
# The seated level lies below this, the standing level above it.
THIGH_LEVEL = 0.4
GROUND_WINDOW_S = 1.0  # rolling median of the lower ankle: the ground, without glitches of a few frames
TRUNK_FLEXION_MIN_DEG = 8.0  # less forward lean than this before seat-off: rise dated from the hips
TRUNK_JITTER_DEG = 2.0  # MediaPipe's trunk angle of a still, seated person varies this much


@dataclass(frozen=True)
class Transition:
    """One sit-to-stand ("rise") or stand-to-sit ("sit"), times in seconds. For a rise: start =
    trunk flexion begins (or the hips leave the seat), end = the hips reach the standing level;
    for a sit: start = the hips leave the standing level, end = the hips reach the seated level
    and the trunk is upright again (whichever is later)."""

    kind: str  # "rise" or "sit"
    start: float
    end: float
    hips_leave: float  # the hips leave their level (seat-off for a rise)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Posture:
    """The posture of one clip: signals on the PoseTracks grid and the transitions found."""

    t: np.ndarray
    height: np.ndarray  # hip above ankles, torso lengths
    p: np.ndarray  # 0 own seated level .. 1 own standing level (NaN: not tracked)
    trunk_deg: np.ndarray  # trunk inclination from vertical, degrees
    seated_level: float
    standing_level: float
    seated_thigh: float = float("nan")  # median thigh drop (see THIGH_LEVEL) at the seated level
    standing_thigh: float = float("nan")  # and at the standing level
    transitions: list[Transition] = field(default_factory=list)
    state: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))

    @property
    def rises(self) -> list[Transition]:
        return [x for x in self.transitions if x.kind == "rise"]

    @property
    def sits(self) -> list[Transition]:
        return [x for x in self.transitions if x.kind == "sit"]

    def seated_at_start(self) -> bool:
        """The first posture decided in the clip is seated (or rising from the seat), and the clip
        has both a seated and a standing level."""
        first = next((s for s in self.state if s != UNKNOWN), UNKNOWN)
        return bool(first in (SEATED, RISING) and self.has_range())

    def has_range(self) -> bool:
        return bool(np.isfinite(self.standing_level) and np.isfinite(self.seated_level)
                    and self.standing_level - self.seated_level >= MIN_LEVEL_RANGE
                    and self.seated_thigh < THIGH_LEVEL < self.standing_thigh)


def _mid(tracks: PoseTracks, part: dict[str, int]) -> np.ndarray:
    return 0.5 * (tracks.point(part["left"]) + tracks.point(part["right"]))


def ground_y(tracks: PoseTracks) -> np.ndarray:
    """Picture row of the ground under the person: the lower ankle (the one on the ground when a
    foot is lifted), rolling median over GROUND_WINDOW_S (MediaPipe's guesses of feet it lost for
    a few frames, e.g. under a forward-leaning trunk, are dropped). NaN where both ankles were
    not tracked through most of the window."""
    left, right = tracks.point(ANKLE["left"])[:, 1], tracks.point(ANKLE["right"])[:, 1]
    ankle_y = np.where(np.isfinite(left) & np.isfinite(right), np.fmax(left, right), np.nan)
    w = max(3, int(round(GROUND_WINDOW_S * tracks.fs)) | 1)
    if len(ankle_y) < w:
        return ankle_y
    windows = sliding_window_view(np.pad(ankle_y, w // 2, mode="edge"), w)
    enough = np.isfinite(windows).sum(axis=1) > w // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        ground = np.nanmedian(windows, axis=1)
    return np.where(enough & np.isfinite(ankle_y), ground, np.nan)


def thigh_drop(tracks: PoseTracks, ground: np.ndarray | None = None) -> np.ndarray:
    """(n,) the lower knee's drop below the mid-hip over the mid-hip's height above the ground:
    ~0 seated (thigh level), ~0.5 standing (see THIGH_LEVEL). Scale- and view-free: a ratio of
    two vertical picture distances."""
    ground = ground_y(tracks) if ground is None else ground
    hip_y = _mid(tracks, HIP)[:, 1]
    knee_y = np.fmax(tracks.point(KNEE["left"])[:, 1], tracks.point(KNEE["right"])[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (knee_y - hip_y) / (ground - hip_y)
    return np.where(ground - hip_y > 0, r, np.nan)


def posture_signals(tracks: PoseTracks) -> tuple[np.ndarray, np.ndarray]:
    """(hip height above the ground in torso lengths, trunk inclination in degrees) per sample.
    Image y grows downwards; the ground is ground_y."""
    hip = _mid(tracks, HIP)
    shoulder = _mid(tracks, SHOULDER)
    height = (ground_y(tracks) - hip[:, 1]) / tracks.torso
    trunk = shoulder - hip
    with np.errstate(invalid="ignore"):
        trunk_deg = np.degrees(np.arctan2(np.abs(trunk[:, 0]), -trunk[:, 1]))
    return height, trunk_deg


def _level_thigh(height: np.ndarray, thigh: np.ndarray, level: float, other: float) -> float:
    """Median thigh drop over the samples within a quarter of the way from `level` to `other`
    (the plateau: not the steep thighs half way through a rise or sit; NaN if too few)."""
    ok = np.isfinite(height) & np.isfinite(thigh) & (np.abs(height - level) < 0.25 * np.abs(other - level))
    return float(np.median(thigh[ok])) if ok.sum() >= 3 else float("nan")


def _levels(height: np.ndarray) -> tuple[float, float]:
    """Own seated and standing levels: medians of the lower and upper halves of the clip's range
    (5th to 95th percentile), so walking, standing still and sitting each count once."""
    h = height[np.isfinite(height)]
    if len(h) < 5:
        return float("nan"), float("nan")
    lo, hi = np.percentile(h, [5, 95])
    mid = 0.5 * (lo + hi)
    low, high = h[h < mid], h[h >= mid]
    if len(low) == 0 or len(high) == 0:
        return float(lo), float(hi)
    return float(np.median(low)), float(np.median(high))


def _hysteresis(p: np.ndarray) -> np.ndarray:
    """SEATED / STANDING per sample (UNKNOWN where untracked or before the first decision)."""
    state = np.full(len(p), UNKNOWN, np.int8)
    current = UNKNOWN
    for i, x in enumerate(p):
        if not np.isfinite(x):
            current = UNKNOWN
        elif x >= STAND_LEVEL:
            current = STANDING
        elif x <= SEAT_LEVEL:
            current = SEATED
        state[i] = current
    return state


# A minimum-jerk movement (Flash & Hogan 1985, the usual model of a smooth point-to-point
# movement) covers a quarter of its way at this share of its duration, and three quarters at 1 - it.
_MJ_QUARTER = 0.3594


def _level_time(t: np.ndarray, x: np.ndarray, a: int, b: int, level: float, rising: bool) -> float | None:
    for i in range(a + 1, b + 1):
        if (x[i - 1] < level <= x[i]) if rising else (x[i - 1] > level >= x[i]):
            return _crossing_time(t, x, i, level)
    return None


def _movement_span(t: np.ndarray, x: np.ndarray, a: int, b: int, low: float, high: float) -> tuple[float, float]:
    """For a monotone flank of x between samples a and b (rising or falling) from one level to the
    other, the (start, end) of the movement: a minimum-jerk movement fitted through the flank's
    25% and 75% crossings (both in its steep part, so landmark jitter on the plateaus does not
    move them; a fixed 5% or 95% threshold would be late or early by a fifth of the movement)."""
    rising = x[b] > x[a]
    q1, q3 = low + 0.25 * (high - low), low + 0.75 * (high - low)
    first = _level_time(t, x, a, b, q1 if rising else q3, rising)
    second = _level_time(t, x, a, b, q3 if rising else q1, rising)
    if first is None or second is None or second <= first:
        return float(t[a]), float(t[b])
    duration = (second - first) / (1 - 2 * _MJ_QUARTER)
    start = first - _MJ_QUARTER * duration
    return float(start), float(start + duration)


def _flank(p: np.ndarray, i: int, rising: bool, limit_lo: int, limit_hi: int) -> tuple[int, int]:
    """Around the hysteresis switch at sample i, the monotone run of p containing it (extended
    back and forward while p keeps moving the same way, within the limits)."""
    sign = 1.0 if rising else -1.0
    a = i
    while a > limit_lo and np.isfinite(p[a - 1]) and sign * (p[a] - p[a - 1]) > 0:
        a -= 1
    b = i
    while b < limit_hi and np.isfinite(p[b + 1]) and sign * (p[b + 1] - p[b]) > 0:
        b += 1
    return a, b


def _plateau(p: np.ndarray, a: int, b: int, fs: float, default: float) -> float:
    """Median of p over up to 0.5 s between samples a and b (a local level), else default."""
    a, b = max(a, 0), min(b, len(p))
    seg = p[a:b]
    seg = seg[np.isfinite(seg)]
    return float(np.median(seg)) if len(seg) >= max(3, int(0.1 * fs)) else default


def _trunk_onset(t: np.ndarray, trunk: np.ndarray, lo: int, seat_off: int, stand: int,
                 fs: float) -> float | None:
    """Start of the forward trunk lean that carries the body over the feet before seat-off: the
    lean peaks about when the hips leave the seat; the last sample before it near the lowest angle
    of the 2 s before is where the lean began, and a minimum-jerk fit of the lean dates its start. None: no clear lean (then the rise is
    dated from the hips)."""
    a = max(lo, seat_off - int(0.3 * fs))
    b = min(stand, len(trunk) - 1)
    if b - a < 2 or not np.isfinite(trunk[a:b + 1]).all():
        return None
    peak = a + int(np.argmax(trunk[a:b + 1]))
    w0 = max(lo, peak - int(2.0 * fs))
    before = trunk[w0:peak + 1]
    if not np.isfinite(before).all():
        return None
    # the seated lean: a low percentile, not the minimum (MediaPipe's trunk on a seated person
    # jitters by a few degrees, with single frames far below the rest)
    baseline = float(np.percentile(before, 25))
    # the last sample near the seated lean before the peak (TRUNK_JITTER_DEG allowed)
    first = w0 + int(np.flatnonzero(before <= baseline + TRUNK_JITTER_DEG)[-1])
    if trunk[peak] - baseline < TRUNK_FLEXION_MIN_DEG or peak - first < 2:
        return None
    start, _ = _movement_span(t, trunk, first, peak, baseline, float(trunk[peak]))
    return start


def find_posture(tracks: PoseTracks) -> Posture:
    """Seated and standing levels, the rises and sits between them, and a per-sample state
    (seated / rising / standing / sitting down / not seen)."""
    t, fs = tracks.t, tracks.fs
    height, trunk = posture_signals(tracks)
    seated, standing = _levels(height)
    thigh = thigh_drop(tracks)
    n = len(t)
    posture = Posture(t, height, np.full(n, np.nan), trunk, seated, standing,
                      _level_thigh(height, thigh, seated, standing), _level_thigh(height, thigh, standing, seated),
                      state=np.full(n, UNKNOWN, np.int8))
    if not posture.has_range():
        # one posture throughout: standing if the thighs are steep (see THIGH_LEVEL), else seated
        seen = np.isfinite(height) & np.isfinite(thigh)
        if seen.sum() >= 3:
            posture.state[seen] = STANDING if np.median(thigh[seen]) >= THIGH_LEVEL else SEATED
        return posture
    p = (height - seated) / (standing - seated)
    posture.p = p
    coarse = _hysteresis(p)
    state = coarse.copy()
    switches = [i for i in range(1, n) if coarse[i] != coarse[i - 1] and coarse[i] != UNKNOWN
                and coarse[i - 1] != UNKNOWN]
    transitions: list[Transition] = []
    bounds = [0] + switches + [n - 1]
    for k, i in enumerate(switches):
        rising = coarse[i] == STANDING
        a, b = _flank(p, i, rising, bounds[k], bounds[k + 2])
        before = _plateau(p, a - int(0.5 * fs), a, fs, 0.0 if rising else 1.0)
        after = _plateau(p, b + 1, b + 1 + int(0.5 * fs), fs, 1.0 if rising else 0.0)
        low, high = (before, after) if rising else (after, before)
        start, end = _movement_span(t, p, a, b, low, high)
        hips_leave = start
        if rising:
            lo = bounds[k]
            if transitions:  # not into the previous sit-down, whose lean is no part of this rise
                lo = max(lo, min(int(np.searchsorted(t, transitions[-1].end)), a))
            onset = _trunk_onset(t, trunk, lo, a + int(round((start - t[a]) * fs)), b, fs)
            if onset is not None and onset < start:
                start = onset
        else:
            # seated once the hips are down AND the trunk is back upright (the mirror of a rise
            # starting with the forward lean): the trunk onset of the time-reversed sit
            land = min(int(np.searchsorted(t, end)), n - 1)
            rev = _trunk_onset(-t[::-1], trunk[::-1], n - 1 - bounds[k + 2], n - 1 - land, n - 1 - a, fs)
            if rev is not None and -rev > end:
                end = -rev
        transitions.append(Transition("rise" if rising else "sit", start, end, hips_leave))
        lo_i = int(np.searchsorted(t, start))
        hi_i = int(np.searchsorted(t, end))
        state[lo_i:hi_i] = RISING if rising else SITTING_DOWN
        # the coarse state lags or leads the refined times: the stretch around the switch
        for j in range(max(lo_i - int(fs), 0), lo_i):
            if state[j] != UNKNOWN:
                state[j] = SEATED if rising else STANDING
        for j in range(hi_i, min(hi_i + int(fs), n)):
            if state[j] != UNKNOWN and coarse[j] == coarse[i]:
                state[j] = STANDING if rising else SEATED
    posture.transitions = transitions
    posture.state = state
    return posture


def in_view_span(tracks: PoseTracks, start: float, end: float) -> tuple[float, float]:
    """(seconds not tracked, longest untracked stretch in s) between start and end."""
    inside = (tracks.t >= start) & (tracks.t <= end)
    lost = inside & ~np.isfinite(tracks.torso)
    longest, run = 0, 0
    for x in lost[inside]:
        run = run + 1 if x else 0
        longest = max(longest, run)
    return float(lost.sum() / tracks.fs), float(longest / tracks.fs)


__all__ = ["Posture", "Transition", "find_posture", "posture_signals", "in_view_span", "STATE_NAMES",
           "SEATED", "RISING", "STANDING", "SITTING_DOWN", "UNKNOWN"]
