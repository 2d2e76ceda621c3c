"""False expressions on a face that never changes expression: how still does the avatar stay?

The demo clip (assets/demo.mp4) is one photograph moved, turned, scaled, partly covered by a hand and
taken out of the frame and back, so every blendshape above 0 on it is landmark noise (or a pose error
leaking into the shapes), which users see as a twitching avatar. Printed per model: the mean of all 52
shapes over the face frames, the share of face frames where some shape exceeds 0.5, the mean
frame-to-frame change (twitch), and the shapes that read most.

Not a test: compare models within one run.

    python -m benchmarks.bench_expression_noise --model occface mediapipe
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from retarget.arkit import ARKIT_NAMES
from tracking.demo_clip import DEFAULT_CLIP
from live.session import SessionConfig, run_session
from benchmarks.collect import CollectorStats
from occface_core.errors import UserError


class ShapeCollector:
    """A pipeline sink that keeps the blendshapes of every frame with a face."""

    def __init__(self) -> None:
        self.rows: list[list[float]] = []

    def send(self, result) -> None:
        shapes = result.blendshapes
        if result.has_face and shapes:
            self.rows.append([float(shapes[name]) for name in ARKIT_NAMES])

    def close(self) -> None:
        pass

    def stats(self) -> CollectorStats:
        return CollectorStats("shape-collector", len(self.rows))


def expression_noise(shapes: np.ndarray, top: int = 5) -> dict:
    """Figures for (frames, 52) shape values of a face that holds one expression."""
    if len(shapes) == 0:
        return {"face_frames": 0}
    order = np.argsort(-shapes.mean(axis=0))[:top]
    return {"face_frames": int(len(shapes)),
            "mean_shape": float(shapes.mean()),
            "frames_with_a_shape_over_0.5": float((shapes.max(axis=1) > 0.5).mean()),
            "mean_frame_to_frame_change": float(np.abs(np.diff(shapes, axis=0)).mean()) if len(shapes) > 1 else 0.0,
            "top_shapes": {ARKIT_NAMES[i]: round(float(shapes[:, i].mean()), 3) for i in order}}


def run(video: Path, model: str, weights: Path | None = None) -> dict:
    collector = ShapeCollector()
    run_session(SessionConfig(source=video, model=model, weights=weights), (collector,))
    return expression_noise(np.array(collector.rows).reshape(-1, len(ARKIT_NAMES)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_expression_noise", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=DEFAULT_CLIP, help="a clip of one unchanging expression")
    parser.add_argument("--model", nargs="+", default=["occface", "mediapipe"])
    parser.add_argument("--weights", type=Path, default=None, help="OccFace weights other than the shipped ones")
    args = parser.parse_args(argv)
    for model in args.model:
        try:
            figures = run(args.video, model, args.weights if model == "occface" else None)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{model}: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
