"""The local stages' network: MediaPipe's pretrained iris trunk and a small regression head.

The face model's 128-px crop leaves a blink's lid travel and a lip's edge under one 4-px heatmap
cell. A local stage looks again, from the full frame, at a small crop around one part (an eye,
`eye_model`; the mouth, `mouth_model`) and regresses that part's points directly in crop pixels.

Input (B, 3, S, S) RGB in [0, 1]; output (B, P, 2) in crop pixels. The trunk (stem and up to ten
bottleneck blocks of MediaPipe's iris network, `iris_encoder`) takes S px to S/8; the head is a 1x1
reduction and one linear layer, started at the part's mean shape so the first steps are sane.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .iris_encoder import IrisTrunk

HEAD_CHANNELS = 32


class LocalNet(nn.Module):
    """`trunk_blocks`: how many of the iris trunk's ten blocks to keep (fewer: cheaper, coarser)."""

    def __init__(self, input_size: int, mean_points: np.ndarray, trunk_blocks: int = 10):
        super().__init__()
        self.input_size = input_size
        self.num_points = len(mean_points)
        self.trunk = IrisTrunk(trunk_blocks)
        cells = input_size // self.trunk.stride
        self.reduce = nn.Sequential(nn.Conv2d(self.trunk.channels, HEAD_CHANNELS, 1), nn.PReLU(HEAD_CHANNELS))
        self.regress = nn.Linear(HEAD_CHANNELS * cells * cells, self.num_points * 2)
        with torch.no_grad():
            self.regress.weight.mul_(0.1)
            self.regress.bias.copy_(torch.from_numpy(np.asarray(mean_points, np.float32).reshape(-1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.reduce(self.trunk(x))
        return self.regress(f.flatten(1)).view(-1, self.num_points, 2)


def load_matching(net: torch.nn.Module, state: dict) -> list[str]:
    """Load the tensors of `state` that `net` has with the same shape; returns the names of the net's
    tensors left as they were (a shallower trunk takes the first blocks and leaves its head new)."""
    own = net.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    net.load_state_dict(usable, strict=False)
    return sorted(k for k in own if k not in usable)


def export_local_onnx(net: LocalNet, out: Path, input_name: str) -> float:
    """Write the ONNX file (PReLUs in their fast form, `onnx_forms`); returns the largest difference
    from the plain PyTorch network on random crops."""
    import onnxruntime as ort

    from .onnx_forms import export_form, optimise_for_onnxruntime

    net = net.eval()
    s = net.input_size
    torch.onnx.export(export_form(net), (torch.zeros(2, 3, s, s),), str(out), input_names=[input_name],
                      output_names=["points"],
                      dynamic_axes={input_name: {0: "batch"}, "points": {0: "batch"}}, opset_version=17, dynamo=False)
    optimise_for_onnxruntime(out)
    x = torch.rand(2, 3, s, s)
    with torch.no_grad():
        ref = net(x).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {input_name: x.numpy()})[0]
    return float(np.abs(ref - got).max())


def save_local_model(net: LocalNet, path: Path, crop: dict, meta: dict, **extra) -> None:
    """A local stage's checkpoint: weights, the crop it was trained on, trunk depth, provenance, and
    what else its loader needs (`extra`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": net.state_dict(), "crop": crop, "trunk_blocks": len(net.trunk.blocks), "meta": meta, **extra},
               path)
