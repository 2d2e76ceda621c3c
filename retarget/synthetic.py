"""Synthetic landmark sets from the reference head, for the tests and the benchmarks (both import it
from here, since neither may import the other).

Expressions are made in 3D on the head model (eyes closed by moving the upper lids onto the lower,
jaw opened by moving the chin contour and lower lips down), then posed and projected with the same
pinhole camera the estimator assumes.
"""
from __future__ import annotations

import time

import numpy as np

from tracking.types import FaceResult

from .face_model import FaceModel
from .head_pose import camera_matrix
from .rotation import euler_to_matrix

UPPER_TO_LOWER_LID = {37: 41, 38: 40, 78: 79, 43: 47, 44: 46, 80: 81}
RIGHT_EYE_LIDS = (37, 38, 78)
LEFT_EYE_LIDS = (43, 44, 80)


def close_eyes(points3d: np.ndarray, amount: float = 1.0, which: str = "both") -> np.ndarray:
    """Move the upper-lid points `amount` of the way onto their lower partners (and the iris top along)."""
    p = np.array(points3d, dtype=np.float64)
    lids = {"both": RIGHT_EYE_LIDS + LEFT_EYE_LIDS, "right": RIGHT_EYE_LIDS, "left": LEFT_EYE_LIDS}[which]
    for upper in lids:
        lower = UPPER_TO_LOWER_LID[upper]
        p[upper] += amount * (p[lower] - p[upper])
    return p


def open_jaw(points3d: np.ndarray, drop_cm: float = 2.0) -> np.ndarray:
    """Drop the chin contour (5-11, most at the chin), the lower lips (55-59, 65-67, 84, 85) and, a little,
    the mouth corners (48, 54, 60, 64)."""
    p = np.array(points3d, dtype=np.float64)
    jaw_share = {5: 0.35, 6: 0.6, 7: 0.85, 8: 1.0, 9: 0.85, 10: 0.6, 11: 0.35}
    for i, share in jaw_share.items():
        p[i, 1] += share * drop_cm
    for i in (56, 57, 58, 65, 66, 67):
        p[i, 1] += 0.95 * drop_cm
    for i in (55, 59, 84, 85):
        p[i, 1] += 0.6 * drop_cm
    for i in (48, 54, 60, 64):  # the mouth corners follow the jaw a little
        p[i, 1] += 0.35 * drop_cm
    return p


def project(points3d: np.ndarray, pitch: float = 0.0, yaw: float = 0.0, roll: float = 0.0,
            translation_cm=(0.0, 0.0, 60.0), frame_size=(640, 480),
            focal_length_px: float | None = None) -> np.ndarray:
    """(100, 2) pixel positions of the head posed by subject-centred Euler angles at `translation_cm`."""
    r = euler_to_matrix(pitch, yaw, roll)
    cam = np.asarray(points3d, dtype=np.float64) @ r.T + np.asarray(translation_cm, dtype=np.float64)
    k = camera_matrix(frame_size, focal_length_px)
    uvw = cam @ k.T
    return uvw[:, :2] / uvw[:, 2:3]


def face_result(points2d: np.ndarray | None, frame_index: int = 0, fps: float = 30.0,
                visibility: np.ndarray | None = None, frame_size=(640, 480),
                captured_at: float | None = None) -> FaceResult:
    """A FaceResult as the smoother would hand it over (points None = no face)."""
    has_face = points2d is not None
    return FaceResult(
        frame_index=frame_index, timestamp=frame_index / fps,
        captured_at=time.perf_counter() if captured_at is None else captured_at,
        frame_size=frame_size, has_face=has_face, detected=False,
        points=None if points2d is None else np.asarray(points2d, dtype=np.float64),
        visibility=(None if not has_face else
                    (np.ones(len(points2d)) if visibility is None else np.asarray(visibility, float))),
        face_score=0.95 if has_face else 0.0)


def interocular_cm(model: FaceModel) -> float:
    """The reference head's outer eye corners apart (36 to 45), a scale for synthetic expressions."""
    return float(np.linalg.norm(model.points[36] - model.points[45]))
