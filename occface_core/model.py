"""OccFace v2: the OccFace heads (DESIGN.md, "OccFace model") on MediaPipe's pretrained face-mesh body.

encoder (face-mesh body, `encoder.FaceMeshEncoder`, features at strides 4, 8, 16 and 32)
     -> top-down fusion to stride 4 (lateral 1x1 + upsampled coarser map, one BlazeBlock per level)
     -> heatmap head for all 100 points, and the point map and edge map (Eq. 2) that reweight them
     -> soft-argmax decoding (Eq. 3, in `codec`): sub-pixel and smooth in its input, which keeps the
        raw points still on a still face
     -> visibility head (Eq. 4-5): attention pooling of a 1x1 projection of [features, point map,
        edge map] per landmark, a local (per-landmark) branch and a cross-landmark context branch
        fused by a per-landmark gate alpha initialised near 0
     -> face score head (ATPN tracking branch) on the pooled deepest features.

The network takes the app's crop convention, BGR scaled to [-1, 1], and converts it to the encoder's
RGB in [0, 1] itself, so the exported ONNX file and the backend stay unchanged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import codec
from .codec import CodecConfig
from .encoder import BlazeBlock, FaceMeshEncoder
from .layout import NUM_POINTS


@dataclass
class ModelConfig:
    num_points: int = NUM_POINTS
    channels: int = 64           # width of the fused features at strides 32 to 8
    fine_channels: int = 32      # width at stride 4, where the heatmaps and the visibility head work
    vis_channels: int = 32       # C' of Eq. 4
    vis_hidden: int = 8          # hidden width of the per-landmark local branch
    ctx_channels: int = 4        # per-landmark width fed to the context branch
    gate_init: float = 0.05      # alpha of Eq. 5 starts near 0
    upsample: str = "nearest"    # top-down upsampling; bilinear cost 10 % of the model's CPU time in onnxruntime
    vis_stride: int = 8          # the visibility head pools its features over a stride-8 grid (256 positions)
    codec: CodecConfig = field(default_factory=CodecConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "ModelConfig":
        d = {**LEGACY_FIELDS, **d}   # configs written before a field existed meant its old behaviour
        c = d.pop("codec", {})
        return ModelConfig(**d, codec=CodecConfig(**c))


LEGACY_FIELDS = {"upsample": "bilinear", "vis_stride": 4}


ENCODER_CHANNELS = {"s4": 32, "s8": 64, "s16": 128, "s32": 128}


class VisibilityHead(nn.Module):
    """Eq. 4-5. Pooling is an einsum over the spatial axis (never a P x C' x h x w tensor)."""

    def __init__(self, cfg: ModelConfig, in_channels: int):
        super().__init__()
        P, Cv, H = cfg.num_points, cfg.vis_channels, cfg.vis_hidden
        self.pool = cfg.vis_stride // 4   # the inputs arrive at stride 4
        self.proj = nn.Sequential(nn.Conv2d(in_channels, Cv, 1, bias=False), nn.BatchNorm2d(Cv), nn.ReLU(inplace=True))
        # local branch: a per-landmark (grouped) MLP Cv -> H -> 1
        self.w1 = nn.Parameter(torch.randn(P, Cv, H) * (2.0 / Cv) ** 0.5)
        self.b1 = nn.Parameter(torch.zeros(P, H))
        self.w2 = nn.Parameter(torch.randn(P, H) * (1.0 / H) ** 0.5)
        self.b2 = nn.Parameter(torch.full((P,), 2.0))   # most points are visible: start near p=0.88
        # context branch: a shared squeeze per landmark, then a mix across all landmarks
        self.squeeze = nn.Linear(Cv, cfg.ctx_channels)
        self.mix = nn.Sequential(nn.Linear(P * cfg.ctx_channels, 128), nn.ReLU(inplace=True), nn.Linear(128, P))
        self.alpha = nn.Parameter(torch.full((P,), cfg.gate_init))

    def forward(self, feats: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        if self.pool > 1:   # a coarser grid: the attention still sums to 1 per landmark
            feats = F.avg_pool2d(feats, self.pool)
            attention = F.avg_pool2d(attention, self.pool) * (self.pool * self.pool)
        f = self.proj(feats)                                           # (B, Cv, h, w)
        v = torch.einsum("bphw,bchw->bpc", attention, f)               # (B, P, Cv)
        hid = F.relu(torch.einsum("bpc,pch->bph", v, self.w1) + self.b1)
        local = (hid * self.w2).sum(-1) + self.b2                      # (B, P)
        ctx = self.mix(F.relu(self.squeeze(v)).flatten(1))             # (B, P)
        return local + self.alpha * ctx                                # logits


class TopDownFusion(nn.Module):
    """Feature-pyramid style fusion of the encoder's maps down to stride 4 (the heatmap resolution).

    `channels` wide at strides 32 to 8, `fine_channels` at stride 4, where every channel costs 1,024
    positions per crop: the heads there dominate the model's time on the CPU.
    """

    def __init__(self, channels: int, fine_channels: int, upsample: str = "nearest"):
        super().__init__()
        self.upsample = upsample
        self.lateral = nn.ModuleDict({k: nn.Conv2d(ENCODER_CHANNELS[k], channels, 1) for k in ("s32", "s16", "s8")})
        self.smooth = nn.ModuleDict({k: BlazeBlock(channels, channels) for k in ("s16", "s8")})
        self.narrow = nn.Conv2d(channels, fine_channels, 1)
        self.lateral_s4 = nn.Conv2d(ENCODER_CHANNELS["s4"], fine_channels, 1)
        self.smooth_s4 = BlazeBlock(fine_channels, fine_channels)

    def forward(self, feats) -> torch.Tensor:
        x = self.lateral["s32"](feats.s32)
        for level in ("s16", "s8"):
            fine = getattr(feats, level)
            x = self.smooth[level](self._up(x, fine) + self.lateral[level](fine))
        return self.smooth_s4(self._up(self.narrow(x), feats.s4) + self.lateral_s4(feats.s4))

    def _up(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        if self.upsample == "nearest":
            return F.interpolate(x, size=like.shape[-2:], mode="nearest")
        return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class OccFaceNet(nn.Module):
    """Returns a dict: heatmaps (a list of one, reweighted), point_map, edge_map, coords (B, P, 2) in
    heatmap cells, vis_logits (B, P), face_logit (B,)."""

    def __init__(self, cfg: ModelConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or ModelConfig()
        C, P = cfg.fine_channels, cfg.num_points
        if cfg.codec.input_size != 4 * cfg.codec.heatmap_size or cfg.codec.input_size % 32:
            raise ValueError("the heatmaps are at stride 4 and the encoder needs an input divisible by 32")
        if cfg.upsample not in ("nearest", "bilinear") or cfg.vis_stride not in (4, 8):
            raise ValueError(f"unknown upsample {cfg.upsample!r} or vis_stride {cfg.vis_stride}")
        self.encoder = FaceMeshEncoder()
        self.fusion = TopDownFusion(cfg.channels, C, cfg.upsample)
        self.hm_head = nn.Conv2d(C, P, 1)
        E = codec.NUM_EDGE_MAPS
        self.point_head = nn.Conv2d(C, 1, 1)
        self.edge_head = nn.Conv2d(C, E, 1)
        self.reweight = nn.Conv2d(1 + E, P, 1)   # Eq. 2: H' = H * (1 + tanh(W [point, edge]))
        nn.init.zeros_(self.reweight.weight)
        nn.init.zeros_(self.reweight.bias)
        self.vis = VisibilityHead(cfg, C + 1 + E)
        self.face = nn.Linear(2 * ENCODER_CHANNELS["s32"], 1)

    def forward(self, x: torch.Tensor) -> dict:
        rgb01 = x.flip(1) * 0.5 + 0.5           # BGR in [-1, 1] -> the encoder's RGB in [0, 1]
        enc = self.encoder(rgb01)
        feats = self.fusion(enc)
        heatmap = self.hm_head(feats)
        point_map = self.point_head(feats)
        edge_map = self.edge_head(feats)
        aux = torch.cat([point_map, edge_map], dim=1)
        final = heatmap * (1 + torch.tanh(self.reweight(aux)))
        coords, att = codec.soft_argmax(final, self.cfg.codec.beta)
        vis_logits = self.vis(torch.cat([feats, aux], dim=1), att.detach())
        pooled = torch.cat([enc.s32.mean(dim=(2, 3)), enc.s32.amax(dim=(2, 3))], dim=1)
        face_logit = self.face(pooled).squeeze(-1)
        return {"heatmaps": [final], "point_map": point_map, "edge_map": edge_map,
                "coords": coords, "vis_logits": vis_logits, "face_logit": face_logit}


class ExportWrapper(nn.Module):
    """What ships: uint8-range BGR->normalised input in, points in input pixels, visibility, score out."""

    def __init__(self, net: OccFaceNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor):
        out = self.net(x)
        pts = codec.to_pixels(out["coords"], self.net.cfg.codec)
        return pts, torch.sigmoid(out["vis_logits"]), torch.sigmoid(out["face_logit"])


def load_model(path) -> OccFaceNet:
    """A checkpoint written by training (`{"model": state_dict, "config": ModelConfig dict}`), in eval mode."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    net = OccFaceNet(ModelConfig.from_dict(ck["config"]))
    net.load_state_dict(ck["model"])
    return net.eval()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: OccFaceNet) -> int:
    """Multiply-accumulates of convolutions, linear layers and the einsums for one crop (x2 = FLOPs)."""
    macs = 0

    def conv_hook(m, inp, out):
        nonlocal macs
        macs += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def lin_hook(m, inp, out):
        nonlocal macs
        macs += out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    s = model.cfg.codec.input_size
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, s, s))
    model.train(was_training)
    for h in hooks:
        h.remove()
    cfg = model.cfg
    hw = cfg.codec.heatmap_size ** 2
    macs += cfg.num_points * hw * cfg.vis_channels + cfg.num_points * cfg.vis_channels * cfg.vis_hidden
    return 2 * macs


def describe(cfg: ModelConfig | None = None) -> str:
    net = OccFaceNet(cfg)
    return (f"OccFaceNet: {count_parameters(net) / 1e6:.3f} M parameters, "
            f"{count_flops(net) / 1e9:.3f} GFLOPs per {net.cfg.codec.input_size}px crop")


if __name__ == "__main__":
    print(describe())
