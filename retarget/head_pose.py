"""Head pose by weighted PnP against the reference head, warm-started from the previous frame.

Camera model: a pinhole with the principal point at the frame centre and no distortion. The focal
length is the user's when given; otherwise it follows from the frame width and an assumed horizontal
field of view of 60 degrees (typical of laptop and USB webcams: f = 0.866 * width). A wrong focal length
mostly scales the estimated distance; rotation is little affected.

Which landmarks: only those that stay put with expressions -- nose, eye corners, the upper jaw contour,
brows (weak) and ears (weak, their 3D prior is coarse). Lips, lower jaw, eyelids and irises move with
expressions and are left out, so opening the mouth does not nod the head. Each point is weighted by its
visibility on top of that (weight 0 below `min_visibility`), so a hand over the face does not tilt it.
The fit is Gauss-Newton on the weighted reprojection error with Huber re-weighting, starting from the
last frame's pose; a fresh SQPnP solution is used on the first frame or when the warm start fails.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

from occface_core.layout import NUM_POINTS
from occface_core.visibility import POSE_MIN_VISIBILITY

from .face_model import FaceModel

log = logging.getLogger(__name__)

DEFAULT_HFOV_DEG = 60.0


def rigid_weights() -> np.ndarray:
    """How much each landmark may pull on the head pose, before visibility (0 = expression-driven)."""
    w = np.zeros(NUM_POINTS)
    w[[0, 1, 2, 3, 13, 14, 15, 16]] = 0.6          # upper jaw contour, near the ears
    w[17:27] = 0.3                                  # brows move with expressions a little
    w[27:31] = 1.0                                  # nose bridge
    w[31:36] = 1.0                                  # nose base
    w[[36, 39, 42, 45]] = 1.0                       # eye corners
    w[86:100] = 0.25                                # ears: coarse 3D prior
    return w


@dataclass(frozen=True)
class PoseOptions:
    focal_length_px: float | None = None
    hfov_deg: float = DEFAULT_HFOV_DEG
    min_visibility: float = POSE_MIN_VISIBILITY   # below this a point is left out (a cut-off)
    min_points: int = 6
    iterations: int = 6
    # Stop when no parameter moves more than this (radians, cm): 3e-4 changes the pose by at most 0.011°
    # and 0.03 mm from 1e-6 on the bench_avatar clips, with a fifth fewer projections a frame.
    step_tolerance: float = 3e-4
    huber_fraction: float = 0.04        # Huber threshold as a fraction of the face size in pixels
    max_error_fraction: float = 0.15    # a fit worse than this (RMS / face size) is rejected


@dataclass(frozen=True)
class PoseFit:
    """One solution: Rodrigues rvec, translation in model units (cm), rotation matrix, quality."""

    rvec: np.ndarray
    tvec: np.ndarray
    rotation: np.ndarray
    rms_px: float
    points_used: int
    camera_matrix: np.ndarray


def camera_matrix(frame_size: tuple[int, int], focal_length_px: float | None = None,
                  hfov_deg: float = DEFAULT_HFOV_DEG) -> np.ndarray:
    w, h = frame_size
    f = float(focal_length_px) if focal_length_px else w / (2.0 * math.tan(math.radians(hfov_deg) / 2.0))
    return np.array([[f, 0.0, w / 2.0], [0.0, f, h / 2.0], [0.0, 0.0, 1.0]])


class HeadPoseEstimator:
    """Weighted, warm-started PnP of the 100 smoothed landmarks against a `FaceModel`."""

    def __init__(self, model: FaceModel, options: PoseOptions | None = None):
        self.model = model
        self.options = options or PoseOptions()
        self._base_weights = rigid_weights()
        self._last: PoseFit | None = None

    def reset(self) -> None:
        """Forget the warm start (after the face was lost)."""
        self._last = None

    def estimate(self, points: np.ndarray, visibility: np.ndarray | None,
                 frame_size: tuple[int, int]) -> PoseFit | None:
        opts = self.options
        pts = np.asarray(points, dtype=np.float64).reshape(NUM_POINTS, 2)
        vis = np.ones(NUM_POINTS) if visibility is None else np.asarray(visibility, dtype=np.float64)
        weights = self._base_weights * np.where(vis >= opts.min_visibility, vis, 0.0)
        weights[~np.isfinite(pts).all(axis=1)] = 0.0
        used = np.flatnonzero(weights > 0)
        if used.size < opts.min_points:
            return None
        k = camera_matrix(frame_size, opts.focal_length_px, opts.hfov_deg)
        obj, img, w = self.model.points[used], pts[used], weights[used]
        face_px = max(float(np.ptp(img[:, 0])), float(np.ptp(img[:, 1])), 1.0)

        fit = None
        if self._last is not None and np.array_equal(self._last.camera_matrix, k):
            fit = self._refine(obj, img, w, self._last.rvec, self._last.tvec, k, face_px)
        if fit is None or fit.rms_px > opts.max_error_fraction * face_px:
            fit = self._cold_start(obj, img, w, k, face_px) or fit
        if fit is None or fit.rms_px > opts.max_error_fraction * face_px or fit.tvec[2] <= 0:
            self._last = None
            return None
        self._last = fit
        return fit

    def _cold_start(self, obj, img, w, k, face_px) -> PoseFit | None:
        strong = w >= 0.5 * w.max()
        o, i = (obj[strong], img[strong]) if strong.sum() >= self.options.min_points else (obj, img)
        try:
            ok, rvec, tvec = cv2.solvePnP(o.reshape(-1, 1, 3), i.reshape(-1, 1, 2), k, None,
                                          flags=cv2.SOLVEPNP_SQPNP)
        except cv2.error as exc:
            log.debug("SQPnP failed: %s", exc)
            return None
        if not ok:
            return None
        return self._refine(obj, img, w, rvec.ravel(), tvec.ravel(), k, face_px)

    def _refine(self, obj, img, w, rvec, tvec, k, face_px) -> PoseFit | None:
        """Gauss-Newton with Huber weights on the weighted reprojection residuals (6 unknowns)."""
        params = np.concatenate([np.asarray(rvec, float).ravel(), np.asarray(tvec, float).ravel()])
        huber = self.options.huber_fraction * face_px
        lam = 1e-6
        for _ in range(self.options.iterations):
            proj, jac = cv2.projectPoints(obj, params[:3], params[3:], k, None)
            r = (proj.reshape(-1, 2) - img)
            dist = np.linalg.norm(r, axis=1)
            robust = np.where(dist <= huber, 1.0, huber / np.maximum(dist, 1e-9))
            ww = np.repeat(w * robust, 2)
            j = jac[:, :6]
            jw = j * ww[:, None]
            h = j.T @ jw + lam * np.eye(6)
            g = jw.T @ r.ravel()
            try:
                step = np.linalg.solve(h, -g)
            except np.linalg.LinAlgError:
                return None
            params += step
            if np.abs(step).max() < self.options.step_tolerance:
                break
        if not np.isfinite(params).all():
            return None
        proj, _ = cv2.projectPoints(obj, params[:3], params[3:], k, None)
        err = np.linalg.norm(proj.reshape(-1, 2) - img, axis=1)
        rms = float(np.sqrt(np.sum(w * err ** 2) / np.sum(w)))
        rot, _ = cv2.Rodrigues(params[:3])
        return PoseFit(rvec=params[:3].copy(), tvec=params[3:].copy(), rotation=rot, rms_px=rms,
                       points_used=int(w.size), camera_matrix=k)
