"""MediaPipe's face-mesh network rebuilt as a readable PyTorch module, loaded from the wheel's flatbuffer.

The `mediapipe==0.10.21` wheel (Apache-2.0) ships `mediapipe/modules/face_landmark/face_landmark.tflite`:
468 mesh points regressed from a 192x192 RGB crop in [0, 1]. Its body is a stack of BlazeFace-style
blocks (depthwise 3x3 -> pointwise 1x1, a residual add whose shortcut is max-pooled and zero-padded
in channels when the block downsamples, then PReLU); no batch norm, float16 weights. OccFace v2 uses
that body as its pretrained encoder; the mesh and face-flag heads are rebuilt too, so a test can check
the whole network against the original in the LiteRT interpreter.

Only the small parse-only `tflite` package (generated flatbuffer readers) is needed to read the
weights; nothing of TensorFlow. Reading happens at training time: the shipped ONNX file carries the
trained weights, so the app never reads the wheel's model.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FACE_MESH_RELPATH = "mediapipe/modules/face_landmark/face_landmark.tflite"


def wheel_file(relpath: str) -> Path:
    """A model file inside the installed mediapipe wheel (located without importing mediapipe)."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the mediapipe package is not installed (requirements.txt pins mediapipe==0.10.21)")
    path = Path(list(spec.submodule_search_locations)[0]).parent / relpath
    if not path.is_file():
        raise FileNotFoundError(f"{Path(relpath).name} not found in the mediapipe wheel: {path}")
    return path


def face_mesh_path() -> Path:
    """The face-mesh model inside the installed mediapipe wheel."""
    return wheel_file(FACE_MESH_RELPATH)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def wheel_provenance(relpath: str, path: Path) -> dict:
    """What a model card records of a pretrained file taken from the wheel (file, size, SHA-256)."""
    return {"file": relpath, "package": "mediapipe==0.10.21 (Apache-2.0)", "bytes": path.stat().st_size,
            "sha256": file_sha256(path)}


def read_tflite_weights(path: Path) -> dict[str, np.ndarray]:
    """Every constant tensor of a .tflite file by name, as float32 (float16 weights are widened)."""
    import tflite
    from tflite.TensorType import TensorType

    buf = Path(path).read_bytes()
    model = tflite.Model.GetRootAsModel(buf, 0)
    graph = model.Subgraphs(0)
    dtypes = {TensorType.FLOAT16: np.float16, TensorType.FLOAT32: np.float32}
    out: dict[str, np.ndarray] = {}
    for i in range(graph.TensorsLength()):
        t = graph.Tensors(i)
        data = model.Buffers(t.Buffer()).DataAsNumpy()
        if not isinstance(data, np.ndarray) or data.size == 0 or t.Type() not in dtypes:
            continue
        arr = np.frombuffer(data.tobytes(), dtype=dtypes[t.Type()]).reshape(t.ShapeAsNumpy())
        out[t.Name().decode()] = arr.astype(np.float32)
    return out


