"""Track the tested hand in the framings clinics use: a close-up of the hand, or the standard
seated MDS-UPDRS view with the whole body in the picture, the other hand resting on the lap and
the tested hand small (often under a tenth of the picture width).

One decode of the clip, frame by frame:

1. Every POSE_EVERY_S the pose landmarker (pose full, on the downscaled frame) locates the
   person's wrists. With no person in the first POSE_GIVE_UP_S the clip is taken for a close-up
   and the pose is not asked again (close-up clips are analysed exactly as before).
2. With a person and a tested side, the hand landmarker runs on a square crop of the FILE'S OWN
   pixels around that side's wrist (its size from the body: shoulder width, torso, forearm),
   resized to CROP_INPUT_PX; the landmarks are mapped back to normalised coordinates of the whole
   picture, so the tapping angle (scale-free) and the tremor amplitude (in hand lengths) are
   computed as for a close-up. The crop moves only when the hand nears its edge (MediaPipe's
   VIDEO-mode tracking wants a steady picture). When the crop would cover most of the picture,
   or the crop finds no hand, the whole frame is used.
3. The clinician's side choice decides the hand: the pose's wrist of that side (the pose, like
   the hand landmarker, labels the person's anatomical side in a non-mirrored picture), so the
   other hand on the lap is ignored. The hand's own handedness is still recorded, so a mirrored
   selfie video is still flagged by the quality check.

Frames closer together than 0.6 / MAX_ANALYSIS_FPS s are skipped before conversion: tapping is
analysed on a 30 Hz grid (as the Islam et al. features assume) and tremor up to 8 Hz needs no
more, so a 60 fps phone clip costs what a 30 fps one does. Time always comes from each frame's pts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.movement.frames import FrameSampler
from core.movement.landmarks import (HandSeries, PoseGuide, _HandPicker, _mp_image, _timestamps_ms, hand_candidates,
                                     hand_landmarker, load_series, pose_landmarker)

POSE_EVERY_S = 0.2  # the wrist of a seated person moves little: 5 pose frames a second suffice
POSE_GIVE_UP_S = 1.5  # no person in this long: a close-up of the hand, no more pose passes
MAX_ANALYSIS_FPS = 30.0
CROP_INPUT_PX = 448  # the crop is resized to this (cubic when enlarging) before the hand landmarker: its
# own hand region then comes from more pixels than the 224 it needs, which kept finger closures clean
# on a 100 px hand where 256 lost some
CROP_HAND_LENGTHS = 2.6  # crop side in estimated hand lengths (the pose wrist is a rough guide)
CROP_MAX_FRACTION = 0.7  # a crop wider than this share of the shorter frame side: whole frame
MIN_CROP_PX = 64
CROP_HAND_EXTENTS = 2.4  # once tracked: crop side in widths of the hand's own landmark box
TRUST_TRACK_S = 1.0  # the tracked hand guides the crop until it has been lost this long
RECENTRE_FRACTION = 0.2  # move the crop when the hand centre is this share of its side off centre
MIN_SHOULDER_VISIBILITY = 0.5  # a person is "in view" when both shoulders are this visible

# BlazePose landmark indices
NOSE = 0
POSE_SHOULDER = {"left": 11, "right": 12}
POSE_ELBOW = {"left": 13, "right": 14}
POSE_WRIST = {"left": 15, "right": 16}
POSE_INDEX = {"left": 19, "right": 20}
POSE_HIP = {"left": 23, "right": 24}
OTHER = {"left": "right", "right": "left"}


@dataclass
class BodyWrists:
    """From one pose result, in pixels of the file's picture: the tested wrist, the other wrist,
    where the tested hand probably is (centre) and an estimate of the hand's length."""

    tested: np.ndarray
    other: np.ndarray
    centre: np.ndarray
    hand_length: float


