"""Where a part stage looks: a square around one part of the face (the mouth, the nose), turned to a
line between two anchor points.

A part's crop is fixed by two anchors of the 100-point layout, taken from the face model (the mouth
corners for the mouth, the inner eye corners for the nose): the crop is upright along the line from
the subject's right anchor to the left one, `crop_scale` anchor distances wide, and centred `drop`
anchor distances below their midpoint (an open mouth hangs below its corners; a nose below the eyes).
Training cuts it the same way from labelled anchors moved by about the face model's error. A
mirrored crop (training's flip) names its points by the part's `mirror`. Training and the app share
these functions, as a codec keeps encoding apart from the network.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layout import MIRROR, opening_ratio


@dataclass(frozen=True)
class PartSpec:
    name: str
    order: tuple[int, ...]                       # the part's points (layout indices) in the network's order
    anchors: tuple[int, int]                     # subject's right, then left anchor (layout indices)
    gaps: tuple[tuple[int, int], ...] = ()       # facing points (positions in `order`) whose gap is the part's opening

    @property
    def mirror(self) -> np.ndarray:
        """Position k of a horizontally mirrored part holds the point at mirror[k] of the original."""
        return np.array([self.order.index(int(MIRROR[i])) for i in self.order])


PARTS = {
    # iBUG 48-67; the inner-mouth points 82-85 follow from the inner lips. Gaps: 61-67, 62-66, 63-65.
    "mouth": PartSpec("mouth", tuple(range(48, 68)), (48, 54), ((13, 19), (14, 18), (15, 17))),
    # iBUG 27-35, the bridge and the base, from a crop along the inner eye corners.
    "nose": PartSpec("nose", tuple(range(27, 36)), (39, 42)),
}


@dataclass(frozen=True)
class PartCropConfig:
    input_size: int = 48       # crop side in pixels
    crop_scale: float = 1.6    # crop side over the anchor distance
    drop: float = 0.2          # the centre sits this share of the anchor distance below the anchors' midpoint

    def to_dict(self) -> dict:
        return {"input_size": self.input_size, "crop_scale": self.crop_scale, "drop": self.drop}


def part_matrix(right: np.ndarray, left: np.ndarray, cfg: PartCropConfig, mirror: bool = False) -> np.ndarray:
    """2x3 affine from image pixels to part-crop pixels for these anchors (subject's right, left).

    The subject's left anchor lands on the right of the crop, as in an upright, unmirrored face;
    `mirror` flips the crop left to right (training's flip augmentation)."""
    right, left = np.asarray(right, np.float64), np.asarray(left, np.float64)
    axis = left - right
    width = max(float(np.hypot(*axis)), 1e-3)
    scale = cfg.input_size / (cfg.crop_scale * width)
    c, s = axis / width
    rot = scale * np.array([[c, s], [-s, c]])       # turns the anchor line onto +x
    down = np.array([-s, c])                         # image direction of the crop's +y
    centre = (right + left) / 2 + cfg.drop * width * down
    if mirror:
        rot[0] = -rot[0]
    shift = np.full(2, cfg.input_size / 2) - rot @ centre
    return np.column_stack([rot, shift])


def anchor_distance(anchors: np.ndarray) -> np.ndarray:
    """(..., 2, 2) right and left anchor -> (...) their distance."""
    return np.linalg.norm(anchors[..., 0, :] - anchors[..., 1, :], axis=-1)


def opening(spec: PartSpec, part_points: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Mean gap between the part's facing points over the anchor distance, (..., P, 2) -> (...); 0
    for a part without gaps."""
    if not spec.gaps:
        return np.zeros(part_points.shape[:-2])
    both = np.concatenate([part_points, anchors], axis=-2).astype(np.float64)
    n = part_points.shape[-2]
    return opening_ratio(both, spec.gaps, (n, n + 1))
