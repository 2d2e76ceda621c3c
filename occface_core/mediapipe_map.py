"""MediaPipe's 478-point face mesh mapped onto the 100-point layout, with geometric visibility.

Every layout point the mesh covers is a fitted convex combination of one or two mesh vertices
(occface_core/data/mediapipe_map.json, from `python -m occface_core.training.fit_mediapipe_map`). The ears are
not on the mesh: they come from the 3D head prior, carried by a similarity fit of the mean mesh to
the observed one. Visibility is self-occlusion from geometry: a point whose surface normal turns away
from the camera is hidden. External occluders (hands, masks) are invisible to this teacher.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .head_prior import LEFT_EAR_NORMAL, layout_from_mesh3d, mean_face_3d, mean_mesh478
from .layout import NUM_POINTS

SOURCE_NONE, SOURCE_MESH, SOURCE_PRIOR = 0, 1, 2

# Logistic visibility from the normal's z (z points away from the camera): a surface turned past
# ~10° beyond the silhouette counts as hidden.
_VIS_OFFSET, _VIS_GAIN = 0.17, 12.0


@lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """(T, 3) triangles of the 468-vertex mesh, oriented so normals point out of the head."""
    import mediapipe as mp

    edges = {tuple(sorted(e)) for e in mp.solutions.face_mesh_connections.FACEMESH_TESSELATION}
    neighbours: dict[int, set[int]] = {}
    for a, b in edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    tris = sorted({tuple(sorted((a, b, c))) for a, b in edges for c in neighbours[a] & neighbours[b]})
    tris = np.array(tris, dtype=np.int64)
    mean = mean_mesh478()
    centre = mean.mean(axis=0) + np.array([0.0, 0.0, 6.0])  # the head's centre lies behind the face
    normals = np.cross(mean[tris[:, 1]] - mean[tris[:, 0]], mean[tris[:, 2]] - mean[tris[:, 0]])
    outward = ((mean[tris].mean(axis=1) - centre) * normals).sum(axis=1) > 0
    tris[~outward] = tris[~outward][:, [0, 2, 1]]
    return tris


def vertex_normals(mesh: np.ndarray) -> np.ndarray:
    """(478, 3) unit normals of a (478, 3) mesh, pointing out of the head."""
    tris = mesh_triangles()
    v = mesh[:468, :3].astype(np.float64)
    face_n = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])
    normals = np.zeros_like(v)
    for k in range(3):
        np.add.at(normals, tris[:, k], face_n)
    # The iris vertices are not on the tessellation: they share the normal of their eye's opening.
    right_eye, left_eye = normals[[33, 133, 159, 145]].sum(axis=0), normals[[263, 362, 386, 374]].sum(axis=0)
    normals = np.concatenate([normals, np.repeat(right_eye[None], 5, axis=0), np.repeat(left_eye[None], 5, axis=0)])
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama: scale s, rotation R, shift t with dst ≈ s R src + t (rows are points)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.eye(3)
    d[2, 2] = np.sign(np.linalg.det(u @ vt))
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(sig) @ d) / (a ** 2).sum(axis=1).mean())
    return scale, rot, mu_d - scale * rot @ mu_s


def _visibility_from_normal_z(nz: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(_VIS_GAIN * (nz - _VIS_OFFSET)))


def mesh_to_layout(mesh478: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points (100,2), visibility (100,), source (100,) int) from one mesh in image pixels.

    source is SOURCE_MESH for mesh-mapped points and SOURCE_PRIOR for the ears.
    """
    mesh = np.asarray(mesh478, dtype=np.float64)
    pts3 = layout_from_mesh3d(mesh)
    normals = layout_from_mesh3d(vertex_normals(mesh))
    source = np.where(np.isnan(pts3[:, 0]), SOURCE_NONE, SOURCE_MESH)
    nz = normals[:, 2] / np.maximum(np.linalg.norm(normals, axis=1), 1e-9)

    scale, rot, shift = similarity_fit(mean_mesh478()[:468], mesh[:468])
    pts3[86:100] = scale * mean_face_3d()[86:100] @ rot.T + shift  # the prior's ears, carried by the fit
    ear_normals = np.array([LEFT_EAR_NORMAL * (-1, 1, 1)] * 7 + [LEFT_EAR_NORMAL] * 7) @ rot.T
    nz[86:100] = ear_normals[:, 2]
    source[86:100] = SOURCE_PRIOR

    visibility = _visibility_from_normal_z(nz)
    assert len(visibility) == NUM_POINTS
    return pts3[:, :2].astype(np.float32), visibility.astype(np.float32), source.astype(np.int8)
