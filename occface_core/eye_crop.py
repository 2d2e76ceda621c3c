"""Where the eye stage looks: a small square around each eye, turned to the eye's corner line.

Both eyes are cut the same way as the subject's left eye looks in the image: the subject's right eye
is mirrored, so one network serves both and the points come out in one order (`EYE_ORDER`). The crop
is centred on the midpoint of the two corners (it must not follow the lids, which are what it
measures), `crop_scale` corner distances wide, and upright along the corner line. Training and the
app share these functions, as a codec keeps encoding apart from the network.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .crop import apply_affine
from .layout import opening_ratio

# The eight points of each eye in the network's order, that of the subject's left eye as seen in the
# image: inner corner, upper-inner, upper-outer, outer corner, lower-outer, lower-inner, upper and lower
# lid mid-points. The right eye's list names its mirror points, so a mirrored right eye reads the same.
EYE_ORDER = {"right": (39, 38, 37, 36, 41, 40, 78, 79), "left": (42, 43, 44, 45, 46, 47, 80, 81)}
SIDES = ("right", "left")
INNER, OUTER = 0, 3                      # corner positions in EYE_ORDER
LID_PAIRS = ((1, 5), (2, 4), (6, 7))     # upper/lower lid points facing each other, in EYE_ORDER


@dataclass(frozen=True)
class EyeCropConfig:
    input_size: int = 32       # crop side in pixels
    crop_scale: float = 1.8    # crop side over the corner distance (room for the face model's corner error)

    def to_dict(self) -> dict:
        return {"input_size": self.input_size, "crop_scale": self.crop_scale}


def eye_matrix(inner: np.ndarray, outer: np.ndarray, cfg: EyeCropConfig, mirror: bool) -> np.ndarray:
    """2x3 affine from image pixels to eye-crop pixels for the eye with these corners.

    The outer corner lands to the right of the inner one (the left eye's look); `mirror` flips the crop
    so that a right eye, whose outer corner is to the left in the image, looks the same.
    """
    inner, outer = np.asarray(inner, np.float64), np.asarray(outer, np.float64)
    axis = outer - inner
    if mirror:
        axis = -axis        # measure the eye line as if mirrored: a right eye's outer corner is on the left
    width = max(float(np.hypot(*axis)), 1e-3)
    scale = cfg.input_size / (cfg.crop_scale * width)
    c, s = axis / width
    rot = scale * np.array([[c, s], [-s, c]])     # turns the eye line onto +x
    if mirror:
        rot[0] = -rot[0]
    centre = (inner + outer) / 2
    shift = np.full(2, cfg.input_size / 2) - rot @ centre
    return np.column_stack([rot, shift])


def eye_matrices(points: np.ndarray, cfg: EyeCropConfig) -> list[np.ndarray]:
    """The right and left eye's crop matrices from (at least) the 100-point layout's eye corners."""
    out = []
    for side in SIDES:
        order = EYE_ORDER[side]
        out.append(eye_matrix(points[order[INNER]], points[order[OUTER]], cfg, mirror=side == "right"))
    return out


def cut_eye(image: np.ndarray, matrix: np.ndarray, cfg: EyeCropConfig) -> np.ndarray:
    """The eye crop (H, W, 3) of a BGR image; outside the image is black."""
    return cv2.warpAffine(image, matrix, (cfg.input_size, cfg.input_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def to_network_input(crops: list[np.ndarray]) -> np.ndarray:
    """BGR uint8 crops -> (B, 3, S, S) RGB float32 in [0, 1], the iris network's own input range."""
    x = np.stack(crops)[..., ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def to_image(matrix: np.ndarray, crop_points: np.ndarray) -> np.ndarray:
    """Eye-crop pixels -> image pixels."""
    return apply_affine(cv2.invertAffineTransform(matrix), crop_points)


def lid_opening(eye_points: np.ndarray) -> np.ndarray:
    """Mean gap between facing lid points over the corner distance, (..., 8, 2) in EYE_ORDER -> (...)."""
    return opening_ratio(np.asarray(eye_points, np.float64), LID_PAIRS, (INNER, OUTER))
