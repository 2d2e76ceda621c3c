"""Fit the MediaPipe 478-point mesh → 100-point layout map against hand labels, and the mean mesh.

Each iBUG point becomes the best convex combination of one or two mesh vertices (least squares over the
train split, errors normalised by the inter-ocular distance). The jaw is fitted on 300W-LP only, whose
jaw labels are the 3D points like the mesh's; helen/afw/ytf label the visible silhouette instead, so
the report gives the error per source. Points without hand labels (iris, eyelid and inner-mouth
mid-points) are assigned from the mesh's own semantics and checked geometrically.

Example:
    python -m occface_core.training.teacher --data ../shared/data/faces/annotations.jsonl --out runs/teacher_mesh.npz
    python -m occface_core.training.fit_mediapipe_map --data ../shared/data/faces/annotations.jsonl \\
        --teacher runs/teacher_mesh.npz --out occface_core/data/mediapipe_map.json
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from ..layout import NAMES, inner_mouth_from_inner_lips
from ..mediapipe_map import similarity_fit

EYELID_VERTICES = {78: 159, 79: 145, 80: 386, 81: 374}  # right upper, right lower, left upper, left lower
UPPER_INNER_LIP = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LOWER_INNER_LIP = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
EXOCANTHION_CM = 9.0


def load_labelled(data: Path, teacher: Path) -> dict[str, np.ndarray]:
    records = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    cache = np.load(teacher)
    if len(cache["images"]) != len(records) or any(a != r["image"] for a, r in zip(cache["images"], records)):
        raise ValueError("teacher cache does not match the annotations file (rerun occface_core.training.teacher)")
    return {
        "labels": np.array([r["points68"] for r in records], dtype=np.float64),
        "mesh": cache["mesh478"].astype(np.float64),
        "found": cache["found"],
        "train": np.array([r["split"] == "train" for r in records]),
        "source": np.array([r["source"] for r in records]),
    }


def fit_mean_mesh(meshes: np.ndarray) -> np.ndarray:
    """Generalised Procrustes average of (N, 478, 3) meshes, frontalised and scaled to centimetres."""
    ref = meshes[0]
    for _ in range(3):
        aligned = []
        for m in meshes:
            s, r, t = similarity_fit(m, ref)
            aligned.append(s * m @ r.T + t)
        ref = np.mean(aligned, axis=0)
    x_axis = ref[263] - ref[33]
    x_axis /= np.linalg.norm(x_axis)
    down = ref[152] - ref[10]
    y_axis = down - x_axis * (down @ x_axis)
    y_axis /= np.linalg.norm(y_axis)
    z_axis = np.cross(x_axis, y_axis)
    frontal = (ref - ref.mean(axis=0)) @ np.stack([x_axis, y_axis, z_axis]).T
    frontal *= EXOCANTHION_CM / np.linalg.norm(frontal[263] - frontal[33])
    assert frontal[1, 2] < frontal[33, 2], "the nose tip must be nearer the camera than the eye corners"
    return frontal


def mesh_edges() -> set[tuple[int, int]]:
    import mediapipe as mp

    return {tuple(sorted(e)) for e in mp.solutions.face_mesh_connections.FACEMESH_TESSELATION}


def best_combination(mesh: np.ndarray, target: np.ndarray, norm: np.ndarray, edges: set[tuple[int, int]],
                     n_candidates: int = 8):
    """The vertex pair (or single vertex) and weight that best reproduce `target` (N,2).

    A pair must share a mesh edge, so the point stays on the surface between them: two vertices
    straddling the target (an upper and a lower eyelid point, say) would fit a still face but move
    wrongly when the eye closes.
    """
    mesh = mesh[:, :468]  # the iris ring belongs to the iris points, not to eyelid or corner fits
    dist = np.linalg.norm(mesh - target[:, None, :], axis=2) / norm[:, None]
    candidates = np.argsort(dist.mean(axis=0))[:n_candidates]
    best = (float(dist[:, candidates[0]].mean()), [(int(candidates[0]), 1.0)])
    for a, b in itertools.combinations(candidates, 2):
        if tuple(sorted((int(a), int(b)))) not in edges:
            continue
        va, vb = mesh[:, a], mesh[:, b]
        diff = (va - vb).ravel()
        w = float(np.clip(((target - vb).ravel() @ diff) / max(diff @ diff, 1e-9), 0.0, 1.0))
        err = (np.linalg.norm(w * va + (1 - w) * vb - target, axis=1) / norm).mean()
        pairs = [(int(a), round(w, 4)), (int(b), round(1 - w, 4))]
        if err < best[0]:
            best = (err, [p for p in pairs if p[1] > 0])
    return best[1]


def apply(pairs, mesh: np.ndarray) -> np.ndarray:
    return sum(w * mesh[:, v] for v, w in pairs)


def iris_assignment(mesh: np.ndarray) -> dict[int, list]:
    """Order MediaPipe's iris ring vertices as pupil, top, outer, bottom, inner for each eye."""
    out = {}
    for base, centre, outer_corner in ((68, 468, 33), (73, 473, 263)):
        ring = list(range(centre + 1, centre + 5))
        offsets = {v: (mesh[:, v] - mesh[:, centre]).mean(axis=0) for v in ring}
        outward = np.sign((mesh[:, outer_corner] - mesh[:, centre]).mean(axis=0)[0])
        top = min(ring, key=lambda v: offsets[v][1])
        bottom = max(ring, key=lambda v: offsets[v][1])
        outer = max(ring, key=lambda v: outward * offsets[v][0])
        inner = min(ring, key=lambda v: outward * offsets[v][0])
        assert len({top, bottom, outer, inner}) == 4, "iris ring vertices are ambiguous"
        for k, v in enumerate((centre, top, outer, bottom, inner)):
            out[base + k] = [(v, 1.0)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--teacher", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    for path in (args.data, args.teacher):
        if not path.is_file():
            print(f"error: file not found: {path}", file=sys.stderr)
            return 2
    d = load_labelled(args.data, args.teacher)
    use = d["train"] & d["found"]
    labels, mesh3, source = d["labels"][use], d["mesh"][use], d["source"][use]
    mesh2 = d["mesh"][use][:, :, :2]
    norm = np.linalg.norm(labels[:, 36] - labels[:, 45], axis=1)

    frontal = np.isin(source, ["helen", "afw"])
    mean_mesh = fit_mean_mesh(mesh3[frontal][:800])

    points: dict[int, list] = {}
    edges = mesh_edges()
    lp = source == "300w_lp_afw"
    for j in range(68):
        # The jaw is fitted where it is labelled on the silhouette (not 300W-LP's hidden 3D points), so
        # the mesh-mapped jaw is the visible outline the 300W convention and the evaluation use.
        rows = ~lp if j < 17 else np.ones(len(labels), dtype=bool)
        points[j] = best_combination(mesh2[rows], labels[rows, j], norm[rows], edges)
    points.update(iris_assignment(mesh2))
    points.update({k: [(v, 1.0)] for k, v in EYELID_VERTICES.items()})
    inner = np.stack([apply(points[j], mesh2) for j in range(60, 68)], axis=1)
    mids = inner_mouth_from_inner_lips(np.concatenate([np.zeros((len(inner), 60, 2)), inner], axis=1))
    for k, contour in zip(range(82, 86), (UPPER_INNER_LIP, UPPER_INNER_LIP, LOWER_INNER_LIP, LOWER_INNER_LIP)):
        err = [np.linalg.norm(mesh2[:, v] - mids[:, k - 82], axis=1).mean() for v in contour]
        points[k] = [(contour[int(np.argmin(err))], 1.0)]

    # Inter-ocular NME explodes at 300W-LP's large yaw (the eye corners nearly meet), so the report
    # also gives errors over the square root of the label box area, which does not.
    box_norm = np.sqrt(np.prod(labels.max(axis=1) - labels.min(axis=1), axis=1))
    report = {}
    groups = {"helen+afw": np.isin(source, ["helen", "afw"]), "300w_lp_afw": lp, "ytf": source == "ytf",
              "300w_lp/box": lp}
    print(f"{'idx':>3} {'name':<22} {'vertices':<24} " + " ".join(f"{g:>12}" for g in groups))
    for j in range(68):
        pred = apply(points[j], mesh2)
        errs = {g: float((np.linalg.norm(pred[m] - labels[m, j], axis=1) / (box_norm if "box" in g else norm)[m]).mean())
                for g, m in groups.items()}
        report[NAMES[j]] = errs
        verts = ",".join(f"{v}:{w:.2f}" for v, w in points[j])
        print(f"{j:>3} {NAMES[j]:<22} {verts:<24} " + " ".join(f"{100 * e:>11.2f}%" for e in errs.values()))
    means = {g: float(np.mean([report[NAMES[j]][g] for j in range(68)])) for g in groups}
    print("mean NME of the mapped 68 points: " + ", ".join(f"{g} {100 * e:.2f}%" for g, e in means.items()))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "points": {str(k): [[int(v), float(w)] for v, w in pairs] for k, pairs in sorted(points.items())},
        "mean_mesh478": np.round(mean_mesh, 4).tolist(),
        "fit_report_nme": report,
        "fit_report_mean_nme": means,
        "fitted_on": f"{use.sum()} train crops with a mesh from {args.data.name}",
    }))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
