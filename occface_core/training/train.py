"""Train the OccFace landmark model (v2: new heads on MediaPipe's pretrained face-mesh body).

The encoder starts from `mediapipe/modules/face_landmark/face_landmark.tflite` in the pinned wheel
(read by `encoder.py`; its SHA-256 goes into the config), the heads from random weights. Each training
face comes as two views whose regions differ as a tracked face's region does between frames: both
are supervised, and a consistency term asks them for the same points in source pixels. Crops with a
near-shut eye are drawn more often. The first `--warmup-epochs` train localisation (heatmaps, point/edge
maps, soft-argmax coordinates) and the face score; after that the visibility head trains jointly (real
self-occlusion labels + Eq. 9 landmark-aware masking labels). A validation pass runs after every epoch;
`last.pt` is written after every epoch and every five minutes, so `--resume` continues where it
stopped; the weights go to OUT/occface.pt with OUT/occface_config.json beside them.

Examples:
  # the shipped model (a two-hour budget on the 2-core CPU; a GPU is used when present)
  python -m occface_core.training.train --data ../shared/data/faces/annotations.jsonl \\
      --teacher runs/teacher_mesh.npz --occluders ../shared/data/occluders --out runs/occface_v2 \\
      --epochs 40 --warmup-epochs 1 --max-minutes 120
  # continue an interrupted run (the time budget counts the minutes already trained)
  python -m occface_core.training.train --data ../shared/data/faces/annotations.jsonl \\
      --teacher runs/teacher_mesh.npz --occluders ../shared/data/occluders --out runs/occface_v2 \\
      --epochs 40 --warmup-epochs 1 --max-minutes 120 --resume
  # fine-tune trained weights with a fresh learning-rate schedule
  python -m occface_core.training.train --data ../shared/data/faces/annotations.jsonl \\
      --teacher runs/teacher_mesh.npz --occluders ../shared/data/occluders --out runs/occface_ft \\
      --init runs/occface_v2/occface.pt --warmup-epochs 0 --lr 1e-3 --epochs 10 --max-minutes 30
  # one-minute smoke run to measure throughput
  python -m occface_core.training.train --data ../shared/data/faces/annotations.jsonl --out runs/smoke \\
      --epochs 1 --max-minutes 1 --limit 2000
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from .. import codec
from ..encoder import pretrained_encoder
from ..layout import IBUG68, eye_aspect_ratio
from ..model import ModelConfig, OccFaceNet, count_flops, count_parameters, load_model
from .cli import run_training, training_parser
from .dataset import AugmentConfig, FaceDataset, LabelConfig, Labels, build_labels
from .losses import LossWeights, compute_losses, consistency_loss
from .metrics import failure_rate, nme_per_image

log = logging.getLogger("occface.train")


@dataclass
class TrainConfig:
    epochs: int = 20
    warmup_epochs: int = 4     # localisation only
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 300
    ema_decay: float = 0.998
    encoder_lr_scale: float = 0.3   # the pretrained body moves slower than the new heads
    shut_eye_weight: float = 4.0    # sampling weight of crops with a near-shut eye (blinks are rare)
    shut_eye_ear: float = 0.12      # eye aspect ratio below which an eye counts as near-shut
    max_minutes: float = 0.0   # 0 = no limit
    seed: int = 0
    loss: LossWeights = field(default_factory=LossWeights)
    model: ModelConfig = field(default_factory=ModelConfig)
    aug: AugmentConfig = field(default_factory=AugmentConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)


def flatten_views(batch: dict) -> dict:
    """(B, V, ...) -> (B*V, ...) for the per-crop losses."""
    return {k: v.flatten(0, 1) for k, v in batch.items()}


def shut_eye_sampling_weights(points: np.ndarray, cfg: "TrainConfig") -> np.ndarray:
    """Per-crop sampling weights: crops with a near-shut eye (by the iBUG labels) drawn more often."""
    shut = eye_aspect_ratio(points[:, IBUG68]).min(axis=-1) < cfg.shut_eye_ear
    return np.where(shut, cfg.shut_eye_weight, 1.0)


@torch.no_grad()
def validate(model: OccFaceNet, loader, device) -> dict:
    model.eval()
    errs, face_scores = [], []
    for batch in loader:
        out = model(batch["image"].to(device))
        pred = codec.to_pixels(out["coords"], model.cfg.codec).cpu().numpy()
        errs.append(nme_per_image(pred[:, IBUG68], batch["points"].numpy()[:, IBUG68]))
        face_scores.append(torch.sigmoid(out["face_logit"]).cpu().numpy())
    model.train()
    e = np.concatenate(errs)
    return {"nme68": float(e.mean()), "fr10": failure_rate(e),
            "face_score_mean": float(np.concatenate(face_scores).mean())}


def _collate_seed(worker_id: int) -> None:
    import cv2
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def save_weights(model: OccFaceNet, path: Path, cfg: TrainConfig, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "config": model.cfg.to_dict()}, path)
    info = {"model": model.cfg.to_dict(), "train": asdict(cfg), **meta}
    path.with_name(path.stem + "_config.json").write_text(json.dumps(info, indent=2))


def _provenance(weights: Path) -> dict:
    """What produced `weights` (its config file's command, minutes and its own init), for the new config."""
    info = {"weights": str(weights)}
    cfg_file = weights.with_name(weights.stem + "_config.json")
    if cfg_file.is_file():
        prev = json.loads(cfg_file.read_text())
        hist = prev.get("history") or [{}]
        info.update(command=prev.get("command"), epochs=len(prev.get("history", [])),
                    minutes=hist[-1].get("minutes"), val_nme68=hist[-1].get("val_nme68"))
        if "init" in prev:
            info["init"] = prev["init"]
    return info


@dataclass
class RunState:
    """What a checkpoint carries besides the weights: where the run is and what it has measured."""
    epoch: int = 0
    step: int = 0
    elapsed: float = 0.0          # seconds of training so far (the time budget counts these)
    history: list = field(default_factory=list)
    best: float = float("inf")


def load_split_labels(args: argparse.Namespace, cfg: TrainConfig) -> tuple[Labels, Labels]:
    """(train, val) labels, built once and cached in the run folder."""
    label_cache = args.out / "labels.npz"
    if label_cache.is_file():
        labels = Labels.load(label_cache)
    else:
        labels = build_labels(args.data, args.teacher, cfg.labels)
        labels.save(label_cache)
    splits = np.array(labels.splits)
    tr_idx, va_idx = np.flatnonzero(splits == "train"), np.flatnonzero(splits == "val")
    if args.limit:
        tr_idx = tr_idx[: args.limit]
    if args.val_limit:
        va_idx = va_idx[np.linspace(0, len(va_idx) - 1, min(args.val_limit, len(va_idx))).astype(int)]
    return labels.subset(tr_idx), labels.subset(va_idx)


def rewired(cfg: ModelConfig, args: argparse.Namespace) -> ModelConfig:
    """`cfg` with the wiring flags the command gave (--upsample, --vis-stride); the others stay."""
    return replace(cfg, upsample=args.upsample or cfg.upsample, vis_stride=args.vis_stride or cfg.vis_stride)


def initial_model(args: argparse.Namespace, cfg: TrainConfig) -> tuple[OccFaceNet, dict]:
    """The network to start from and where its weights came from: trained weights (--init, whose
    architecture wins over the size flags), or new heads on the wheel's pretrained face-mesh body."""
    if args.init is not None:
        trained = load_model(args.init)
        cfg.model = rewired(trained.cfg, args)
        model = OccFaceNet(cfg.model)   # the same parameters; only how they are wired may change
        model.load_state_dict(trained.state_dict())
        return model.train(), _provenance(args.init)
    model = OccFaceNet(cfg.model)
    if args.random_encoder:
        return model, {}
    encoder, encoder_meta = pretrained_encoder()
    model.encoder.load_state_dict(encoder.state_dict())
    return model, {"encoder": encoder_meta}


class Trainer:
    """One training run: data, model with its EMA copy, optimiser and schedule, checkpoints."""

    def __init__(self, args: argparse.Namespace, cfg: TrainConfig, device: torch.device):
        self.args, self.cfg, self.device, self.out = args, cfg, device, args.out
        train_labels, val_labels = load_split_labels(args, cfg)
        root = args.data.parent
        self.train_ds = FaceDataset(train_labels, root, cfg.aug, args.occluders, seed=cfg.seed, train=True, views=2)
        self.sample_weights = shut_eye_sampling_weights(train_labels.points, cfg)
        val_ds = FaceDataset(val_labels, root, cfg.aug, None, train=False)
        self.loader_kw = dict(num_workers=args.workers, worker_init_fn=_collate_seed if args.workers else None)
        self.val_loader = torch.utils.data.DataLoader(val_ds, batch_size=64, shuffle=False, **self.loader_kw)

        torch.manual_seed(cfg.seed)
        model, self.init_meta = initial_model(args, cfg)
        self.model = model.to(device)
        if device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)  # about 10 % faster convolutions
        log.info("model: %.3f M parameters, %.3f GFLOPs per crop; train %d crops, val %d crops, device %s",
                 count_parameters(self.model) / 1e6, count_flops(self.model) / 1e9, len(self.train_ds), len(val_ds),
                 device)
        self.ema = copy.deepcopy(self.model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        head_params = [p for n, p in self.model.named_parameters() if not n.startswith("encoder.")]
        self.opt = torch.optim.AdamW([{"params": head_params, "lr_scale": 1.0},
                                      {"params": list(self.model.encoder.parameters()),
                                       "lr_scale": cfg.encoder_lr_scale}],
                                     lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.pairs_per_batch = cfg.batch_size // 2   # each face comes as two views
        self.total_steps = math.ceil(len(self.train_ds) / self.pairs_per_batch) * cfg.epochs
        self.budget = cfg.max_minutes * 60 if cfg.max_minutes > 0 else float("inf")
        self.state = RunState()

    # -- schedule and checkpoints -----------------------------------------------------------------
    def lr_at(self, step: int, elapsed_s: float) -> float:
        """Linear warm-up, then cosine to 2 % over the steps or the time budget, whichever ends first."""
        cfg = self.cfg
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        t = min(1.0, (step - cfg.warmup_steps) / max(1, self.total_steps - cfg.warmup_steps))
        if cfg.max_minutes > 0:
            t = max(t, min(1.0, elapsed_s / (cfg.max_minutes * 60)))
        return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))

    def resume(self) -> None:
        last = self.out / "last.pt"
        if not last.is_file():
            return
        ck = torch.load(last, map_location=self.device, weights_only=False)
        self.model.load_state_dict(ck["model"])
        self.ema.load_state_dict(ck["ema"])
        self.opt.load_state_dict(ck["opt"])
        self.state = RunState(ck["epoch"], ck["step"], ck["elapsed"], ck.get("history", []), ck.get("best", float("inf")))
        log.info("resumed from %s at epoch %d, step %d (%.1f min trained)", last, self.state.epoch, self.state.step,
                 self.state.elapsed / 60)

    def checkpoint(self, epoch: int) -> None:
        st = self.state
        torch.save({"model": self.model.state_dict(), "ema": self.ema.state_dict(), "opt": self.opt.state_dict(),
                    "epoch": epoch, "step": st.step, "elapsed": st.elapsed, "history": st.history, "best": st.best,
                    "config": asdict(self.cfg)}, self.out / "last.tmp")
        (self.out / "last.tmp").replace(self.out / "last.pt")

    # -- training ---------------------------------------------------------------------------------
    def run(self) -> None:
        t0 = time.time() - self.state.elapsed
        for epoch in range(self.state.epoch, self.cfg.epochs):
            if time.time() - t0 > self.budget:  # the budget ran out with the last epoch: no near-empty one after it
                break
            stop = self.train_epoch(epoch, t0)
            self.end_epoch(epoch)
            if stop:
                break
        log.info("done: %d epochs, %.1f min; weights -> %s", len(self.state.history), self.state.elapsed / 60,
                 self.out / "occface.pt")

    def train_epoch(self, epoch: int, t0: float) -> bool:
        """One pass over the (shut-eye weighted) training faces; True when the time budget ran out."""
        from tqdm import tqdm

        cfg, st = self.cfg, self.state
        with_vis = epoch >= cfg.warmup_epochs
        self.train_ds.set_epoch(epoch)
        g = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        sampler = torch.utils.data.WeightedRandomSampler(self.sample_weights, len(self.train_ds), replacement=True,
                                                         generator=g)
        loader = torch.utils.data.DataLoader(self.train_ds, batch_size=self.pairs_per_batch, sampler=sampler,
                                             drop_last=True, **self.loader_kw)
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}{' +vis' if with_vis else ''}", unit="batch",
                   mininterval=10, file=sys.stderr)
        self._sums: dict[str, float] = {}
        self._batches, self._seen, self._epoch_start = 0, 0, time.time()
        last_ck = time.time()
        for batch in bar:
            self.train_step(batch, with_vis, time.time() - t0)
            st.elapsed = time.time() - t0
            if self._batches % 10 == 0:
                bar.set_postfix(loss=f"{self._sums['total'] / self._batches:.3f}",
                                coord=f"{self._sums['coord'] / self._batches:.3f}",
                                ips=f"{self._seen / (time.time() - self._epoch_start):.1f}")
            if time.time() - last_ck > 300:
                self.checkpoint(epoch)  # mid-epoch: a resume restarts this epoch with the weights so far
                last_ck = time.time()
            if st.elapsed > self.budget:
                log.info("time budget of %.1f min reached", cfg.max_minutes)
                return True
        return False

    def train_step(self, batch: dict, with_vis: bool, elapsed_s: float) -> None:
        """Both views of each face through the model, every loss term, one optimiser step, the EMA."""
        cfg, st, model = self.cfg, self.state, self.model
        batch = {k: v.to(self.device) for k, v in batch.items()}
        for gparam in self.opt.param_groups:
            gparam["lr"] = self.lr_at(st.step, elapsed_s) * gparam["lr_scale"]
        flat = flatten_views(batch)
        image = flat["image"].contiguous(memory_format=torch.channels_last) if self.device.type == "cpu" else flat["image"]
        outp = model(image)
        losses = compute_losses(outp, flat, cfg.model, cfg.loss, with_vis)
        losses["consistency"] = consistency_loss(outp["coords"].unflatten(0, (-1, 2)), batch, cfg.model)
        losses["total"] = losses["total"] + cfg.loss.consistency * losses["consistency"]
        self.opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        self.opt.step()
        st.step += 1
        with torch.no_grad():
            d = min(cfg.ema_decay, (1 + st.step) / (10 + st.step))
            for pe, pm in zip(self.ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm.detach(), alpha=1 - d)
            for be, bm in zip(self.ema.buffers(), model.buffers()):
                be.copy_(bm)
        for k, v in losses.items():
            self._sums[k] = self._sums.get(k, 0.0) + float(v.detach())
        self._batches += 1
        self._seen += flat["image"].shape[0]

    def end_epoch(self, epoch: int) -> None:
        """Validate the EMA weights, log the epoch, write the weights (best and last) and a checkpoint."""
        st, n = self.state, max(self._batches, 1)
        val = validate(self.ema, self.val_loader, self.device)
        rec = {"epoch": epoch + 1, "step": st.step, "minutes": st.elapsed / 60,
               "crops_per_s": self._seen / max(time.time() - self._epoch_start, 1e-6),
               **{f"train_{k}": v / n for k, v in self._sums.items()}, **{f"val_{k}": v for k, v in val.items()}}
        st.history.append(rec)
        log.info("epoch %d: %s", epoch + 1, json.dumps({k: round(v, 5) if isinstance(v, float) else v for k, v in rec.items()}))
        meta = {"history": st.history, "parameters": count_parameters(self.ema), "flops": count_flops(self.ema),
                "data": str(self.args.data), "teacher": str(self.args.teacher), "command": self.args.command}
        if self.init_meta:
            meta["init"] = self.init_meta
        if val["nme68"] < st.best and epoch >= self.cfg.warmup_epochs:
            st.best = val["nme68"]
            save_weights(self.ema, self.out / "best.pt", self.cfg, meta)
        save_weights(self.ema, self.out / "occface.pt", self.cfg, meta)
        self.checkpoint(epoch + 1)


