"""The 100-point landmark layout (DESIGN.md, "The 100-point layout").

Index order is part of the public interface: export files, OSC streams and model weights depend on it.
Left/Right always mean the subject's own left and right.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_POINTS = 100

_JAW = [f"jaw_{i:02d}" for i in range(17)]  # from the subject's right ear to the left ear
# Brow and eye names are semantic (outer/inner), so a point and its mirror differ only in right/left.
_BROW_PARTS = ["outer", "outer_mid", "mid", "inner_mid", "inner"]
_BROWS = [f"right_brow_{p}" for p in _BROW_PARTS] + [f"left_brow_{p}" for p in reversed(_BROW_PARTS)]
_NOSE = [f"nose_bridge_{i}" for i in range(4)] + [f"nose_base_{i}" for i in range(5)]
_EYES = [f"right_eye_{p}" for p in ("outer_corner", "upper_outer", "upper_inner", "inner_corner", "lower_inner",
                                     "lower_outer")] + \
        [f"left_eye_{p}" for p in ("inner_corner", "upper_inner", "upper_outer", "outer_corner", "lower_outer",
                                   "lower_inner")]
_OUTER_LIPS = [f"outer_lip_{i:02d}" for i in range(12)]
_INNER_LIPS = [f"inner_lip_{i}" for i in range(8)]
_IRIS_PARTS = ["pupil", "iris_top", "iris_outer", "iris_bottom", "iris_inner"]
_IRIS = [f"right_{p}" for p in _IRIS_PARTS] + [f"left_{p}" for p in _IRIS_PARTS]
_EYELIDS = ["right_upper_lid_mid", "right_lower_lid_mid", "left_upper_lid_mid", "left_lower_lid_mid"]
_INNER_MOUTH = ["inner_mouth_60_61", "inner_mouth_63_64", "inner_mouth_64_65", "inner_mouth_67_60"]
_EAR_PARTS = ["superaurale", "postaurale", "subaurale", "otobasion_inferius", "tragion",
              "otobasion_superius", "concha"]
_EARS = [f"right_ear_{p}" for p in _EAR_PARTS] + [f"left_ear_{p}" for p in _EAR_PARTS]

NAMES: tuple[str, ...] = tuple(
    _JAW + _BROWS + _NOSE + _EYES + _OUTER_LIPS + _INNER_LIPS + _IRIS + _EYELIDS + _INNER_MOUTH + _EARS
)
assert len(NAMES) == NUM_POINTS

IBUG68 = np.arange(68)
"""The iBUG 68 points are the first 68 indices, in their usual order."""

GROUPS: dict[str, tuple[int, ...]] = {
    "jaw": tuple(range(0, 17)),
    "right_brow": tuple(range(17, 22)),
    "left_brow": tuple(range(22, 27)),
    "nose": tuple(range(27, 36)),
    "right_eye": tuple(range(36, 42)) + (78, 79),
    "left_eye": tuple(range(42, 48)) + (80, 81),
    "mouth": tuple(range(48, 68)) + tuple(range(82, 86)),
    "right_iris": tuple(range(68, 73)),
    "left_iris": tuple(range(73, 78)),
    "right_ear": tuple(range(86, 93)),
    "left_ear": tuple(range(93, 100)),
}


@dataclass(frozen=True)
class Contour:
    """A chain of landmark indices drawn and rasterised as one curve of the edge map."""

    name: str
    indices: tuple[int, ...]
    closed: bool = False

    def segments(self) -> list[tuple[int, int]]:
        pairs = list(zip(self.indices[:-1], self.indices[1:]))
        if self.closed:
            pairs.append((self.indices[-1], self.indices[0]))
        return pairs


CONTOURS: tuple[Contour, ...] = (
    Contour("jaw", tuple(range(0, 17))),
    Contour("right_brow", tuple(range(17, 22))),
    Contour("left_brow", tuple(range(22, 27))),
    Contour("nose_bridge", (27, 28, 29, 30)),
    Contour("nose_base", (31, 32, 33, 34, 35)),
    Contour("right_upper_lid", (36, 37, 78, 38, 39)),
    Contour("right_lower_lid", (39, 40, 79, 41, 36)),
    Contour("left_upper_lid", (42, 43, 80, 44, 45)),
    Contour("left_lower_lid", (45, 46, 81, 47, 42)),
    Contour("outer_upper_lip", (48, 49, 50, 51, 52, 53, 54)),
    Contour("outer_lower_lip", (54, 55, 56, 57, 58, 59, 48)),
    Contour("inner_upper_lip", (60, 82, 61, 62, 63, 83, 64)),
    Contour("inner_lower_lip", (64, 84, 65, 66, 67, 85, 60)),
    Contour("right_iris", (69, 70, 71, 72), closed=True),
    Contour("left_iris", (74, 75, 76, 77), closed=True),
    Contour("right_ear", (86, 87, 88, 89, 90, 91), closed=True),
    Contour("left_ear", (93, 94, 95, 96, 97, 98), closed=True),
)

EDGES: tuple[tuple[int, int], ...] = tuple(seg for c in CONTOURS for seg in c.segments())


def _mirror_permutation() -> np.ndarray:
    """perm[i] is the index that point i becomes after a horizontal flip of the image."""
    pairs: list[tuple[int, int]] = []
    pairs += [(i, 16 - i) for i in range(17)]                      # jaw
    pairs += [(17 + i, 26 - i) for i in range(5)]                  # brows
    pairs += [(27 + i, 27 + i) for i in range(4)]                  # nose bridge
    pairs += [(31, 35), (32, 34), (33, 33)]                        # nose base
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [(48, 54), (49, 53), (50, 52), (51, 51), (55, 59), (56, 58), (57, 57)]  # outer lips
    pairs += [(60, 64), (61, 63), (62, 62), (65, 67), (66, 66)]    # inner lips
    pairs += [(68 + i, 73 + i) for i in range(5)]                  # irises (outer stays outer)
    pairs += [(78, 80), (79, 81)]                                  # eyelid mid-points
    pairs += [(82, 83), (84, 85)]                                  # inner mouth mid-points
    pairs += [(86 + i, 93 + i) for i in range(7)]                  # ears
    perm = np.full(NUM_POINTS, -1, dtype=np.int64)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    assert (perm >= 0).all(), "every point needs a mirror partner"
    return perm


MIRROR = _mirror_permutation()

# Points used for the inter-ocular normaliser: outer eye corners (iBUG 36 and 45).
OUTER_EYE_CORNERS = (36, 45)


def inner_mouth_from_inner_lips(points: np.ndarray) -> np.ndarray:
    """The inner-mouth points 82-85 as mid-points of their inner-lip segments (…, 100|68, 2)."""
    p = np.asarray(points)
    segs = [(60, 61), (63, 64), (64, 65), (67, 60)]
    return np.stack([(p[..., a, :] + p[..., b, :]) / 2 for a, b in segs], axis=-2)


def interocular(points: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners, the NME normaliser."""
    p = np.asarray(points, dtype=np.float64)
    return np.linalg.norm(p[..., OUTER_EYE_CORNERS[0], :] - p[..., OUTER_EYE_CORNERS[1], :], axis=-1)


