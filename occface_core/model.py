"""The OccFace network (DESIGN.md, "OccFace model"), sized for a laptop CPU.

stem -> K stacked hourglass stages, each with a heatmap head (Eq. 7 supervises all of them)
     -> point map and edge map (Eq. 2) from the last stage, which reweight its heatmaps
     -> soft-argmax decoding (Eq. 3, in `codec`)
     -> visibility head (Eq. 4-5): attention pooling of a 1x1 projection of [features, point map,
        edge map] per landmark, a local (per-landmark) branch and a cross-landmark context branch
        fused by a per-landmark gate alpha initialised near 0
     -> face score head (ATPN tracking branch) on the pooled shared features.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import codec
from .codec import CodecConfig
from .layout import NUM_POINTS


@dataclass
class ModelConfig:
    num_points: int = NUM_POINTS
    channels: int = 48
    stages: int = 2
    depth: int = 3
    vis_channels: int = 32       # C' of Eq. 4
    vis_hidden: int = 8          # hidden width of the per-landmark local branch
    ctx_channels: int = 4        # per-landmark width fed to the context branch
    gate_init: float = 0.05      # alpha of Eq. 5 starts near 0
    codec: CodecConfig = field(default_factory=CodecConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "ModelConfig":
        d = dict(d)
        c = d.pop("codec", {})
        return ModelConfig(**d, codec=CodecConfig(**c))


class Residual(nn.Module):
    """Bottleneck residual block (1x1 -> 3x3 -> 1x1) with BN + ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = cout // 2
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = nn.Identity() if cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return F.relu(self.body(x) + self.skip(x))


class Hourglass(nn.Module):
    def __init__(self, depth: int, c: int):
        super().__init__()
        self.up = Residual(c, c)
        self.low1 = Residual(c, c)
        self.low2 = Hourglass(depth - 1, c) if depth > 1 else Residual(c, c)
        self.low3 = Residual(c, c)

    def forward(self, x):
        up = self.up(x)
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2))))
        return up + F.interpolate(low, scale_factor=2.0, mode="nearest")


def conv_bn(cin: int, cout: int, k: int = 3, s: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class VisibilityHead(nn.Module):
    """Eq. 4-5. Pooling is an einsum over the spatial axis (never a P x C' x h x w tensor)."""

    def __init__(self, cfg: ModelConfig, in_channels: int):
        super().__init__()
        P, Cv, H = cfg.num_points, cfg.vis_channels, cfg.vis_hidden
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
        f = self.proj(feats)                                           # (B, Cv, h, w)
        v = torch.einsum("bphw,bchw->bpc", attention, f)               # (B, P, Cv)
        hid = F.relu(torch.einsum("bpc,pch->bph", v, self.w1) + self.b1)
        local = (hid * self.w2).sum(-1) + self.b2                      # (B, P)
        ctx = self.mix(F.relu(self.squeeze(v)).flatten(1))             # (B, P)
        return local + self.alpha * ctx                                # logits


class OccFaceNet(nn.Module):
    """Returns a dict: heatmaps (list per stage, last one reweighted), point_map, edge_map,
    coords (B, P, 2) in heatmap cells, vis_logits (B, P), face_logit (B,)."""

    def __init__(self, cfg: ModelConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or ModelConfig()
        C, P = cfg.channels, cfg.num_points
        down = cfg.codec.input_size // cfg.codec.heatmap_size
        assert down == 4, "the stem reduces the input by 4"
        self.stem = nn.Sequential(conv_bn(3, C // 2, 3, 2), Residual(C // 2, C // 2), nn.MaxPool2d(2), Residual(C // 2, C))
        self.hgs = nn.ModuleList([Hourglass(cfg.depth, C) for _ in range(cfg.stages)])
        self.feat = nn.ModuleList([nn.Sequential(Residual(C, C), conv_bn(C, C, 1)) for _ in range(cfg.stages)])
        self.hm_heads = nn.ModuleList([nn.Conv2d(C, P, 1) for _ in range(cfg.stages)])
        self.merge_f = nn.ModuleList([nn.Conv2d(C, C, 1) for _ in range(cfg.stages - 1)])
        self.merge_h = nn.ModuleList([nn.Conv2d(P, C, 1) for _ in range(cfg.stages - 1)])
        E = codec.NUM_EDGE_MAPS
        self.point_head = nn.Conv2d(C, 1, 1)
        self.edge_head = nn.Conv2d(C, E, 1)
        self.reweight = nn.Conv2d(1 + E, P, 1)   # Eq. 2: H' = H * (1 + tanh(W [point, edge]))
        nn.init.zeros_(self.reweight.weight)
        nn.init.zeros_(self.reweight.bias)
        self.vis = VisibilityHead(cfg, C + 1 + E)
        self.face = nn.Linear(2 * C, 1)

    def forward(self, x: torch.Tensor) -> dict:
        f = self.stem(x)
        heatmaps = []
        feats = f
        for i in range(self.cfg.stages):
            feats = self.feat[i](self.hgs[i](f))
            h = self.hm_heads[i](feats)
            heatmaps.append(h)
            if i < self.cfg.stages - 1:
                f = f + self.merge_f[i](feats) + self.merge_h[i](h)
        point_map = self.point_head(feats)
        edge_map = self.edge_head(feats)
        aux = torch.cat([point_map, edge_map], dim=1)
        final = heatmaps[-1] * (1 + torch.tanh(self.reweight(aux)))
        heatmaps[-1] = final
        coords, att = codec.soft_argmax(final, self.cfg.codec.beta)
        vis_logits = self.vis(torch.cat([feats, aux], dim=1), att.detach())
        pooled = torch.cat([feats.mean(dim=(2, 3)), feats.amax(dim=(2, 3))], dim=1)
        face_logit = self.face(pooled).squeeze(-1)
        return {"heatmaps": heatmaps, "point_map": point_map, "edge_map": edge_map,
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


def normalise_input(crops_bgr_uint8: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) uint8 BGR -> (B, 3, H, W) float in [-1, 1]."""
    return crops_bgr_uint8.permute(0, 3, 1, 2).float() / 127.5 - 1.0


def describe(cfg: ModelConfig | None = None) -> str:
    net = OccFaceNet(cfg)
    return (f"OccFaceNet: {count_parameters(net) / 1e6:.3f} M parameters, "
            f"{count_flops(net) / 1e9:.3f} GFLOPs per {net.cfg.codec.input_size}px crop")


if __name__ == "__main__":
    print(describe())
