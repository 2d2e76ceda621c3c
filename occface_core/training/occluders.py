"""Synthetic occluders for landmark-aware masking (paper Eq. 9) and for occluded evaluation copies.

An `OccluderBank` loads the shared assets once (mask templates with their anchor points, textures)
and paints one occluder onto a face crop given its landmarks, returning the painted image and the
binary occluder mask. Kinds: face-mask templates warped onto the jaw/nose anchors, textured
ellipses and polygons (hands, objects), bars across the eyes (sunglasses), and patches cut from
other images.

`eq9_occlusion` turns a mask into per-landmark occlusion labels from the overlap between the mask and
each landmark's target heatmap; `point_occlusion` gives the exact per-point labels used for the
evaluation copies.

CLI (the evaluation helper): make an occluded copy of a labelled set with exact per-point visibility::

    python -m occface_core.training.occluders --data ../shared/data/faces/annotations.jsonl --split val \\
        --out runs/val_occluded --seed 7
    # one family never seen in training, for the held-out table
    python -m occface_core.training.occluders --data ../shared/data/faces/annotations.jsonl --split val \\
        --out runs/val_occ_hand --seed 7 --kinds hand
"""
from __future__ import annotations

import argparse
import configparser
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

KINDS = ("mask", "shape", "bar", "patch")
# Families the training never draws: occluded copies made with these measure how the visibility head
# handles occluders it has not seen (a hand with fingers, glasses frames, hair strands, a microphone).
HELD_OUT_KINDS = ("hand", "glasses", "hair", "microphone")
# jaw / nose anchor landmarks for the template anchors a..f (image-left to image-right)
_MASK_ANCHORS = (1, 28, 15, 5, 8, 11)


@dataclass
class Template:
    name: str
    rgba: np.ndarray          # (h, w, 4) uint8
    anchors: np.ndarray       # (6, 2) template pixels for mask_a..mask_f


def load_templates(folder: Path) -> list[Template]:
    cfg = configparser.ConfigParser()
    cfg.read(folder / "masks.cfg")
    out = []
    for sec in cfg.sections():
        path = folder / cfg[sec]["template"]
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None or img.ndim != 3 or img.shape[2] != 4:
            continue
        anchors = np.array([[float(v) for v in cfg[sec][f"mask_{k}"].split(",")] for k in "abcdef"], np.float32)
        out.append(Template(sec, img, anchors))
    return out


def load_textures(folder: Path, size: int = 160) -> list[np.ndarray]:
    out = []
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in (".png", ".jpg", ".jpeg"):
            img = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if img is not None:
                out.append(cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA))
    return out