def body_wrists(pose_landmarks, side: str, source_size: tuple[int, int]) -> BodyWrists | None:
    """BodyWrists from one PoseLandmarker person (list of 33 landmarks), or None if the person is
    not credibly in view (both shoulders must be visible)."""
    lm = np.array([[p.x, p.y] for p in pose_landmarks], float) * np.asarray(source_size, float)
    vis = np.array([p.visibility if p.visibility is not None else 0.0 for p in pose_landmarks], float)
    if min(vis[POSE_SHOULDER["left"]], vis[POSE_SHOULDER["right"]]) < MIN_SHOULDER_VISIBILITY:
        return None
    shoulders = np.linalg.norm(lm[POSE_SHOULDER["left"]] - lm[POSE_SHOULDER["right"]])
    down = (lm[23] + lm[24]) / 2 - (lm[11] + lm[12]) / 2  # shoulders -> hips
    torso = np.linalg.norm(down)
    # the pose model also "finds" bodies lying across a close-up of a hand: a seated person is
    # upright (the reader turns phone video upright), head above the shoulders
    if down[1] <= abs(down[0]) or lm[NOSE][1] >= (lm[11][1] + lm[12][1]) / 2:
        return None
    wrist, other = lm[POSE_WRIST[side]], lm[POSE_WRIST[OTHER[side]]]
    forearm = np.linalg.norm(wrist - lm[POSE_ELBOW[side]])
    # adult proportions: hand length ~ half the shoulder width, ~ a third of the shoulder-hip
    # distance, ~ 0.7 forearm; the largest is the one least shortened by the view
    hand_length = float(max(0.45 * shoulders, 0.35 * torso, 0.7 * forearm))
    centre = wrist + 0.5 * (lm[POSE_INDEX[side]] - wrist)  # the pose "index" point sits on the hand
    return BodyWrists(wrist, other, centre, hand_length)


class _Crop:
    """A square window on the file's picture that follows the hand with hysteresis."""

    def __init__(self, source_size: tuple[int, int]):
        self.source_size = source_size
        self.box: tuple[int, int, int] | None = None  # x0, y0, side in source pixels

    def update(self, centre: np.ndarray, side: float) -> None:
        w, h = self.source_size
        side = int(round(min(max(side, MIN_CROP_PX), w, h)))
        if self.box is not None:
            x0, y0, s = self.box
            off = np.abs(centre - (x0 + s / 2, y0 + s / 2)).max()
            if off <= RECENTRE_FRACTION * s and abs(side - s) <= 0.3 * s:
                return
        x0 = int(round(min(max(centre[0] - side / 2, 0), w - side)))
        y0 = int(round(min(max(centre[1] - side / 2, 0), h - side)))
        self.box = (x0, y0, side)

    def cut(self, source: np.ndarray) -> np.ndarray:
        import cv2

        x0, y0, s = self.box
        crop = np.ascontiguousarray(source[y0:y0 + s, x0:x0 + s])
        if s != CROP_INPUT_PX:
            crop = cv2.resize(crop, (CROP_INPUT_PX, CROP_INPUT_PX),
                              interpolation=cv2.INTER_AREA if s > CROP_INPUT_PX else cv2.INTER_CUBIC)
        return crop

    def to_image(self, lm: np.ndarray) -> np.ndarray:
        """Crop-normalised landmarks -> normalised coordinates of the whole picture."""
        x0, y0, s = self.box
        w, h = self.source_size
        out = lm.copy()
        out[:, 0] = (x0 + lm[:, 0] * s) / w
        out[:, 1] = (y0 + lm[:, 1] * s) / h
        out[:, 2] = lm[:, 2] * s / w  # MediaPipe's z is on the scale of x
        return out


