"""The eye stage's network: the iris model's pretrained trunk and a small regression head.

At the face crop's 128 px an eye is about 15 px wide and a blink moves a lid 2-4 px, under one cell
of the face model's 32x32 heatmaps, so the face model's lids barely close. The eye stage looks again,
from the full frame, at a crop around each eye (`eye_crop`), and regresses its eight points directly.

Input (B, 3, S, S) RGB in [0, 1]; output (B, 8, 2) in crop pixels, in `eye_crop.EYE_ORDER`. The trunk
(stem and ten bottleneck blocks of MediaPipe's iris network, `iris_encoder`) takes 32 px to 4x4; the
head is a 1x1 reduction and one linear layer, started at the mean eye so the first steps are sane.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .eye_crop import EyeCropConfig
from .iris_encoder import IrisTrunk

EYE_POINTS = 8
HEAD_CHANNELS = 32


class EyeNet(nn.Module):
    """`trunk_blocks`: how many of the iris trunk's ten blocks to keep (five: 8x8 cells at 32 px, and
    0.46 against 0.74 ms for both eyes in onnxruntime)."""

    def __init__(self, cfg: EyeCropConfig = EyeCropConfig(), trunk_blocks: int = 10):
        super().__init__()
        self.cfg = cfg
        self.trunk = IrisTrunk(trunk_blocks)
        cells = cfg.input_size // self.trunk.stride
        self.reduce = nn.Sequential(nn.Conv2d(self.trunk.channels, HEAD_CHANNELS, 1), nn.PReLU(HEAD_CHANNELS))
        self.regress = nn.Linear(HEAD_CHANNELS * cells * cells, EYE_POINTS * 2)
        with torch.no_grad():
            self.regress.weight.mul_(0.1)
            self.regress.bias.copy_(torch.from_numpy(mean_eye(cfg).reshape(-1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.reduce(self.trunk(x))
        return self.regress(f.flatten(1)).view(-1, EYE_POINTS, 2)


def mean_eye(cfg: EyeCropConfig) -> np.ndarray:
    """A typical open eye in crop pixels (EYE_ORDER): corners on the centre line, lids a third of the
    width apart; only a starting point for the head's bias."""
    s, w = cfg.input_size, cfg.input_size / cfg.crop_scale
    x = np.array([-0.5, -0.2, 0.2, 0.5, 0.2, -0.2, 0.0, 0.0]) * w
    y = np.array([0.0, -0.15, -0.15, 0.0, 0.12, 0.12, -0.18, 0.14]) * w
    return (np.stack([x, y], -1) + s / 2).astype(np.float32)


def save_eye_model(net: EyeNet, path: Path, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict(), "crop": net.cfg.to_dict(), "trunk_blocks": len(net.trunk.blocks),
                "meta": meta}, path)


def load_eye_model(path: Path) -> EyeNet:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    net = EyeNet(EyeCropConfig(**ckpt["crop"]), ckpt.get("trunk_blocks", 10))
    net.load_state_dict(ckpt["model"])
    return net.eval()
