"""Train the eye stage: MediaPipe's pretrained iris trunk, fine-tuned to regress each eye's eight points.

Every labelled eye of the shared face crops (both eyes; the right one mirrored, `eye_crop`) is cut as
the app cuts it, from corners that are off by about the face model's own error (each corner moved by
`--corner-jitter` of the eye's width), with the face crops' photometric augmentation. Near-shut eyes
(eye aspect ratio < 0.12 by the 68 labels) are drawn `--shut-weight` times as often: blinks are rare
in the data and are what this stage is for. The lid mid-points come from the teacher where the eye is
open; on a near-shut eye the teacher's lids stay open, so there they are the mean of the facing iBUG
lid points instead.

Loss: smooth-L1 on the points over the crop size, plus the same on the facing lid points' gaps (the
quantity eyeBlink is made of). Validation: val eyes with fixed corner errors; point error over the
eye width, the predicted lid opening of near-shut and open eyes, and the ROC-AUC between them.

Resumable (`--resume` continues OUT/last.pt). Writes OUT/occface_eyes.pt, OUT/occface_eyes.onnx and
OUT/occface_eyes_config.json (provenance: the iris model's file and SHA-256, the command, history).

Example (30 minutes on two CPU cores; the shipped weights' two runs are in assets/MODEL.md):
  python -m occface_core.training.eye_train --data ../shared/data/faces/annotations.jsonl --teacher runs/teacher_mesh.npz \\
      --out runs/eyes --max-minutes 30
  cp runs/eyes/occface_eyes.onnx runs/eyes/occface_eyes_config.json assets/
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..eye_crop import EYE_ORDER, INNER, LID_PAIRS, OUTER, SIDES, EyeCropConfig, apply_affine, cut_eye, eye_matrix, \
    lid_opening, to_network_input
from ..layout import IBUG68, eye_aspect_ratio
from .cli import run_training, training_parser
from .dataset import Labels, build_labels
from .eye_model import EyeNet, load_eye_model, save_eye_model
from .iris_encoder import pretrained_iris
from .local_model import export_local_onnx
from .local_train import CropDegradation, LoopConfig, fit, init_from
from .metrics import roc_auc

log = logging.getLogger("occface.eye_train")

SHUT_EAR, OPEN_EAR = 0.12, 0.20
MIN_EYE_WIDTH = 6.0     # labelled-crop pixels; smaller eyes are noise


@dataclass
class EyeTrainConfig:
    batch_size: int = 128
    lr: float = 1e-3
    trunk_lr_scale: float = 0.3
    weight_decay: float = 1e-4
    corner_jitter: float = 0.12     # std of a corner's error, share of the eye width (the face model's, with
                                    # detector boxes: median 0.13, p90 0.27), most of it shared by both corners
    shut_weight: float = 6.0
    gap_weight: float = 2.0
    degrade: CropDegradation = field(      # a 32-px crop is shrunk less and blurred only by 3 px
        default_factory=lambda: CropDegradation(lowres_range=(0.35, 0.8), blur_kernels=(3,)))
    seed: int = 0
    trunk_blocks: int = 10          # of the iris trunk's ten (five: a third less time for the stage)


@dataclass
class EyeSet:
    """Labelled eyes: image index, side, eight points in labelled-crop pixels, their weights, the iBUG EAR."""
    image: np.ndarray
    mirror: np.ndarray
    points: np.ndarray
    weights: np.ndarray
    ear: np.ndarray

    def __len__(self) -> int:
        return len(self.image)


def eye_set(labels: Labels, idx: np.ndarray) -> EyeSet:
    ear = eye_aspect_ratio(labels.points[:, IBUG68])          # (N, 2): right, left
    rows = []
    for i in idx:
        for s, side in enumerate(SIDES):
            order = list(EYE_ORDER[side])
            pts = labels.points[i, order].astype(np.float64)
            w = labels.weights[i, order].astype(np.float64)
            if (w[:6] <= 0).any() or np.hypot(*(pts[OUTER] - pts[INNER])) < MIN_EYE_WIDTH:
                continue
            hidden = (labels.vis_mask[i, order[:6]] > 0) & (labels.vis[i, order[:6]] < 0.5)
            if hidden.any():      # a self-occluded far eye (300W-LP) has no lids to see
                continue
            if ear[i, s] < SHUT_EAR or (w[6:] <= 0).any():
                # the teacher's lids stay open on a shut eye: use the facing iBUG points' mean
                pts[6] = (pts[1] + pts[2]) / 2
                pts[7] = (pts[4] + pts[5]) / 2
                w[6:] = 1.0
            rows.append((i, side == "right", pts, np.minimum(w, 1.0), ear[i, s]))
    if not rows:
        raise ValueError("no labelled eye at least 6 px wide in this split")
    image, mirror, points, weights, ears = zip(*rows)
    return EyeSet(np.array(image), np.array(mirror), np.stack(points).astype(np.float32),
                  np.stack(weights).astype(np.float32), np.array(ears, np.float32))


class EyeSampler:
    """Cuts augmented eye crops (as the app cuts them, from corners with the face model's error)."""

    def __init__(self, images: list[np.ndarray], eyes: EyeSet, crop: EyeCropConfig, cfg: EyeTrainConfig):
        self.images, self.eyes, self.crop, self.cfg = images, eyes, crop, cfg

    def sample(self, rows: np.ndarray, rng: np.random.Generator, augment: bool) -> dict:
        crops, targets = [], []
        for r in rows:
            pts = self.eyes.points[r].astype(np.float64)
            width = float(np.hypot(*(pts[OUTER] - pts[INNER])))
            inner, outer = pts[INNER].copy(), pts[OUTER].copy()
            sigma = self.cfg.corner_jitter * width
            jitter = rng.normal(0, 0.6 * sigma, 2) + rng.normal(0, 0.8 * sigma, (2, 2))   # shared + own
            jitter = jitter.clip(-2.5 * sigma, 2.5 * sigma)
            inner, outer = inner + jitter[0], outer + jitter[1]
            m = eye_matrix(inner, outer, self.crop, bool(self.eyes.mirror[r]))
            crop = cut_eye(self.images[self.eyes.image[r]], m, self.crop)
            if augment:
                crop = self.cfg.degrade.apply(crop, rng)
            crops.append(crop)
            targets.append(apply_affine(m, pts))
        return {"image": torch.from_numpy(to_network_input(crops)),
                "points": torch.from_numpy(np.stack(targets).astype(np.float32)),
                "weights": torch.from_numpy(self.eyes.weights[rows])}


def eye_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, size: int, gap_weight: float) -> torch.Tensor:
    """Smooth-L1 on the points and on the facing lid points' gaps, both over the crop size."""
    point = F.smooth_l1_loss(pred / size, target / size, reduction="none", beta=0.01).sum(-1)
    point = (point * weights).sum() / weights.sum().clamp_min(1.0)
    a, b = [list(x) for x in zip(*LID_PAIRS)]
    gap_pred, gap_true = (pred[:, a] - pred[:, b]) / size, (target[:, a] - target[:, b]) / size
    gap_w = weights[:, a] * weights[:, b]
    gap = F.smooth_l1_loss(gap_pred, gap_true, reduction="none", beta=0.01).sum(-1)
    return point + gap_weight * (gap * gap_w).sum() / gap_w.sum().clamp_min(1.0)


