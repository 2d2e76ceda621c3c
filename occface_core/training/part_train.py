"""Train a part stage (the mouth, the nose): MediaPipe's pretrained iris trunk, fine-tuned to regress
one part's points from a crop around it.

Every labelled face of the shared crops gives one part, cut as the app cuts it (`part_crop`), from
anchors that are off by about the face model's own error (each anchor moved by `anchor_jitter` of
the anchor distance, most of it shared by both), mirrored half the time, with the face crops'
photometric augmentation and sensor noise. The points are the 68-point hand labels (no teacher).
A part with an opening (the mouth) draws its open examples `open_weight` times as often; 300W-LP's
synthetic turned faces are drawn `lp_weight` times as often as a photo, so their warped mouths and
noses do not pull the frontal ones.

Loss: smooth-L1 on the points over the crop size, plus the same on the facing points' gaps (for the
mouth: what jawOpen and mouthClose are made of). Validation: val parts with fixed anchor errors; point
error over the inter-ocular distance (as `evaluate` reports a region), per source.

Resumable (`--resume` continues OUT/<part>/last.pt). Writes OUT/<part>/occface_<part>.pt, .onnx and
_config.json (provenance: the iris model's file and SHA-256, the command, history). Several parts
train one after another, each with its own time budget.

Example (the shipped weights' command is in assets/MODEL.md):
  python -m occface_core.training.part_train --data ../shared/data/faces/annotations.jsonl --out runs/parts \\
      --part mouth --part nose --max-minutes 35
  python -m occface_core.training.export --part --weights runs/parts/mouth/occface_mouth.pt --out assets/occface_mouth.onnx
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..crop import apply_affine
from ..eye_crop import cut_eye as cut_crop, to_network_input
from ..layout import interocular
from ..part_crop import PARTS, PartCropConfig, PartSpec, anchor_distance, opening, part_matrix
from .cli import run_training, training_parser
from .dataset import read_records
from .eye_train import load_images
from .iris_encoder import pretrained_iris
from .local_model import export_local_onnx
from .local_train import CropDegradation, LoopConfig, fit, init_from
from .part_model import PartNet, load_part_model, save_part_model

log = logging.getLogger("occface.part_train")

OPEN_GAP = 0.10      # a part whose opening is above this counts as open (a mouth: the inner lips apart)
MIN_ANCHOR_PX = 8.0  # labelled-crop pixels; smaller parts are noise


@dataclass(frozen=True)
class PartDefaults:
    crop: PartCropConfig
    anchor_jitter: float      # std of an anchor's error, share of the anchor distance (about the face model's)


# Crops measured on HELEN and AFW in anchor units: the mouth's points span x +-0.5, y -0.31..0.44 of
# the corner distance; the nose's x +-0.73, y -0.23..1.67 of the inner-corner distance.
DEFAULTS = {"mouth": PartDefaults(PartCropConfig(48, 1.6, 0.2), 0.10),
            "nose": PartDefaults(PartCropConfig(48, 2.4, 0.72), 0.12)}


@dataclass
class PartTrainConfig:
    batch_size: int = 64
    lr: float = 1e-3
    trunk_lr_scale: float = 0.3
    weight_decay: float = 1e-4
    anchor_jitter: float = 0.10
    flip: float = 0.5
    open_weight: float = 2.0
    lp_weight: float = 0.5
    gap_weight: float = 2.0
    degrade: CropDegradation = field(default_factory=CropDegradation)
    seed: int = 0
    trunk_blocks: int = 10


@dataclass
class PartSet:
    """Labelled parts: image index, the part's points and its two anchors in labelled-crop pixels,
    inter-ocular, source, opening."""
    image: np.ndarray
    points: np.ndarray
    anchors: np.ndarray
    interocular: np.ndarray
    source: np.ndarray
    opening: np.ndarray

    def __len__(self) -> int:
        return len(self.image)


def part_set(spec: PartSpec, records: list[dict], idx: np.ndarray) -> PartSet:
    rows = []
    for i in idx:
        p68 = np.asarray(records[i]["points68"], np.float64)
        anchors = p68[list(spec.anchors)]
        if anchor_distance(anchors) < MIN_ANCHOR_PX:
            continue
        pts = p68[list(spec.order)]
        rows.append((i, pts, anchors, float(interocular(p68)), records[i].get("source", ""),
                     float(opening(spec, pts, anchors))))
    if not rows:
        raise ValueError(f"no labelled {spec.name} with anchors at least {MIN_ANCHOR_PX:.0f} px apart in this split")
    image, points, anchors, io, source, opens = zip(*rows)
    return PartSet(np.array(image), np.stack(points).astype(np.float32), np.stack(anchors).astype(np.float32),
                   np.array(io, np.float32), np.array(source), np.array(opens, np.float32))


class PartSampler:
    """Cuts augmented part crops (as the app cuts them, from anchors with the face model's error)."""

    def __init__(self, images: list[np.ndarray], parts: PartSet, spec: PartSpec, crop: PartCropConfig,
                 cfg: PartTrainConfig):
        self.images, self.parts, self.spec, self.crop, self.cfg = images, parts, spec, crop, cfg

    def sample(self, rows: np.ndarray, rng: np.random.Generator, augment: bool) -> dict:
        crops, targets, scales = [], [], []
        for r in rows:
            anchors = self.parts.anchors[r].astype(np.float64)
            sigma = self.cfg.anchor_jitter * float(anchor_distance(anchors))
            jitter = rng.normal(0, 0.6 * sigma, 2) + rng.normal(0, 0.8 * sigma, (2, 2))   # shared + own
            anchors = anchors + jitter.clip(-2.5 * sigma, 2.5 * sigma)
            mirror = augment and rng.random() < self.cfg.flip
            m = part_matrix(anchors[0], anchors[1], self.crop, mirror)
            crop = cut_crop(self.images[self.parts.image[r]], m, self.crop)
            if augment:
                crop = self.cfg.degrade.apply(crop, rng)
            crops.append(crop)
            scales.append(np.hypot(*m[:, 0]))         # crop pixels per source pixel
            target = apply_affine(m, self.parts.points[r])
            targets.append(target[self.spec.mirror] if mirror else target)
        return {"image": torch.from_numpy(to_network_input(crops)),
                "points": torch.from_numpy(np.stack(targets).astype(np.float32)),
                "scale": np.array(scales)}


def part_loss(spec: PartSpec, pred: torch.Tensor, target: torch.Tensor, size: int, gap_weight: float) -> torch.Tensor:
    """Smooth-L1 on the points and on the facing points' gaps (where the part has any), over the crop size."""
    loss = F.smooth_l1_loss(pred / size, target / size, reduction="none", beta=0.01).sum(-1).mean()
    if spec.gaps:
        a, b = [list(x) for x in zip(*spec.gaps)]
        loss = loss + gap_weight * F.smooth_l1_loss((pred[:, a] - pred[:, b]) / size, (target[:, a] - target[:, b]) / size,
                                                    reduction="none", beta=0.01).sum(-1).mean()
    return loss


def validate(net: PartNet, sampler: PartSampler) -> dict:
    """(In eval and inference mode, as `local_train.fit` calls it.) Point error over the inter-ocular
    distance in source pixels, overall and per source; the mouth's inner and outer lips apart."""
    rng = np.random.default_rng(1234)      # the same anchor errors every epoch
    n = len(sampler.parts)
    errors = []
    for start in range(0, n, 128):
        batch = sampler.sample(np.arange(start, min(start + 128, n)), rng, augment=False)
        pred = net(batch["image"]).numpy()
        errors.append(np.linalg.norm(pred - batch["points"].numpy(), axis=-1) / batch["scale"][:, None])
    err = np.concatenate(errors) / sampler.parts.interocular[:, None]
    out = {"nme": float(err.mean())}
    if sampler.spec.name == "mouth":
        out.update(nme_outer=float(err[:, :12].mean()), nme_inner=float(err[:, 12:].mean()))
    for s in sorted(set(sampler.parts.source)):
        out[f"nme_{s}"] = float(err[sampler.parts.source == s].mean())
    return out


def in_the_wild_score(val: dict) -> float:
    """What picks the best epoch: the mean over the in-the-wild sources (300W-LP's profiles have a tiny
    inter-ocular distance, so its NME would outweigh every frontal face)."""
    wild = [v for k, v in val.items() if k in ("nme_helen", "nme_afw", "nme_ytf")]
    return float(np.mean(wild)) if wild else val["nme"]


def train_part(spec: PartSpec, args: argparse.Namespace, records: list[dict], images: list,
               train_idx: np.ndarray, val_idx: np.ndarray) -> Path:
    defaults = DEFAULTS[spec.name]
    cfg = PartTrainConfig(batch_size=args.batch_size, lr=args.lr, seed=args.seed, anchor_jitter=defaults.anchor_jitter,
                          trunk_blocks=args.trunk_blocks)
    crop = replace(defaults.crop, input_size=args.input_size) if args.input_size else defaults.crop
    out = args.out / spec.name
    out.mkdir(parents=True, exist_ok=True)
    train_parts, val_parts = part_set(spec, records, train_idx), part_set(spec, records, val_idx)
    train_sampler = PartSampler(images, train_parts, spec, crop, cfg)
    val_sampler = PartSampler(images, val_parts, spec, crop, cfg)
    p = np.where(train_parts.opening > OPEN_GAP, cfg.open_weight, 1.0) if spec.gaps else np.ones(len(train_parts))
    p *= np.where(train_parts.source == "300w_lp_afw", cfg.lp_weight, 1.0)
    p /= p.sum()
    log.info("%s: train %d (%d open), val %d", spec.name, len(train_parts), int((train_parts.opening > OPEN_GAP).sum()),
             len(val_parts))
    mean = np.mean([apply_affine(part_matrix(a[0], a[1], crop), q) for a, q in zip(train_parts.anchors, train_parts.points)],
                   axis=0)
    net = PartNet(spec, crop, cfg.trunk_blocks, mean)
    meta = {"command": args.command, "part": spec.name, "iris": init_from(net, args.init, pretrained_iris),
            "train": asdict(cfg)}
    loop = LoopConfig(epochs=args.epochs, steps_per_epoch=max(1, len(train_parts) // cfg.batch_size), lr=cfg.lr,
                      trunk_lr_scale=cfg.trunk_lr_scale, weight_decay=cfg.weight_decay,
                      max_minutes=args.max_minutes, seed=cfg.seed)
    weights = out / f"occface_{spec.name}.pt"
    history = fit(net, loop, out, args.resume,
                  draw=lambda rng: train_sampler.sample(rng.choice(len(train_parts), cfg.batch_size, p=p), rng, True),
                  loss=lambda net, b: part_loss(spec, net(b["image"]), b["points"], crop.input_size, cfg.gap_weight),
                  validate=lambda net: validate(net, val_sampler), score=in_the_wild_score,
                  save_best=lambda h: save_part_model(net, weights, {**meta, "history": h}))
    onnx = weights.with_suffix(".onnx")
    diff = export_part_onnx(load_part_model(weights), onnx)
    config = {"crop": crop.to_dict(), **meta, "history": history, "onnx_max_abs_diff": diff}
    onnx.with_name(onnx.stem + "_config.json").write_text(json.dumps(config, indent=2))
    log.info("wrote %s (ONNX differs from PyTorch by %.2g px)", onnx, diff)
    return onnx


def export_part_onnx(net: PartNet, out: Path) -> float:
    """A part stage's ONNX file; returns the largest difference from PyTorch on random crops."""
    return export_local_onnx(net, out, net.spec.name)


def train(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    records = read_records(args.data)
    splits = np.array([r.get("split", "") for r in records])
    train_idx, val_idx = np.flatnonzero(splits == "train"), np.flatnonzero(splits == "val")
    if args.limit:
        train_idx, val_idx = train_idx[: args.limit], val_idx[: max(1, args.limit // 4)]
    log.info("loading %d images", len(train_idx) + len(val_idx))
    images = load_images(args.data.parent, [r["image"] for r in records], np.concatenate([train_idx, val_idx]))
    for name in dict.fromkeys(args.part):
        train_part(PARTS[name], args, records, images, train_idx, val_idx)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = training_parser("occface_core.training.part_train", __doc__, out_help="run folder: one sub-folder per part",
                        epochs=200, max_minutes=35.0, batch_size=64, lr=1e-3,
                        resume_help="continue each part from OUT/<part>/last.pt",
                        init_help="fine-tune: start from these part weights (.pt)")
    p.add_argument("--part", action="append", choices=tuple(PARTS), required=True,
                   help="part to train, repeatable (trained one after another)")
    p.add_argument("--input-size", type=int, default=0,
                   help="crop side in pixels, a multiple of 8 (default: the part's, 48)")
    p.add_argument("--trunk-blocks", type=int, default=10, choices=range(1, 11), metavar="1..10",
                   help="iris trunk blocks to keep (fewer: faster)")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_training("occface_core.training.part_train", build_parser(), argv, train,
                        inputs=lambda a: ((a.data, "annotations file"), (a.init, "initial weights")),
                        check=lambda a: (f"--input-size must be a multiple of 8, at least 16 (got {a.input_size})"
                                         if a.input_size and (a.input_size < 16 or a.input_size % 8) else None))


if __name__ == "__main__":
    sys.exit(main())
