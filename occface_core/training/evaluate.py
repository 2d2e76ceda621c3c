"""Evaluate a landmark backend (OccFace or the MediaPipe baseline) on a labelled face set.

`--box gt` crops around the labelled 68 points as the tracker would (their box + 25 % per side, squared
by the backend); `--box detect` runs the real detector (BlazeFace) on the image, turns its box into the
landmark box it implies, predicts, and re-crops once around the predicted points, as the tracker does
when a track starts. A face score below `--face-threshold` (or no detection) means "no face": the
image's prediction is null and it counts as a failure, never as skipped.

With several `--model`s (the default: occface and mediapipe) each runs over the same images, and the
headline is their comparison on the faces every one of them answers: NME per region (all 68, jaw, brows,
nose, eyes, outer and inner lips) overall and per source, each backend's misses counted apart, and the
share of those faces on which each is the better. Nothing is left out of val: a miss is a failure in
each backend's own metrics and is reported beside the comparison.

Writes metrics.json (NME 68, NME on visible/occluded points, FR/AUC at 0.10, per-source NME, and where
visibility labels exist Occ AP, F1@0.5, ROC-AUC with occlusion positive), a CED plot beside it, and
preds.jsonl with one line per input image in the image's pixels.

Visibility labels are `visible68` (300W-LP self-occlusion, and every point in an occluded copy made by
`python -m occface_core.training.occluders`). 300W-LP's label marks self-occlusion on the jaw only: on a face
turned more than 60 degrees the far eye and brow are hidden yet still say visible (data README), so
there the inner points are scored for visibility only where a painted occluder covers them
(`visibility_labels`). The NME split into visible and occluded points keeps `visible68` as it is.

Examples:
  python -m occface_core.training.evaluate --data ../shared/data/faces/annotations.jsonl --split val --box detect \\
      --out runs/eval/compare_val_detect.json          # occface and mediapipe side by side, per region
  python -m occface_core.training.evaluate --data ../shared/data/faces/annotations.jsonl --split val \\
      --model occface --box gt --out runs/eval/occface_val.json --predictions runs/eval/occface_val.jsonl
  python -m occface_core.training.evaluate --data runs/val_occluded/annotations.jsonl --model mediapipe \\
      --out runs/eval/mp_occ.json --predictions runs/eval/mp_occ.jsonl
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from ..backends import DEFAULT_OCCFACE_WEIGHTS, BackendError, create_backend
from ..backends.occface_backend import ABLATIONS, OccFaceBackend
from ..detector import BlazeFaceDetector, landmark_box_from_detection, largest
from ..layout import IBUG68
from ..types import Box
from .metrics import EvaluationResult, compare_backends, comparison_text, landmark_metrics, plot_ced, \
    visibility_metrics

log = logging.getLogger("occface.evaluate")


def _gt_roi(points68: np.ndarray, margin: float = 0.25) -> Box:
    return Box.around_points(points68).enlarged(margin)


class _DetectBox:
    def __init__(self):
        self.det = BlazeFaceDetector()   # the app's detector, as users meet it

    def __call__(self, image: np.ndarray) -> Box | None:
        d = largest(self.det.detect(image))
        return None if d is None else landmark_box_from_detection(d.box).enlarged(0.25)


# Beyond this yaw 300W-LP's inner points have no self-occlusion label (the large-pose bin of 300W-LP
# and AFLW2000-3D); the far eye and brow start to hide behind the nose and brow ridge.
LARGE_YAW_DEG = 60.0


def visibility_labels(rec: dict) -> np.ndarray | None:
    """The 68 visibility labels the visibility metrics score: 1 visible, 0 occluded, NaN unknown."""
    if "visible68" not in rec:
        return None
    labels = np.asarray(rec["visible68"], np.float64).copy()
    pose = rec.get("pose_pitch_yaw_roll_deg")
    if pose is not None and abs(pose[1]) > LARGE_YAW_DEG:
        painted = np.asarray(rec.get("occluded68", np.zeros(68)), bool)
        inner = np.arange(68) >= 17
        labels[inner & ~painted] = np.nan
    return labels


def evaluate(records: list[dict], root: Path, backend, box_mode: str, face_threshold: float,
             predictions: Path | None, resume: bool = False) -> tuple[EvaluationResult, np.ndarray, float, list]:
    """Metrics, per-image NME (misses as failures), the median ms per predict, and the 68-point
    predictions (None where the backend found no face)."""
    import cv2
    from tqdm import tqdm

    done: dict[str, dict] = {}
    if resume and predictions is not None and predictions.is_file():
        for line in predictions.read_text().splitlines():
            try:
                r = json.loads(line)
                done[r["image"]] = r
            except (json.JSONDecodeError, KeyError):
                break  # a half-written last line from an interrupted run
    detector = _DetectBox() if box_mode == "detect" else None
    fh = None
    if predictions is not None:
        predictions.parent.mkdir(parents=True, exist_ok=True)
        fh = predictions.open("w")
        for r in done.values():
            fh.write(json.dumps(r) + "\n")
    preds, vis_preds, times = [], [], []
    try:
        for rec in tqdm(records, desc=f"evaluate {backend.name}", unit="img", file=sys.stderr, mininterval=5):
            if rec["image"] in done:
                r = done[rec["image"]]
            else:
                image = cv2.imread(str(root / rec["image"]))
                if image is None:
                    raise FileNotFoundError(root / rec["image"])
                roi = _gt_roi(np.asarray(rec["points68"])) if detector is None else detector(image)
                r = {"image": rec["image"], "points": None, "visibility": None}
                if roi is not None:
                    t = time.perf_counter()
                    p = backend.predict(image, roi)
                    if detector is not None and p.face_score >= face_threshold:
                        p = backend.predict(image, Box.around_points(p.points[IBUG68]).enlarged(0.25))
                    times.append(time.perf_counter() - t)
                    if p.face_score >= face_threshold:
                        r.update(points=np.round(p.points, 2).tolist(), visibility=np.round(p.visibility, 4).tolist(),
                                 face_score=round(float(p.face_score), 4))
                    else:
                        r["face_score"] = round(float(p.face_score), 4)
                if fh is not None:
                    fh.write(json.dumps(r) + "\n")
            preds.append(None if r["points"] is None else np.asarray(r["points"], np.float64)[IBUG68])
            vis_preds.append(None if r["visibility"] is None else np.asarray(r["visibility"], np.float64)[IBUG68])
    finally:
        if fh is not None:
            fh.close()
    gt = np.array([rec["points68"] for rec in records], np.float64)
    vis_gt = [np.asarray(rec["visible68"], np.float64) if "visible68" in rec else None for rec in records]
    lm, per = landmark_metrics(preds, gt, vis_gt)
    vis_labels = [visibility_labels(rec) for rec in records]
    vm = visibility_metrics(vis_preds, vis_labels)
    sources = np.array([rec.get("source", "") for rec in records])
    per_source = {s: float(per[sources == s].mean()) for s in sorted(set(sources))}
    per_source_vis = {}
    if vm is not None:
        for s in sorted(set(sources)):
            idx = np.flatnonzero(sources == s)
            per_source_vis[s] = visibility_metrics([vis_preds[i] for i in idx], [vis_labels[i] for i in idx])
    ms = float(np.median(times) * 1000) if times else float("nan")
    return EvaluationResult(lm, vm, per_source, per_source_vis), per, ms, preds


MODELS = ("occface", "occface-face-only", "mediapipe")   # face-only: OccFace without its eye and part stages


def build_backend(model: str, weights: Path | None, threads: int, ablate: tuple[str, ...]):
    if model == "mediapipe":
        return create_backend("mediapipe")
    weights = Path(weights or DEFAULT_OCCFACE_WEIGHTS)
    if not weights.is_file():
        raise BackendError(f"model weights not found: {weights}")
    stages = model == "occface"
    return OccFaceBackend(weights, threads=threads, ablate=ablate, eye_stage=stages, part_stages=stages)


def predictions_path(predictions: Path | None, model: str, several: bool) -> Path | None:
    """Each model's predictions beside the others' when several run: preds.jsonl -> preds.mediapipe.jsonl."""
    if predictions is None or not several:
        return predictions
    return predictions.with_name(f"{predictions.stem}.{model}{predictions.suffix}")


def summary_line(model: str, result: EvaluationResult) -> str:
    lm = result.landmarks
    line = (f"{model} on {lm.images} images: NME68 {lm.nme68:.4f}, visible {lm.nme_visible:.4f}, "
            f"occluded {lm.nme_occluded:.4f}, FR10 {lm.fr10:.4f}, AUC10 {lm.auc10:.4f}, no face {lm.no_face}")
    if result.visibility is not None:
        v = result.visibility
        line += f"; vis ROC-AUC {v.roc_auc:.4f}, Occ AP {v.occ_ap:.4f}, F1 {v.f1_05:.4f}"
    return line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m occface_core.training.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="annotations.jsonl (shared format, or an occluded copy)")
    p.add_argument("--split", default=None, help="keep only this split (e.g. val); default: every record")
    p.add_argument("--model", action="append", choices=MODELS, default=None,
                   help="backend to evaluate, repeatable (default: occface and mediapipe, compared on the faces "
                        "both answer); occface-face-only is OccFace without its eye and part stages")
    p.add_argument("--weights", type=Path, default=None, help="OccFace weights (.onnx or .pt); default assets/occface.onnx")
    p.add_argument("--box", choices=("gt", "detect"), default="gt")
    p.add_argument("--face-threshold", type=float, default=0.5, help="below this face score the image has no face")
    p.add_argument("--out", required=True, type=Path,
                   help="metrics.json to write (the CED plot goes beside it); with several models, one file "
                        "holding each model's metrics and their comparison")
    p.add_argument("--predictions", type=Path, default=None,
                   help="preds.jsonl to write (with several models: preds.<model>.jsonl each)")
    p.add_argument("--limit", type=int, default=0, help="only the first N records")
    p.add_argument("--threads", type=int, default=1, help="OccFace inference threads")
    p.add_argument("--resume", action="store_true", help="reuse the lines already in --predictions")
    p.add_argument("--ablate", action="append", default=[], choices=ABLATIONS,
                   help="OccFace inference-time knock-out (PyTorch path): no-context sets the visibility "
                        "gate alpha to 0, no-reweight removes the point/edge-map reweighting")
    args = p.parse_args(argv)
    models = list(dict.fromkeys(args.model or ["occface", "mediapipe"]))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.data.is_file():
        print(f"error: annotations file not found: {args.data}", file=sys.stderr)
        return 2
    try:
        records = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        print(f"error: {args.data} is not JSON lines: {e}", file=sys.stderr)
        return 2
    if args.split:
        records = [r for r in records if r.get("split") == args.split]
    if args.limit:
        records = records[: args.limit]
    if not records:
        print("error: no records to evaluate", file=sys.stderr)
        return 2
    command = " ".join(["python -m occface_core.training.evaluate"] + (argv if argv is not None else sys.argv[1:]))
    results, curves, preds = {}, {}, {}
    for model in models:
        try:
            backend = build_backend(model, args.weights, args.threads, tuple(args.ablate))
        except BackendError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        try:
            result, curves[model], ms, preds[model] = evaluate(
                records, args.data.parent, backend, args.box, args.face_threshold,
                predictions_path(args.predictions, model, len(models) > 1), args.resume)
        except FileNotFoundError as e:
            print(f"error: image not found: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted; rerun with --resume to continue", file=sys.stderr)
            return 130
        finally:
            backend.close()
        results[model] = {**result.to_dict(), "median_ms_per_predict": ms}
        print(summary_line(model, result))
    meta = dict(weights=str(args.weights) if args.weights else None, box=args.box, ablate=args.ablate,
                data=str(args.data), split=args.split, command=command)
    if len(models) == 1:
        out = {**results[models[0]], "model": models[0], **meta}
    else:
        gt = np.array([rec["points68"] for rec in records], np.float64)
        comparison = compare_backends(preds, gt, [rec.get("source", "") for rec in records])
        print(comparison_text(comparison))
        out = {"models": results, "comparison": comparison, **meta}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    plot_ced(curves, args.out.with_suffix(".ced.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
