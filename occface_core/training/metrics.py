"""Landmark and visibility metrics of the OccFace evaluation suite (paper Sec. 3.3).

Localisation (68-point iBUG subset, inter-ocular normalisation = outer eye corners 36/45):
- per-image NME; a missing prediction (no face found) is a failure: it counts with `FAILURE_NME`
  (1.0, i.e. beyond any threshold) in the mean, in FR and in the CED/AUC, never skipped;
- NME on visible and on occluded points: for each image the mean error over its visible (occluded)
  labelled points / inter-ocular, averaged over the images that have such points (a no-face image
  again counts FAILURE_NME); `nme68_found` is the mean over the images with a prediction only;
- FR@t: fraction of images with NME > t; AUC@t: area under the CED curve on [0, t], normalised to 1.

Visibility (occlusion is the positive class, score = 1 - predicted visibility):
- Occ AP: average precision (precision at every positive in score order, averaged);
- F1@0.5: a point is called occluded when its visibility < 0.5;
- ROC-AUC: the Mann-Whitney probability that an occluded point scores above a visible one (ties 1/2).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..layout import interocular

# A missed face scores this for every point, and no found face scores worse: on a profile (yaw past
# 80 degrees) the inter-ocular distance is a few pixels, and one off point would otherwise weigh ten
# missed faces, so a backend that finds such a face would score worse than one that gives up on it.
FAILURE_NME = 1.0


def nme_per_image(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(N, K, 2) predictions and labels -> (N,) mean point error / inter-ocular of the labels.

    `mask` (N, K) selects points; images with no selected point give NaN. gt must be iBUG-68 ordered
    (the normaliser uses points 36 and 45).
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    err = np.linalg.norm(pred - gt, axis=-1) / np.maximum(interocular(gt), 1e-9)[:, None]
    if mask is None:
        return err.mean(axis=1)
    m = np.asarray(mask, bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m.any(1), (err * m).sum(1) / m.sum(1), np.nan)


def failure_rate(nme: np.ndarray, threshold: float = 0.10) -> float:
    return float((np.asarray(nme) > threshold).mean()) if len(nme) else float("nan")


def ced_curve(nme: np.ndarray, threshold: float = 0.10, steps: int = 1001) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds on [0, threshold], fraction of images with NME <= each)."""
    x = np.linspace(0.0, threshold, steps)
    e = np.sort(np.asarray(nme, np.float64))
    return x, np.searchsorted(e, x, side="right") / max(len(e), 1)


def auc_at(nme: np.ndarray, threshold: float = 0.10) -> float:
    x, y = ced_curve(nme, threshold)
    return float(np.trapz(y, x) / threshold)


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """AP with `labels` 1 = positive; items with equal scores enter the ranking together."""
    y = np.asarray(labels, bool)
    s = np.asarray(scores, np.float64)
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    # evaluate precision/recall only at the last item of each run of equal scores
    last = np.r_[s[1:] != s[:-1], True]
    tp = np.cumsum(y)[last]
    n = (np.arange(1, len(y) + 1))[last]
    precision = tp / n
    recall_gain = np.diff(np.r_[0, tp]) / y.sum()
    return float((precision * recall_gain).sum())


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Probability that a random positive outscores a random negative (ties count 1/2)."""
    y = np.asarray(labels, bool)
    s = np.asarray(scores, np.float64)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ss = s[order]
    r = np.arange(1, len(s) + 1, dtype=np.float64)
    bounds = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):   # tied scores share their average rank
        r[a:b] = (a + 1 + b) / 2
    ranks = np.empty(len(s), np.float64)
    ranks[order] = r
    return float((ranks[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def f1_at(labels: np.ndarray, predicted_positive: np.ndarray) -> float:
    y = np.asarray(labels, bool)
    p = np.asarray(predicted_positive, bool)
    tp = float((y & p).sum())
    denom = float(p.sum() + y.sum())
    return 2 * tp / denom if denom else float("nan")


@dataclass
class LandmarkMetrics:
    images: int
    no_face: int
    nme68: float
    nme68_median: float
    nme68_found: float
    nme_visible: float
    nme_occluded: float
    images_with_occluded: int
    fr10: float
    auc10: float


@dataclass
class VisibilityMetrics:
    points: int
    occluded_points: int
    occ_ap: float
    f1_05: float
    roc_auc: float


@dataclass
class EvaluationResult:
    landmarks: LandmarkMetrics
    visibility: VisibilityMetrics | None
    per_source_nme68: dict[str, float] = field(default_factory=dict)
    # visibility per source: label conventions differ (300W-LP marks only jaw self-occlusion)
    per_source_visibility: dict[str, VisibilityMetrics | None] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def landmark_metrics(pred: list[np.ndarray | None], gt: np.ndarray, vis_gt: list[np.ndarray | None],
                     threshold: float = 0.10) -> tuple[LandmarkMetrics, np.ndarray]:
    """pred: per image (68, 2) or None (no face); gt (N, 68, 2); vis_gt per image (68,) or None.

    Returns the metrics and the per-image NME with failures at FAILURE_NME.
    """
    gt = np.asarray(gt, np.float64)
    n = len(pred)
    per = np.full(n, FAILURE_NME)
    vis_e, occ_e = [], []
    for i, p in enumerate(pred):
        if p is None:
            if vis_gt[i] is not None:
                v = np.asarray(vis_gt[i]) > 0.5
                if v.any():
                    vis_e.append(FAILURE_NME)
                if (~v).any():
                    occ_e.append(FAILURE_NME)
            continue
        per[i] = min(nme_per_image(p[None], gt[i:i + 1])[0], FAILURE_NME)
        if vis_gt[i] is not None:
            v = np.asarray(vis_gt[i]) > 0.5
            ev = min(nme_per_image(p[None], gt[i:i + 1], v[None])[0], FAILURE_NME)
            eo = min(nme_per_image(p[None], gt[i:i + 1], ~v[None])[0], FAILURE_NME)
            if np.isfinite(ev):
                vis_e.append(ev)
            if np.isfinite(eo):
                occ_e.append(eo)
    m = LandmarkMetrics(
        images=n, no_face=int(sum(p is None for p in pred)), nme68=float(per.mean()) if n else float("nan"),
        nme68_median=float(np.median(per)) if n else float("nan"),
        nme68_found=float(np.mean([e for e, p in zip(per, pred) if p is not None])) if any(p is not None for p in pred)
        else float("nan"),
        nme_visible=float(np.mean(vis_e)) if vis_e else float("nan"),
        nme_occluded=float(np.mean(occ_e)) if occ_e else float("nan"), images_with_occluded=len(occ_e),
        fr10=failure_rate(per, threshold), auc10=auc_at(per, threshold))
    return m, per


def visibility_metrics(vis_pred: list[np.ndarray | None], vis_gt: list[np.ndarray | None]) -> VisibilityMetrics | None:
    """Over images that have both labels and a prediction; a no-face image has no visibility to score.
    A NaN label marks a point whose visibility is unknown: it is left out."""
    ys, ss = [], []
    for p, g in zip(vis_pred, vis_gt):
        if p is None or g is None:
            continue
        g = np.asarray(g, np.float64)
        known = np.isfinite(g)
        ys.append(g[known] <= 0.5)
        ss.append(1.0 - np.asarray(p, np.float64)[known])
    if not ys:
        return None
    y, s = np.concatenate(ys), np.concatenate(ss)
    return VisibilityMetrics(points=int(len(y)), occluded_points=int(y.sum()), occ_ap=average_precision(y, s),
                             f1_05=f1_at(y, s > 0.5), roc_auc=roc_auc(y, s))


def plot_ced(curves: dict[str, np.ndarray], path, threshold: float = 0.10) -> None:
    """CED curves (name -> per-image NME) to a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    for name, nme in curves.items():
        x, y = ced_curve(nme, threshold)
        ax.plot(x, y, label=f"{name} (AUC {auc_at(nme, threshold):.3f})")
    ax.set_xlabel("NME (inter-ocular)")
    ax.set_ylabel("fraction of images")
    ax.set_xlim(0, threshold)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# Face regions of the 68-point iBUG layout, as the comparison tables report them.
