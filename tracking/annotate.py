"""Drawing the tracking result over a frame, shared by the recorder and the GUI.

Visible points are yellow, occluded points blue; the ROI is green while tracking and orange on a
frame where the detector ran. Head axes and blendshape bars are drawn when the retarget stage added
them to the result.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from occface_core.layout import CONTOURS

from .types import FaceResult

YELLOW, BLUE, GREEN, ORANGE, WHITE, GREY = (0, 255, 255), (255, 120, 0), (80, 220, 80), (0, 160, 255), (255, 255, 255), (140, 140, 140)
AXIS_COLOURS = ((0, 0, 255), (0, 255, 0), (255, 0, 0))  # x red, y green, z blue


@dataclass(frozen=True)
class OverlayOptions:
    points: bool = True
    contours: bool = False
    roi: bool = True
    status: bool = True
    head_axes: bool = True
    blendshapes: bool = True
    visible_threshold: float = 0.5
    blendshape_bars: tuple[str, ...] = ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthSmileLeft",
                                        "mouthSmileRight", "browInnerUp", "mouthPucker", "mouthFunnel")


def annotate(image: np.ndarray, result: FaceResult, fps: float | None = None,
             options: OverlayOptions | None = None) -> np.ndarray:
    """Return a copy of `image` with the overlays drawn."""
    opts = options or OverlayOptions()
    out = image.copy()
    scale = max(out.shape[0] / 480, 0.5)
    if result.has_face and result.points is not None:
        pts = result.points
        vis = result.visibility if result.visibility is not None else np.ones(len(pts))
        if opts.contours:
            for contour in CONTOURS:
                poly = pts[list(contour.indices)].astype(np.int32)
                cv2.polylines(out, [poly], contour.closed, GREY, 1, cv2.LINE_AA)
        if opts.points:
            radius = max(1, int(round(2 * scale)))
            for (x, y), v in zip(pts, vis):
                cv2.circle(out, (int(round(x)), int(round(y))), radius,
                           YELLOW if v >= opts.visible_threshold else BLUE, -1, cv2.LINE_AA)
        if opts.head_axes:
            _draw_head_axes(out, result)
    if opts.roi and result.roi is not None:
        r = result.roi
        cv2.rectangle(out, (int(r.x0), int(r.y0)), (int(r.x1), int(r.y1)), ORANGE if result.detected else GREEN,
                      max(1, int(scale)), cv2.LINE_AA)
    if opts.status:
        state = "DETECT" if result.detected else "TRACK"
        if not result.has_face:
            state = "NO FACE"
        text = f"{state}  score {result.face_score:.2f}"
        if fps is not None:
            text += f"  {fps:.0f} fps"
        _label(out, text, (8, int(22 * scale)), scale)
    if opts.blendshapes:
        _draw_blendshape_bars(out, result, opts.blendshape_bars, scale)
    return out


def _label(img: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> None:
    font_scale = 0.55 * scale
    cv2.putText(img, text, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, WHITE, 1, cv2.LINE_AA)


def _draw_head_axes(img: np.ndarray, result: FaceResult) -> None:
    pose = result.extras.get("head_pose")
    if pose is None or result.points is None:
        return
    rotation = _rotation_matrix(pose)
    if rotation is None:
        return
    origin = result.points[30]  # nose tip
    length = 0.5 * float(np.linalg.norm(result.points[45] - result.points[36]))
    for axis, colour in zip(np.eye(3), AXIS_COLOURS):
        d = rotation @ axis
        end = origin + length * d[:2]
        cv2.arrowedLine(img, tuple(np.round(origin).astype(int)), tuple(np.round(end).astype(int)), colour, 2,
                        cv2.LINE_AA, tipLength=0.2)


def _rotation_matrix(pose) -> np.ndarray | None:
    """Rotation (camera from head) of a head pose with a unit quaternion (x, y, z, w)."""
    quat = getattr(pose, "quaternion", None)
    if quat is None:
        return None
    x, y, z, w = (float(q) for q in quat)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _draw_blendshape_bars(img: np.ndarray, result: FaceResult, names: tuple[str, ...], scale: float) -> None:
    shapes = result.extras.get("blendshapes")
    if not shapes:
        return
    h, w = img.shape[:2]
    bar_w, row_h = int(90 * scale), int(16 * scale)
    x0 = w - bar_w - int(120 * scale)
    y = int(20 * scale)
    for name in names:
        if name not in shapes:
            continue
        value = float(np.clip(shapes[name], 0.0, 1.0))
        cv2.rectangle(img, (x0, y - row_h + 4), (x0 + bar_w, y), (40, 40, 40), -1)
        cv2.rectangle(img, (x0, y - row_h + 4), (x0 + int(bar_w * value), y), ORANGE, -1)
        cv2.putText(img, name, (x0 + bar_w + 4, y - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.38 * scale, WHITE, 1, cv2.LINE_AA)
        y += row_h
