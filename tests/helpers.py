"""Fakes and small builders shared by the tests (no shared data, no network)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from occface_core.layout import NUM_POINTS
from occface_core.types import Box, LandmarkPrediction
from occface_core.types import Detection


def face_points_in(box: Box) -> np.ndarray:
    """100 points spread over `box` (the first 68 span it exactly, as a landmark box does)."""
    rng = np.random.default_rng(0)
    unit = rng.uniform(0, 1, size=(NUM_POINTS, 2))
    unit[0], unit[1] = [0, 0], [1, 1]
    unit[36:42, 0], unit[42:48, 0] = np.linspace(0.2, 0.4, 6), np.linspace(0.6, 0.8, 6)
    unit[36:48, 1] = 0.35                               # both eyes on one level: an upright face
    return np.array([box.x0, box.y0]) + unit * [box.width, box.height]


class FakeBackend:
    """Returns a face at a scripted place and score per call; records the ROIs it was given."""

    name = "fake"

    def __init__(self, face_box: Box, scores: list[float] | None = None):
        self.face_box = face_box
        self.scores = list(scores or [])
        self.rois: list[Box] = []

    def predict(self, frame, roi: Box) -> LandmarkPrediction:
        self.rois.append(roi)
        score = self.scores.pop(0) if self.scores else 0.95
        return LandmarkPrediction(face_points_in(self.face_box).astype(np.float32),
                                  np.ones(NUM_POINTS, np.float32), score)

    def close(self) -> None:
        pass


class FakeDetector:
    def __init__(self, box: Box | None):
        self.box = box
        self.calls = 0

    def detect(self, image) -> list[Detection]:
        self.calls += 1
        return [] if self.box is None else [Detection(self.box, 0.9)]

    def close(self) -> None:
        pass


def video_frame_count(path: Path) -> int:
    """Frames a plain OpenCV read loop gets from a video file (0 for one that does not open)."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n
