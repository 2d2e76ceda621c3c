"""Raw landmark jitter on a still face: val faces held still for N frames, only sensor noise changing.

Each face is pasted into a 640x480 frame (benchmarks/faces.py) and shown N times with fresh Gaussian
sensor noise. The real tracker runs (BlazeFace once, then the ROI from the last landmarks, as in the
app), and the raw model output (no smoother) is kept. Per face: the mean over the 68 iBUG points of
sqrt(var x + var y) over the frames, divided by the labelled inter-ocular distance; and the NME of the
mean position (accuracy of the still face). Both backends see the same noisy frames in one run.

Not a test: a command that prints figures.

Examples:
  python -m benchmarks.bench_jitter --data ../shared/data/faces/annotations.jsonl
  python -m benchmarks.bench_jitter --data ../shared/data/faces/annotations.jsonl --faces 80 --frames 40 \\
      --noise 4 --model occface mediapipe --out runs/bench_jitter.json
"""
from __future__ import annotations

import sys

import numpy as np

from benchmarks.faces import face_set_parser, frontal_faces, measure_and_report, with_sensor_noise
from occface_core.layout import IBUG68, interocular
from occface_core.detector import BlazeFaceDetector
from tracking.tracker import FaceTracker

FRONTAL_SOURCES = ("helen", "afw", "ytf")


def still_face_tracks(backend, faces, frames: int, noise: float, seed: int) -> list[np.ndarray | None]:
    """(frames, 68, 2) raw points per face (None where a frame had no face), same noise for every backend."""
    detector = BlazeFaceDetector()
    tracks = []
    try:
        for k, face in enumerate(faces):
            rng = np.random.default_rng([seed, k])
            tracker = FaceTracker(backend, detector)
            pts = []
            for _ in range(frames):
                step = tracker.process(with_sensor_noise(face.image, rng, noise))
                pts.append(None if step.prediction is None else step.prediction.points[IBUG68])
            tracks.append(None if any(p is None for p in pts) else np.stack(pts))
    finally:
        detector.close()
    return tracks


def summarise(tracks: list[np.ndarray | None], faces) -> dict:
    jitter, nme = [], []
    for track, face in zip(tracks, faces):
        if track is None:
            continue
        io = float(interocular(face.points68))
        jitter.append(float(np.sqrt(track.var(axis=0).sum(-1)).mean() / io))
        nme.append(float(np.linalg.norm(track.mean(0) - face.points68, axis=-1).mean() / io))
    j = np.array(jitter)
    return {"faces": len(faces), "faces_tracked_every_frame": len(j),
            "jitter_mean": float(j.mean()) if len(j) else float("nan"),
            "jitter_median": float(np.median(j)) if len(j) else float("nan"),
            "jitter_p90": float(np.percentile(j, 90)) if len(j) else float("nan"),
            "nme68_of_mean_position": float(np.mean(nme)) if nme else float("nan")}


def main(argv: list[str] | None = None) -> int:
    p = face_set_parser("python -m benchmarks.bench_jitter", __doc__)
    p.add_argument("--faces", type=int, default=60, help="evenly spaced frontal val faces (helen, afw, ytf)")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--noise", type=float, default=3.0, help="sensor noise std in grey levels")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    faces = frontal_faces(args, FRONTAL_SOURCES, args.faces)
    if faces is None:
        return 2
    return measure_and_report(args, lambda backend: summarise(
        still_face_tracks(backend, faces, args.frames, args.noise, args.seed), faces), describe,
        extra={"frames": args.frames, "noise": args.noise})


def describe(r: dict) -> str:
    return (f"raw jitter / inter-ocular: mean {100 * r['jitter_mean']:.2f} %, median {100 * r['jitter_median']:.2f} %, "
            f"p90 {100 * r['jitter_p90']:.2f} %; NME68 of the mean position {100 * r['nme68_of_mean_position']:.2f} %; "
            f"tracked on every frame {r['faces_tracked_every_frame']}/{r['faces']} faces")

if __name__ == "__main__":
    sys.exit(main())
