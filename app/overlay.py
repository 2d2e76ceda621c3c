"""The view's overlays: what `tracking.annotate.annotate` draws, at a fraction of the GUI thread's time.

On a 2-core CPU every millisecond the GUI thread spends drawing is taken from tracking, and
annotate() spends most of its time on Python-level loops (one cv2.circle per landmark, one polyline
per contour) and an extra copy of the frame. Here the same elements, with annotate's colours, sizes
and fonts, are drawn with one batched call per colour straight into the 32-bit buffer the view shows,
and the status label is rendered once per distinct text and blended in; annotate's own helpers draw
the head axes and blendshape bars. tests/test_app_worker.py checks that the result matches annotate()
but for anti-aliasing at the dots' edges and rounding in the label, so the view keeps looking like
the recordings. Should annotate's helpers go away, annotate() itself is used.
"""
from __future__ import annotations

from collections import OrderedDict

import cv2
import numpy as np

from occface_core.layout import CONTOURS
from tracking import annotate as _annotate
from tracking.annotate import BLUE, GREEN, GREY, ORANGE, YELLOW, OverlayOptions, annotate
from tracking.types import FaceResult

_HELPERS = ("_draw_head_axes", "_draw_blendshape_bars")
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_OPEN = [list(c.indices) for c in CONTOURS if not c.closed]
_CLOSED = [list(c.indices) for c in CONTOURS if c.closed]


def draw_overlays(image: np.ndarray, result: FaceResult, fps: float | None, options: OverlayOptions,
                  bgra: bool = True) -> np.ndarray:
    """A new image (BGRA when `bgra`, else BGR) with the overlays `options` asks for."""
    if not all(hasattr(_annotate, name) for name in _HELPERS):
        out = annotate(image, result, fps, options)
        return cv2.cvtColor(out, cv2.COLOR_BGR2BGRA) if bgra else out
    out = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA) if bgra else image.copy()  # the only copy
    scale = max(out.shape[0] / 480, 0.5)
    if result.has_face and result.points is not None:
        if options.contours:
            draw_contours(out, result.points)
        if options.points:
            draw_points(out, result.points, result.visibility, options.visible_threshold)
        if options.head_axes:
            _annotate._draw_head_axes(out, result)
    if options.roi and result.roi is not None:
        r = result.roi
        cv2.rectangle(out, (int(r.x0), int(r.y0)), (int(r.x1), int(r.y1)), ORANGE if result.detected else GREEN,
                      max(1, int(scale)), cv2.LINE_AA)
    if options.status:
        _LABELS.draw(out, status_text(result, fps), (8, int(22 * scale)), scale)
    if options.blendshapes:
        _annotate._draw_blendshape_bars(out, result, options.blendshape_bars, scale)
    return out


def status_text(result: FaceResult, fps: float | None) -> str:
    """annotate()'s status line: tracking state, face score and frames per second."""
    state = "DETECT" if result.detected else "TRACK"
    if not result.has_face:
        state = "NO FACE"
    text = f"{state}  score {result.face_score:.2f}"
    if fps is not None:
        text += f"  {fps:.0f} fps"
    return text


def draw_contours(img: np.ndarray, points: np.ndarray) -> None:
    """The layout's contours in grey: one call for the open ones, one for the closed ones."""
    pts = np.asarray(points).astype(np.int32)
    for groups, closed in ((_OPEN, False), (_CLOSED, True)):
        if groups:
            cv2.polylines(img, [pts[g] for g in groups], closed, GREY, 1, cv2.LINE_AA)


def draw_points(img: np.ndarray, points: np.ndarray, visibility: np.ndarray | None, threshold: float) -> None:
    """Filled dots (visible yellow, occluded blue) with annotate()'s radius, in place: each dot is a
    zero-length anti-aliased segment as wide as the circle, all of one colour in one call."""
    scale = max(img.shape[0] / 480, 0.5)
    radius = max(1, int(round(2 * scale)))
    pts = np.round(np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 2)
    vis = np.ones(len(pts)) if visibility is None else np.asarray(visibility).reshape(-1)
    visible = vis >= threshold
    for mask, colour in ((visible, YELLOW), (~visible, BLUE)):
        if mask.any():
            cv2.polylines(img, np.repeat(pts[mask][:, None, :], 2, axis=1), False, colour, 2 * radius, cv2.LINE_AA)


class LabelCache:
    """annotate's status label (white text with a black outline, anti-aliased), rendered once per
    distinct text as two coverage masks and blended in; the label's text repeats from frame to frame
    (state, score, whole frames per second), and cv2.putText costs about 0.25 ms a call."""

    def __init__(self, size: int = 128):
        self._size = size
        self._masks: OrderedDict[tuple[str, float], tuple[np.ndarray, np.ndarray, int, int]] = OrderedDict()

    def draw(self, img: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> None:
        key = (text, scale)
        entry = self._masks.get(key)
        if entry is None:
            entry = self._render(text, scale)
            self._masks[key] = entry
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
        a_out = outline[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0, None]
        a_in = fill[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0, None]
        region *= 1.0 - a_out                   # the black outline
        region += (255.0 - region) * a_in       # the white text over it
        img[iy0:iy1, ix0:ix1, :3] = np.rint(region).astype(np.uint8)

    @staticmethod
    def _render(text: str, scale: float) -> tuple[np.ndarray, np.ndarray, int, int]:
        font_scale = 0.55 * scale
        (w, h), baseline = cv2.getTextSize(text, _FONT, font_scale, 3)
        pad = 4
        canvas = (h + baseline + 2 * pad, w + 2 * pad)
        org = (pad, pad + h)
        outline, fill = np.zeros(canvas, np.uint8), np.zeros(canvas, np.uint8)
        cv2.putText(outline, text, org, _FONT, font_scale, 255, 3, cv2.LINE_AA)
        cv2.putText(fill, text, org, _FONT, font_scale, 255, 1, cv2.LINE_AA)
        return outline.astype(np.float32) / 255.0, fill.astype(np.float32) / 255.0, org[0], org[1]


_LABELS = LabelCache()
