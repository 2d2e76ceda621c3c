"""Training labels and the augmented training/validation dataset for OccFace.

Labels per crop (built once from annotations.jsonl and the MediaPipe teacher cache, `build_labels`):

- points (100, 2) in the 224-crop's pixels and a per-point loss weight saying which points carry a
  label and from what: 1.0 hand label (iBUG 68, and the inner-mouth points 82-85 as mid-points of
  hand-labelled inner lips), `teacher_weight` for mesh-mapped teacher points (iris, eyelid mid-points),
  `prior_weight` for the ears from the 3D head prior, 0 where nothing is known (no loss).
- visibility (100,) and a visibility mask: 300W-LP `visible68` for its self-occluded jaw points,
  mesh-geometry self-occlusion from the teacher elsewhere (a confident label only: teacher visibility
  < 0.3 or > 0.7), and on helen/afw/ytf the jaw counts as visible because those annotators followed
  the visible silhouette.

Jaw convention (README): 300W-LP jaw points are 3D-true (behind the cheek when self-occluded) while
helen/afw/ytf follow the silhouette. We keep both as position labels — at the yaw where they differ
the 300W-LP points are the only large-yaw data, and the 3D-true position is what head pose and the
visibility-aware smoother want — and mark the 300W-LP hidden ones occluded via `visible68`, so the
model learns "3D position + hidden" there. Far-side eyes/brows that 300W-LP still calls visible get
the teacher's geometric label instead.

The teacher is dropped for a crop when its mapped 68 points disagree with the hand labels
(NME over points 17-67 > `teacher_max_nme`): a failed mesh fit must not teach the extra points.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..crop import apply_affine
from ..layout import IBUG68, MIRROR, NUM_POINTS, inner_mouth_from_inner_lips, interocular
from ..types import Box
from .occluders import OccluderBank

log = logging.getLogger(__name__)

SILHOUETTE_SOURCES = ("helen", "afw", "ytf")


@dataclass
class LabelConfig:
    teacher_weight: float = 0.5
    prior_weight: float = 0.2
    teacher_max_nme: float = 0.08
    vis_confident: float = 0.3


@dataclass
class Labels:
    images: list[str]
    sources: list[str]
    splits: list[str]
    points: np.ndarray      # (N, 100, 2) float32, 224-crop pixels
    weights: np.ndarray     # (N, 100) float32
    vis: np.ndarray         # (N, 100) float32 in {0, 1}
    vis_mask: np.ndarray    # (N, 100) float32 in {0, 1}

    def save(self, path: Path) -> None:
        np.savez_compressed(path, images=np.array(self.images), sources=np.array(self.sources),
                            splits=np.array(self.splits), points=self.points, weights=self.weights,
                            vis=self.vis, vis_mask=self.vis_mask)

    @staticmethod
    def load(path: Path) -> "Labels":
        d = np.load(path)
        return Labels(list(d["images"]), list(d["sources"]), list(d["splits"]), d["points"], d["weights"],
                      d["vis"], d["vis_mask"])

    def subset(self, idx: np.ndarray) -> "Labels":
        return Labels([self.images[i] for i in idx], [self.sources[i] for i in idx], [self.splits[i] for i in idx],
                      self.points[idx], self.weights[idx], self.vis[idx], self.vis_mask[idx])


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def labels_for_record(rec: dict, teacher: tuple | None, cfg: LabelConfig) -> tuple[np.ndarray, ...]:
    """(points, weights, vis, vis_mask) for one annotation, `teacher` = mesh_to_layout output or None."""
    pts = np.zeros((NUM_POINTS, 2), np.float32)
    w = np.zeros(NUM_POINTS, np.float32)
    vis = np.ones(NUM_POINTS, np.float32)
    vm = np.zeros(NUM_POINTS, np.float32)
    p68 = np.asarray(rec["points68"], np.float32)
    pts[:68] = p68
    w[:68] = 1.0
    pts[82:86] = inner_mouth_from_inner_lips(p68)
    w[82:86] = 1.0
    if teacher is not None:
        tp, tv, src = teacher
        # jaw conventions differ between sources, so compare brows, nose, eyes and mouth only
        nme = float(np.linalg.norm(tp[17:68] - p68[17:], axis=1).mean() / max(interocular(p68), 1e-6))
        if np.isfinite(nme) and nme <= cfg.teacher_max_nme:
            extra = [i for i in range(68, NUM_POINTS) if not 82 <= i < 86]
            for i in extra:
                if src[i] == 1:
                    pts[i], w[i] = tp[i], cfg.teacher_weight
                elif src[i] == 2:
                    pts[i], w[i] = tp[i], cfg.prior_weight
            confident = (src > 0) & ((tv < cfg.vis_confident) | (tv > 1 - cfg.vis_confident))
            vis[confident] = (tv[confident] > 0.5).astype(np.float32)
            vm[confident] = 1.0
            vis[82:86], vm[82:86] = vis[[60, 63, 64, 67]], vm[[60, 63, 64, 67]]
    if rec.get("source") in SILHOUETTE_SOURCES:
        vis[:17], vm[:17] = 1.0, 1.0
    if "visible68" in rec:
        v68 = np.asarray(rec["visible68"], np.float32)
        vis[:17], vm[:17] = v68[:17], 1.0
        # elsewhere visible68 is always 1 (README): hidden only where both agree it is hidden
        hidden = v68[17:68] == 0
        vis[17:68][hidden], vm[17:68][hidden] = 0.0, 1.0
    return pts, w, vis, vm


def build_labels(annotations: Path, teacher_npz: Path | None, cfg: LabelConfig | None = None) -> Labels:
    from tqdm import tqdm
    cfg = cfg or LabelConfig()
    records = read_records(annotations)
    mesh_by_image: dict[str, int] = {}
    meshes = found = None
    if teacher_npz is not None and Path(teacher_npz).is_file():
        from ..mediapipe_map import mesh_to_layout
        t = np.load(teacher_npz)
        meshes, found = t["mesh478"], t["found"]
        mesh_by_image = {str(name): i for i, name in enumerate(t["images"])}
    else:
        mesh_to_layout = None  # noqa: F841
        log.warning("no teacher cache: points 68-99 other than the inner mouth get no label")
    N = len(records)
    P = np.zeros((N, NUM_POINTS, 2), np.float32)
    W = np.zeros((N, NUM_POINTS), np.float32)
    V = np.ones((N, NUM_POINTS), np.float32)
    VM = np.zeros((N, NUM_POINTS), np.float32)
    for n, rec in enumerate(tqdm(records, desc="labels", unit="img")):
        teacher = None
        j = mesh_by_image.get(rec["image"])
        if meshes is not None and j is not None and found[j]:
            teacher = mesh_to_layout(meshes[j])
        P[n], W[n], V[n], VM[n] = labels_for_record(rec, teacher, cfg)
    return Labels([r["image"] for r in records], [r.get("source", "") for r in records],
                  [r.get("split", "") for r in records], P, W, V, VM)


@dataclass
class AugmentConfig:
    input_size: int = 128
    roi_margin: float = 0.25        # the tracker's ROI: landmark box + 25 % per side, squared
    scale_jitter: float = 0.12      # log-normal std of the ROI size
    shift_jitter: float = 0.08      # uniform, fraction of the ROI size
    max_rotation: float = 30.0
    rotation_std: float = 14.0
    flip: float = 0.5
    colour: float = 0.8
    blur: float = 0.2
    grey: float = 0.1
    lowres: float = 0.15
    occlude: float = 0.5
    negative: float = 0.10
    dim_blur: float = 0.4           # share of negatives (and a tenth of that of faces) made dark and blurred
    # The second view of a face (views=2) is the first one's crop moved as a tracked region moves
    # between frames (the tracker measured a few per cent and a degree or two on swaying faces), with
    # the same flip, occluder and photometry and fresh sensor noise. Two independent augmentations
    # asked the consistency term to reconcile a flipped, blurred, occluded crop with a clean one; a
    # near pair asks for what jitter and shape twitching are made of: the same points from a nudged crop.
    pair_shift: float = 0.03        # uniform, fraction of the ROI size
    pair_scale: float = 0.03        # log-normal std of the size change
    pair_rotation: float = 2.0      # degrees, normal std (clipped at 2.5 std)
    sensor_noise: float = 2.0       # Gaussian grey levels added to every training view
    enabled: bool = True


def roi_for(points68: np.ndarray, margin: float) -> Box:
    return Box.around_points(points68).enlarged(margin).square()


def affine_for(box: Box, size: int, angle_deg: float = 0.0, flip: bool = False) -> np.ndarray:
    """2x3 matrix: source pixels -> crop pixels, rotating about the box centre."""
    cx, cy = box.center
    s = size / max(box.width, 1e-6)
    M = cv2.getRotationMatrix2D((cx, cy), angle_deg, s)
    M[:, 2] += np.array([(size - 1) / 2 - cx, (size - 1) / 2 - cy])
    if flip:
        F = np.array([[-1.0, 0, size - 1], [0, 1, 0], [0, 0, 1]])
        M = (F @ np.vstack([M, [0, 0, 1]]))[:2]
    return M


class FaceDataset(Dataset):
    """Yields dicts of tensors: image (3,S,S) float, points (100,2) crop px, weights, vis, vis_mask,
    occ_mask (S,S) uint8 (synthetic occluder), face (scalar 0/1), to_source (2,3) crop px -> labelled
    224-crop px, interocular (scalar, labelled-crop px).

    With `views=2` (training) every tensor gains a leading axis of two views of the same face for the
    consistency term: one augmentation, and the same one with its region nudged as a tracked face's
    region moves from one frame to the next (AugmentConfig.pair_*).
    """

    def __init__(self, labels: Labels, root: Path, aug: AugmentConfig, occluders: Path | None = None,
                 seed: int = 0, train: bool = True, views: int = 1):
        self.labels, self.root, self.aug, self.train, self.views = labels, Path(root), aug, train, views
        self.bank = OccluderBank(occluders) if (train and occluders is not None) else None
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.labels.images)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.rng = np.random.default_rng([self.seed, epoch])

    def _load(self, i: int) -> np.ndarray:
        img = cv2.imread(str(self.root / self.labels.images[i]), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(self.root / self.labels.images[i])
        return img

    def __getitem__(self, i: int) -> dict:
        img = self._load(i)
        if self.views == 1:
            return self._view(i, img, self.rng)
        # Every view replays the same draws (one seed) so that flip, occluder and photometry agree; all
        # but the first have their region nudged.
        seed = int(self.rng.integers(2 ** 62))
        views = [self._view(i, img, np.random.default_rng(seed), self._nudge() if v else None)
                 for v in range(self.views)]
        return {k: torch.stack([v[k] for v in views]) for k in views[0]}

    def _nudge(self) -> tuple[float, float, float, float]:
        """(dx, dy as shares of the ROI size, log size change, turn in degrees) between two frames."""
        a, rng = self.aug, self.rng
        return (rng.uniform(-a.pair_shift, a.pair_shift), rng.uniform(-a.pair_shift, a.pair_shift),
                float(np.clip(rng.normal(0, a.pair_scale), -2.5 * a.pair_scale, 2.5 * a.pair_scale)),
                float(np.clip(rng.normal(0, a.pair_rotation), -2.5 * a.pair_rotation, 2.5 * a.pair_rotation)))

    def _view(self, i: int, img: np.ndarray, rng: np.random.Generator,
              nudge: tuple[float, float, float, float] | None = None) -> dict:
        a, S = self.aug, self.aug.input_size
        pts = self.labels.points[i].astype(np.float64)
        w = self.labels.weights[i].copy()
        vis, vm = self.labels.vis[i].copy(), self.labels.vis_mask[i].copy()
        box = roi_for(pts[IBUG68], a.roi_margin)
        face = 1.0
        angle, flip = 0.0, False
        if self.train and a.enabled:
            size = box.width * float(np.exp(np.clip(rng.normal(0, a.scale_jitter), -2.5 * a.scale_jitter, 2.5 * a.scale_jitter)))
            cx, cy = box.center
            cx += rng.uniform(-a.shift_jitter, a.shift_jitter) * size
            cy += rng.uniform(-a.shift_jitter, a.shift_jitter) * size
            if rng.random() < a.negative:   # a crop that slid off the face (or mostly background)
                ang = rng.uniform(0, 2 * np.pi)
                d = rng.uniform(0.75, 1.1) * size
                cx, cy = cx + np.cos(ang) * d, cy + np.sin(ang) * d
                size *= rng.uniform(0.5, 1.5)
                face = 0.0
            box = Box(cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2)
            angle = float(np.clip(rng.normal(0, a.rotation_std), -a.max_rotation, a.max_rotation))
            flip = rng.random() < a.flip
            if nudge is not None:
                dx, dy, log_scale, turn = nudge
                size = box.width * float(np.exp(log_scale))
                cx, cy = box.center[0] + dx * size, box.center[1] + dy * size
                box, angle = Box(cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2), angle + turn
        M = affine_for(box, S, angle, flip)
        crop = cv2.warpAffine(img, M, (S, S), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        p = apply_affine(M, pts)
        order = MIRROR if flip else np.arange(NUM_POINTS)
        p, w, vis, vm = p[order], w[order], vis[order], vm[order]
        occ_mask = np.zeros((S, S), np.uint8)
        if self.train and a.enabled:
            if self.bank is not None:
                if nudge is None:  # the pair's second view must cut its patch from the same pool
                    self.bank.remember(crop)
                if face and rng.random() < a.occlude:
                    crop, occ_mask = self.bank.apply(rng, crop, p)
            # Dim, blurred background is what a false track locks onto (an audience behind a singer); faces
            # get the same treatment now and then so the score learns structure, not brightness.
            if rng.random() < (a.dim_blur if face == 0.0 else a.dim_blur / 10):
                crop = self._dim_and_blur(crop, rng)
            crop = self._photometric(crop, rng)
            if a.sensor_noise > 0:  # drawn from the dataset's stream: each view of a pair gets its own
                noise = self.rng.normal(0.0, a.sensor_noise, crop.shape).astype(np.float32)
                crop = np.clip(crop.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        inside = (p[:, 0] >= 0) & (p[:, 0] <= S - 1) & (p[:, 1] >= 0) & (p[:, 1] <= S - 1)
        w = w * inside
        vm = vm * inside
        if face == 0.0:
            w[:], vm[:] = 0.0, 0.0
        image = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div_(127.5).sub_(1.0)
        return {"image": image, "points": torch.from_numpy(p.astype(np.float32)),
                "weights": torch.from_numpy(w.astype(np.float32)), "vis": torch.from_numpy(vis.astype(np.float32)),
                "vis_mask": torch.from_numpy(vm.astype(np.float32)), "occ_mask": torch.from_numpy(occ_mask),
                "face": torch.tensor(face, dtype=torch.float32),
                "to_source": torch.from_numpy(cv2.invertAffineTransform(M).astype(np.float32)),
                "source_order": torch.from_numpy(order.astype(np.int64)),
                "interocular": torch.tensor(float(interocular(pts[IBUG68])), dtype=torch.float32)}

    @staticmethod
    def _dim_and_blur(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        k = int(rng.choice([5, 7, 9, 11]))
        gain = rng.uniform(0.15, 0.5)
        return (cv2.GaussianBlur(crop, (k, k), 0).astype(np.float32) * gain).astype(np.uint8)

    def _photometric(self, crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        a = self.aug
        return photometric(crop, rng, a.lowres, a.colour, a.blur, a.grey)


def photometric(crop: np.ndarray, rng: np.random.Generator, lowres: float, colour: float, blur: float, grey: float,
                lowres_range: tuple[float, float] = (0.3, 0.6), blur_kernels: tuple[int, ...] = (3, 5)) -> np.ndarray:
    """A camera's degradations, each drawn with its probability: low resolution (shrunk by a factor in
    `lowres_range` and enlarged back), colour (gain per channel, bias, contrast), blur, grey."""
    out = crop
    if rng.random() < lowres:
        f = rng.uniform(*lowres_range)
        small = cv2.resize(out, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_LINEAR)
    if rng.random() < colour:
        x = out.astype(np.float32)
        gain = rng.uniform(0.6, 1.4) * rng.uniform(0.85, 1.15, 3)
        bias = rng.uniform(-30, 30)
        mean = x.mean()
        contrast = rng.uniform(0.7, 1.3)
        x = (x - mean) * contrast + mean
        out = np.clip(x * gain + bias, 0, 255).astype(np.uint8)
    if rng.random() < blur:
        k = int(rng.choice(blur_kernels))
        out = cv2.GaussianBlur(out, (k, k), 0)
    if rng.random() < grey:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return out
