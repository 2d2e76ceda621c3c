"""Drawing the tracking result over a frame, shared by the recorder and the GUI.

Visible points are yellow, occluded points blue; the ROI is green while tracking and orange on a
frame where the detector ran. Head axes and blendshape bars are drawn when the retarget stage added
them to the result; the bars and their labels sit on a dark see-through panel, readable on any wall.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from occface_core.layout import CONTOURS
from retarget.rotation import quat_to_matrix
from tracking.types import FaceResult
from occface_core.visibility import VISIBLE

YELLOW, BLUE, GREEN, ORANGE, WHITE, GREY = (0, 255, 255), (255, 120, 0), (80, 220, 80), (0, 160, 255), (255, 255, 255), (140, 140, 140)
AXIS_COLOURS = ((0, 0, 255), (0, 255, 0), (255, 0, 0))  # x red, y green, z blue
FLIP_X = np.diag([-1.0, 1.0, 1.0])


@dataclass(frozen=True)
class OverlayOptions:
    points: bool = True
    contours: bool = False
    roi: bool = True
    status: bool = True
    head_axes: bool = True
    blendshapes: bool = True
    visible_threshold: float = VISIBLE   # points at or above it are drawn yellow, the others blue
    blendshape_bars: tuple[str, ...] = ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthSmileLeft",
                                        "mouthSmileRight", "browInnerUp", "mouthPucker", "mouthFunnel")


class OverlayRenderer:
    """Draws the overlays in place on a BGR or BGRA image.

    Every millisecond spent drawing is taken from tracking on a 2-core CPU, so the landmarks are drawn
    with one batched call per colour (each dot a zero-length anti-aliased segment as wide as the
    circle), the contours with one call, and the status label — whose text repeats from frame to frame
    — is rendered once per distinct text and blended in. The recorder and the GUI each hold one.
    """

    def __init__(self) -> None:
        self._labels = _LabelCache()

    def draw(self, canvas: np.ndarray, result: FaceResult, fps: float | None = None,
             options: OverlayOptions | None = None) -> None:
        opts = options or OverlayOptions()
        scale = max(canvas.shape[0] / 480, 0.5)
        if result.has_face and result.points is not None:
            if opts.contours:
                _draw_contours(canvas, result.points)
            if opts.points:
                _draw_points(canvas, result.points, result.visibility, opts.visible_threshold, scale)
            if opts.head_axes:
                _draw_head_axes(canvas, result)
        if opts.roi and result.roi is not None:
            corners = np.round(result.roi.corners()).astype(np.int32)   # turned with the face's roll
            cv2.polylines(canvas, [corners], True, ORANGE if result.detected else GREEN, max(1, int(scale)),
                          cv2.LINE_AA)
        if opts.status:
            self._labels.draw(canvas, status_text(result, fps), (8, int(22 * scale)), scale)
        if opts.blendshapes:
            _draw_blendshape_bars(canvas, result, opts.blendshape_bars, scale)


def annotate(image: np.ndarray, result: FaceResult, fps: float | None = None,
             options: OverlayOptions | None = None, renderer: OverlayRenderer | None = None) -> np.ndarray:
    """Return a copy of `image` with the overlays drawn."""
    out = image.copy()
    (renderer or OverlayRenderer()).draw(out, result, fps, options)
    return out


def status_text(result: FaceResult, fps: float | None) -> str:
    """The status line: tracking state, face score and frames per second."""
    state = "DETECT" if result.detected else "TRACK"
    if not result.has_face:
        state = "NO FACE"
    text = f"{state}  score {result.face_score:.2f}"
    if fps is not None:
        text += f"  {fps:.0f} fps"
    return text


_OPEN_CONTOURS = [list(c.indices) for c in CONTOURS if not c.closed]
_CLOSED_CONTOURS = [list(c.indices) for c in CONTOURS if c.closed]


def _draw_contours(img: np.ndarray, points: np.ndarray) -> None:
    pts = np.asarray(points).astype(np.int32)
    for groups, closed in ((_OPEN_CONTOURS, False), (_CLOSED_CONTOURS, True)):
        cv2.polylines(img, [pts[g] for g in groups], closed, GREY, 1, cv2.LINE_AA)


def _draw_points(img: np.ndarray, points: np.ndarray, visibility: np.ndarray | None, threshold: float,
                 scale: float) -> None:
    radius = max(1, int(round(2 * scale)))
    pts = np.round(np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 2)
    vis = np.ones(len(pts)) if visibility is None else np.asarray(visibility).reshape(-1)
    visible = vis >= threshold
    for mask, colour in ((visible, YELLOW), (~visible, BLUE)):
        if mask.any():
            cv2.polylines(img, np.repeat(pts[mask][:, None, :], 2, axis=1), False, colour, 2 * radius, cv2.LINE_AA)


class _LabelCache:
    """White text with a black outline, rendered once per (text, scale) as two coverage masks."""

    def __init__(self, size: int = 128):
        self._size = size
        self._masks: OrderedDict[tuple[str, float], tuple[np.ndarray, np.ndarray, int, int]] = OrderedDict()

    def draw(self, img: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> None:
        key = (text, scale)
        entry = self._masks.get(key)
        if entry is None:
            entry = self._masks[key] = self._render(text, scale)
            if len(self._masks) > self._size:
                self._masks.popitem(last=False)
        else:
            self._masks.move_to_end(key)
        outline, fill, dx, dy = entry
        x0, y0 = origin[0] - dx, origin[1] - dy
        h, w = outline.shape
        ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x0 + w, img.shape[1]), min(y0 + h, img.shape[0])
        if ix0 >= ix1 or iy0 >= iy1:
            return
        region = img[iy0:iy1, ix0:ix1, :3].astype(np.float32)
        region *= 1.0 - outline[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0, None]           # the black outline
        region += (255.0 - region) * fill[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0, None]  # white text over it
        img[iy0:iy1, ix0:ix1, :3] = np.rint(region).astype(np.uint8)

    @staticmethod
    def _render(text: str, scale: float) -> tuple[np.ndarray, np.ndarray, int, int]:
        font_scale = 0.55 * scale
        (w, h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 3)
        pad = 4
        org = (pad, pad + h)
        outline = np.zeros((h + baseline + 2 * pad, w + 2 * pad), np.uint8)
        fill = np.zeros_like(outline)
        cv2.putText(outline, text, org, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 255, 3, cv2.LINE_AA)
        cv2.putText(fill, text, org, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 255, 1, cv2.LINE_AA)
        return outline.astype(np.float32) / 255.0, fill.astype(np.float32) / 255.0, org[0], org[1]


def _draw_head_axes(img: np.ndarray, result: FaceResult) -> None:
    pose = result.head_pose
    if pose is None or result.points is None:
        return
    rotation = quat_to_matrix(pose.quaternion)  # camera from head
    if result.pose_mirrored:
        # the pose is of the mirrored face (--mirror); the image drawn on is not mirrored
        rotation = FLIP_X @ rotation @ FLIP_X
    origin = result.points[30]  # nose tip
    length = 0.5 * float(np.linalg.norm(result.points[45] - result.points[36]))
    for axis, colour in zip(np.eye(3), AXIS_COLOURS):
        d = rotation @ axis
        end = origin + length * d[:2]
        cv2.arrowedLine(img, tuple(np.round(origin).astype(int)), tuple(np.round(end).astype(int)), colour, 2,
                        cv2.LINE_AA, tipLength=0.2)


BAR_BACKING_KEEP = 0.35  # share of the picture kept behind the shape bars: a white wall becomes dark grey


@lru_cache(maxsize=32)
def _label_width(names: tuple[str, ...], font_scale: float) -> int:
    return max(cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)[0][0] for name in names)


def _darken(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, keep: float) -> None:
    """Scale the colour of a rectangle toward black (one OpenCV call; the alpha of BGRA is left alone)."""
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, img.shape[1]), min(y1, img.shape[0])
    if x0 < x1 and y0 < y1:
        img[y0:y1, x0:x1, :3] = cv2.convertScaleAbs(img[y0:y1, x0:x1, :3], alpha=keep)


def _draw_blendshape_bars(img: np.ndarray, result: FaceResult, names: tuple[str, ...], scale: float) -> None:
    shapes = result.blendshapes
    if not shapes:
        return
    shown = tuple(name for name in names if name in shapes)
    if not shown:
        return
    w = img.shape[1]
    bar_w, row_h, pad = int(90 * scale), int(16 * scale), int(4 * scale)
    font_scale = 0.38 * scale
    x0 = w - bar_w - int(120 * scale)
    y = int(20 * scale)
    # The labels are white: a dark see-through panel under bars and labels keeps them readable on a
    # bright background (white text alone vanishes on a white wall).
    label_x = x0 + bar_w + 4
    _darken(img, x0 - pad, y - row_h + 4 - pad, label_x + _label_width(shown, font_scale) + pad,
            y + (len(shown) - 1) * row_h + pad, BAR_BACKING_KEEP)
    for name in shown:
        value = float(np.clip(shapes[name], 0.0, 1.0))
        cv2.rectangle(img, (x0, y - row_h + 4), (x0 + bar_w, y), (40, 40, 40), -1)
        cv2.rectangle(img, (x0, y - row_h + 4), (x0 + int(bar_w * value), y), ORANGE, -1)
        cv2.putText(img, name, (label_x, y - 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, WHITE, 1, cv2.LINE_AA)
        y += row_h
