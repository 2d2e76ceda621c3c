"""Cache MediaPipe face-mesh outputs for a labelled set once, so training never recomputes them.

Example:
    python -m occface_core.training.teacher --data ../shared/data/faces/annotations.jsonl --out runs/teacher_mesh.npz
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..mesh_runner import FaceMeshRunner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path, help="annotations.jsonl in the shared format")
    parser.add_argument("--out", required=True, type=Path, help="output .npz (images, mesh478, found)")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"error: annotations file not found: {args.data}", file=sys.stderr)
        return 2
    records = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    runner = FaceMeshRunner()
    meshes = np.zeros((len(records), 478, 3), dtype=np.float32)
    found = np.zeros(len(records), dtype=bool)
    for i, rec in enumerate(tqdm(records, desc="teacher mesh", unit="img")):
        image = cv2.imread(str(args.data.parent / rec["image"]))
        if image is None:
            continue
        mesh = runner(image)
        if mesh is not None:
            meshes[i], found[i] = mesh, True
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=np.array([r["image"] for r in records]), mesh478=meshes, found=found)
    print(f"{found.sum()}/{len(records)} crops with a mesh -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
