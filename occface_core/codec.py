"""Heatmap codec: landmark coordinates <-> target maps, and heatmaps -> coordinates (mmpose style).

Kept apart from the network so the same encoding serves training targets, the Eq. 9 occlusion labels
and the tests, and the same decoding serves training (differentiable) and the exported model.

Heatmap coordinates are continuous: cell (i, j) covers x in [j, j+1) and has its centre at
x = j + 0.5. Crop pixels follow OpenCV (pixel j has its centre at x = j), so
x_hm = (x_px + 0.5) / stride.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .layout import CONTOURS


@dataclass(frozen=True)
class CodecConfig:
    input_size: int = 128
    heatmap_size: int = 32
    sigma: float = 2.0          # Gaussian std in heatmap cells (Eq. 1 targets)
    edge_sigma: float = 0.75    # width of the edge-map lines in heatmap cells
    beta: float = 15.0          # soft-argmax temperature (Eq. 3): softmax(beta * heatmap); with sigma 2
                                # the decoded peak of an exact target is off by < 0.02 cells

    @property
    def stride(self) -> float:
        return self.input_size / self.heatmap_size


def _grid(size: int, device=None, dtype=torch.float32) -> torch.Tensor:
    return torch.arange(size, device=device, dtype=dtype) + 0.5


def encode_heatmaps(points_hm: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Gaussian heatmaps (B, P, size, size) peaking at 1 for points (B, P, 2) in heatmap cells."""
    g = _grid(size, points_hm.device, points_hm.dtype)
    k = -1.0 / (2 * sigma * sigma)
    # separable, and clamped so exp never lands in (slow) denormals
    gx = torch.exp(((g - points_hm[..., 0, None]) ** 2 * k).clamp_min(-60.0))   # (B, P, w)
    gy = torch.exp(((g - points_hm[..., 1, None]) ** 2 * k).clamp_min(-60.0))   # (B, P, h)
    return gy[..., :, None] * gx[..., None, :]


def encode_point_map(heatmaps: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Point map (Eq. 2): the max over the labelled landmarks' Gaussians, (B, 1, h, w)."""
    return (heatmaps * weights[..., None, None]).amax(dim=1, keepdim=True)


def _segments() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b, cid = [], [], []
    for ci, contour in enumerate(CONTOURS):
        for s, e in contour.segments():
            a.append(s)
            b.append(e)
            cid.append(ci)
    return np.array(a), np.array(b), np.array(cid)


SEG_A, SEG_B, SEG_CONTOUR = _segments()
_CONTOUR_RANGES = [(int(np.flatnonzero(SEG_CONTOUR == c)[0]), int(np.flatnonzero(SEG_CONTOUR == c)[-1]) + 1)
                   for c in range(len(CONTOURS))]
NUM_EDGE_MAPS = len(CONTOURS)


def encode_edge_map(points_hm: torch.Tensor, weights: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Edge map (Eq. 2): per contour, a Gaussian of the distance to its segments, (B, E, h, w).

    A segment contributes only when both of its end points carry a label.
    """
    pa, pb = points_hm[:, SEG_A], points_hm[:, SEG_B]                 # (B, S, 2)
    wa = (weights[:, SEG_A] > 0) & (weights[:, SEG_B] > 0)            # (B, S)
    g = _grid(size, points_hm.device, points_hm.dtype)
    gx = g.view(1, 1, 1, size).expand(1, 1, size, size)
    gy = g.view(1, 1, size, 1).expand(1, 1, size, size)
    d = pb - pa
    len2 = (d ** 2).sum(-1).clamp_min(1e-6)
    t = ((gx - pa[..., 0, None, None]) * d[..., 0, None, None]
         + (gy - pa[..., 1, None, None]) * d[..., 1, None, None]) / len2[..., None, None]
    t = t.clamp(0, 1)
    qx = pa[..., 0, None, None] + t * d[..., 0, None, None]
    qy = pa[..., 1, None, None] + t * d[..., 1, None, None]
    dist2 = (gx - qx) ** 2 + (gy - qy) ** 2
    seg_maps = torch.exp((-dist2 / (2 * sigma * sigma)).clamp_min(-60.0)) * wa[..., None, None]   # (B, S, h, w)
    # segments of one contour are contiguous (built in CONTOURS order)
    return torch.stack([seg_maps[:, a:b].amax(dim=1) for a, b in _CONTOUR_RANGES], dim=1)


def soft_argmax(heatmaps: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 3: expectation of the cell centres under softmax(beta * heatmap).

    Returns (coords (B, P, 2) in heatmap cells, attention (B, P, h, w) summing to 1 per point).
    """
    B, P, h, w = heatmaps.shape
    att = torch.softmax(heatmaps.reshape(B, P, h * w) * beta, dim=-1).reshape(B, P, h, w)
    gx = _grid(w, heatmaps.device, heatmaps.dtype)
    gy = _grid(h, heatmaps.device, heatmaps.dtype)
    x = (att.sum(dim=2) * gx).sum(-1)
    y = (att.sum(dim=3) * gy).sum(-1)
    return torch.stack([x, y], dim=-1), att


def to_heatmap(points_px: torch.Tensor | np.ndarray, cfg: CodecConfig):
    """Input-crop pixels (pixel centres at integers, as OpenCV warps) -> heatmap cells."""
    return (points_px + 0.5) / cfg.stride


def to_pixels(points_hm: torch.Tensor | np.ndarray, cfg: CodecConfig):
    """Heatmap cells -> input-crop pixels (inverse of `to_heatmap`)."""
    return points_hm * cfg.stride - 0.5
