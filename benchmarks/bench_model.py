"""Benchmark the OccFace model per face crop: onnxruntime vs PyTorch eager, one thread and default.

Reports the median (and p90) milliseconds over `--runs` calls after `--warmup` calls (in five blocks
that alternate between the measurements, so drift in the machine's speed hits all), for the face model
alone on a prepared crop, for the eye stage alone (both eyes: two crops from the frame, one batch,
mapping back), and for the whole backend call (crop from a 640x480 frame + face model + eye stage +
mapping back to frame pixels), on the demo portrait in a 640x480 frame. Not part of the test suite: timings depend on the machine and its load.

Examples:
  python -m benchmarks.bench_model
  python -m benchmarks.bench_model --onnx assets/occface.onnx --pt assets/occface.pt --runs 500 --out runs/bench.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parents[1] / "assets"  # benchmarks/ sits beside assets/


def _time_interleaved(fns: dict, runs: int, warmup: int, rounds: int = 5) -> dict:
    """Median and p90 ms of each function, timed in `rounds` alternating blocks: this machine's speed
    drifts over seconds (shared cores, clock changes), which a single block per function would charge
    to whichever ran first."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    per_round = max(1, runs // rounds)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            for _ in range(per_round):
                t = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t)
    return {name: {"median_ms": float(np.median(ts) * 1000), "p90_ms": float(np.percentile(ts, 90) * 1000),
                   "runs": len(ts)} for name, ts in samples.items()}


def _demo_frame():
    """The demo portrait in a 640x480 frame and the region around its face: a real face, so that the
    face model calls the eyes visible and the eye stage runs inside `backend_predict`."""
    import cv2

    from occface_core.types import Box

    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = cv2.resize(cv2.imread(str(ASSETS / "demo_face.jpg")), (480, 480))
    return frame, Box(221, 60, 360, 188).enlarged(0.25)    # her landmark box, as the tracker crops it


def bench(onnx: Path | None, pt: Path | None, runs: int, warmup: int) -> dict:
    import torch

    from occface_core.backends.occface_backend import OccFaceBackend

    frame, roi = _demo_frame()
    results: dict = {"cpu_count": os.cpu_count(), "torch": torch.__version__}
    default_threads = torch.get_num_threads()
    for label, path, runtime in (("onnxruntime", onnx, "onnx"), ("torch", pt, "torch")):
        if path is None or not path.is_file():
            continue
        for threads in (1, 0):
            name = f"{label}_{'1thread' if threads == 1 else 'default'}"
            if runtime == "torch":
                torch.set_num_threads(1 if threads == 1 else default_threads)
            backend = OccFaceBackend(path, threads=threads, runtime=runtime)
            x, _ = backend.preprocess(frame, roi)
            fns = {"model_only": lambda: backend.runner(x), "backend_predict": lambda: backend.predict(frame, roi)}
            if backend.eyes is not None and runtime == "onnx":
                prediction = backend.predict(frame, roi)
                fns["eye_stage"] = lambda: backend.eyes.refine(frame, prediction.points, prediction.visibility)
            results[name] = _time_interleaved(fns, runs, warmup)
            backend.close()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_model", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnx", type=Path, default=ASSETS / "occface.onnx")
    p.add_argument("--pt", type=Path, default=ASSETS / "occface.pt")
    p.add_argument("--runs", type=int, default=300)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = p.parse_args(argv)
    if not args.onnx.is_file() and not args.pt.is_file():
        print(f"error: no weights found ({args.onnx}, {args.pt})", file=sys.stderr)
        return 2
    res = bench(args.onnx, args.pt, args.runs, args.warmup)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
