"""Does the avatar do what the face does and nothing else? Still and swaying faces with known truth.

Videos are made from val faces (helen, afw, ytf) pasted into 640x480 frames (benchmarks/faces.py),
30 frames/s with fresh sensor noise on every frame, written as .mp4 like a camera recording:

- still: 6 s of a face held still;
- sway: 3 s still, then 3 s swaying ±40 px sideways and ±10° of roll at 0.5 Hz (pure in-plane motion,
  no change of expression).

The whole headless app runs on each (detector, tracker, model, smoother, retargeting with its automatic
neutral calibration over the first 3 s), and the last 3 s are measured against the known truth:

- jitter: per-point std of (landmark - truth) over time, mean over the 68 iBUG points, / inter-ocular,
  for the raw model output and for the smoothed points;
- NME68 of the raw and of the smoothed points;
- twitch: share of frames where some blendshape is more than 0.1 off its median over those frames (the
  five shapes most often off are printed beneath);
- phantom: share of frames where some blendshape exceeds 0.5 (the face makes none: it was calibrated
  on itself).

Not a test: a command that prints figures. Both backends in one run.

Examples:
  python -m benchmarks.bench_avatar --data ../shared/data/faces/annotations.jsonl
  python -m benchmarks.bench_avatar --data ../shared/data/faces/annotations.jsonl --faces 12 --model occface
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from live.session import SessionConfig, run_session
from benchmarks.collect import CollectorStats
from benchmarks.faces import face_frame, read_records, with_sensor_noise, write_json
from occface_core.crop import apply_affine
from occface_core.errors import UserError
from occface_core.layout import IBUG68, interocular
from retarget.arkit import ARKIT_NAMES

FPS = 30
CALIBRATION_FRAMES = 90          # the retargeting's automatic neutral calibration takes 3 s
MEASURED_FRAMES = 90
FRONTAL_SOURCES = ("helen", "afw", "ytf")
MOTIONS = ("still", "sway")


@dataclass
class Clip:
    path: Path
    truth: np.ndarray            # (frames, 68, 2) labelled points in frame pixels
    interocular: float


def sway_transform(k: int, centre: np.ndarray, motion: str) -> np.ndarray:
    """2x3 affine of frame k: identity while calibrating or still; ±40 px and ±10° roll at 0.5 Hz after."""
    if motion == "still" or k < CALIBRATION_FRAMES:
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    phase = np.sin(2 * np.pi * 0.5 * (k - CALIBRATION_FRAMES) / FPS)
    M = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), 10.0 * phase, 1.0)
    M[0, 2] += 40.0 * phase
    return M


def make_clip(face, motion: str, path: Path, noise: float, seed: int) -> Clip:
    rng = np.random.default_rng(seed)
    h, w = face.image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (w, h))
    centre = face.points68.mean(axis=0)
    truth = []
    for k in range(CALIBRATION_FRAMES + MEASURED_FRAMES):
        M = sway_transform(k, centre, motion)
        image = cv2.warpAffine(face.image, M, (w, h), flags=cv2.INTER_LINEAR, borderValue=(128, 128, 128))
        writer.write(with_sensor_noise(image, rng, noise))
        truth.append(apply_affine(M, face.points68))
    writer.release()
    return Clip(path, np.array(truth), float(interocular(face.points68)))


class FrameCollector:
    """A pipeline output that keeps raw and smoothed points and the blendshapes of every frame."""

    def __init__(self, frames: int) -> None:
        self.raw = np.full((frames, 68, 2), np.nan)
        self.smoothed = np.full((frames, 68, 2), np.nan)
        self.shapes = np.full((frames, len(ARKIT_NAMES)), np.nan)

    def send(self, result) -> None:
        k = result.frame_index
        if k >= len(self.raw) or not result.has_face:
            return
        self.raw[k] = result.raw_points[IBUG68]
        self.smoothed[k] = result.points[IBUG68]
        if result.blendshapes:
            self.shapes[k] = [result.blendshapes[name] for name in ARKIT_NAMES]

    def close(self) -> None:
        pass

    def stats(self) -> CollectorStats:
        return CollectorStats("frame-collector", int((~np.isnan(self.shapes).any(axis=1)).sum()))


def run_clip(clip: Clip, model: str) -> FrameCollector:
    collector = FrameCollector(CALIBRATION_FRAMES + MEASURED_FRAMES)
    run_session(SessionConfig(source=clip.path, model=model), (collector,))
    return collector


def clip_figures(clip: Clip, got: FrameCollector) -> dict:
    span = slice(CALIBRATION_FRAMES, CALIBRATION_FRAMES + MEASURED_FRAMES)
    truth, io = clip.truth[span], clip.interocular
    out = {}
    for name, pts in (("raw", got.raw[span]), ("smoothed", got.smoothed[span])):
        found = ~np.isnan(pts).any(axis=(1, 2))
        err = pts[found] - truth[found]
        out[f"jitter_{name}"] = float(np.sqrt(err.var(axis=0).sum(-1)).mean() / io) if found.sum() > 1 else np.nan
        out[f"nme_{name}"] = float(np.linalg.norm(err, axis=-1).mean() / io) if found.any() else np.nan
    shapes = got.shapes[span]
    shapes = shapes[~np.isnan(shapes).any(axis=1)]
    out["face_frames"] = int(len(shapes))
    if len(shapes):
        off = np.abs(shapes - np.median(shapes, axis=0)) > 0.1
        out["twitch"] = float(off.any(axis=1).mean())
        out["twitch_by_shape"] = dict(zip(ARKIT_NAMES, off.mean(axis=0).tolist()))
        out["phantom"] = float((shapes.max(axis=1) > 0.5).mean())
        out["top_shapes"] = {ARKIT_NAMES[i]: round(float(shapes[:, i].mean()), 3)
                             for i in np.argsort(-shapes.mean(axis=0))[:3]}
    return out


def summarise(per_clip: list[dict]) -> dict:
    keys = ("jitter_raw", "jitter_smoothed", "nme_raw", "nme_smoothed", "twitch", "phantom")
    by_shape = {n: float(np.mean([c["twitch_by_shape"][n] for c in per_clip if "twitch_by_shape" in c] or [0.0]))
                for n in ARKIT_NAMES}
    return {k: float(np.nanmean([c.get(k, np.nan) for c in per_clip])) for k in keys} | {
        "clips": len(per_clip), "frames_without_face": int(sum(MEASURED_FRAMES - c["face_frames"] for c in per_clip)),
        "twitch_by_shape": {n: v for n, v in sorted(by_shape.items(), key=lambda kv: -kv[1]) if v > 0}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_avatar", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="shared annotations.jsonl")
    p.add_argument("--faces", type=int, default=8, help="evenly spaced frontal val faces")
    p.add_argument("--noise", type=float, default=3.0, help="sensor noise std in grey levels")
    p.add_argument("--model", nargs="+", default=["occface", "mediapipe"])
    p.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = p.parse_args(argv)
    if not args.data.is_file():
        print(f"error: annotations file not found: {args.data}", file=sys.stderr)
        return 2
    records = read_records(args.data, "val", FRONTAL_SOURCES)
    records = [records[i] for i in np.linspace(0, len(records) - 1, min(args.faces, len(records))).astype(int)]
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        clips = {m: [make_clip(face_frame(r, args.data.parent), m, Path(tmp) / f"{m}_{i}.mp4", args.noise, i)
                     for i, r in enumerate(records)] for m in MOTIONS}
        for model in args.model:
            results[model] = {}
            for motion in MOTIONS:
                try:
                    per_clip = [clip_figures(c, run_clip(c, model)) for c in clips[motion]]
                except UserError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
                r = results[model][motion] = summarise(per_clip)
                print(f"{model:<10} {motion:<6} jitter raw {100 * r['jitter_raw']:.2f} % -> smoothed "
                      f"{100 * r['jitter_smoothed']:.2f} % (x{r['jitter_smoothed'] / r['jitter_raw']:.2f}); NME raw "
                      f"{100 * r['nme_raw']:.2f} % smoothed {100 * r['nme_smoothed']:.2f} % "
                      f"(x{r['nme_smoothed'] / r['nme_raw']:.3f}); shapes twitch on {100 * r['twitch']:.1f} % of "
                      f"frames, phantom > 0.5 on {100 * r['phantom']:.1f} %; no face on {r['frames_without_face']} frames")
                worst = list(r["twitch_by_shape"].items())[:5]
                if worst:
                    print(f"{'':<17} most often off: " + ", ".join(f"{n} {100 * v:.1f} %" for n, v in worst))
    write_json(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
