"""Runs MediaPipe's face mesh (models ship inside the mediapipe==0.10.21 wheel) on one image.

Kept apart from the mapping to our layout so the teacher cache and the live backend share it.
"""
from __future__ import annotations

import os

import cv2
import numpy as np

from .native_logs import quiet_native_stderr

os.environ.setdefault("GLOG_minloglevel", "2")  # keep mediapipe's C++ logging off the console


class FaceMeshRunner:
    """478-point face mesh (468 + 10 iris points) in image pixels; z is scaled like x."""

    def __init__(self, min_detection_confidence: float = 0.3, video_mode: bool = False):
        """`video_mode`: MediaPipe's own tracking (the mesh seeds the next frame's region), for video."""
        with quiet_native_stderr():
            import mediapipe as mp  # imported lazily: it is slow to import and not every user needs it

            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=not video_mode, max_num_faces=1, refine_landmarks=True,
                min_detection_confidence=min_detection_confidence)
            self._mesh.process(np.zeros((64, 64, 3), np.uint8))  # start the graph while silenced
        self._first_face_pending = True

    def __call__(self, image_bgr: np.ndarray) -> np.ndarray | None:
        h, w = image_bgr.shape[:2]
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        if self._first_face_pending:
            with quiet_native_stderr():  # the graph logs a harmless notice on its first face
                result = self._mesh.process(rgb)
            self._first_face_pending = not result.multi_face_landmarks
        else:
            result = self._mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        lm = result.multi_face_landmarks[0].landmark
        return np.array([[p.x * w, p.y * h, p.z * w] for p in lm], dtype=np.float32)

    def close(self) -> None:
        self._mesh.close()