REGIONS = {"all 68": slice(0, 68), "jaw": slice(0, 17), "brows": slice(17, 27), "nose": slice(27, 36),
           "eyes": slice(36, 48), "outer lips": slice(48, 60), "inner lips": slice(60, 68)}


def region_nme(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Mean NME per region over images, (N, 68, 2) predictions and labels (all answered)."""
    err = np.linalg.norm(np.asarray(pred, np.float64) - gt, axis=-1) / np.maximum(interocular(gt), 1e-9)[:, None]
    return {name: float(err[:, sl].mean()) if len(err) else float("nan") for name, sl in REGIONS.items()}


def compare_backends(preds: dict[str, list[np.ndarray | None]], gt: np.ndarray, sources: list[str]) -> dict:
    """Backends side by side on the faces every one of them answers (no miss weighs on it), per region
    and per source, with each backend's misses counted apart and the share of those faces each wins."""
    gt = np.asarray(gt, np.float64)
    names = list(preds)
    both = np.array([all(preds[n][i] is not None for n in names) for i in range(len(gt))], bool)
    sources = np.asarray(sources)

    def table(mask: np.ndarray) -> dict:
        idx = np.flatnonzero(mask & both)
        out = {"faces": int(len(idx))}
        for n in names:
            p = np.array([preds[n][i] for i in idx], np.float64).reshape(len(idx), 68, 2)
            out[n] = region_nme(p, gt[idx])
        return out

    per_face = {n: nme_per_image(np.array([preds[n][i] for i in np.flatnonzero(both)], np.float64).reshape(-1, 68, 2),
                                 gt[both]) for n in names}
    wins = {n: float(np.mean([per_face[n][k] < min(per_face[m][k] for m in names if m != n)
                              for k in range(int(both.sum()))])) if both.any() and len(names) > 1 else float("nan")
            for n in names}
    return {"images": int(len(gt)), "misses": {n: int(sum(p is None for p in preds[n])) for n in names},
            "all_answer": table(np.ones(len(gt), bool)), "better_on_share": wins,
            "per_source": {s: table(sources == s) for s in sorted(set(sources.tolist()))}}


def comparison_text(comp: dict) -> str:
    """The comparison as plain-text tables: the headline (every face all backends answer), then per source."""
    names = list(comp["misses"])
    head = f"{'region':<12}" + "".join(f"{n:>20}" for n in names)
    lines = [f"{comp['images']} images; misses: " + ", ".join(f"{n} {m}" for n, m in comp["misses"].items())
             + "; better on: " + ", ".join(f"{n} {w:.0%}" for n, w in comp["better_on_share"].items() if w == w)]
    for title, t in [("all sources", comp["all_answer"])] + list(comp["per_source"].items()):
        lines += ["", f"{title}: NME on the {t['faces']} faces all answer", head]
        lines += [f"{r:<12}" + "".join(f"{t[n][r]:>20.4f}" for n in names) for r in REGIONS]
    return "\n".join(lines)
