"""The 3D reference head used by pose and blendshapes, built from the lead's mean face.

`occface_core.head_prior.MEAN_FACE_3D` is in centimetres with x toward the subject's left (the image
right of an unmirrored frontal face), y down and z away from the camera -- checked: the right outer eye
corner (36) has x < 0 and the left one (45) x > 0, the chin (8) has the largest y and the nose tip (30)
the smallest z. Those are the OpenCV camera axes for a face looking straight into the camera, so the
identity rotation means "facing the camera". We symmetrise it with the layout's mirror permutation (a
mean face should have no preferred side, and an asymmetric reference would read as a constant
left/right expression) and move the origin to the top of the nose bridge (iBUG 27).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occface_core.layout import MIRROR, NUM_POINTS

ORIGIN_INDEX = 27


@dataclass(frozen=True)
class FaceModel:
    """points: (100, 3) centimetres, head frame (x subject's left, y down, z back), read-only."""

    points: np.ndarray


def symmetrise(points: np.ndarray) -> np.ndarray:
    """Average a head with its mirror image (x negated, left/right points swapped)."""
    p = np.asarray(points, dtype=np.float64)
    mirrored = p[MIRROR] * np.array([-1.0, 1.0, 1.0])
    return (p + mirrored) / 2


def load_face_model() -> FaceModel:
    """The symmetrised mean head from occface_core.head_prior, origin at the nose-bridge top."""
    from occface_core.head_prior import MEAN_FACE_3D  # the lead's prior; read lazily (it loads a file)

    raw = np.asarray(MEAN_FACE_3D, dtype=np.float64)
    if raw.shape != (NUM_POINTS, 3) or not np.isfinite(raw).all():
        raise ValueError(f"MEAN_FACE_3D must be a finite ({NUM_POINTS}, 3) array, got {raw.shape}")
    if not raw[36, 0] < raw[45, 0]:
        raw = raw * np.array([-1.0, 1.0, 1.0])  # defensive: keep x toward the subject's left
    sym = symmetrise(raw)
    sym -= sym[ORIGIN_INDEX]
    sym.setflags(write=False)
    return FaceModel(points=sym)
