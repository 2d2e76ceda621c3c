"""The blink benchmark's figures and contact sheet on hand-made faces."""
import cv2
import numpy as np
import pytest

from benchmarks.bench_blink import summarise, write_sheet
from benchmarks.faces import FaceFrame


def _measured():
    """Three faces: both eyes shut (the app fires on one eye only), both open (fires on none), one of
    each (fires on the shut one)."""
    label_ear = np.array([[0.05, 0.08], [0.30, 0.28], [0.10, 0.30]])
    return label_ear, {
        "pred_ear": np.array([[0.10, 0.20], [0.30, 0.29], [0.12, 0.31]]),
        "blink": np.array([[0.9, 0.3], [0.0, 0.1], [0.7, 0.0]]),
        "found": np.array([True, True, True]),
        "calibrated_blink": {(2, 0): 0.6},
    }


def test_per_eye_and_per_face_figures():
    label_ear, m = _measured()
    r = summarise(m, label_ear)
    assert (r["shut_eyes"], r["open_eyes"]) == (3, 3)
    assert r["app_blink_on_shut"] == pytest.approx(2 / 3)       # 0.9 and 0.7 of 0.9, 0.3, 0.7
    assert r["app_blink_on_open"] == 0.0
    assert (r["faces_both_shut"], r["faces_both_open"]) == (1, 1)
    assert r["app_blink_both_on_both_shut"] == 0.0               # one eye of the shut face stayed open
    assert r["app_blink_any_on_both_open"] == 0.0
    assert r["calibrated_shut_eyes"] == 1 and r["calibrated_blink_on_shut"] == 1.0
    assert r["roc_auc_ear"] == 1.0


def test_the_sheet_has_a_tile_per_calibrated_eye(tmp_path):
    rng = np.random.default_rng(0)
    points = np.zeros((68, 2))
    points[36:42] = [[200, 240], [210, 235], [220, 235], [230, 240], [220, 245], [210, 245]]
    points[42:48] = points[36:42] + [80, 0]
    faces = [FaceFrame(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), points, {"source": "helen"})] * 3
    label_ear, _ = _measured()
    path = tmp_path / "sheet.png"
    write_sheet(path, faces, label_ear, {"occface": {(0, 0): 0.9, (2, 0): 0.6}, "mediapipe": {(0, 0): 0.2}})
    sheet = cv2.imread(str(path))
    assert sheet.shape == (160, 3 * 320, 3)          # two tiles and a blank one in a row of three
    assert sheet[:, 640:].max() == 0 and sheet[:, :320].max() > 0
