"""The training loop the local stages share (`eye_train`, `mouth_train`): AdamW with the pretrained
trunk at a fraction of the head's learning rate, a cosine schedule over the time budget (or the
epochs), validation and a checkpoint after every epoch, the best epoch kept, `--resume` from OUT/last.pt.

A stage brings what is its own: how a batch is drawn, the loss, the validation and the score that
picks the best epoch (lower is better).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .dataset import photometric
from .local_model import LocalNet, load_matching

log = logging.getLogger("occface.local_train")


@dataclass
class CropDegradation:
    """What a camera does to a local stage's crop: the face crops' degradations (`dataset.photometric`,
    each with its probability), then sensor noise of a random level up to `noise_max` grey levels."""
    lowres: float = 0.3
    blur: float = 0.2
    colour: float = 0.8
    grey: float = 0.1
    noise_max: float = 4.0
    lowres_range: tuple[float, float] = (0.3, 0.8)
    blur_kernels: tuple[int, ...] = (3, 5)

    def apply(self, crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = photometric(crop, rng, self.lowres, self.colour, self.blur, self.grey, self.lowres_range,
                          self.blur_kernels)
        noisy = out.astype(np.float32) + rng.normal(0, rng.uniform(0, self.noise_max), out.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)


@dataclass
class LoopConfig:
    epochs: int
    steps_per_epoch: int
    lr: float = 1e-3
    trunk_lr_scale: float = 0.3
    weight_decay: float = 1e-4
    max_minutes: float = 30.0      # 0: no limit
    seed: int = 0


def init_from(net: LocalNet, init: Path | None, pretrained: Callable[[], tuple[torch.nn.Module, dict]]) -> dict:
    """Start from trained local-stage weights (`init`) or from the wheel's iris trunk; returns the provenance."""
    if init is not None:
        ckpt = torch.load(init, map_location="cpu", weights_only=True)
        skipped = load_matching(net, ckpt["model"])
        if skipped:
            log.info("--init: %s start afresh (a different trunk depth)", ", ".join(skipped))
        return {"init": str(init), **{k: v for k, v in ckpt["meta"].items() if k != "history"}}
    iris, provenance = pretrained()
    own = net.trunk.state_dict()    # a shallower trunk is the first blocks; the load stays strict
    net.trunk.load_state_dict({k: v for k, v in iris.trunk.state_dict().items() if k in own})
    return provenance


def fit(net: LocalNet, cfg: LoopConfig, out: Path, resume: bool,
        draw: Callable[[np.random.Generator], dict],
        loss: Callable[[LocalNet, dict], torch.Tensor],
        validate: Callable[[LocalNet], dict],
        score: Callable[[dict], float],
        save_best: Callable[[list[dict]], None]) -> list[dict]:
    """Train `net` in place; returns the per-epoch history (validation dicts with epoch, loss, minutes)."""
    trunk = list(net.trunk.parameters())
    head = [q for n, q in net.named_parameters() if not n.startswith("trunk.")]
    opt = torch.optim.AdamW([{"params": head, "lr_scale": 1.0}, {"params": trunk, "lr_scale": cfg.trunk_lr_scale}],
                            lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = {"epoch": 0, "elapsed": 0.0, "history": [], "best": float("inf")}
    last = out / "last.pt"
    if resume and last.is_file():
        ckpt = torch.load(last, map_location="cpu", weights_only=False)
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        state = ckpt["state"]
        log.info("resumed at epoch %d (%.1f min)", state["epoch"], state["elapsed"] / 60)
    budget = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
    rng = np.random.default_rng([cfg.seed, state["epoch"]])
    while state["epoch"] < cfg.epochs and state["elapsed"] < budget:
        t0, losses = time.time(), []
        for _ in range(cfg.steps_per_epoch):
            frac = min(1.0, state["elapsed"] / budget) if budget < math.inf else state["epoch"] / cfg.epochs
            lr = cfg.lr * 0.5 * (1 + math.cos(math.pi * frac))
            for g in opt.param_groups:
                g["lr"] = lr * g["lr_scale"]
            value = loss(net, draw(rng))
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            losses.append(value.item())
        state["elapsed"] += time.time() - t0
        state["epoch"] += 1
        net.eval()
        with torch.inference_mode():
            val = validate(net)
        net.train()
        val.update(epoch=state["epoch"], loss=float(np.mean(losses)), minutes=state["elapsed"] / 60)
        state["history"].append(val)
        log.info("epoch %d  %s", state["epoch"], "  ".join(f"{k} {v:.4g}" for k, v in val.items()
                                                          if k != "epoch" and isinstance(v, float)))
        if score(val) < state["best"]:
            state["best"] = score(val)
            save_best(state["history"])
        torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "state": state}, last)
    return state["history"]