class OccluderBank:
    """Loaded once; `apply` paints one random occluder onto a crop (in place of a copy)."""

    def __init__(self, root: Path | None, kinds: tuple[str, ...] = KINDS):
        self.templates = load_templates(root) if root is not None and (root / "masks.cfg").is_file() else []
        self.textures = load_textures(root / "textures") if root is not None and (root / "textures").is_dir() else []
        self.kinds = tuple(k for k in kinds if k != "mask" or self.templates)
        self.patch_pool: list[np.ndarray] = []

    def remember(self, image: np.ndarray, keep: int = 32) -> None:
        """Keep recent images to cut patches from."""
        self.patch_pool.append(image)
        if len(self.patch_pool) > keep:
            self.patch_pool.pop(0)

    # -- fills ---------------------------------------------------------------------------------
    def _fill(self, rng: np.random.Generator, h: int, w: int) -> np.ndarray:
        r = rng.random()
        if self.textures and r < 0.45:
            tex = self.textures[rng.integers(len(self.textures))]
            tex = cv2.resize(tex, (w, h)) if tex.shape[:2] != (h, w) else tex
            return tex.copy()
        if self.patch_pool and r < 0.65:
            src = self.patch_pool[rng.integers(len(self.patch_pool))]
            return cv2.resize(src, (w, h))
        if r < 0.85:  # skin-like (hands)
            base = np.array([rng.uniform(60, 200), rng.uniform(90, 210), rng.uniform(120, 240)])
        else:
            base = rng.uniform(0, 255, 3)
        img = np.empty((h, w, 3), np.float32)
        img[:] = base
        img += rng.normal(0, rng.uniform(2, 15), (h, w, 1))
        return np.clip(img, 0, 255).astype(np.uint8)

    # -- kinds ---------------------------------------------------------------------------------
    def _mask_template(self, rng, image, points):
        name = self.templates[rng.integers(len(self.templates))].name.split("_")[0]
        dst = points[list(_MASK_ANCHORS)].astype(np.float32)
        best, best_err = None, np.inf
        for t in self.templates:
            if t.name.split("_")[0] != name:
                continue
            H, _ = cv2.findHomography(t.anchors, dst, 0)
            if H is None:
                continue
            proj = cv2.perspectiveTransform(t.anchors[None], H)[0]
            err = float(np.abs(proj - dst).mean())
            if err < best_err:
                best, best_err = (t, H), err
        if best is None:
            return None
        t, H = best
        h, w = image.shape[:2]
        warped = cv2.warpPerspective(t.rgba, H, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        colour = warped[..., :3]
        if self.textures and rng.random() < 0.4:
            tex = cv2.resize(self.textures[rng.integers(len(self.textures))], (w, h))
            shade = colour.astype(np.float32).mean(-1, keepdims=True) / 255.0
            colour = np.clip(tex * (0.4 + 0.6 * shade), 0, 255).astype(np.uint8)
        return colour, (warped[..., 3] > 127).astype(np.uint8)

    def _shape(self, rng, image, points):
        h, w = image.shape[:2]
        scale = np.ptp(points[:68], axis=0).max()
        centre = points[rng.integers(68)] + rng.normal(0, 0.15 * scale, 2)
        mask = np.zeros((h, w), np.uint8)
        if rng.random() < 0.45:
            axes = (int(rng.uniform(0.12, 0.4) * scale), int(rng.uniform(0.08, 0.3) * scale))
            cv2.ellipse(mask, (int(centre[0]), int(centre[1])), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        else:
            n = int(rng.integers(5, 11))
            ang = np.sort(rng.uniform(0, 2 * np.pi, n))
            rad = rng.uniform(0.1, 0.4, n) * scale
            # hands and objects often enter from the crop border: stretch one side outwards
            if rng.random() < 0.5:
                k = rng.integers(n)
                rad[k] *= 3
            poly = centre + np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1)
            cv2.fillPoly(mask, [poly.astype(np.int32)], 1)
        return self._fill(rng, h, w), mask

    def _bar(self, rng, image, points):
        h, w = image.shape[:2]
        le, re = points[36:42].mean(0), points[42:48].mean(0)
        centre = (le + re) / 2 + rng.normal(0, 2, 2)
        d = re - le
        length = np.linalg.norm(d) * rng.uniform(1.6, 2.3)
        thick = np.linalg.norm(d) * rng.uniform(0.35, 0.7)
        angle = np.degrees(np.arctan2(d[1], d[0]))
        box = cv2.boxPoints(((float(centre[0]), float(centre[1])), (float(length), float(thick)), float(angle)))
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [box.astype(np.int32)], 1)
        colour = np.full((h, w, 3), rng.uniform(0, 60, 3), np.float32)
        colour += rng.normal(0, 4, (h, w, 1))
        return np.clip(colour, 0, 255).astype(np.uint8), mask

    def _patch(self, rng, image, points):
        h, w = image.shape[:2]
        scale = np.ptp(points[:68], axis=0).max()
        pw, ph = (rng.uniform(0.25, 0.6, 2) * scale).astype(int) + 2
        cx, cy = points[rng.integers(68)] + rng.normal(0, 0.1 * scale, 2)
        x0, y0 = int(cx - pw / 2), int(cy - ph / 2)
        mask = np.zeros((h, w), np.uint8)
        cv2.rectangle(mask, (x0, y0), (x0 + pw, y0 + ph), 1, -1)
        if self.patch_pool:
            src = self.patch_pool[rng.integers(len(self.patch_pool))]
            sh, sw = src.shape[:2]
            sx, sy = rng.integers(0, max(sw - pw, 1)), rng.integers(0, max(sh - ph, 1))
            piece = cv2.resize(src[sy:sy + ph, sx:sx + pw], (pw, ph))
            colour = np.zeros_like(image)
            xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + pw, w), min(y0 + ph, h)
            if xb > xa and yb > ya:
                colour[ya:yb, xa:xb] = piece[ya - y0:yb - y0, xa - x0:xb - x0]
        else:
            colour = self._fill(rng, h, w)
        return colour, mask

    # -- held-out kinds (evaluation only) -------------------------------------------------------
    # Sizes follow the eye span, which collapses on a profile face: _eye_span keeps a floor.
    @staticmethod
    def _skin(rng, h: int, w: int) -> np.ndarray:
        lightness = rng.uniform(70, 235)   # dark to pale skin, BGR with red highest and blue lowest
        base = lightness * np.array([rng.uniform(0.55, 0.72), rng.uniform(0.72, 0.85), 1.0])
        img = np.empty((h, w, 3), np.float32)
        img[:] = base
        img *= np.linspace(rng.uniform(0.75, 0.95), 1.05, w, dtype=np.float32)[None, :, None]   # side light
        img += rng.normal(0, 4, (h, w, 1))
        return np.clip(img, 0, 255).astype(np.uint8)

    def _hand(self, rng, image, points):
        """A palm with four fingers, raised from below or the side over the mouth, cheek or an eye."""
        h, w = image.shape[:2]
        io = _eye_span(points)
        target = points[rng.choice([62, 48, 54, 36, 45, 30])] + rng.normal(0, 0.1 * io, 2)
        angle = rng.uniform(-np.pi / 2 - 0.9, -np.pi / 2 + 0.9)           # fingers point roughly up
        up = np.array([np.cos(angle), np.sin(angle)])
        side = np.array([-up[1], up[0]])
        palm = target - up * 0.55 * io
        mask = np.zeros((h, w), np.uint8)
        cv2.ellipse(mask, tuple(int(v) for v in palm), (int(0.5 * io), int(0.62 * io)),
                    float(np.degrees(angle)) + 90, 0, 360, 1, -1)
        cv2.line(mask, tuple(int(v) for v in palm), tuple(int(v) for v in palm - up * 2 * io), 1, max(2, int(0.9 * io)))
        for k in range(4):
            base = palm + side * (k - 1.5) * 0.24 * io + up * 0.4 * io
            tip = base + up * rng.uniform(0.5, 0.85) * io
            cv2.line(mask, tuple(int(v) for v in base), tuple(int(v) for v in tip), 1, max(2, int(0.2 * io)))
        return self._skin(rng, h, w), mask

    def _glasses(self, rng, image, points):
        """Frames round both eyes; half the time dark lenses (sunglasses) hide the eyes too."""
        h, w = image.shape[:2]
        io = _eye_span(points)
        mask = np.zeros((h, w), np.uint8)
        dark = rng.random() < 0.5
        rim = max(2, int(rng.uniform(0.04, 0.08) * io))
        centres = [points[36:42].mean(0), points[42:48].mean(0)]
        tilt = float(np.degrees(np.arctan2(*(centres[1] - centres[0])[::-1])))
        axes = (int(rng.uniform(0.26, 0.34) * io), int(rng.uniform(0.18, 0.26) * io))
        for c in centres:
            cv2.ellipse(mask, tuple(int(v) for v in c), axes, tilt, 0, 360, 1, -1 if dark else rim)
        cv2.line(mask, tuple(int(v) for v in centres[0] + (axes[0], 0)),
                 tuple(int(v) for v in centres[1] - (axes[0], 0)), 1, rim)
        colour = np.full((h, w, 3), rng.uniform(5, 70, 3), np.float32) + rng.normal(0, 3, (h, w, 1))
        return np.clip(colour, 0, 255).astype(np.uint8), mask

    def _hair(self, rng, image, points):
        """A few thick strands falling from above the brows across the forehead and one eye."""
        h, w = image.shape[:2]
        io = _eye_span(points)
        mask = np.zeros((h, w), np.uint8)
        eye = points[36:42].mean(0) if rng.random() < 0.5 else points[42:48].mean(0)
        for _ in range(int(rng.integers(3, 7))):
            start = eye + np.array([rng.uniform(-0.5, 0.5) * io, -rng.uniform(0.8, 1.2) * io])
            bend = rng.uniform(-0.4, 0.4) * io
            ts = np.linspace(0, 1, 12)
            curve = np.stack([start[0] + bend * np.sin(ts * np.pi) + ts * rng.uniform(-0.3, 0.3) * io,
                              start[1] + ts * rng.uniform(1.1, 1.7) * io], 1)
            cv2.polylines(mask, [curve.astype(np.int32)], False, 1, max(2, int(rng.uniform(0.06, 0.14) * io)))
        colour = np.full((h, w, 3), rng.uniform(10, 90) * np.array([0.8, 0.9, 1.0]), np.float32)
        colour += rng.normal(0, 6, (h, w, 1))
        return np.clip(colour, 0, 255).astype(np.uint8), mask

    def _microphone(self, rng, image, points):
        """A handheld microphone: a grille ball at the mouth and its handle going down and out."""
        h, w = image.shape[:2]
        io = _eye_span(points)
        head = points[rng.choice([48, 54, 57, 62])] + rng.normal(0, 0.1 * io, 2)
        angle = rng.uniform(np.pi / 4, 3 * np.pi / 4)
        mask = np.zeros((h, w), np.uint8)
        cv2.circle(mask, tuple(int(v) for v in head), int(rng.uniform(0.25, 0.35) * io), 1, -1)
        end = head + 2.5 * io * np.array([np.cos(angle), np.sin(angle)])
        cv2.line(mask, tuple(int(v) for v in head), tuple(int(v) for v in end), 1, max(2, int(0.28 * io)))
        colour = np.full((h, w, 3), rng.uniform(20, 120), np.float32) + rng.normal(0, 10, (h, w, 1))
        return np.clip(colour, 0, 255).astype(np.uint8), mask

    def apply(self, rng: np.random.Generator, image: np.ndarray, points: np.ndarray,
              kind: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Paint one occluder; returns (new image, mask uint8 0/1 of the image's size)."""
        kind = kind or self.kinds[rng.integers(len(self.kinds))]
        fn = {"mask": self._mask_template, "shape": self._shape, "bar": self._bar, "patch": self._patch,
              "hand": self._hand, "glasses": self._glasses, "hair": self._hair,
              "microphone": self._microphone}[kind]
        res = fn(rng, image, points)
        if res is None:
            res = self._shape(rng, image, points)
        colour, mask = res
        if rng.random() < 0.5:  # soft edges and lighting consistent-ish with the face
            colour = cv2.GaussianBlur(colour, (3, 3), 0)
        m = mask[..., None].astype(bool)
        out = np.where(m, colour, image)
        return out, mask


def _eye_span(points: np.ndarray) -> float:
    """Outer-eye-corner distance, at least a third of the face's width (it collapses in profile)."""
    width = float(np.ptp(points[:68, 0]))
    return max(float(np.linalg.norm(points[45] - points[36])), width / 3, 4.0)


def eq9_occlusion(mask_hm: torch.Tensor, heatmaps: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Eq. 9: a landmark is occluded when the mask covers at least `threshold` of its heatmap mass.

    mask_hm (B, 1, h, w) in [0, 1] at heatmap resolution; heatmaps (B, P, h, w) target Gaussians.
    Returns (B, P) float: 1 occluded, 0 not.
    """
    mass = heatmaps.sum(dim=(2, 3)).clamp_min(1e-6)
    covered = (heatmaps * mask_hm).sum(dim=(2, 3)) / mass
    return (covered >= threshold).float()


def mask_to_heatmap(mask: torch.Tensor, heatmap_size: int) -> torch.Tensor:
    """(B, H, W) 0/1 mask -> (B, 1, h, w) coverage fraction per heatmap cell."""
    return F.adaptive_avg_pool2d(mask[:, None].float(), heatmap_size)


def point_occlusion(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Exact per-point labels: 1 where the mask covers the pixel under the point (outside: 0)."""
    h, w = mask.shape
    xy = np.round(points).astype(int)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    out = np.zeros(len(points), np.int64)
    out[inside] = mask[xy[inside, 1], xy[inside, 0]] > 0
    return out


def make_occluded_copy(data: Path, out: Path, occluders: Path, split: str | None, seed: int,
                       min_occluded: int = 3, limit: int | None = None, kinds: tuple[str, ...] = KINDS) -> int:
    """Write occluded copies of a labelled set with exact per-point visibility; returns the count."""
    from tqdm import tqdm
    records = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    if split:
        records = [r for r in records if r.get("split") == split]
    if limit:
        records = records[:limit]
    bank = OccluderBank(occluders, kinds=kinds)
    rng = np.random.default_rng(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for i, rec in enumerate(tqdm(records, desc="occluded copy", unit="img")):
        img = cv2.imread(str(data.parent / rec["image"]))
        if img is None:
            raise FileNotFoundError(data.parent / rec["image"])
        pts = np.asarray(rec["points68"], np.float64)
        bank.remember(img)
        new, mask = img, np.zeros(img.shape[:2], np.uint8)
        for _ in range(5):  # retry until the occluder hides a few landmarks
            new, mask = bank.apply(rng, img, pts)
            if point_occlusion(mask, pts).sum() >= min_occluded:
                break
        occ = point_occlusion(mask, pts)
        self_vis = np.asarray(rec.get("visible68", [1] * 68), np.int64)
        vis = (self_vis * (1 - occ)).tolist()
        name = f"images/{i:05d}.jpg"
        cv2.imwrite(str(out / name), new, [cv2.IMWRITE_JPEG_QUALITY, 95])
        r = dict(rec)
        r.update(image=name, source_image=rec["image"], visible68=vis, occluded68=occ.tolist())
        lines.append(json.dumps(r))
    (out / "annotations.jsonl").write_text("\n".join(lines) + "\n")
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Make an occluded copy of a labelled face set with exact per-point visibility.",
        epilog="example: python -m occface_core.training.occluders --data ../shared/data/faces/annotations.jsonl "
               "--split val --occluders ../shared/data/occluders --out runs/val_occluded",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path, help="annotations.jsonl in the shared format")
    parser.add_argument("--occluders", type=Path, default=None,
                        help="shared occluders folder (default: ../occluders next to the data folder)")
    parser.add_argument("--split", default="val", help="keep only this split ('' for all)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (images/ + annotations.jsonl)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS + HELD_OUT_KINDS,
                        help=f"occluder families to draw from (training uses {', '.join(KINDS)}; "
                             f"{', '.join(HELD_OUT_KINDS)} are never trained on)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.data.is_file():
        print(f"error: annotations file not found: {args.data}", file=sys.stderr)
        return 2
    occ = args.occluders or args.data.parent.parent / "occluders"
    if not (occ / "masks.cfg").is_file():
        print(f"error: occluders folder not found (no masks.cfg): {occ}", file=sys.stderr)
        return 2
    try:
        n = make_occluded_copy(args.data, args.out, occ, args.split or None, args.seed, limit=args.limit,
                               kinds=tuple(args.kinds))
    except FileNotFoundError as e:
        print(f"error: image not found: {e}", file=sys.stderr)
        return 2
    print(f"{n} occluded images -> {args.out / 'annotations.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