# iBUG eye contours: corner, two upper-lid points, the other corner, two lower-lid points (lids paired 1-5, 2-4).
RIGHT_EYE, LEFT_EYE = tuple(range(36, 42)), tuple(range(42, 48))


def opening_ratio(points, pairs, corners, min_width: float = 1e-6):
    """Mean gap between facing points over the distance between two corners: how open an eye or a
    mouth is. `points` (..., P, 2) as a NumPy array or a torch tensor (differentiable, and finite at a
    gap of 0); `pairs` and `corners` index its P axis. Returns (...)."""
    def dist(a: int, b: int):
        d = points[..., a, :] - points[..., b, :]
        return ((d * d).sum(-1) + 1e-12) ** 0.5

    gaps = sum(dist(a, b) for a, b in pairs) / len(pairs)
    return gaps / dist(*corners).clip(min_width)


def eye_aspect_ratio(points):
    """Eye aspect ratio of the right and left eye (…, 2): mean lid gap over corner distance, of iBUG
    points (…, ≥68, 2), NumPy or torch.

    About 0.25-0.35 for an open eye and below about 0.12 for a near-shut one.
    """
    tensor = hasattr(points, "requires_grad")      # the training path; inference passes arrays
    if not tensor:
        points = np.asarray(points, np.float64)
    ratios = [opening_ratio(points, ((u1, l5), (u2, l4)), (c0, c3)) for c0, u1, u2, c3, l4, l5 in (RIGHT_EYE, LEFT_EYE)]
    if not tensor:
        return np.stack(ratios, axis=-1)
    import torch
    return torch.stack(ratios, dim=-1)
