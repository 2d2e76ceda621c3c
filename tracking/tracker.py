"""ATPN-style tracking: detect once, then follow the face from its own landmarks.

With no track, the detector finds the largest face. While tracking, the next frame's region is the box
of the last landmarks (the iBUG-68 subset, as in training) enlarged by 25 % on each side, and the
detector is skipped. The model's face score decides: below the threshold the track is dropped and the
detector runs again on the same frame, so a lost face costs one frame at most.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from occface_core.backends import LandmarkBackend
from occface_core.layout import IBUG68, LEFT_EYE, RIGHT_EYE
from occface_core.types import Box, LandmarkPrediction

from occface_core.detector import FaceDetector, landmark_box_from_detection, largest

from .types import Timing


@dataclass(frozen=True)
class TrackerOptions:
    roi_margin: float = 0.25        # ATPN: landmark box enlarged by 25 % per side
    min_face_score: float = 0.7     # ATPN: below this the track is lost and the detector runs
    refine_after_detect: bool = True  # second pass from the first landmarks, on detection frames only
    min_roi_size: float = 16.0      # pixels; a collapsed ROI means the track is lost
    # Dead band (see _next_roi): twice the share of the region's size, and the turn of the eye line,
    # that the landmark box may move before it drags the region along. 0: follow every frame. Chosen on
    # bench_jitter and bench_avatar (OccFace v2.1): raw still jitter 0.53 % / 0.39 % / 0.33 % of the
    # inter-ocular distance with 0 / 0.01 / 0.03, shapes twitching on swaying faces 76 % / 87 % / 98 %.
    roi_dead_band: float = 0.01
    upright_crop: bool = True       # turn the region with the eye line, so the model sees the face upright
    roi_dead_band_deg: float = 0.7
    # Move the region on by the landmark box's last frame-to-frame motion (constant velocity), so a
    # moving face sits in the crop where a still one does: the model's points shift with the face's
    # place in the crop, and a region one frame behind made swaying faces' mouths and jaws twitch
    # (bench_avatar, OccFace v2.2: shapes twitch on 51.7 % of swaying frames without, 13.9 % with).
    predict_motion: bool = True
    # At most this much of the box's width, and this many degrees of turn, per frame: a jump of the
    # points is not a velocity, and a head that stops at once must not find its crop far ahead.
    max_predicted_step: float = 0.05
    max_predicted_turn_deg: float = 3.0
    # With no face, the detector runs on every frame for this many frames, then on every
    # `detect_every`-th: a user who stepped away costs a third of the detector's CPU (up to three
    # BlazeFace passes a frame, 8-13 ms on the 2-core machine), and is found again within that many
    # frames of coming back (67 ms at 30 fps).
    misses_before_backoff: int = 10
    detect_every: int = 3


@dataclass
class TrackStep:
    """What the tracker did with one frame."""

    prediction: LandmarkPrediction | None
    roi: Box | None
    detected: bool                  # the detector ran on this frame
    new_track: bool                 # a track started on this frame (the smoother should reset)
    timings_ms: dict[Timing, float]


class FaceTracker:
    def __init__(self, backend: LandmarkBackend, detector: FaceDetector, options: TrackerOptions | None = None):
        self.backend = backend
        self.detector = detector
        self.options = options or TrackerOptions()
        self._last_points: np.ndarray | None = None
        self._roi: Box | None = None   # the region of the last tracked frame
        self._last_box: Box | None = None  # the landmark box behind that region, for its velocity
        self.detector_calls = 0
        self.frames = 0
        self._misses = 0   # frames in a row without a face

    @property
    def tracking(self) -> bool:
        return self._last_points is not None

    def reset(self) -> None:
        self._last_points = None
        self._roi = None
        self._last_box = None

    def follow(self, points: np.ndarray) -> None:
        """Take the next region from these points (the smoothed ones) instead of the model's raw output:
        raw landmark noise would move the crop, and a moved crop feeds back into the noise."""
        if self._last_points is not None:
            self._last_points = points

    def roi_from_points(self, points: np.ndarray) -> Box:
        """The landmark box enlarged by the margin; turned with the line through the eye centres (six
        points each: steadier than two corners), so a rolled head is cropped upright and the model's
        output does not change with the roll."""
        angle = 0.0
        if self.options.upright_crop:
            (x0, y0), (x1, y1) = points[list(RIGHT_EYE)].mean(axis=0), points[list(LEFT_EYE)].mean(axis=0)
            angle = math.degrees(math.atan2(float(y1 - y0), float(x1 - x0)))
        return Box.around_points(points[IBUG68], angle).enlarged(self.options.roi_margin)

    def process(self, image: np.ndarray) -> TrackStep:
        self.frames += 1
        timings: dict[Timing, float] = {}
        if self._last_points is not None:
            roi = self._next_roi(self._last_points)
            prediction = self._predict(image, roi, timings)
            if self._accept(prediction, image):
                self._last_points, self._roi = prediction.points, roi
                return TrackStep(prediction, roi, detected=False, new_track=False, timings_ms=timings)
            self.reset()  # lost: fall through to the detector on this same frame
        if self._backing_off():
            self._misses += 1
            return TrackStep(None, None, detected=False, new_track=False, timings_ms=timings)
        step = self._detect_and_start(image, timings)
        self._misses = 0 if step.prediction is not None else self._misses + 1
        return step

    def _backing_off(self) -> bool:
        """No face for a while: skip the detector on all but every `detect_every`-th frame."""
        late = self._misses - self.options.misses_before_backoff
        return late >= 0 and late % max(self.options.detect_every, 1) != 0

    def _next_roi(self, points: np.ndarray) -> Box:
        """The landmark box enlarged, reached through a dead band of half `roi_dead_band` that drags the
        region like a rope: while the box is within it the region stays put, beyond it the region moves
        just enough to bring it back to the edge. A still face keeps its crop exactly (the model's raw
        points then see only the sensor's noise), and a moving face is followed at its own speed, a
        per cent or two off centre, never by a jump. (A hard band let the face drift in the crop and
        then jump, and the jaw and mouth points followed: swaying faces' shapes twitched.)"""
        roi = self._predicted_box(points)
        held = self._roi
        if held is None or self.options.roi_dead_band <= 0:
            return roi
        band = self.options.roi_dead_band * held.width
        (cx, cy), (hx, hy) = roi.center, held.center
        turn = (roi.angle_deg - held.angle_deg + 180.0) % 360.0 - 180.0
        distance = max(abs(cx - hx) / band, abs(cy - hy) / band, abs(roi.width - held.width) / band,
                       abs(roi.height - held.height) / band,
                       abs(turn) / self.options.roi_dead_band_deg if self.options.roi_dead_band_deg > 0 else 0.0)
        share = max(distance - 0.5, 0.0) / distance if distance > 0 else 0.0
        x, y = hx + share * (cx - hx), hy + share * (cy - hy)
        w = held.width + share * (roi.width - held.width)
        h = held.height + share * (roi.height - held.height)
        return Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2, held.angle_deg + share * turn)

    def _predicted_box(self, points: np.ndarray) -> Box:
        """The landmark box of these points moved and turned on by its change since the last frame
        (constant velocity). On a still face that change is the smoothed points' noise, which the dead
        band then absorbs; smoothing or shrinking the velocity only made the region lag a moving face
        again (bench_avatar, swaying faces: shapes twitch on 13.9 % of frames as it is, 16.5 % with the
        velocity averaged over two frames, 19.2 % with it shrunk by a quarter of the band)."""
        box = self.roi_from_points(points)
        last, self._last_box = self._last_box, box
        if last is None or not self.options.predict_motion:
            return box
        (cx, cy), (lx, ly) = box.center, last.center
        cap = self.options.max_predicted_step
        dx = float(np.clip(cx - lx, -cap * box.width, cap * box.width))
        dy = float(np.clip(cy - ly, -cap * box.width, cap * box.width))
        turn_cap = self.options.max_predicted_turn_deg
        turn = float(np.clip((box.angle_deg - last.angle_deg + 180.0) % 360.0 - 180.0, -turn_cap, turn_cap))
        return Box(box.x0 + dx, box.y0 + dy, box.x1 + dx, box.y1 + dy, box.angle_deg + turn)

    def _detect_and_start(self, image: np.ndarray, timings: dict[Timing, float]) -> TrackStep:
        t0 = time.perf_counter()
        detection = largest(self.detector.detect(image))
        timings[Timing.DETECT] = (time.perf_counter() - t0) * 1000
        self.detector_calls += 1
        if detection is None:
            return TrackStep(None, None, detected=True, new_track=False, timings_ms=timings)
        roi = landmark_box_from_detection(detection.box).enlarged(self.options.roi_margin)
        prediction = self._predict(image, roi, timings)
        if self.options.refine_after_detect and self._accept(prediction, image):
            # The detector's box only approximates the landmark box the model was trained on; one more
            # pass from the model's own landmarks puts the first frame on the tracking footing.
            roi = self.roi_from_points(prediction.points)
            prediction = self._predict(image, roi, timings)
        if not self._accept(prediction, image):
            return TrackStep(None, roi, detected=True, new_track=False, timings_ms=timings)
        self._last_points, self._roi = prediction.points, roi
        return TrackStep(prediction, roi, detected=True, new_track=True, timings_ms=timings)

    def _predict(self, image: np.ndarray, roi: Box, timings: dict[Timing, float]) -> LandmarkPrediction:
        t0 = time.perf_counter()
        prediction = self.backend.predict(image, roi)
        timings[Timing.LANDMARKS] = timings.get(Timing.LANDMARKS, 0.0) + (time.perf_counter() - t0) * 1000
        return prediction

    def _accept(self, prediction: LandmarkPrediction, image: np.ndarray) -> bool:
        if prediction.face_score < self.options.min_face_score:
            return False
        box = Box.around_points(prediction.points[IBUG68])
        if min(box.width, box.height) < self.options.min_roi_size:
            return False
        h, w = image.shape[:2]
        cx, cy = box.center
        return 0 <= cx < w and 0 <= cy < h  # a face whose centre left the frame is gone
