"""The part stages at run time: a second look at the mouth and the nose, from the frame.

The face model's lips and nose sit inside its 4-px heatmap cells; a part stage cuts a crop around its
part from the full frame along two of the face model's points (`part_crop`: the mouth corners, the
inner eye corners), regresses the part's points (`part_model`, trained by `python -m
occface_core.training.part_train`) and puts them in place of the face model's; the inner-mouth points 82-85
follow the new inner lips. A part the face model calls covered (median visibility of its points
below `visibility.VISIBLE`) keeps the face model's points: behind a mask or a hand there is nothing to
place; so does a part whose anchors are closer than `min_anchor_px`, a face too far away, and a face
turned so far that its narrower eye is under `FRONTAL_EYE_RATIO` of the wider one (about 40 degrees of
yaw): on val's 300W-LP profiles (yaw median 51 degrees) the stages placed the nose and the lips worse
than the face model, which was trained on turned faces and sees the whole head.

Weights: `<face weights stem>_<part>.onnx` beside the face model's file, with its `_config.json` (the
part and the crop it was trained on). Missing weights mean no stage for that part, with one log line.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..eye_crop import cut_eye as cut_crop, to_image, to_network_input
from ..layout import inner_mouth_from_inner_lips
from ..part_crop import PARTS, PartCropConfig, part_matrix
from ..visibility import VISIBLE
from . import BackendError
from .onnx_session import open_local_stage

INNER_MOUTH = [82, 83, 84, 85]
INNER_LIPS = set(range(60, 68))
FRONTAL_EYE_RATIO = 0.6   # narrower over wider eye (corner distances): below it the face is too turned
EYE_CORNERS = ((36, 39), (42, 45))


def frontal_enough(points: np.ndarray) -> bool:
    """Whether the face is turned little enough for the part stages (both eyes' corner distances alike)."""
    widths = [float(np.hypot(*(points[a] - points[b]))) for a, b in EYE_CORNERS]
    return min(widths) >= FRONTAL_EYE_RATIO * max(widths)


def part_weights_for(face_weights: Path, part: str) -> Path:
    """Where a part stage's weights sit for a face model's file: assets/occface.onnx -> assets/occface_mouth.onnx."""
    return face_weights.with_name(f"{face_weights.stem}_{part}.onnx")


class PartStage:
    def __init__(self, path: Path, part: str, threads: int = 1, min_anchor_px: float = 8.0):
        crop, self.session = open_local_stage(path, f"{part} stage", threads)
        try:
            self.crop = PartCropConfig(**crop)
            trained_for = json.loads(path.with_name(path.stem + "_config.json").read_text()).get("part", part)
        except (TypeError, OSError, ValueError) as e:
            raise BackendError(f"cannot load the {part} stage {path}: {e}") from None
        if trained_for != part:
            raise BackendError(f"{path} holds a {trained_for} stage, not a {part} stage")
        self.spec = PARTS[part]
        self.input_name = self.session.get_inputs()[0].name
        self.min_anchor_px = min_anchor_px

    def refine(self, frame: np.ndarray, points: np.ndarray, visibility: np.ndarray) -> np.ndarray:
        """`points` with the part's points placed again, where the part is seen."""
        order = list(self.spec.order)
        right, left = points[self.spec.anchors[0]], points[self.spec.anchors[1]]
        if (np.median(visibility[order]) < VISIBLE or np.hypot(*(left - right)) < self.min_anchor_px
                or not frontal_enough(points)):
            return points
        matrix = part_matrix(right, left, self.crop)
        x = to_network_input([cut_crop(frame, matrix, self.crop)])
        part = self.session.run(None, {self.input_name: x})[0][0]
        out = points.copy()
        out[order] = to_image(matrix, part)
        if INNER_LIPS <= set(order):
            out[INNER_MOUTH] = inner_mouth_from_inner_lips(out)
        return out
