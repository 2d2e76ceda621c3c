"""The MediaPipe face-mesh baseline behind the landmark-backend interface.

It is the reference every later model is compared with and the teacher for training. MediaPipe's
legacy face mesh gives no presence score in this mode, so the face score is 1 when a mesh was
found in the crop and 0 otherwise.
"""
from __future__ import annotations

import numpy as np

from ..crop import crop_square
from ..layout import NUM_POINTS
from ..mediapipe_map import mesh_to_layout
from ..mesh_runner import FaceMeshRunner
from ..types import Box, LandmarkPrediction

CROP_SIZE = 256


class MediaPipeMeshBackend:
    name = "mediapipe"

    def __init__(self) -> None:
        self._runner = FaceMeshRunner()

    def predict(self, frame: np.ndarray, roi: Box) -> LandmarkPrediction:
        crop, transform = crop_square(frame, roi, CROP_SIZE)
        mesh = self._runner(crop)
        if mesh is None:
            centre = np.tile(np.array(roi.center, dtype=np.float32), (NUM_POINTS, 1))
            return LandmarkPrediction(centre, np.zeros(NUM_POINTS, np.float32), 0.0)
        points, visibility, _ = mesh_to_layout(mesh)
        return LandmarkPrediction(transform.to_frame(points).astype(np.float32), visibility, 1.0)

    def close(self) -> None:
        self._runner.close()
