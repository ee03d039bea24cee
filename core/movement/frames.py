"""Frame sampling for the blur check and the key frame of a movement clip.

FrameSampler passes (t, rgb) frames through unchanged and keeps a bounded, evenly spread sample of
them, so the quality check and the results page need no second decode. It knows the hand only
through landmark arrays (normalised image coordinates), so it imports nothing from the landmark
extraction that uses it.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from core.movement.landmarks import INDEX_TIP, THUMB_TIP, WRIST, HandSeries


# The outcome tests (TUG, 5xSTS, gait speed) time whole-body movements lasting seconds: 15 frames
# a second time them within a few hundredths of a second (bench/outcome_accuracy.py), and pose
# tracking of two people costs about as much per frame as the clip lasts at 30 fps. Their
# pipelines analyse frames at most this far apart, skipping frames in between.
OUTCOME_FRAME_GAP_S = 1.0 / 15.0


def thinned(frames: Iterable[tuple[float, np.ndarray]], max_gap_s: float) -> Iterator[tuple[float, np.ndarray]]:
    """Pass on as few (t, rgb) frames as keep consecutive passed frames at most `max_gap_s`
    apart (or the source's own gap, where it is longer): a frame is skipped only when the next
    one still arrives in time. 30 fps -> 15 fps, 60 -> 15, 50 -> 16.7; 25 fps and slower pass
    unchanged. Looks one frame ahead; the first and last frames always pass."""
    last_t: float | None = None
    pending: tuple[float, np.ndarray] | None = None
    for frame in frames:
        if pending is not None:
            if last_t is None or frame[0] - last_t > max_gap_s + 1e-3:
                yield pending
                last_t = pending[0]
        pending = frame
    if pending is not None:
        yield pending


class FrameSampler:
    """Passes (t, rgb) frames through unchanged and keeps at most `keep` of them, spread over the
    clip (the stride doubles when full), for the blur check and the key frame: bounded memory
    whatever the clip length.

    A tracker that analysed a frame on a crop of the full-resolution picture (a small hand in a
    whole-body view) records that crop with `add_crop` while the frame is the latest sample; the
    blur check then looks at the hand in those original pixels rather than in the downscaled frame.
    """

    def __init__(self, frames: Iterable[tuple[float, np.ndarray]], keep: int = 16):
        self._frames = frames
        self.keep = keep
        self.samples: list[tuple[int, np.ndarray]] = []  # (frame index, rgb)
        self.crops: dict[int, tuple[np.ndarray, int, int, tuple[int, int]]] = {}  # index -> crop, x0, y0, source size
        self._stride = 1
        self._index = -1

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        for i, (t, rgb) in enumerate(self._frames):
            self._index = i
            if i % self._stride == 0:
                self.samples.append((i, rgb))
                if len(self.samples) > self.keep:
                    self._stride *= 2
                    self.samples = [(j, f) for j, f in self.samples if j % self._stride == 0]
                    self.crops = {j: c for j, c in self.crops.items() if j % self._stride == 0}
            yield t, rgb

    @property
    def current_is_sample(self) -> bool:
        """True when the frame just passed on is kept in the sample."""
        return bool(self.samples) and self.samples[-1][0] == self._index

    def add_crop(self, crop: np.ndarray, x0: int, y0: int, source_size: tuple[int, int]) -> None:
        """Record the full-resolution crop (top-left x0, y0 in a frame of source_size) that the
        current frame was analysed on; only kept when the current frame is a sample."""
        if self.current_is_sample:
            self.crops[self._index] = (np.ascontiguousarray(crop), int(x0), int(y0), source_size)

    def _hand_crops(self, landmarks: np.ndarray):
        """(index, frame, hand region) for the sampled frames with a hand; the region comes from
        the full-resolution crop when the frame was analysed on one."""
        for i, rgb in self.samples:
            if i >= len(landmarks) or np.isnan(landmarks[i, WRIST, 0]):
                continue
            if i in self.crops:
                image, x0, y0, size = self.crops[i]
                px = landmarks[i, :, :2] * np.asarray(size, float) - (x0, y0)
            else:
                image, px = rgb, landmarks[i, :, :2] * (rgb.shape[1], rgb.shape[0])
            lo = np.floor(np.nanmin(px, axis=0)).astype(int)
            hi = np.ceil(np.nanmax(px, axis=0)).astype(int)
            x_lo, y_lo = np.maximum(lo, 0)
            x_hi, y_hi = np.minimum(hi, [image.shape[1], image.shape[0]])
            if x_hi - x_lo >= 8 and y_hi - y_lo >= 8:
                yield i, rgb, image[y_lo:y_hi, x_lo:x_hi]

    def hand_sharpness(self, series: HandSeries) -> float:
        """Median variance of the Laplacian over the hand region of the sampled frames (NaN if
        the hand is in none of them). Motion blur and focus blur both lower it."""
        import cv2

        values = [float(cv2.Laplacian(cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY),
                                      cv2.CV_64F).var())
                  for _, _, crop in self._hand_crops(series.landmarks)]
        return float(np.median(values)) if values else float("nan")

    def key_frame(self, series: HandSeries, max_side: int = 320) -> np.ndarray | None:
        """The sampled frame with the widest thumb-index opening (hand in view), downscaled."""
        import cv2

        lm = series.landmarks[:, :, :2] * np.asarray(series.image_size, float)
        best, best_open = None, -1.0
        for i, rgb, _ in self._hand_crops(series.landmarks):
            opening = float(np.hypot(*(lm[i, THUMB_TIP] - lm[i, INDEX_TIP])))
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
