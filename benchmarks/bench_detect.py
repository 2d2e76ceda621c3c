"""First detection: how often BlazeFace finds a face, by face size, for each choice of its models.

Each labelled val crop is scaled so its face (the width of its 68 labels) is W pixels wide and pasted
at the centre of a 640x480 grey frame; a face that does not fit is cut by the frame, as a face close to
the camera is. A frame counts as found when a detection's centre lies inside the labelled face box.
The rows are the detector as it was (full-range model only), each model alone, and what the tracker
uses now (short-range first, full-range when it finds nothing).

    python -m benchmarks.bench_detect --data ../shared/data/faces/annotations.jsonl
    python -m benchmarks.bench_detect --data ../shared/data/faces/annotations.jsonl --faces 300 --widths 40 80 160 320
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .faces import face_frame, read_records, write_json

VARIANTS = {"full only (before)": ("full",), "short only": ("short",), "short, then full (now)": ("short", "full")}


def found(detections, points68: np.ndarray) -> bool:
    x0, y0 = points68.min(axis=0)
    x1, y1 = points68.max(axis=0)
    return any(x0 <= d.box.center[0] <= x1 and y0 <= d.box.center[1] <= y1 for d in detections)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_detect", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="shared annotations.jsonl")
    p.add_argument("--split", default="val")
    p.add_argument("--faces", type=int, default=200, help="val faces, evenly spaced")
    p.add_argument("--widths", type=int, nargs="+", default=[40, 64, 96, 160, 240, 360, 480],
                   help="face widths in pixels in the 640x480 frame")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if not args.data.is_file():
        print(f"error: annotations file not found: {args.data}", file=sys.stderr)
        return 2
    from occface_core.detector import BlazeFaceDetector

    records = read_records(args.data, args.split)
    records = [records[i] for i in np.linspace(0, len(records) - 1, min(args.faces, len(records))).astype(int)]
    detectors = {name: BlazeFaceDetector(models=models) for name, models in VARIANTS.items()}
    rates: dict[str, dict[int, float]] = {name: {} for name in VARIANTS}
    for width in args.widths:
        hits = dict.fromkeys(VARIANTS, 0)
        for record in records:
            labels = np.asarray(record["points68"], np.float64)
            scale = width / max(np.ptp(labels[:, 0]), 1.0)
            frame = face_frame(record, args.data.parent, scale)
            for name, detector in detectors.items():
                hits[name] += found(detector.detect(frame.image), frame.points68)
        for name in VARIANTS:
            rates[name][width] = hits[name] / len(records)
    for detector in detectors.values():
        detector.close()
    print(f"{len(records)} {args.split} faces per width; share of frames where the face is found")
    print(f"{'face width (px)':<24}" + "".join(f"{w:>7d}" for w in args.widths))
    for name, row in rates.items():
        print(f"{name:<24}" + "".join(f"{100 * row[w]:6.1f}%" for w in args.widths))
    write_json(args.out, {"faces": len(records), "split": args.split,
                          "rates": {name: {str(w): r for w, r in row.items()} for name, row in rates.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