def validate(net: EyeNet, sampler: EyeSampler) -> dict:
    """(In eval and inference mode, as `local_train.fit` calls it.) Point error over the eye width; predicted lid opening of shut / open eyes and their ROC-AUC."""
    rng = np.random.default_rng(1234)      # the same corner errors every epoch
    preds, targets = [], []
    for start in range(0, len(sampler.eyes), 256):
        batch = sampler.sample(np.arange(start, min(start + 256, len(sampler.eyes))), rng, augment=False)
        preds.append(net(batch["image"]).numpy())
        targets.append(batch["points"].numpy())
    pred, target = np.concatenate(preds), np.concatenate(targets)
    width = np.linalg.norm(target[:, INNER] - target[:, OUTER], axis=-1)
    nme = float((np.linalg.norm(pred[:, :6] - target[:, :6], axis=-1).mean(-1) / width).mean())
    ear = sampler.eyes.ear
    shut, open_ = ear < SHUT_EAR, ear > OPEN_EAR
    opening = lid_opening(pred)
    keep = shut | open_
    return {"nme": nme, "opening_shut": float(np.median(opening[shut])), "opening_open": float(np.median(opening[open_])),
            "label_opening_shut": float(np.median(lid_opening(target)[shut])),
            "roc_auc": roc_auc(shut[keep], -opening[keep]), "shut": int(shut.sum()), "open": int(open_.sum())}


def load_images(root: Path, names: list[str], wanted: np.ndarray) -> list[np.ndarray | None]:
    """The wanted images, decoded once (11k crops of 224 px are 1.6 GB); None for the others."""
    images: list[np.ndarray | None] = [None] * len(names)
    for i in wanted:
        images[i] = cv2.imread(str(root / names[i]), cv2.IMREAD_COLOR)
        if images[i] is None:
            raise FileNotFoundError(root / names[i])
    return images


def export_eye_onnx(net: EyeNet, out: Path) -> float:
    """The eye stage's ONNX file; returns the largest difference from PyTorch on random crops."""
    return export_local_onnx(net, out, "eyes")


