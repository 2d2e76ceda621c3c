"""Small typed values shared by the model, the backends and the tracker."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in frame pixels, (x0, y0) inclusive top-left, (x1, y1) bottom-right."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def square(self) -> "Box":
        """The square of the longer side around the same centre (model crops are square)."""
        cx, cy = self.center
        half = max(self.width, self.height) / 2
        return Box(cx - half, cy - half, cx + half, cy + half)

    def enlarged(self, fraction_per_side: float) -> "Box":
        """Grow each side by `fraction_per_side` of the width/height (ATPN uses 0.25)."""
        dx, dy = self.width * fraction_per_side, self.height * fraction_per_side
        return Box(self.x0 - dx, self.y0 - dy, self.x1 + dx, self.y1 + dy)

    def as_list(self) -> list[float]:
        return [float(self.x0), float(self.y0), float(self.x1), float(self.y1)]

    @staticmethod
    def around_points(points: np.ndarray) -> "Box":
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        lo, hi = p.min(axis=0), p.max(axis=0)
        return Box(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


@dataclass
class Detection:
    """A face box from a detector, with its confidence."""

    box: Box
    score: float


@dataclass
class LandmarkPrediction:
    """What a landmark backend returns for one face crop, in frame pixels.

    points: (100, 2) x, y; visibility: (100,) probability that each point is visible;
    face_score: probability that the crop holds a face (the tracker re-detects below its threshold).
    """

    points: np.ndarray
    visibility: np.ndarray
    face_score: float
