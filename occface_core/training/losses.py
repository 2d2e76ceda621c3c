"""The face model's training terms: heatmaps and coordinates, the point and edge maps (Eq. 2), the
face score, visibility from real self-occlusion labels and from landmark-aware masking (Eq. 9), each
eye's aspect ratio, and the agreement of two views of one face (`train.py` weighs and sums them)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import codec
from ..layout import LEFT_EYE, RIGHT_EYE, eye_aspect_ratio
from ..model import ModelConfig
from .occluders import eq9_occlusion, mask_to_heatmap


@dataclass
class LossWeights:
    heatmap: float = 100.0     # Eq. 7, per-pixel MSE over all stages
    coord: float = 1.0         # smooth-L1 on the soft-argmax coordinates (heatmap cells)
    point_map: float = 30.0    # Eq. 2 auxiliary maps
    edge_map: float = 30.0
    vis: float = 1.0           # BCE on real (self-occlusion) labels
    mask: float = 1.0          # BCE on Eq. 9 landmark-aware masking labels
    face: float = 0.5          # face score BCE
    consistency: float = 20.0  # a face and its nudged twin (dataset.AugmentConfig.pair_*) must give the
                               # same points in source pixels (NME units); 5 while the two views were
                               # independent augmentations, whose disagreement was mostly not jitter
    eye_aspect: float = 10.0   # each eye's lid gap over its width: a blink moves the lids 2-4 crop pixels,
                               # too little of the point loss to be learned without its own term


def compute_losses(out: dict, batch: dict, cfg: ModelConfig, lw: LossWeights, with_vis: bool) -> dict:
    """All training terms for one batch; returns a dict of scalar tensors including 'total'."""
    c = cfg.codec
    pts_hm = codec.to_heatmap(batch["points"], c)
    w = batch["weights"]
    wsum = w.sum().clamp_min(1e-6)
    target = codec.encode_heatmaps(pts_hm, c.heatmap_size, c.sigma)
    losses: dict[str, torch.Tensor] = {}
    hm = 0.0
    for h in out["heatmaps"]:
        hm = hm + (((h - target) ** 2).mean(dim=(2, 3)) * w).sum() / wsum
    losses["heatmap"] = hm / len(out["heatmaps"])
    err = F.smooth_l1_loss(out["coords"], pts_hm, reduction="none", beta=0.5).sum(-1)
    losses["coord"] = (err * w).sum() / wsum
    face = batch["face"]
    nface = face.sum().clamp_min(1.0)
    pm_t = codec.encode_point_map(target, (w > 0).float())
    em_t = codec.encode_edge_map(pts_hm, w, c.heatmap_size, c.edge_sigma)
    losses["point_map"] = (((out["point_map"] - pm_t) ** 2).mean(dim=(1, 2, 3)) * face).sum() / nface
    losses["edge_map"] = (((out["edge_map"] - em_t) ** 2).mean(dim=(1, 2, 3)) * face).sum() / nface
    losses["face"] = F.binary_cross_entropy_with_logits(out["face_logit"], face)
    if with_vis:
        occ9 = eq9_occlusion(mask_to_heatmap(batch["occ_mask"], c.heatmap_size), target)
        known = (w > 0).float()
        occ9 = occ9 * known
        logits = out["vis_logits"]
        real_m = batch["vis_mask"] * (1 - occ9)
        bce = F.binary_cross_entropy_with_logits(logits, batch["vis"], reduction="none")
        losses["vis"] = (bce * real_m).sum() / real_m.sum().clamp_min(1.0)
        bce0 = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
        losses["mask"] = (bce0 * occ9).sum() / occ9.sum().clamp_min(1.0)
    losses["eye_aspect"] = eye_aspect_loss(out["coords"], pts_hm, w)
    total = (lw.heatmap * losses["heatmap"] + lw.coord * losses["coord"] + lw.point_map * losses["point_map"]
             + lw.edge_map * losses["edge_map"] + lw.face * losses["face"] + lw.eye_aspect * losses["eye_aspect"])
    if with_vis:
        total = total + lw.vis * losses["vis"] + lw.mask * losses["mask"]
    losses["total"] = total
    return losses


def eye_aspect_loss(coords: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Smooth-L1 between predicted and labelled eye aspect ratios, over eyes with all six points labelled
    and at least two heatmap cells wide (the ratio of a foreshortened far eye is mostly noise)."""
    labelled = torch.stack([(weights[:, list(eye)] > 0).all(dim=-1) for eye in (RIGHT_EYE, LEFT_EYE)], dim=-1)
    width = torch.stack([(target[:, c0] - target[:, c3]).norm(dim=-1) for c0, *_, c3, _, _ in (RIGHT_EYE, LEFT_EYE)], -1)
    labelled = (labelled & (width >= 2.0)).float()
    err = F.smooth_l1_loss(eye_aspect_ratio(coords), eye_aspect_ratio(target), reduction="none", beta=0.02)
    return (err * labelled).sum() / labelled.sum().clamp_min(1.0)


def consistency_loss(coords: torch.Tensor, batch: dict, cfg: ModelConfig) -> torch.Tensor:
    """Mean distance, over inter-ocular, between the points two views of one face give in source pixels.

    `coords` (B, 2, P, 2) in heatmap cells; the batch holds each view's crop -> source affine and the
    order its points are in (a flipped view lists them mirrored). Only points labelled in both views
    of a face crop count: a point the label cannot place may legitimately differ.
    """
    px = codec.to_pixels(coords, cfg.codec)
    A = batch["to_source"]                                                  # (B, 2, 2, 3)
    src = torch.einsum("bvij,bvpj->bvpi", A[..., :2], px) + A[..., None, :, 2]
    inverse = torch.argsort(batch["source_order"], dim=-1)                  # view order -> source order
    src = torch.gather(src, 2, inverse[..., None].expand_as(src))
    w = torch.gather(batch["weights"], 2, inverse)
    both = (w[:, 0] > 0) & (w[:, 1] > 0) & (batch["face"].min(dim=1).values[:, None] > 0)
    dist = (src[:, 0] - src[:, 1]).norm(dim=-1) / batch["interocular"][:, 0, None].clamp_min(1.0)
    return (dist * both).sum() / both.sum().clamp_min(1.0)
