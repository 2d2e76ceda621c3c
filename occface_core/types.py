"""Small typed values shared by the model, the backends and the tracker."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Box:
    """A rectangle in frame pixels, (x0, y0) inclusive top-left, (x1, y1) bottom-right, turned by
    `angle_deg` about its centre (0: axis-aligned; the angle of its x axis in the image, y down, so a
    face whose eye line slopes down to the right has a positive angle)."""

    x0: float
    y0: float
    x1: float
    y1: float
    angle_deg: float = 0.0

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
        return Box(cx - half, cy - half, cx + half, cy + half, self.angle_deg)

    def enlarged(self, fraction_per_side: float) -> "Box":
        """Grow each side by `fraction_per_side` of the width/height (ATPN uses 0.25)."""
        dx, dy = self.width * fraction_per_side, self.height * fraction_per_side
        return Box(self.x0 - dx, self.y0 - dy, self.x1 + dx, self.y1 + dy, self.angle_deg)

    def as_list(self) -> list[float]:
        return [float(self.x0), float(self.y0), float(self.x1), float(self.y1)]

    def corners(self) -> np.ndarray:
        """(4, 2) frame pixels, clockwise from the region's top-left."""
        cx, cy = self.center
        a = math.radians(self.angle_deg)
        u, v = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
        hw, hh = self.width / 2, self.height / 2
        return np.array([[cx, cy] + sx * hw * u + sy * hh * v for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])

    @staticmethod
    def around_points(points: np.ndarray, angle_deg: float = 0.0) -> "Box":
        """The tightest box of the points whose sides run at `angle_deg` (axis-aligned by default)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if angle_deg == 0.0:
            lo, hi = p.min(axis=0), p.max(axis=0)
            return Box(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        a = math.radians(angle_deg)
        c, s = math.cos(a), math.sin(a)
        q = p @ np.array([[c, -s], [s, c]])                   # coordinates along the box's own axes
        lo, hi = q.min(axis=0), q.max(axis=0)
        mid = (lo + hi) / 2
        cx, cy = mid[0] * c - mid[1] * s, mid[0] * s + mid[1] * c   # back to frame pixels
        half = (hi - lo) / 2
        return Box(float(cx - half[0]), float(cy - half[1]), float(cx + half[0]), float(cy + half[1]), float(angle_deg))

    def turned(self, angle_deg: float) -> "Box":
        return replace(self, angle_deg=float(angle_deg))


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
