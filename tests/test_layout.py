import numpy as np

from occface_core import layout
from occface_core.head_prior import mean_face_3d
from occface_core.head_prior import load_map
from occface_core.mediapipe_map import SOURCE_MESH, SOURCE_PRIOR, mesh_to_layout
from occface_core.head_prior import mean_mesh478


def test_names_are_unique_and_complete():
    assert len(layout.NAMES) == layout.NUM_POINTS == 100
    assert len(set(layout.NAMES)) == 100


def test_mirror_is_an_involution_and_swaps_sides():
    perm = layout.MIRROR
    assert sorted(perm.tolist()) == list(range(100))
    np.testing.assert_array_equal(perm[perm], np.arange(100))
    for i, j in enumerate(perm):
        a, b = layout.NAMES[i], layout.NAMES[j]
        if "right" in a:
            assert b == a.replace("right", "left")
        elif "left" in a:
            assert b == a.replace("left", "right")


def test_mirror_maps_the_iBUG_eyes_and_mouth_corners():
    assert layout.MIRROR[36] == 45 and layout.MIRROR[48] == 54 and layout.MIRROR[0] == 16
    assert layout.MIRROR[8] == 8 and layout.MIRROR[30] == 30


def test_edges_index_valid_points_and_cover_the_contours():
    edges = np.array(layout.EDGES)
    assert edges.min() >= 0 and edges.max() < 100
    assert all(a != b for a, b in layout.EDGES)
    in_edges = set(edges.ravel().tolist())
    # every point except the pupils and the conchae lies on a contour
    assert set(range(100)) - in_edges == {68, 73, 92, 99}


def test_mirrored_edges_are_edges():
    edges = {tuple(sorted(e)) for e in layout.EDGES}
    mirrored = {tuple(sorted((int(layout.MIRROR[a]), int(layout.MIRROR[b])))) for a, b in layout.EDGES}
    assert mirrored == edges


def test_mediapipe_map_covers_every_face_point_and_no_ear():
    covered = sorted(int(k) for k in load_map()["points"])    # layout indices the mesh covers directly
    assert covered == list(range(86))


def test_mesh_to_layout_on_the_mean_mesh():
    mesh = mean_mesh478() * 20 + 300  # centimetres to a plausible pixel scale
    points, visibility, source = mesh_to_layout(mesh)
    assert points.shape == (100, 2) and visibility.shape == (100,)
    assert (source[:86] == SOURCE_MESH).all() and (source[86:] == SOURCE_PRIOR).all()
    # a frontal face: the subject's right eye is on the image left, the face points are visible
    assert points[36, 0] < points[45, 0]
    assert visibility[27:68].min() > 0.9
    # ears lie outside the eye corners, each on its own side
    assert points[90, 0] < points[36, 0] and points[97, 0] > points[45, 0]


def test_mesh_to_layout_hides_the_far_side_at_large_yaw():
    mesh = mean_mesh478()
    yaw = np.deg2rad(70)
    rot = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    turned = (mesh - mesh.mean(axis=0)) @ rot.T * 20 + 300
    _, visibility, _ = mesh_to_layout(turned)
    right_jaw, left_jaw = visibility[0:5].mean(), visibility[12:17].mean()
    assert min(right_jaw, left_jaw) < 0.2 < 0.8 < max(right_jaw, left_jaw)
    right_ear, left_ear = visibility[86:93].mean(), visibility[93:100].mean()
    assert min(right_ear, left_ear) < 0.2 and max(right_ear, left_ear) > 0.8


def test_mean_face_3d_is_metric_and_frontal():
    face = mean_face_3d()
    assert face.shape == (100, 3) and np.isfinite(face).all()
    assert abs(np.linalg.norm(face[36] - face[45]) - 9.0) < 0.5   # outer eye corners about 9 cm apart
    assert face[30, 2] < face[36, 2]                             # nose tip nearer the camera than the eyes
    assert face[8, 1] > face[30, 1] > face[27, 1]                # y grows downwards: bridge, tip, chin
