"""Hand and body landmarks with MediaPipe Tasks (HandLandmarker, PoseLandmarker) in VIDEO mode.

Input is any iterable of (seconds, H x W x 3 uint8 RGB) frames, e.g. core.media.video.iter_frames,
so a clip is never held in memory whole. Output is a series of arrays with one row per frame and
NaN where nothing was detected, which the task modules turn into measures. A series can be saved
as a compressed .npz next to the clip so re-analysis and explanations need not decode again.

Handedness: the Tasks models label the hand as it is in a non-mirrored picture (a back or
webcam camera whose recording is not flipped); the legacy `mp.solutions` API assumed a mirrored
selfie picture, so its labels were the other way round (see DESIGN.md and
google-ai-edge/mediapipe-samples#450). A selfie camera that saves mirrored video therefore shows
a right hand as "Left". The clinician says which hand is tested; we pick that hand from the
pose's wrist of that side when a person is in view (core/movement/hand_crop.py), then the
handedness probability AND the continuity of the wrist track, and report a clip in which the
tracked hand looks like the other side, so a mirrored close-up is flagged rather than silently
swapped.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from core.config import MEDIAPIPE_DIR

# MediaPipe's C++ runtime reads these when it is first imported (lazily, in the functions below):
# without them it logs INFO/WARNING lines on stderr at every start (see core/cli.py for the rest).
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HAND_MODELS = {"full": "hand_landmarker_full.task", "lite": "hand_landmarker_lite.task"}
POSE_MODEL = "pose_landmarker_full.task"

# MediaPipe hand landmark indices used by the task modules
WRIST, THUMB_TIP, INDEX_MCP, INDEX_TIP, MIDDLE_MCP, MIDDLE_TIP, PINKY_MCP = 0, 4, 5, 8, 9, 12, 17

# True when a Tasks label of "Right" means the person's right hand in a non-mirrored picture.
TASKS_LABEL_IS_ANATOMICAL = True

# How far (fraction of the frame) the wrist may jump between frames before continuity no longer
# favours a candidate; and how strongly continuity counts against handedness (cost units).
_CONTINUITY_WEIGHT = 2.0
_MAX_JUMP_FOR_OTHER_HAND = 0.2


def _npz_save(path: str | Path, obj) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        arrays[f.name] = np.asarray(value) if value is not None else np.asarray([])
    arrays["_kind"] = np.asarray(type(obj).__name__)
    # Written beside the final name and renamed into place: a process killed in the middle of
    # the write (SIGKILL, power loss) never leaves a truncated cache that the next analysis of
    # the same clip would read and fail on.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as fh:  # np.savez_compressed on a path would append .npz
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@dataclass
class HandSeries:
    """One hand's landmarks over a clip.

    landmarks: (n, 21, 3) MediaPipe normalised image coordinates: x / width, y / height (0..1,
      y down) and z (relative depth, wrist-centred, roughly the scale of x). NaN where not found.
    world: (n, 21, 3) MediaPipe's metric estimate in metres around the hand centre (NaN likewise).
    side_probability: (n,) probability that the chosen hand is the tested side (NaN: no hand).
    hands_in_view: (n,) how many hands MediaPipe found in each frame.
    """

    times: np.ndarray
    landmarks: np.ndarray
    world: np.ndarray
    side_probability: np.ndarray
    hands_in_view: np.ndarray
    image_size: tuple[int, int]  # (width, height) of the analysed frames
    side: str | None = None
    model: str = "full"
    # filled by hand_series_for_clip from a few sampled frames (kept in the cache too):
    key_frame: np.ndarray | None = None  # RGB, max side 320, a frame showing the hand open
    sharpness: float = float("nan")  # median Laplacian variance of the hand region (blur check)
    # (width, height) of the file's own pixels (image_size may be a downscaled copy of them)
    source_size: tuple[int, int] | None = None
    # (n,) True where the hand was found on a full-resolution crop around the wrist that the
    # pose landmarker located (a small hand in a whole-body view), False: on the whole frame
    cropped: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        if self.source_size is None or np.asarray(self.source_size).size != 2:
            self.source_size = self.image_size
        self.source_size = (int(self.source_size[0]), int(self.source_size[1]))
        if self.cropped is None or np.asarray(self.cropped).size != len(self.times):
            self.cropped = np.zeros(len(self.times), bool)
        self.cropped = np.asarray(self.cropped, bool)
        if isinstance(self.side, np.ndarray):
            self.side = str(self.side) or None
        self.model = str(self.model)
        if self.key_frame is not None and np.asarray(self.key_frame).size == 0:
            self.key_frame = None
        self.sharpness = float(self.sharpness)

    @property
    def detected(self) -> np.ndarray:
        return ~np.isnan(self.landmarks[:, WRIST, 0])

    def pixels(self) -> np.ndarray:
        """(n, 21, 2) x, y in pixels of the analysed frame (undistorted aspect ratio)."""
        return self.landmarks[:, :, :2] * np.asarray(self.image_size, dtype=float)

    def seen_pixels(self) -> np.ndarray:
        """(n, 21, 2) x, y in pixels of the picture MediaPipe looked at in each frame: the file's
        own pixels where the hand was found on a crop, the analysed frame's elsewhere."""
        size = np.where(self.cropped[:, None], np.asarray(self.source_size, float),
                        np.asarray(self.image_size, float))
        return self.landmarks[:, :, :2] * size[:, None, :]

    def save_series(self, path: str | Path) -> Path:
        return _npz_save(path, self)