def _same_pad_stride2(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's SAME padding for a 3x3 stride-2 kernel on an even size: one row/column after, none before."""
    return F.pad(x, (0, 1, 0, 1))


class ChannelPad(nn.Module):
    """Zero channels appended to a shortcut, so it adds onto a wider block's output (no weights)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.cin, self.cout = cin, cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (0, 0, 0, 0, 0, self.cout - self.cin))


class BlazeBlock(nn.Module):
    """depthwise 3x3 (stride 1 or 2) -> pointwise 1x1, plus the shortcut, then PReLU.

    Downsampling blocks max-pool the shortcut; widening blocks zero-pad its channels.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.depthwise = nn.Conv2d(cin, cin, 3, stride, padding=1 if stride == 1 else 0, groups=cin)
        self.pointwise = nn.Conv2d(cin, cout, 1)
        self.act = nn.PReLU(cout)
        self.widen = ChannelPad(cin, cout) if cout > cin else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if self.stride == 2:
            x = _same_pad_stride2(x)
            shortcut = F.max_pool2d(shortcut, 2)
        if self.widen is not None:
            shortcut = self.widen(shortcut)
        return self.act(self.pointwise(self.depthwise(x)) + shortcut)


class ConvPReLU(nn.Module):
    """A plain convolution and PReLU (the stem, and the branches' 1x1 channel reductions)."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(cin, cout, kernel, stride)
        self.act = nn.PReLU(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            x = _same_pad_stride2(x)
        return self.act(self.conv(x))


# (in, out, stride) of the body's blocks after the stem; the indices are the TFLite layer numbers
# (block i is depthwise_conv2d_i -> conv2d_{i+1} -> p_re_lu_{i+1}).
BODY_BLOCKS = ((16, 16, 1), (16, 16, 1), (16, 32, 2),
               (32, 32, 1), (32, 32, 1), (32, 64, 2),
               (64, 64, 1), (64, 64, 1), (64, 128, 2),
               (128, 128, 1), (128, 128, 1), (128, 128, 2),
               (128, 128, 1), (128, 128, 1))
# After which body block each feature map is taken: strides 8, 16, 32 of the input (at 192 px:
# 64x24x24, 128x12x12, 128x6x6), and stride 4 (32 channels) for fine detail.
FEATURE_TAPS = {"s4": 5, "s8": 8, "s16": 11, "s32": 14}


@dataclass(frozen=True)
class EncoderFeatures:
    s4: torch.Tensor
    s8: torch.Tensor
    s16: torch.Tensor
    s32: torch.Tensor


class FaceMeshEncoder(nn.Module):
    """The face-mesh body: stem and 14 blocks. Takes RGB in [0, 1], (B, 3, H, W) with H, W divisible by 32."""

    def __init__(self):
        super().__init__()
        self.stem = ConvPReLU(3, 16, 3, 2)
        self.blocks = nn.ModuleList(BlazeBlock(cin, cout, s) for cin, cout, s in BODY_BLOCKS)

    def forward(self, x: torch.Tensor) -> EncoderFeatures:
        x = self.stem(x)
        taps = {}
        for i, block in enumerate(self.blocks, start=1):
            x = block(x)
            taps[i] = x
        return EncoderFeatures(**{name: taps[i] for name, i in FEATURE_TAPS.items()})

    def load_tflite(self, weights: dict[str, np.ndarray]) -> None:
        load_conv(self.stem.conv, weights, "conv2d_1")
        load_prelu(self.stem.act, weights, "p_re_lu_1")
        for i, block in enumerate(self.blocks, start=1):
            load_block(block, weights, i, i + 1, i + 1)


class FaceMeshNet(nn.Module):
    """The whole original network (body, mesh head, face-flag head), for checking the rebuild.

    Returns (mesh (B, 1404) in 192-px input pixels as x, y, z triples; face-flag logit (B,)).
    """

    def __init__(self):
        super().__init__()
        self.body = FaceMeshEncoder()
        self.mesh_blocks = nn.ModuleList([BlazeBlock(128, 128, 2), BlazeBlock(128, 128, 1), BlazeBlock(128, 128, 1)])
        self.mesh_reduce = ConvPReLU(128, 32)
        self.mesh_block = BlazeBlock(32, 32, 1)
        self.mesh_out = nn.Conv2d(32, 1404, 3, 3)
        self.flag_block = BlazeBlock(128, 128, 2)
        self.flag_reduce = ConvPReLU(128, 32)
        self.flag_block2 = BlazeBlock(32, 32, 1)
        self.flag_out = nn.Conv2d(32, 1, 3, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.body(x).s32
        m = f
        for block in self.mesh_blocks:
            m = block(m)
        mesh = self.mesh_out(self.mesh_block(self.mesh_reduce(m))).flatten(1)
        flag = self.flag_out(self.flag_block2(self.flag_reduce(self.flag_block(f)))).flatten(1)[:, 0]
        return mesh, flag

    def load_tflite(self, weights: dict[str, np.ndarray]) -> None:
        self.body.load_tflite(weights)
        for block, i in zip(self.mesh_blocks, (15, 16, 17)):
            load_block(block, weights, i, i + 1, i + 1)
        load_conv(self.mesh_reduce.conv, weights, "conv2d_19")
        load_prelu(self.mesh_reduce.act, weights, "p_re_lu_19")
        load_block(self.mesh_block, weights, 18, 20, 20)
        load_conv(self.mesh_out, weights, "conv2d_21")
        load_block(self.flag_block, weights, 23, 28, 26)
        load_conv(self.flag_reduce.conv, weights, "conv2d_29")
        load_prelu(self.flag_reduce.act, weights, "p_re_lu_27")
        load_block(self.flag_block2, weights, 24, 30, 28)
        load_conv(self.flag_out, weights, "conv2d_31")


# TFLite stores a convolution kernel as (out, kh, kw, in) and a depthwise one as (1, kh, kw, channels).

def load_conv(conv: nn.Conv2d, weights: dict[str, np.ndarray], name: str, depthwise: bool = False) -> None:
    kernel = weights[f"{name}/Kernel"]
    kernel = kernel.transpose(3, 0, 1, 2) if depthwise else kernel.transpose(0, 3, 1, 2)
    if tuple(kernel.shape) != tuple(conv.weight.shape):
        raise ValueError(f"{name}: kernel {kernel.shape} does not fit {tuple(conv.weight.shape)}")
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel)))
        conv.bias.copy_(torch.from_numpy(weights[f"{name}/Bias"]))


def load_prelu(act: nn.PReLU, weights: dict[str, np.ndarray], name: str) -> None:
    with torch.no_grad():
        act.weight.copy_(torch.from_numpy(weights[f"{name}/Alpha"].reshape(-1)))


def load_block(block: BlazeBlock, weights: dict[str, np.ndarray], dw: int, pw: int, act: int) -> None:
    load_conv(block.depthwise, weights, f"depthwise_conv2d_{dw}", depthwise=True)
    load_conv(block.pointwise, weights, f"conv2d_{pw}")
    load_prelu(block.act, weights, f"p_re_lu_{act}")


def pretrained_encoder(path: Path | None = None) -> tuple[FaceMeshEncoder, dict]:
    """The face-mesh body with the wheel's weights, and its provenance (file, size, SHA-256)."""
    path = Path(path) if path is not None else face_mesh_path()
    encoder = FaceMeshEncoder()
    encoder.load_tflite(read_tflite_weights(path))
    return encoder, wheel_provenance(FACE_MESH_RELPATH, path)
