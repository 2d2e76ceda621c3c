"""Face detection with MediaPipe BlazeFace (its model ships inside the mediapipe==0.10.21 wheel).

The detector only starts a track; after that the tracker follows the face from its own landmarks.
Detectors are pluggable: anything with `detect(image) -> list[Detection]` and `close()` works.
"""
from __future__ import annotations

import os
from typing import Protocol

import cv2
import numpy as np

from .native_logs import quiet_native_stderr
from .types import Box, Detection

os.environ.setdefault("GLOG_minloglevel", "2")


class FaceDetector(Protocol):
    def detect(self, image: np.ndarray) -> list[Detection]: ...

    def close(self) -> None: ...


class BlazeFaceDetector:
    """BlazeFace, both models of the wheel by default: the short-range one first (faces within about
    2 m: a webcam user; it found a close frontal face at 0.90 where the full-range one found nothing
    for 49 frames), then the full-range one when the first finds no face (people farther away).

    When neither finds a face, the short-range model tries once more with the frame inside a black
    border of `border` times its longer side on each side, so the face is seen at half the scale. On the
    occluded val copy's 224-px face crops, where the face fills the frame, it found 32 of the 47
    faces that both models missed, and OccFace answered on 30 of them (mostly faces turned 60-87
    degrees behind an occluder; a frontal face that fills the frame is found without it)."""

    def __init__(self, min_score: float = 0.5, models: tuple[str, ...] = ("short", "full"), border: float = 0.5):
        unknown = set(models) - {"short", "full"}
        if unknown or not models:
            raise ValueError(f"BlazeFace models are 'short' and 'full', not {sorted(unknown) or 'none'}")
        self.border = border
        with quiet_native_stderr():
            import mediapipe as mp

            self._detectors = [mp.solutions.face_detection.FaceDetection(
                model_selection=1 if name == "full" else 0, min_detection_confidence=min_score) for name in models]
            for detector in self._detectors:
                detector.process(np.zeros((64, 64, 3), np.uint8))  # start the graphs while silenced

    def detect(self, image: np.ndarray) -> list[Detection]:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        for detector in self._detectors:
            detections = self._detections(detector.process(rgb), image.shape[:2])
            if detections:
                return detections
        if self.border <= 0:
            return []
        pad = int(round(self.border * max(image.shape[:2])))
        framed = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        detections = self._detections(self._detectors[0].process(framed), framed.shape[:2])
        return [Detection(box=Box(d.box.x0 - pad, d.box.y0 - pad, d.box.x1 - pad, d.box.y1 - pad), score=d.score)
                for d in detections]

    @staticmethod
    def _detections(result, shape: tuple[int, int]) -> list[Detection]:
        h, w = shape
        detections = []
        for det in result.detections or []:
            rel = det.location_data.relative_bounding_box
            box = Box(rel.xmin * w, rel.ymin * h, (rel.xmin + rel.width) * w, (rel.ymin + rel.height) * h)
            detections.append(Detection(box=box, score=float(det.score[0])))
        return detections

    def close(self) -> None:
        for detector in self._detectors:
            detector.close()


# Where the box of the 68 landmarks sits relative to a BlazeFace box (medians over 366 helen/afw train
# crops): 9.4 % of the height lower, 0.90 of the width and 0.88 of the height. The tracker's ROI is
# the landmark box enlarged, so a detection is first turned into the landmark box it implies.
_LANDMARK_BOX_SHIFT_Y, _LANDMARK_BOX_SCALE_W, _LANDMARK_BOX_SCALE_H = 0.094, 0.904, 0.884


def landmark_box_from_detection(box: Box) -> Box:
    cx, cy = box.center
    cy += _LANDMARK_BOX_SHIFT_Y * box.height
    hw, hh = box.width * _LANDMARK_BOX_SCALE_W / 2, box.height * _LANDMARK_BOX_SCALE_H / 2
    return Box(cx - hw, cy - hh, cx + hw, cy + hh)


def largest(detections: list[Detection]) -> Detection | None:
    """One face is tracked: the largest at detection time."""
    return max(detections, key=lambda d: d.box.area, default=None)
