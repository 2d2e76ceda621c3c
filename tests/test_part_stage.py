"""Part stages (mouth, nose): the crop geometry, training on a tiny set, and the backend's use of them."""
import json
from pathlib import Path

import numpy as np
import pytest

from occface_core.crop import apply_affine
from occface_core.part_crop import PARTS, PartCropConfig, opening, part_matrix
from tests.test_training_cli import _tiny_dataset

CFG = PartCropConfig(input_size=48, crop_scale=1.6, drop=0.2)


def test_anchors_land_where_the_crop_expects_them_turned_and_mirrored():
    right, left = np.array([100.0, 50.0]), np.array([140.0, 80.0])      # a turned face: the line slopes down
    half = CFG.input_size / 2
    expected_x = half + np.array([-1, 1]) * CFG.input_size / (2 * CFG.crop_scale)
    expected_y = half - CFG.drop * CFG.input_size / CFG.crop_scale
    got = apply_affine(part_matrix(right, left, CFG), np.stack([right, left]))
    assert np.allclose(got[:, 0], expected_x) and np.allclose(got[:, 1], expected_y)
    mirrored = apply_affine(part_matrix(right, left, CFG, mirror=True), np.stack([right, left]))
    assert np.allclose(mirrored[:, 0], expected_x[::-1]) and np.allclose(mirrored[:, 1], expected_y)


@pytest.mark.parametrize("part", sorted(PARTS))
def test_mirror_names_are_a_pairing(part):
    m = PARTS[part].mirror
    assert sorted(m) == list(range(len(PARTS[part].order))) and np.array_equal(m[m], np.arange(len(m)))


def test_mouth_corners_swap_and_centre_points_stay_under_the_mirror():
    m = PARTS["mouth"].mirror
    order = PARTS["mouth"].order
    assert order[m[order.index(48)]] == 54 and order[m[order.index(51)]] == 51 and order[m[order.index(62)]] == 62


def test_mouth_opening_follows_the_inner_lips():
    spec = PARTS["mouth"]
    pts = np.zeros((20, 2))
    pts[0], pts[6] = [0, 0], [40, 0]
    for a, b in spec.gaps:
        pts[a], pts[b] = [20, -4], [20, 4]
    anchors = np.array([[0.0, 0.0], [40.0, 0.0]])
    assert opening(spec, pts, anchors) == pytest.approx(0.2)
    assert opening(PARTS["nose"], pts[:9], anchors) == 0


def _with_wide_face(annotations):
    """The tiny set's faces made 80 px wide, so every part has anchors far enough apart to be cut."""
    lines = []
    for line in annotations.read_text().splitlines():
        rec = json.loads(line)
        pts = np.array(rec["points68"])
        centre = pts.mean(0)
        rec["points68"] = ((pts - centre) * 80 / np.ptp(pts[:, 0]) + 80).tolist()
        lines.append(json.dumps(rec))
    annotations.write_text("\n".join(lines) + "\n")
    return annotations


def test_part_training_writes_weights_the_backend_uses_where_the_part_is_seen(tmp_path):
    from occface_core.training import export, part_train
    from occface_core.backends import BackendError
    from occface_core.backends.occface_backend import OccFaceBackend
    from occface_core.backends.part_stage import PartStage

    data = _with_wide_face(_tiny_dataset(tmp_path / "data"))
    out = tmp_path / "parts"
    assert part_train.main(["--data", str(data), "--out", str(out), "--part", "mouth", "--part", "nose",
                            "--epochs", "1", "--batch-size", "4", "--threads", "1"]) == 0
    for part in ("mouth", "nose"):
        config = json.loads((out / part / f"occface_{part}_config.json").read_text())
        assert config["part"] == part and config["iris"]["file"].endswith("iris_landmark.tflite")
        assert len(config["history"]) == 1 and config["onnx_max_abs_diff"] < 1e-3
    face = tmp_path / "model" / "occface.onnx"        # the shipped face model, with these stages beside it
    face.parent.mkdir()
    face.write_bytes((Path(__file__).resolve().parents[1] / "assets" / "occface.onnx").read_bytes())
    for part in ("mouth", "nose"):                    # the export command writes the file the backend looks for
        assert export.main(["--part", "--weights", str(out / part / f"occface_{part}.pt"),
                            "--out", str(face.parent / f"occface_{part}.onnx")]) == 0
    backend = OccFaceBackend(face, eye_stage=False)
    assert [s.spec.name for s in backend.parts] == ["mouth", "nose"]
    assert OccFaceBackend(face, part_stages=False).parts == []

    frame = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    points = np.tile(np.array([[100.0, 100.0]]), (100, 1)) + np.random.default_rng(1).normal(0, 20, (100, 2))
    points[48], points[54], points[39], points[42] = [80, 130], [120, 130], [90, 80], [110, 80]
    points[36], points[45] = [70, 80], [130, 80]          # two eyes of one width: a frontal face
    seen = np.ones(100)
    mouth = backend.parts[0]
    moved = np.flatnonzero(np.any(mouth.refine(frame, points, seen) != points, axis=1))
    assert set(moved) <= set(range(48, 68)) | {82, 83, 84, 85} and len(moved) >= 18
    covered = seen.copy()
    covered[48:68] = 0.1                               # behind a mask: the face model's lips stay
    assert np.array_equal(mouth.refine(frame, points, covered), points)
    turned = points.copy()
    turned[45] = [116, 80]                             # the far eye foreshortened to 6 of 20 px
    assert np.array_equal(mouth.refine(frame, turned, seen), turned)

    with pytest.raises(BackendError, match="nose stage, not a mouth stage"):
        PartStage(face.parent / "occface_nose.onnx", "mouth")
