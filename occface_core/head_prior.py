"""A 3D mean head in the 100-point layout: the face from MediaPipe's mesh geometry, the ears from anthropometry.

Axes: x towards the image right of a frontal face (the subject's left), y down, z away from the camera;
units are centimetres, with the outer eye corners 9 cm apart (a typical adult exocanthion width).

The face part is `mean_mesh478`, the average of MediaPipe face meshes over frontal training crops after
similarity alignment (written by `python -m occface_core.training.fit_mediapipe_map`); the MediaPipe wheel does
not ship its canonical face model, so we rebuild an equivalent from its own output. The ears are not
covered by the mesh: they are placed from adult anthropometric averages relative to the face (head
breadth at the tragion about 14.5 cm, ear length about 6.2 cm), which is coarse, so training gives
ear points from this prior a lower weight.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .layout import NUM_POINTS

DATA_DIR = Path(__file__).resolve().parent / "data"
MAP_FILE = DATA_DIR / "mediapipe_map.json"

# Ear landmarks relative to the tragion, in cm, for the subject's LEFT ear (x positive = lateral).
# Order: superaurale, postaurale, subaurale, otobasion inferius, tragion, otobasion superius, concha.
_LEFT_EAR_FROM_TRAGION = np.array([
    [1.2, -3.3, 1.6],
    [1.6, -0.4, 3.0],
    [0.8, 2.9, 1.0],
    [0.2, 2.0, 0.3],
    [0.0, 0.0, 0.0],
    [0.3, -1.8, 0.4],
    [0.4, -0.3, 1.3],
])
# Outward surface direction of the ear (lateral and a little forward), used for self-occlusion.
LEFT_EAR_NORMAL = np.array([0.95, 0.0, -0.3]) / np.linalg.norm([0.95, 0.0, -0.3])


def ear_points(eye_right_outer: np.ndarray, eye_left_outer: np.ndarray) -> np.ndarray:
    """(14, 3) ear points, right ear then left, placed relative to the outer eye corners (cm frame)."""
    mid = (eye_right_outer + eye_left_outer) / 2
    # Tragion: 7.25 cm lateral of the midline, 2 cm below and 7.5 cm behind the eye corners.
    left_tragion = mid + np.array([7.25, 2.0, 7.5])
    left = left_tragion + _LEFT_EAR_FROM_TRAGION
    right = left * np.array([-1.0, 1.0, 1.0]) + np.array([2 * mid[0], 0.0, 0.0])
    return np.concatenate([right, left], axis=0)


@lru_cache(maxsize=1)
def load_map() -> dict:
    """The fitted MediaPipe→layout map and the mean mesh (see fit_mediapipe_map)."""
    if not MAP_FILE.is_file():
        raise FileNotFoundError(f"MediaPipe layout map missing: {MAP_FILE} (run python -m occface_core.training.fit_mediapipe_map)")
    return json.loads(MAP_FILE.read_text())


@lru_cache(maxsize=1)
def mean_mesh478() -> np.ndarray:
    """(478, 3) mean mesh in cm (read-only)."""
    mesh = np.asarray(load_map()["mean_mesh478"], dtype=np.float64)
    mesh.setflags(write=False)
    return mesh


@lru_cache(maxsize=1)
def _vertex_weights() -> tuple[np.ndarray, np.ndarray]:
    """The fitted map as a (100, 478) weight matrix and the mask of the layout points it covers."""
    weights = np.zeros((NUM_POINTS, 478))
    for key, pairs in load_map()["points"].items():
        for v, w in pairs:
            weights[int(key), v] = w
    covered = weights.any(axis=1)
    weights.setflags(write=False)
    covered.setflags(write=False)
    return weights, covered


def layout_from_mesh3d(mesh: np.ndarray) -> np.ndarray:
    """Apply the fitted vertex weights to a (478, 3) mesh; returns (100, 3) with NaN where uncovered."""
    weights, covered = _vertex_weights()
    out = weights @ np.asarray(mesh, dtype=np.float64)[:478]
    out[~covered] = np.nan
    return out


@lru_cache(maxsize=1)
def _mean_face() -> np.ndarray:
    face = layout_from_mesh3d(mean_mesh478())
    ears = ear_points(face[36], face[45])
    face[86:100] = ears
    face.setflags(write=False)
    return face


def mean_face_3d() -> np.ndarray:
    """(100, 3) mean head in the layout, cm (read-only)."""
    return _mean_face()


def __getattr__(name: str):
    # MEAN_FACE_3D reads the fitted map on first use rather than at import time.
    if name == "MEAN_FACE_3D":
        return _mean_face()
    raise AttributeError(name)
