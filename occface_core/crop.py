"""Cutting a square region out of a frame and mapping points between crop and frame pixels."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .types import Box


@dataclass(frozen=True)
class CropTransform:
    """Maps a square frame region onto a size×size crop (uniform scale plus shift)."""

    box: Box
    size: int

    @property
    def scale(self) -> float:
        return self.size / max(self.box.width, 1e-6)

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        return p / self.scale + (self.box.x0, self.box.y0)

    def matrix(self) -> np.ndarray:
        s = self.scale
        return np.array([[s, 0.0, -self.box.x0 * s], [0.0, s, -self.box.y0 * s]], dtype=np.float64)


def crop_square(frame: np.ndarray, box: Box, size: int) -> tuple[np.ndarray, CropTransform]:
    """Crop the square around `box` and resize it to size×size; outside the frame is black."""
    transform = CropTransform(box.square(), size)
    crop = cv2.warpAffine(frame, transform.matrix(), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return crop, transform