def train(args: argparse.Namespace) -> int:
    cfg = EyeTrainConfig(batch_size=args.batch_size, lr=args.lr, seed=args.seed, shut_weight=args.shut_weight,
                         corner_jitter=args.corner_jitter, trunk_blocks=args.trunk_blocks)
    crop = EyeCropConfig(input_size=args.input_size, crop_scale=args.crop_scale)
    torch.set_num_threads(args.threads)
    torch.manual_seed(cfg.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / "labels.npz"
    labels = Labels.load(cache) if cache.is_file() else build_labels(args.data, args.teacher)
    if not cache.is_file():
        labels.save(cache)
    splits = np.array(labels.splits)
    train_idx, val_idx = np.flatnonzero(splits == "train"), np.flatnonzero(splits == "val")
    if args.limit:
        train_idx = train_idx[: args.limit]
    log.info("loading %d images", len(train_idx) + len(val_idx))
    images = load_images(args.data.parent, labels.images, np.concatenate([train_idx, val_idx]))
    train_eyes, val_eyes = eye_set(labels, train_idx), eye_set(labels, val_idx)
    train_sampler, val_sampler = EyeSampler(images, train_eyes, crop, cfg), EyeSampler(images, val_eyes, crop, cfg)
    p = np.where(train_eyes.ear < SHUT_EAR, cfg.shut_weight, 1.0)
    p /= p.sum()
    log.info("train eyes %d (%d near-shut), val eyes %d", len(train_eyes), int((train_eyes.ear < SHUT_EAR).sum()),
             len(val_eyes))

    net = EyeNet(crop, cfg.trunk_blocks)
    provenance = init_from(net, args.init, pretrained_iris)
    meta = {"command": args.command, "iris": provenance, "train": asdict(cfg)}

    def eye_score(val: dict) -> float:
        shut_error = abs(val["opening_shut"] - val["label_opening_shut"])    # nan where val has no shut eye
        return val["nme"] + 0.5 * (shut_error if np.isfinite(shut_error) else 0.0)

    loop = LoopConfig(epochs=args.epochs, steps_per_epoch=max(1, len(train_eyes) // cfg.batch_size), lr=cfg.lr,
                      trunk_lr_scale=cfg.trunk_lr_scale, weight_decay=cfg.weight_decay,
                      max_minutes=args.max_minutes, seed=cfg.seed)
    history = fit(net, loop, args.out, args.resume,
                  draw=lambda rng: train_sampler.sample(rng.choice(len(train_eyes), cfg.batch_size, p=p), rng, True),
                  loss=lambda net, b: eye_loss(net(b["image"]), b["points"], b["weights"], crop.input_size,
                                               cfg.gap_weight),
                  validate=lambda net: validate(net, val_sampler), score=eye_score,
                  save_best=lambda h: save_eye_model(net, args.out / "occface_eyes.pt", {**meta, "history": h}))
    best = load_eye_model(args.out / "occface_eyes.pt")
    diff = export_eye_onnx(best, args.out / "occface_eyes.onnx")
    config = {"crop": crop.to_dict(), **meta, "history": history, "onnx_max_abs_diff": diff}
    (args.out / "occface_eyes_config.json").write_text(json.dumps(config, indent=2))
    log.info("wrote %s (ONNX differs from PyTorch by %.2g px)", args.out / "occface_eyes.onnx", diff)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = training_parser("occface_core.training.eye_train", __doc__,
                        out_help="run folder: labels cache, checkpoints, weights", epochs=200, max_minutes=30.0,
                        batch_size=128, lr=1e-3, resume_help="continue from OUT/last.pt",
                        init_help="fine-tune: start from these eye weights (.pt)")
    p.add_argument("--teacher", type=Path, default=None, help="MediaPipe teacher cache .npz (lid mid-points)")
    p.add_argument("--input-size", type=int, default=32, help="eye crop side in pixels (a multiple of 8)")
    p.add_argument("--crop-scale", type=float, default=1.8, help="eye crop side over the corner distance")
    p.add_argument("--corner-jitter", type=float, default=0.12, help="std of a corner's error, share of eye width")
    p.add_argument("--shut-weight", type=float, default=6.0, help="how much more often a near-shut eye is drawn")
    p.add_argument("--trunk-blocks", type=int, default=10, choices=range(1, 11), metavar="1..10",
                   help="iris trunk blocks to keep (fewer: faster, with --init the first ones are taken)")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_training("occface_core.training.eye_train", build_parser(), argv, train,
                        inputs=lambda a: ((a.data, "annotations file"), (a.teacher, "teacher cache"),
                                          (a.init, "initial weights")),
                        check=lambda a: "--input-size must be a multiple of 8" if a.input_size % 8 else None)


if __name__ == "__main__":
    sys.exit(main())
