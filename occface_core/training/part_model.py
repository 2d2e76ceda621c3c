"""A part stage's network: a `local_model.LocalNet` for one part's points (`part_crop.PARTS`).

At the face crop's 128 px a mouth is about 35 px wide and a heatmap cell 4 px: the lips' edges and
the nose's outline sit inside a cell, and the face model has no second look at them (MediaPipe's
attention mesh has one for the lips). A part stage cuts a crop around the part from the full frame
(`part_crop`) and regresses the part's points directly, in its `PartSpec.order`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..part_crop import PARTS, PartCropConfig, PartSpec
from .local_model import LocalNet, save_local_model


class PartNet(LocalNet):
    """`mean_points`: the part's mean shape in crop pixels, the head's starting bias (training measures
    it on its data; a network about to load trained weights needs none)."""

    def __init__(self, spec: PartSpec, cfg: PartCropConfig = PartCropConfig(), trunk_blocks: int = 10,
                 mean_points: np.ndarray | None = None):
        if mean_points is None:
            mean_points = np.full((len(spec.order), 2), cfg.input_size / 2, np.float32)
        super().__init__(cfg.input_size, mean_points, trunk_blocks)
        self.spec, self.cfg = spec, cfg


def save_part_model(net: PartNet, path: Path, meta: dict) -> None:
    save_local_model(net, path, net.cfg.to_dict(), meta, part=net.spec.name)


def load_part_model(path: Path) -> PartNet:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    net = PartNet(PARTS[ckpt["part"]], PartCropConfig(**ckpt["crop"]), ckpt.get("trunk_blocks", 10))
    net.load_state_dict(ckpt["model"])
    return net.eval()
