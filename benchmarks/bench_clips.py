"""Blinks, phantom shapes and lost frames on real video: the shared clips with blinks labelled by eye.

`../shared/data/video/blinks/` holds four real clips (a webcam user moving and turning, a webcam under
changing light, a three-quarter interview, a frontal interview that opens with the eyes shut) and
`labels.json`: per clip the frames with both eyes shut, frames with both clearly open, and what was
left unlabelled (half-shut, looking down, winks, blur, profile). The whole headless app runs on each
clip as a user would run it on a file (detector, tracker, model, smoother, retargeting with its
automatic neutral over the first seconds, nothing calibrated beforehand), once per backend, and the
shapes the avatar would receive are scored against the labels:

- events caught: runs of consecutive shut frames where the mean of eyeBlinkLeft/Right reaches 0.5 on
  at least one frame of the run;
- shut frames caught: shut frames where that mean is >= 0.5;
- open frames quiet: open frames where both eyeBlinks are <= 0.3;
- phantom: frames with a face where a shape the face does not make on these clips (nose sneer, jaw or
  mouth sideways, cheek squint, brow down) exceeds 0.5;
- frames without a face.

Not a test: a command that prints figures. Both backends in one run.

Examples:
  python -m benchmarks.bench_clips
  python -m benchmarks.bench_clips --clips ../shared/data/video/blinks --model occface --out runs/clips.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.collect import CollectorStats
from benchmarks.faces import write_json
from live.session import SessionConfig, run_session
from occface_core.errors import UserError
from retarget.arkit import ARKIT_NAMES

DEFAULT_CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "blinks"
BLINK = ("eyeBlinkLeft", "eyeBlinkRight")
PHANTOM = ("noseSneerLeft", "noseSneerRight", "jawLeft", "jawRight", "mouthLeft", "mouthRight",
           "cheekSquintLeft", "cheekSquintRight", "browDownLeft", "browDownRight")
SHUT_AT, OPEN_BELOW, PHANTOM_AT = 0.5, 0.3, 0.5


class ShapeCollector:
    """A pipeline output that keeps every frame's blendshapes (NaN where no face was tracked)."""

    def __init__(self) -> None:
        self.rows: dict[int, np.ndarray] = {}

    def send(self, result) -> None:
        if result.has_face and result.blendshapes:
            self.rows[result.frame_index] = np.array([result.blendshapes[n] for n in ARKIT_NAMES])

    def shapes(self, frames: int) -> np.ndarray:
        out = np.full((frames, len(ARKIT_NAMES)), np.nan)
        for k, row in self.rows.items():
            if k < frames:
                out[k] = row
        return out

    def close(self) -> None:
        pass

    def stats(self) -> CollectorStats:
        return CollectorStats("shape-collector", len(self.rows))


def run_clip(path: Path, model: str) -> tuple[ShapeCollector, int]:
    collector = ShapeCollector()
    summary = run_session(SessionConfig(source=path, model=model), (collector,))
    return collector, summary.frames_processed


def events(frames: list[int]) -> list[list[int]]:
    """Runs of consecutive frame numbers."""
    runs: list[list[int]] = []
    for f in sorted(frames):
        if runs and f == runs[-1][-1] + 1:
            runs[-1].append(f)
        else:
            runs.append([f])
    return runs


def clip_figures(shapes: np.ndarray, labels: dict) -> dict:
    col = {n: i for i, n in enumerate(ARKIT_NAMES)}
    blink = shapes[:, [col[n] for n in BLINK]]
    mean_blink = np.nan_to_num(blink.mean(axis=1), nan=0.0)      # no face: the avatar does not blink
    shut, open_ = [f for f in labels["shut"] if f < len(shapes)], [f for f in labels["open"] if f < len(shapes)]
    runs = events(shut)
    face = ~np.isnan(shapes).any(axis=1)
    phantom = (np.nan_to_num(shapes[:, [col[n] for n in PHANTOM]]) > PHANTOM_AT).any(axis=1)
    return {
        "frames": len(shapes), "face_frames": int(face.sum()),
        "events": len(runs), "events_caught": sum(bool((mean_blink[r] >= SHUT_AT).any()) for r in runs),
        "shut": len(shut), "shut_caught": int((mean_blink[shut] >= SHUT_AT).sum()) if shut else 0,
        "open": len(open_),
        "open_quiet": int((np.nan_to_num(blink[open_], nan=0.0) <= OPEN_BELOW).all(axis=1).sum()) if open_ else 0,
        "phantom_frames": int(phantom[face].sum()),
        "phantom_shapes": sorted({n for n in PHANTOM if (np.nan_to_num(shapes[:, col[n]]) > PHANTOM_AT).any()}),
        "shut_values": [round(float(v), 2) for v in mean_blink[shut]],
    }


def total(per_clip: dict[str, dict]) -> dict:
    keys = ("frames", "face_frames", "events", "events_caught", "shut", "shut_caught", "open", "open_quiet",
            "phantom_frames")
    return {k: sum(c[k] for c in per_clip.values()) for k in keys}


def _share(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f} %)" if d else "-"


def print_table(results: dict[str, dict[str, dict]]) -> None:
    models = list(results)
    clips = list(next(iter(results.values())))
    rows = [("events caught", "events_caught", "events"), ("shut frames >= 0.5", "shut_caught", "shut"),
            ("open frames <= 0.3", "open_quiet", "open"), ("phantom frames", "phantom_frames", "face_frames"),
            ("frames with a face", "face_frames", "frames")]
    for clip in clips + ["total"]:
        print(f"\n{clip}")
        print(f"  {'':<22}" + "".join(f"{m:>24}" for m in models))
        for title, num, den in rows:
            print(f"  {title:<22}" + "".join(f"{_share(results[m][clip][num], results[m][clip][den]):>24}"
                                             for m in models))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_clips", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="folder with the clips and labels.json")
    p.add_argument("--model", nargs="+", default=["occface", "mediapipe"])
    p.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = p.parse_args(argv)
    labels_path = args.clips / "labels.json"
    if not labels_path.is_file():
        print(f"error: no labels.json in {args.clips}", file=sys.stderr)
        return 2
    labels = json.loads(labels_path.read_text())
    results: dict[str, dict[str, dict]] = {}
    try:
        for model in args.model:
            per_clip = {}
            for name, clip_labels in labels.items():
                collector, frames = run_clip(args.clips / name, model)
                per_clip[name] = clip_figures(collector.shapes(frames), clip_labels)
            per_clip["total"] = total(per_clip)
            results[model] = per_clip
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print_table(results)
    write_json(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
