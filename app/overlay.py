"""The view's overlays: `tracking.annotate.annotate`, with the landmark dots drawn in one batched call.

annotate() draws each of the 100 dots with its own cv2.circle call (about 1.5 ms a frame on a 2-core
CPU, most of the GUI thread's drawing time). Here the dots are zero-length anti-aliased segments of
the same diameter and colours, drawn with one cv2.polylines call per colour (about 0.4 ms), so the
view looks like the recordings while leaving the CPU to tracking. Everything else is annotate's own.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from tracking import annotate as _annotate
from tracking.annotate import BLUE, YELLOW, OverlayOptions, annotate
from tracking.types import FaceResult


def draw_overlays(image: np.ndarray, result: FaceResult, fps: float | None, options: OverlayOptions) -> np.ndarray:
    """A copy of `image` with the overlays `options` asks for; same look as annotate()."""
    fast_points = options.points and result.has_face and result.points is not None
    draw_axes_here = fast_points and options.head_axes and hasattr(_annotate, "_draw_head_axes")
    if not fast_points:
        return annotate(image, result, fps, options)
    out = annotate(image, result, fps, dataclasses.replace(options, points=False,
                                                           head_axes=options.head_axes and not draw_axes_here))
    draw_points(out, result.points, result.visibility, options.visible_threshold)
    if draw_axes_here:
        _annotate._draw_head_axes(out, result)  # over the dots, as annotate() orders them
    return out


def draw_points(img: np.ndarray, points: np.ndarray, visibility: np.ndarray | None, threshold: float) -> None:
    """Filled dots (visible yellow, occluded blue) with annotate()'s radius, in place."""
    scale = max(img.shape[0] / 480, 0.5)
    radius = max(1, int(round(2 * scale)))
    pts = np.round(np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 2)
    vis = np.ones(len(pts)) if visibility is None else np.asarray(visibility).reshape(-1)
    visible = vis >= threshold
    for mask, colour in ((visible, YELLOW), (~visible, BLUE)):
        if mask.any():
            segments = list(np.repeat(pts[mask][:, None, :], 2, axis=1).reshape(-1, 2, 1, 2))
            cv2.polylines(img, segments, False, colour, 2 * radius, cv2.LINE_AA)
