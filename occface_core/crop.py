"""Cutting a square region out of a frame and mapping points between crop and frame pixels."""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .types import Box


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (..., 2) through a 2x3 affine matrix."""
    return np.asarray(points, np.float64) @ matrix[:, :2].T + matrix[:, 2]


@dataclass(frozen=True)
class CropTransform:
    """Maps a square frame region, possibly turned (`box.angle_deg`), onto an upright size×size crop."""

    box: Box
    size: int

    @property
    def scale(self) -> float:
        return self.size / max(self.box.width, 1e-6)

    def matrix(self) -> np.ndarray:
        """2x3: frame pixels -> crop pixels (crop u = s·R(-angle)(p - centre) + size / 2)."""
        s, a = self.scale, math.radians(self.box.angle_deg)
        rot = s * np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
        shift = np.full(2, self.size / 2) - rot @ np.array(self.box.center)
        return np.column_stack([rot, shift])

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        return apply_affine(cv2.invertAffineTransform(self.matrix()), points)


def crop_square(frame: np.ndarray, box: Box, size: int) -> tuple[np.ndarray, CropTransform]:
    """Crop the square around `box` (turned with it) and resize it to size×size; outside the frame is black."""
    transform = CropTransform(box.square(), size)
    crop = cv2.warpAffine(frame, transform.matrix(), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return crop, transform