@dataclass
class PoseSeries:
    """One person's body landmarks over a clip (33 BlazePose landmarks).

    landmarks: (n, 33, 3) normalised image coordinates as for HandSeries; NaN where not found.
    visibility: (n, 33) MediaPipe's per-landmark visibility (0..1); NaN where not found.
    world: (n, 33, 3) metric estimate in metres, hip-centred.
    people_in_view: (n,) how many people the pose landmarker found in each frame (the series
      holds the one chosen as tested; see extract_pose_landmarks).
    """

    times: np.ndarray
    landmarks: np.ndarray
    visibility: np.ndarray
    world: np.ndarray
    image_size: tuple[int, int]
    model: str = "full"
    people_in_view: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.image_size = (int(self.image_size[0]), int(self.image_size[1]))
        self.model = str(self.model)
        if self.people_in_view is None or np.asarray(self.people_in_view).size != len(self.times):
            self.people_in_view = (~np.isnan(np.asarray(self.landmarks)[:, 0, 0])).astype(np.int8)
        self.people_in_view = np.asarray(self.people_in_view, np.int8)

    @property
    def detected(self) -> np.ndarray:
        return ~np.isnan(self.landmarks[:, 0, 0])

    def pixels(self) -> np.ndarray:
        return self.landmarks[:, :, :2] * np.asarray(self.image_size, dtype=float)

    def save_series(self, path: str | Path) -> Path:
        return _npz_save(path, self)


def load_series(path: str | Path) -> HandSeries | PoseSeries:
    """Read a series written by save_series."""
    with np.load(path, allow_pickle=False) as data:
        kind = str(data["_kind"])
        cls = {"HandSeries": HandSeries, "PoseSeries": PoseSeries}[kind]
        kwargs = {}
        for f in fields(cls):
            if f.name not in data:  # written before the field existed: its default
                continue
            value = data[f.name]
            if f.name in ("image_size", "source_size"):
                value = tuple(int(v) for v in value)
            elif f.name in ("side", "model"):
                value = str(value) if value.size else None
            elif f.name == "sharpness":
                value = float(value) if value.size else float("nan")
            kwargs[f.name] = value
        return cls(**kwargs)