def track_hand(reader, side: str | None, model: str = "full", sampler: FrameSampler | None = None,
               progress: dict | None = None) -> HandSeries:
    """Track the tested hand through an open core.media.video.VideoReader (see the module
    docstring). `sampler`, if given, wraps reader.frames() and receives the crops it analysed.
    `progress`, if given, receives the growing per-frame lists ("times", "landmarks") and
    "image_size" as they are filled, so a live readout (core/live.py) can measure the frames
    tracked so far with the same pipeline (the tracking is causal: frame k's landmarks never
    change once appended)."""
    frames = sampler if sampler is not None else reader.frames()
    source_size = reader.source_size
    nan_hand = np.full((21, 3), np.nan, dtype=np.float32)
    picker = _HandPicker(side)
    crop = _Crop(source_size)
    times, image_lms, world_lms, p_sides, counts, cropped = [], [], [], [], [], []
    image_size = None
    body: BodyWrists | None = None
    pose_on = side is not None
    ever_person = False
    last_pose_t = -np.inf
    ms = {"pose": -1, "crop": -1, "whole": -1}
    pose = hand_crop = hand_whole = None
    # the last tracked hand, in source pixels: centre of its landmarks, wrist, largest extent
    hand_centre = hand_wrist = hand_extent = None
    last_seen = -np.inf
    if progress is not None:
        progress.update(times=times, landmarks=image_lms, image_size=None)

    def detect(kind, landmarker, rgb, t):
        ms[kind] = _timestamps_ms(t, ms[kind])
        return landmarker.detect_for_video(_mp_image(rgb), ms[kind])

    try:
        for t, rgb in frames:
            if image_size is None:
                image_size = (rgb.shape[1], rgb.shape[0])
                if progress is not None:
                    progress["image_size"] = image_size
            if pose_on and t - last_pose_t >= POSE_EVERY_S:
                last_pose_t = t
                pose = pose or pose_landmarker()
                result = detect("pose", pose, rgb, t)
                found = body_wrists(result.pose_landmarks[0], side, source_size) if result.pose_landmarks else None
                if found is not None:
                    body, ever_person = found, True
                elif not ever_person and t >= POSE_GIVE_UP_S:
                    pose_on = False  # a close-up: nobody in view
                    pose.close()
                    pose = None
            guide = None
            use_crop = False
            # once the hand is tracked it places and sizes the crop itself: the pose's wrist of a
            # moving hand wanders by a hand length, and its body-based size by a third
            tracked = hand_centre is not None and t - last_seen <= TRUST_TRACK_S
            if body is not None:
                crop_side = CROP_HAND_LENGTHS * body.hand_length
                use_crop = crop_side <= CROP_MAX_FRACTION * min(source_size)
                radius = max(0.6 * crop_side, 1.5 * body.hand_length)
                tested = hand_wrist if tracked else body.tested
                guide = PoseGuide(tested / source_size, body.other / source_size, radius, source_size)
            chosen, n_hands, on_crop = None, 0, False
            if use_crop:
                hand_crop = hand_crop or hand_landmarker(model, num_hands=1)
                if tracked:
                    crop.update(hand_centre, max(CROP_HAND_EXTENTS * hand_extent, MIN_CROP_PX))
                else:
                    crop.update(body.centre, crop_side)
                patch = crop.cut(reader.source_rgb())
                candidates = hand_candidates(detect("crop", hand_crop, patch, t), side, crop.to_image)
                chosen, n_hands, on_crop = picker.pick(candidates, guide), len(candidates), True
                if chosen is not None and sampler is not None:
                    x0, y0, s = crop.box
                    sampler.add_crop(reader.source_rgb()[y0:y0 + s, x0:x0 + s], x0, y0, source_size)
            if chosen is None:
                hand_whole = hand_whole or hand_landmarker(model)
                candidates = hand_candidates(detect("whole", hand_whole, rgb, t), side)
                chosen, on_crop = picker.pick(candidates, guide), False
                n_hands = max(n_hands, len(candidates))
            times.append(t)
            counts.append(n_hands)
            cropped.append(on_crop)
            lm, world, p = chosen if chosen is not None else (nan_hand, nan_hand, np.nan)
            if chosen is not None:
                px = lm[:, :2] * source_size
                hand_centre, hand_wrist = (px.min(axis=0) + px.max(axis=0)) / 2, px[0]
                extent = float((px.max(axis=0) - px.min(axis=0)).max())
                hand_extent = extent if hand_extent is None else max(extent, 0.9 * hand_extent)
                last_seen = t
            image_lms.append(lm)
            world_lms.append(world)
            p_sides.append(p)
    finally:
        for landmarker in (pose, hand_crop, hand_whole):
            if landmarker is not None:
                landmarker.close()
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
        source_size=source_size,
        cropped=np.asarray(cropped, bool),
    )


def hand_series_for_clip(path: str | Path, side: str | None, cache_path: str | Path | None = None,
                         model: str = "full", max_side: int = 640) -> HandSeries:
    """Decode a clip and track the tested hand, or read the cached series if `cache_path` exists
    (it is written after a fresh extraction). Also keeps a key frame and a sharpness figure from
    a few sampled frames, so quality checks and drawings need no second decode."""
    from core.media.video import VideoReader

    if cache_path is not None and Path(cache_path).is_file():
        cached = load_series(cache_path)
        if isinstance(cached, HandSeries) and cached.side == side and cached.model == model:
            return cached
    with VideoReader(path, max_side=max_side, max_fps=MAX_ANALYSIS_FPS) as reader:
        sampler = FrameSampler(reader.frames())
        series = track_hand(reader, side, model, sampler)
    series.sharpness = sampler.hand_sharpness(series)
    series.key_frame = sampler.key_frame(series)
    if cache_path is not None:
        series.save_series(cache_path)
    return series
