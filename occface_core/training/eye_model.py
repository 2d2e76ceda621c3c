"""The eye stage's network: a `local_model.LocalNet` for the eight points of one eye.

At the face crop's 128 px an eye is about 15 px wide and a blink moves a lid 2-4 px, under one cell
of the face model's 32x32 heatmaps, so the face model's lids barely close. The eye stage looks again,
from the full frame, at a crop around each eye (`eye_crop`), and regresses its eight points directly.

Output (B, 8, 2) in crop pixels, in `eye_crop.EYE_ORDER`; at 32 px the iris trunk ends at 4x4.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..eye_crop import EyeCropConfig
from .local_model import LocalNet, save_local_model


class EyeNet(LocalNet):
    """`trunk_blocks`: how many of the iris trunk's ten blocks to keep (five: 8x8 cells at 32 px, and
    0.46 against 0.74 ms for both eyes in onnxruntime)."""

    def __init__(self, cfg: EyeCropConfig = EyeCropConfig(), trunk_blocks: int = 10):
        super().__init__(cfg.input_size, mean_eye(cfg), trunk_blocks)
        self.cfg = cfg


def mean_eye(cfg: EyeCropConfig) -> np.ndarray:
    """A typical open eye in crop pixels (EYE_ORDER): corners on the centre line, lids a third of the
    width apart; only a starting point for the head's bias."""
    s, w = cfg.input_size, cfg.input_size / cfg.crop_scale
    x = np.array([-0.5, -0.2, 0.2, 0.5, 0.2, -0.2, 0.0, 0.0]) * w
    y = np.array([0.0, -0.15, -0.15, 0.0, 0.12, 0.12, -0.18, 0.14]) * w
    return (np.stack([x, y], -1) + s / 2).astype(np.float32)


def save_eye_model(net: EyeNet, path: Path, meta: dict) -> None:
    save_local_model(net, path, net.cfg.to_dict(), meta)


def load_eye_model(path: Path) -> EyeNet:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    net = EyeNet(EyeCropConfig(**ckpt["crop"]), ckpt.get("trunk_blocks", 10))
    net.load_state_dict(ckpt["model"])
    return net.eval()
