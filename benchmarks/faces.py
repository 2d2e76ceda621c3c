"""Shared helpers for the benchmarks made from labelled face crops (../shared/data/faces).

A crop is shown to the tracker as a camera would: scaled up and pasted into a 640x480 frame on a
mid-grey background, its labels moved with it. Nothing here is used by the app or the tests.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from occface_core.training import dataset

FRAME_W, FRAME_H = 640, 480


@dataclass
class FaceFrame:
    image: np.ndarray        # (480, 640, 3) uint8 BGR
    points68: np.ndarray     # (68, 2) labels in frame pixels
    record: dict


def read_records(data: Path, split: str | None = "val", sources: tuple[str, ...] = ()) -> list[dict]:
    """The annotation lines of `split` (None: all) from `sources` (empty: all)."""
    return [r for r in dataset.read_records(data) if (split is None or r.get("split") == split)
            and (not sources or r.get("source") in sources)]


def face_frame(record: dict, root: Path, scale: float = 2.0) -> FaceFrame:
    """The crop scaled by `scale` and centred in a 640x480 grey frame (faces about 150-250 px wide)."""
    crop = cv2.imread(str(Path(root) / record["image"]))
    if crop is None:
        raise FileNotFoundError(Path(root) / record["image"])
    big = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    frame = np.full((FRAME_H, FRAME_W, 3), 128, np.uint8)
    h, w = big.shape[:2]
    x0, y0 = (FRAME_W - w) // 2, (FRAME_H - h) // 2
    # the crop may be larger than the frame: paste the part that fits
    sx0, sy0 = max(0, -x0), max(0, -y0)
    dx0, dy0 = max(0, x0), max(0, y0)
    cw, ch = min(w - sx0, FRAME_W - dx0), min(h - sy0, FRAME_H - dy0)
    frame[dy0:dy0 + ch, dx0:dx0 + cw] = big[sy0:sy0 + ch, sx0:sx0 + cw]
    pts = np.asarray(record["points68"], np.float64) * scale + np.array([x0, y0])
    return FaceFrame(frame, pts, record)


def with_sensor_noise(image: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Independent Gaussian noise per pixel and channel, as a webcam's sensor adds frame to frame."""
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def for_each_backend(names: list[str], weights: Path | None, measure) -> dict | None:
    """`measure(backend)` for each named backend (OccFace from `weights` when given), closing each after;
    None, after one error line, when a backend cannot be created."""
    from occface_core.backends import BackendError, create_backend

    results = {}
    for name in names:
        try:
            backend = create_backend(name, weights if name == "occface" else None)
        except BackendError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return None
        try:
            results[name] = measure(backend)
        finally:
            backend.close()
    return results


def write_json(path: Path | None, data) -> None:
    """The figures as JSON too, when the command was given --out."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2))


def face_set_parser(prog: str, doc: str):
    """The arguments every face-set benchmark takes: --data, --split, --model, --weights, --out."""
    import argparse

    p = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="shared annotations.jsonl")
    p.add_argument("--split", default="val")
    p.add_argument("--model", nargs="+", default=["occface", "mediapipe"])
    p.add_argument("--weights", type=Path, default=None, help="OccFace weights other than the shipped ones")
    p.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    return p


def frontal_faces(args, sources: tuple[str, ...], count: int | None = None) -> list[FaceFrame] | None:
    """The split's faces from `sources` (evenly spaced, `count` of them when given) in 640x480 frames;
    None, after one error line, when the annotations file is missing."""
    if not Path(args.data).is_file():
        print(f"error: annotations file not found: {args.data}", file=sys.stderr)
        return None
    records = read_records(args.data, args.split, sources)
    if count is not None:
        records = [records[i] for i in np.linspace(0, len(records) - 1, min(count, len(records))).astype(int)]
    return [face_frame(r, Path(args.data).parent) for r in records]


def measure_and_report(args, measure, describe, extra: dict | None = None) -> int:
    """`measure(backend)` for each of args.model, one printed line per backend (`describe(name, result)`),
    --out written; the command's exit status."""
    results = for_each_backend(args.model, args.weights, measure)
    if results is None:
        return 2
    for name, result in results.items():
        print(f"{name:<10} {describe(result)}")
    write_json(args.out, {**(extra or {}), "results": results})
    return 0