def resample_uniform(times: np.ndarray, values: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Values (n, ...) at uneven times -> a uniform grid; NaN stays NaN where the nearest original
    frame had no hand (linear interpolation between detected frames only)."""
    grid = np.arange(times[0], times[-1] + 0.5 / rate, 1.0 / rate)
    flat = values.reshape(len(values), -1)
    out = np.empty((len(grid), flat.shape[1]))
    nearest = np.clip(np.searchsorted(times, grid), 0, len(times) - 1)
    prev = np.clip(nearest - 1, 0, len(times) - 1)
    closer = np.where(np.abs(times[prev] - grid) < np.abs(times[nearest] - grid), prev, nearest)
    missing = np.isnan(flat[closer, 0])
    for j in range(flat.shape[1]):
        ok = ~np.isnan(flat[:, j])
        out[:, j] = np.interp(grid, times[ok], flat[ok, j]) if ok.sum() >= 2 else np.nan
    out[missing] = np.nan
    return grid, out.reshape((len(grid),) + values.shape[1:])


def _timestamps_ms(t: float, last_ms: int) -> int:
    """detect_for_video needs strictly increasing integer milliseconds."""
    ms = int(round(t * 1000.0))
    return ms if ms > last_ms else last_ms + 1


def _mp_image(rgb: np.ndarray):
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


def hand_landmarker(model: str = "full", num_hands: int = 2):
    """A HandLandmarker in VIDEO mode. Close it (use `with`): MediaPipe otherwise prints a
    TypeError at interpreter shutdown."""
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import HandLandmarker, HandLandmarkerOptions, RunningMode

    options = HandLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(MEDIAPIPE_DIR / HAND_MODELS[model])),
        running_mode=RunningMode.VIDEO,
        num_hands=num_hands,
        min_hand_detection_confidence=0.5,
        min_hand_presence_confidence=0.5,
        min_tracking_confidence=0.5,
    )
    return HandLandmarker.create_from_options(options)


def pose_landmarker(num_poses: int = 1):
    """A PoseLandmarker (pose full bundle) in VIDEO mode looking for up to `num_poses` people;
    close it after use."""
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import PoseLandmarker, PoseLandmarkerOptions, RunningMode

    options = PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(MEDIAPIPE_DIR / POSE_MODEL)),
        running_mode=RunningMode.VIDEO,
        num_poses=num_poses,
    )
    return PoseLandmarker.create_from_options(options)


def _side_probability(category, side: str | None) -> float:
    """P(this detected hand is the tested side) from the Tasks handedness category."""
    if side is None:
        return 1.0
    label = category.category_name.lower()
    if not TASKS_LABEL_IS_ANATOMICAL:
        label = {"left": "right", "right": "left"}.get(label, label)
    return float(category.score) if label == side else 1.0 - float(category.score)


@dataclass(frozen=True)
class PoseGuide:
    """Where the pose landmarker puts the wrists, in normalised image coordinates: the tested
    side's, the other side's (None if not known) and how far (pixels of `image_size`) from the
    tested wrist a hand may be and still be taken for the tested one."""

    tested: np.ndarray
    other: np.ndarray | None
    radius_px: float
    image_size: tuple[int, int]

    def distance_px(self, point: np.ndarray, to: np.ndarray) -> float:
        return float(np.hypot(*((point - to) * np.asarray(self.image_size, float))))


@dataclass
class _HandPicker:
    """Chooses the tested hand frame by frame: the pose's wrist of the chosen side when a body is
    in view, then handedness, then continuity of the wrist."""

    side: str | None
    prev_wrist: np.ndarray | None = None
    prev_sure: bool = False  # the track being followed has looked like the tested side

    def pick(self, candidates: list[tuple[np.ndarray, np.ndarray, float]], guide: PoseGuide | None = None):
        if guide is not None:
            # the body says which hand is which: a hand nearer the other wrist, or far from the
            # tested one, is the other hand (resting on the lap) whatever its handedness label
            near = []
            for c in candidates:
                d = guide.distance_px(c[0][WRIST, :2], guide.tested)
                if d > guide.radius_px:
                    continue
                if guide.other is not None and guide.distance_px(c[0][WRIST, :2], guide.other) < d:
                    continue
                near.append(c)
            candidates = near
        if not candidates:
            return None
        best, best_cost, best_jump = None, np.inf, np.inf
        for image_lm, world_lm, p_side in candidates:
            cost, jump = 1.0 - p_side, np.inf
            if guide is not None:
                cost += _CONTINUITY_WEIGHT * guide.distance_px(image_lm[WRIST, :2], guide.tested) / guide.radius_px
            if self.prev_wrist is not None:
                jump = float(np.hypot(*(image_lm[WRIST, :2] - self.prev_wrist)))
                cost += _CONTINUITY_WEIGHT * jump
                # a hand that looks like the other side, far from where the tested hand was,
                # is the other hand coming into view while the tested one is lost
                if guide is None and p_side < 0.5 and self.prev_sure and jump > _MAX_JUMP_FOR_OTHER_HAND:
                    continue
            if cost < best_cost:
                best, best_cost, best_jump = (image_lm, world_lm, p_side), cost, jump
        if best is not None:
            self.prev_wrist = best[0][WRIST, :2].copy()
            # a handedness flicker on the same track does not make it the other hand
            self.prev_sure = best[2] >= 0.5 or (self.prev_sure and best_jump <= _MAX_JUMP_FOR_OTHER_HAND)
        return best


def hand_candidates(result, side: str | None, to_image=None) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(image landmarks (21, 3), world landmarks, P(tested side)) of each hand in a HandLandmarker
    result; `to_image` maps landmarks found on a crop back to the whole picture."""
    nan_hand = np.full((21, 3), np.nan, dtype=np.float32)
    candidates = []
    for i, hand in enumerate(result.hand_landmarks):
        image_lm = np.array([[p.x, p.y, p.z] for p in hand], dtype=np.float32)
        if to_image is not None:
            image_lm = to_image(image_lm)
        world = result.hand_world_landmarks[i] if i < len(result.hand_world_landmarks) else None
        world_lm = (np.array([[p.x, p.y, p.z] for p in world], dtype=np.float32)
                    if world else nan_hand)
        p_side = _side_probability(result.handedness[i][0], side) if result.handedness else 0.5
        candidates.append((image_lm, world_lm, p_side))
    return candidates


def extract_hand_landmarks(frames: Iterable[tuple[float, np.ndarray]], side: str | None = None,
                           model: str = "full") -> HandSeries:
    """Track the tested hand (`side` "left"/"right", None: the most confident hand) through the
    frames. Raises ValueError if `frames` is empty."""
    times, image_lms, world_lms, p_sides, counts = [], [], [], [], []
    nan_hand = np.full((21, 3), np.nan, dtype=np.float32)
    picker = _HandPicker(side)
    image_size = None
    last_ms = -1
    with hand_landmarker(model) as landmarker:
        for t, rgb in frames:
            if image_size is None:
                image_size = (rgb.shape[1], rgb.shape[0])
            last_ms = _timestamps_ms(t, last_ms)
            result = landmarker.detect_for_video(_mp_image(rgb), last_ms)
            candidates = hand_candidates(result, side)
            chosen = picker.pick(candidates)
            times.append(t)
            counts.append(len(candidates))
            if chosen is None:
                image_lms.append(nan_hand)
                world_lms.append(nan_hand)
                p_sides.append(np.nan)
            else:
                image_lms.append(chosen[0])
                world_lms.append(chosen[1])
                p_sides.append(chosen[2])
    if image_size is None:
        raise ValueError("no frames to analyse")
    return HandSeries(
        times=np.asarray(times, dtype=float),
        landmarks=np.stack(image_lms),
        world=np.stack(world_lms),
        side_probability=np.asarray(p_sides, dtype=float),
        hands_in_view=np.asarray(counts, dtype=np.int8),
        image_size=image_size,
        side=side,
        model=model,
    )


# Linking the people found frame by frame into tracks: a pose continues a track when its hip
# centre is near where the track was heading (its last centre moved on at its recent velocity):
# within _PERSON_MAX_STEP of the picture's larger side plus _PERSON_STEP_PER_S per second since it
# was last seen, at most _PERSON_MAX_GAP_S later (longer: someone left the picture and came back,
# a new track). The velocity keeps a walker passing a standing examiner on the walker's track.
_PERSON_MAX_STEP = 0.04
_PERSON_STEP_PER_S = 0.2
_PERSON_MAX_GAP_S = 0.5
_PERSON_VELOCITY_SMOOTHING = 0.3


def _pose_arrays(result, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nan_body = np.full((33, 3), np.nan, dtype=np.float32)
    body = result.pose_landmarks[i]
    image = np.array([[p.x, p.y, p.z] for p in body], dtype=np.float32)
    vis = np.array([p.visibility if p.visibility is not None else np.nan for p in body], dtype=np.float32)
    world = result.pose_world_landmarks[i] if i < len(result.pose_world_landmarks) else None
    world_lm = np.array([[p.x, p.y, p.z] for p in world], dtype=np.float32) if world else nan_body
    return image, vis, world_lm


def _link_people(times: np.ndarray, people: list[list[tuple]], image_size: tuple[int, int]) -> list[dict[int, int]]:
    """Tracks of people through the frames: each a {frame index: index of the pose in that
    frame}. Greedy matching of hip centres to each track's predicted centre, closest first."""
    scale = np.asarray(image_size, float) / max(image_size)
    tracks: list[dict[int, int]] = []
    state: list[list] = []  # per track: [time last seen, centre, velocity per second]
    for f, poses in enumerate(people):
        centres = [np.nanmean(p[0][[23, 24], :2], axis=0) * scale for p in poses]
        pairs = []
        for k, (t_last, c_last, v) in enumerate(state):
            dt = times[f] - t_last
            if dt > _PERSON_MAX_GAP_S:
                continue
            predicted = c_last + v * dt
            for j, c in enumerate(centres):
                d = float(np.hypot(*(c - predicted)))
                if d <= _PERSON_MAX_STEP + _PERSON_STEP_PER_S * dt:
                    pairs.append((d, k, j))
        used_tracks, used_poses = set(), set()
        for _, k, j in sorted(pairs):
            if k in used_tracks or j in used_poses:
                continue
            t_last, c_last, v = state[k]
            dt = max(times[f] - t_last, 1e-3)
            a = _PERSON_VELOCITY_SMOOTHING
            state[k] = [times[f], centres[j], (1 - a) * v + a * (centres[j] - c_last) / dt]
            tracks[k][f] = j
            used_tracks.add(k)
            used_poses.add(j)
        for j, c in enumerate(centres):
            if j not in used_poses and np.all(np.isfinite(c)):
                tracks.append({f: j})
                state.append([times[f], c, np.zeros(2)])
    return tracks


def extract_pose_landmarks(frames: Iterable[tuple[float, np.ndarray]], num_poses: int = 1,
                           choose=None, progress: dict | None = None) -> PoseSeries:
    """Body landmarks of the tested person through the frames.

    num_poses 1: the person MediaPipe finds. num_poses > 1 (clinic videos often show the examiner
    too): every person found is linked into tracks through the frames, and `choose` (a function
    of the list of per-track PoseSeries, returning track indices, best first) says which tracks
    are the tested person; they are merged, an earlier one winning a frame both cover. Without
    `choose`, the track seen in the most frames.

    `progress`, if given, receives the growing per-frame lists ("times", "people", "counts") and
    "image_size", so a live readout can build the series of the frames so far with
    pose_series_from_people (core/live.py)."""
    times, people, counts = [], [], []
    image_size = None
    last_ms = -1
    if progress is not None:
        progress.update(times=times, people=people, counts=counts, image_size=None)
    with pose_landmarker(num_poses) as landmarker:
        for t, rgb in frames:
            if image_size is None:
                image_size = (rgb.shape[1], rgb.shape[0])
                if progress is not None:
                    progress["image_size"] = image_size
            last_ms = _timestamps_ms(t, last_ms)
            result = landmarker.detect_for_video(_mp_image(rgb), last_ms)
            poses = [_pose_arrays(result, i) for i in range(len(result.pose_landmarks or []))]
            counts.append(len(poses))
            people.append(poses)
            times.append(t)
    if image_size is None:
        raise ValueError("no frames to analyse")
    return pose_series_from_people(times, people, counts, image_size, num_poses, choose)


def pose_series_from_people(times, people: list[list[tuple]], counts, image_size: tuple[int, int],
                            num_poses: int = 1, choose=None) -> PoseSeries:
    """The tested person's PoseSeries from the poses found frame by frame (see
    extract_pose_landmarks): the people are linked into tracks and chosen here."""
    t = np.asarray(times, dtype=float)
    n = len(t)
    landmarks = np.full((n, 33, 3), np.nan, np.float32)
    visibility = np.full((n, 33), np.nan, np.float32)
    world = np.full((n, 33, 3), np.nan, np.float32)
    counts = np.asarray(counts, np.int8)

    def series_of(track: dict[int, int]) -> PoseSeries:
        lm, vis, wd = landmarks.copy(), visibility.copy(), world.copy()
        for f, j in track.items():
            lm[f], vis[f], wd[f] = people[f][j]
        return PoseSeries(t, lm, vis, wd, image_size, people_in_view=counts)

    if num_poses <= 1:
        return series_of({f: 0 for f in range(n) if people[f]})
    tracks = _link_people(t, people, image_size)
    if not tracks:
        return series_of({})
    if choose is None:
        order = [max(range(len(tracks)), key=lambda k: len(tracks[k]))]
    else:
        order = list(choose([series_of(tr) for tr in tracks]))
    merged: dict[int, int] = {}
    for k in order:
        for f, j in tracks[k].items():
            merged.setdefault(f, j)
    return series_of(merged)
