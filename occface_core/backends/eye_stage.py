"""The eye stage at run time: a second look at each eye, from the frame, to place the lids.

The face model's lids barely close (its heatmap cells are wider than a blink's lid travel); the eye
stage cuts a small crop around each eye from the full frame (`eye_crop`), regresses the eye's eight
points (`eye_model`, trained by `python -m occface_core.training.eye_train`) and puts its six lid points in
place of the face model's. The corners stay the face model's: they anchor the head pose and the next
crop, and with the eye stage's corners swaying faces' shapes twitched on 20 % of frames instead of
16 % (bench_avatar). An eye the face model calls hidden (median visibility of its six points below
`visibility.VISIBLE`) keeps the face model's points: behind a hand there are no lids to place; so does an
eye narrower than `min_eye_width_px`, a face too far away for lids.

Weights: `<face weights stem>_eyes.onnx` beside the face model's file, with its `_config.json` (the
crop size and scale it was trained with). Missing weights mean no eye stage, with one log line.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..eye_crop import EYE_ORDER, INNER, OUTER, SIDES, EyeCropConfig, cut_eye, eye_matrices, to_image, \
    to_network_input
from ..visibility import VISIBLE
from . import BackendError
from .onnx_session import open_local_stage

log = logging.getLogger(__name__)

LIDS = [k for k in range(len(EYE_ORDER["left"])) if k not in (INNER, OUTER)]   # positions in EYE_ORDER


def eye_weights_for(face_weights: Path) -> Path:
    """Where the eye stage's weights sit for a face model's file: assets/occface.onnx -> assets/occface_eyes.onnx."""
    return face_weights.with_name(face_weights.stem + "_eyes.onnx")


class EyeStage:
    def __init__(self, path: Path, threads: int = 1, min_eye_width_px: float = 6.0):
        crop, self.session = open_local_stage(path, "eye stage", threads)
        try:
            self.crop = EyeCropConfig(**crop)
        except TypeError as e:
            raise BackendError(f"cannot load the eye stage {path}: {e}") from None
        self.input_name = self.session.get_inputs()[0].name
        self.min_eye_width_px = min_eye_width_px   # a smaller eye has no lids to see (training skips them too)

    def refine(self, frame: np.ndarray, points: np.ndarray, visibility: np.ndarray) -> np.ndarray:
        """`points` with each visible eye's lid points replaced by the eye stage's (frame pixels)."""
        seen = [np.median(visibility[list(EYE_ORDER[side][:6])]) >= VISIBLE
                and np.hypot(*(points[EYE_ORDER[side][INNER]] - points[EYE_ORDER[side][OUTER]])) >= self.min_eye_width_px
                for side in SIDES]
        if not any(seen):
            return points
        matrices = eye_matrices(points, self.crop)
        x = to_network_input([cut_eye(frame, m, self.crop) for m in matrices])
        eyes = self.session.run(None, {self.input_name: x})[0]
        out = points.copy()
        for side, m, eye, use in zip(SIDES, matrices, eyes, seen):
            if use:
                out[[EYE_ORDER[side][k] for k in LIDS]] = to_image(m, eye[LIDS])
        return out
