"""MediaPipe's iris/eye-contour network rebuilt as a readable PyTorch module, loaded from the wheel's flatbuffer.

The `mediapipe==0.10.21` wheel (Apache-2.0) ships `mediapipe/modules/iris_landmark/iris_landmark.tflite`:
71 eye-contour and brow points and 5 iris points regressed from a 64x64 RGB crop around one eye. Its
blocks are bottlenecks (1x1 reduce, or 2x2 stride-2 when downsampling, PReLU; depthwise 3x3; 1x1
expand; a residual add whose shortcut is max-pooled and zero-padded in channels when the block
downsamples; PReLU). A shared trunk of ten blocks takes the crop to 8x8; two branches of eight
blocks each end in the contour and iris heads.

OccFace's eye stage starts from the trunk (`eye_model.EyeNet`); the whole
network is rebuilt so a test can check it against the original in the LiteRT interpreter. Reading
happens at training time only: the shipped ONNX file carries the trained weights.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..encoder import ChannelPad, _same_pad_stride2, load_conv, load_prelu, read_tflite_weights, wheel_file, wheel_provenance

IRIS_RELPATH = "mediapipe/modules/iris_landmark/iris_landmark.tflite"
CONTOUR_POINTS = 71     # the first 16 are the eye's own contour (lids and corners)


def iris_model_path() -> Path:
    """The iris model inside the installed mediapipe wheel."""
    return wheel_file(IRIS_RELPATH)


def _indexed(name: str, index: int) -> str:
    return name if index == 0 else f"{name}_{index}"


class BottleneckBlock(nn.Module):
    """reduce (1x1, or 2x2 stride 2) -> PReLU -> depthwise 3x3 -> expand 1x1, plus the shortcut, then PReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        mid = cout // 2
        self.stride = stride
        self.reduce = nn.Conv2d(cin, mid, stride, stride)
        self.reduce_act = nn.PReLU(mid)
        self.depthwise = nn.Conv2d(mid, mid, 3, 1, padding=1, groups=mid)
        self.expand = nn.Conv2d(mid, cout, 1)
        self.act = nn.PReLU(cout)
        self.widen = ChannelPad(cin, cout) if cout > cin else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = F.max_pool2d(x, 2) if self.stride == 2 else x
        if self.widen is not None:
            shortcut = self.widen(shortcut)
        y = self.expand(self.depthwise(self.reduce_act(self.reduce(x))))
        return self.act(y + shortcut)

    def load_tflite(self, weights: dict[str, np.ndarray], reduce: int, depthwise: int) -> None:
        """TFLite names: conv2d_{reduce}, p_re_lu_{reduce}, depthwise_conv2d_{depthwise}, conv2d/p_re_lu_{reduce+1}
        (the first layer of a kind has no number)."""
        load_conv(self.reduce, weights, f"conv2d_{reduce}")
        load_prelu(self.reduce_act, weights, f"p_re_lu_{reduce}")
        load_conv(self.depthwise, weights, _indexed("depthwise_conv2d", depthwise), depthwise=True)
        load_conv(self.expand, weights, f"conv2d_{reduce + 1}")
        load_prelu(self.act, weights, f"p_re_lu_{reduce + 1}")


# (in, out, stride, TFLite reduce index, TFLite depthwise index) of each block.
TRUNK_BLOCKS = ((64, 64, 1, 1, 0), (64, 64, 1, 3, 1), (64, 64, 1, 5, 2), (64, 64, 1, 7, 3),
                (64, 128, 2, 9, 4), (128, 128, 1, 11, 5), (128, 128, 1, 13, 6), (128, 128, 1, 15, 7),
                (128, 128, 1, 17, 8), (128, 128, 2, 19, 9))
_BRANCH_SHAPES = ((128, 128, 1), (128, 128, 1), (128, 128, 2), (128, 128, 1), (128, 128, 1), (128, 128, 2),
                  (128, 128, 1), (128, 128, 1))
CONTOUR_BRANCH = tuple(s + (21 + 2 * k, 10 + k) for k, s in enumerate(_BRANCH_SHAPES))
IRIS_BRANCH = tuple(s + (37 + 2 * k, 18 + k) for k, s in enumerate(_BRANCH_SHAPES))


def _blocks(spec) -> nn.ModuleList:
    return nn.ModuleList(BottleneckBlock(cin, cout, stride) for cin, cout, stride, _, _ in spec)


def _load_blocks(blocks: nn.ModuleList, spec, weights: dict[str, np.ndarray]) -> None:
    for block, (*_, reduce, depthwise) in zip(blocks, spec):
        block.load_tflite(weights, reduce, depthwise)


class IrisTrunk(nn.Module):
    """Stem (3x3 stride 2, 64 channels) and the shared trunk: (B, 3, 64, 64) RGB in [0, 1] -> (B, 128, 8, 8).
    `blocks` keeps only the first blocks (a cheaper eye stage): `channels` and `stride` say what comes out."""

    def __init__(self, blocks: int = len(TRUNK_BLOCKS)):
        super().__init__()
        if not 1 <= blocks <= len(TRUNK_BLOCKS):
            raise ValueError(f"the iris trunk has 1 to {len(TRUNK_BLOCKS)} blocks, not {blocks}")
        self.spec = TRUNK_BLOCKS[:blocks]
        self.stem = nn.Conv2d(3, 64, 3, 2)
        self.stem_act = nn.PReLU(64)
        self.blocks = _blocks(self.spec)
        self.channels = self.spec[-1][1]
        self.stride = 2 * math.prod(stride for _, _, stride, _, _ in self.spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_act(self.stem(_same_pad_stride2(x)))
        for block in self.blocks:
            x = block(x)
        return x

    def load_tflite(self, weights: dict[str, np.ndarray]) -> None:
        load_conv(self.stem, weights, "conv2d")
        load_prelu(self.stem_act, weights, "p_re_lu")
        _load_blocks(self.blocks, self.spec, weights)


class IrisNet(nn.Module):
    """The whole original network, for checking the rebuild.

    Returns (contours (B, 213): 71 x (x, y, z) in 64-px input pixels; iris (B, 15): 5 x (x, y, z)).
    """

    def __init__(self):
        super().__init__()
        self.trunk = IrisTrunk()
        self.contour_blocks = _blocks(CONTOUR_BRANCH)
        self.contour_out = nn.Conv2d(128, 3 * CONTOUR_POINTS, 2)
        self.iris_blocks = _blocks(IRIS_BRANCH)
        self.iris_out = nn.Conv2d(128, 15, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.trunk(x)
        c, i = f, f
        for block in self.contour_blocks:
            c = block(c)
        for block in self.iris_blocks:
            i = block(i)
        return self.contour_out(c).flatten(1), self.iris_out(i).flatten(1)

    def load_tflite(self, weights: dict[str, np.ndarray]) -> None:
        self.trunk.load_tflite(weights)
        _load_blocks(self.contour_blocks, CONTOUR_BRANCH, weights)
        load_conv(self.contour_out, weights, "conv_eyes_contours_and_brows")
        _load_blocks(self.iris_blocks, IRIS_BRANCH, weights)
        load_conv(self.iris_out, weights, "conv_iris")


def pretrained_iris(path: Path | None = None) -> tuple[IrisNet, dict]:
    """The iris network with the wheel's weights, and its provenance (file, size, SHA-256)."""
    path = Path(path) if path is not None else iris_model_path()
    net = IrisNet()
    net.load_tflite(read_tflite_weights(path))
    return net, wheel_provenance(IRIS_RELPATH, path)
