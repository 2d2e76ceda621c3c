"""Each metric on a hand-computed case."""
import numpy as np
import pytest

from occface_core.training import metrics


def _face(scale=1.0):
    gt = np.zeros((68, 2))
    gt[:, 0] = np.linspace(0, 20, 68)
    gt[36] = [0.0, 0.0]
    gt[45] = [10.0 * scale, 0.0]   # inter-ocular distance 10 * scale
    return gt


def test_nme_is_mean_error_over_interocular():
    gt = _face()
    pred = gt + [0.0, 1.0]        # every point 1 px off, inter-ocular 10
    assert metrics.nme_per_image(pred[None], gt[None])[0] == pytest.approx(0.1)
    mask = np.zeros((1, 68), bool)
    mask[0, :10] = True
    pred2 = gt.copy()
    pred2[:10] += [3.0, 4.0]      # 5 px off on the selected points only
    assert metrics.nme_per_image(pred2[None], gt[None], mask)[0] == pytest.approx(0.5)
    assert np.isnan(metrics.nme_per_image(pred2[None], gt[None], np.zeros((1, 68), bool))[0])


def test_failure_rate_and_auc():
    nme = np.array([0.0, 0.05, 0.2])
    assert metrics.failure_rate(nme, 0.10) == pytest.approx(1 / 3)
    # CED is 1/3 on [0, 0.05) and 2/3 on [0.05, 0.1]: area (0.05/3 + 0.1/3) / 0.1 = 0.5
    assert metrics.auc_at(nme, 0.10) == pytest.approx(0.5, abs=2e-3)


def test_average_precision_roc_auc_f1():
    y = np.array([1, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.1])
    assert metrics.average_precision(y, s) == pytest.approx((1 + 2 / 3) / 2)
    assert metrics.roc_auc(y, s) == pytest.approx(0.75)          # 3 of 4 positive/negative pairs ordered
    assert metrics.roc_auc(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)  # a tie counts 1/2
    assert metrics.f1_at(y, s > 0.5) == pytest.approx(0.8)       # tp 2, 3 called, 2 real


def test_no_face_counts_as_failure_and_visibility_metrics_use_occlusion_as_positive():
    gt = np.stack([_face(), _face()])
    vis = np.ones(68)
    vis[:34] = 0                                              # first half occluded
    preds = [gt[0] + [0.0, 0.5], None]
    lm, per = metrics.landmark_metrics(preds, gt, [vis, vis])
    assert lm.no_face == 1 and lm.images == 2
    assert per[1] == metrics.FAILURE_NME
    assert lm.nme68 == pytest.approx((0.05 + metrics.FAILURE_NME) / 2)
    assert lm.fr10 == pytest.approx(0.5)
    assert lm.nme68_found == pytest.approx(0.05)
    # the no-face image is a failure for its visible and its occluded points too
    assert lm.nme_visible == pytest.approx((0.05 + 1.0) / 2) and lm.nme_occluded == pytest.approx((0.05 + 1.0) / 2)
    good = 1.0 - (vis <= 0.5) * 0.9                           # predicted visibility low where occluded
    vm = metrics.visibility_metrics([good, None], [vis, vis])
    assert vm.points == 68 and vm.occluded_points == 34
    assert vm.roc_auc == pytest.approx(1.0) and vm.occ_ap == pytest.approx(1.0) and vm.f1_05 == pytest.approx(1.0)


def test_a_found_face_never_scores_worse_than_a_missed_one():
    # a profile's eye corners 4 px apart: a 20-px miss would be NME 5 without the cap
    gt = _face()[None]
    gt[0, 45] = gt[0, 36] + [4.0, 0.0]
    vis = np.ones(68)
    vis[:10] = 0
    lm, per = metrics.landmark_metrics([gt[0] + [20.0, 0.0]], gt, [vis])
    assert per[0] == metrics.FAILURE_NME and lm.nme_visible == metrics.FAILURE_NME
    assert lm.nme_occluded == metrics.FAILURE_NME and lm.no_face == 0


def test_ced_plot_writes_a_png(tmp_path):
    out = tmp_path / "ced.png"
    metrics.plot_ced({"a": np.array([0.01, 0.03, 0.2])}, out)
    assert out.read_bytes()[:4] == b"\x89PNG"