def train(args: argparse.Namespace) -> int:
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    args.out.mkdir(parents=True, exist_ok=True)
    cfg = TrainConfig(epochs=args.epochs, warmup_epochs=args.warmup_epochs, batch_size=args.batch_size,
                      lr=args.lr, max_minutes=args.max_minutes, seed=args.seed)
    cfg.model = rewired(ModelConfig(channels=args.channels), args)
    if args.no_occlusion:
        cfg.aug.occlude = 0.0
    trainer = Trainer(args, cfg, device)
    if args.resume:
        trainer.resume()
    trainer.run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = training_parser("occface_core.training.train", __doc__,
                        out_help="run folder: labels cache, checkpoints, weights", epochs=20, max_minutes=0.0,
                        batch_size=32, lr=2e-3, resume_help="continue from OUT/last.pt",
                        init_help="fine-tune: start from these weights (e.g. runs/occface/occface.pt) with a fresh "
                                  "schedule")
    p.add_argument("--teacher", type=Path, default=None, help="MediaPipe teacher cache .npz (occface_core.training.teacher)")
    p.add_argument("--occluders", type=Path, default=None, help="shared occluders folder (masks.cfg, textures/)")
    p.add_argument("--warmup-epochs", type=int, default=4, help="localisation-only epochs before the visibility head")
    p.add_argument("--channels", type=int, default=64, help="width of the fused stride-4 features")
    p.add_argument("--upsample", choices=("nearest", "bilinear"), default=None,
                   help="top-down upsampling (default: nearest, or the --init weights' own)")
    p.add_argument("--vis-stride", type=int, choices=(4, 8), default=None,
                   help="grid of the visibility head's pooling (default: 8, or the --init weights' own)")
    p.add_argument("--random-encoder", action="store_true",
                   help="ablation: start the face-mesh body from random weights instead of the wheel's")
    p.add_argument("--no-occlusion", action="store_true", help="ablation: no synthetic occluders")
    p.add_argument("--val-limit", type=int, default=0, help="validate on N evenly spaced val crops")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--cpu", action="store_true", help="ignore a GPU")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_training("occface_core.training.train", build_parser(), argv, train,
                        inputs=lambda a: ((a.data, "annotations file"), (a.teacher, "teacher cache"),
                                          (a.init, "initial weights"),
                                          (a.occluders and a.occluders / "masks.cfg", "occluders' masks.cfg")))


if __name__ == "__main__":
    sys.exit(main())
