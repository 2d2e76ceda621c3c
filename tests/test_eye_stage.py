"""The eye stage: crop geometry both ways, the network and its loss, and the run-time refinement."""
import json

import numpy as np
import pytest
import torch

from occface_core.backends import BackendError
from occface_core.backends.eye_stage import EyeStage
from occface_core.eye_crop import EYE_ORDER, INNER, OUTER, EyeCropConfig, apply_affine, eye_matrices, lid_opening, \
    to_image
from occface_core.training.eye_model import EyeNet, mean_eye
from occface_core.training.eye_train import eye_loss, eye_set, export_eye_onnx
from occface_core.training.dataset import Labels
from occface_core.layout import MIRROR, NUM_POINTS

torch.set_num_threads(1)
CFG = EyeCropConfig()


def _face(angle_deg=0.0, shut=False) -> np.ndarray:
    """A mirror-symmetric face's 100 points about x = 100 (only the eyes matter here), turned by angle."""
    p = np.zeros((NUM_POINTS, 2))
    lid = 0.5 if shut else 4.0
    p[42:48] = [[110, 80], [116, 80 - lid], [124, 80 - lid], [130, 80], [124, 80 + lid], [116, 80 + lid]]
    p[80:82] = [[120, 80 - 1.2 * lid], [120, 80 + 1.1 * lid]]
    p[MIRROR[42:48]] = p[42:48] * [-1, 1] + [200, 0]
    p[MIRROR[80:82]] = p[80:82] * [-1, 1] + [200, 0]
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (p - 100) @ rot.T + 100


def test_both_eyes_of_a_symmetric_face_land_on_the_same_crop_points_even_when_the_head_rolls():
    for angle in (0.0, 20.0):
        p = _face(angle)
        right, left = [apply_affine(m, p[list(EYE_ORDER[side])]) for m, side in zip(eye_matrices(p, CFG), EYE_ORDER)]
        assert np.allclose(right, left, atol=1e-6)
        # upright: corners on the centre row, the outer corner to the right, the upper lid above
        assert np.allclose(left[[INNER, OUTER], 1], CFG.input_size / 2)
        assert left[OUTER, 0] > left[INNER, 0] and left[1, 1] < left[5, 1]
        assert np.isclose(left[OUTER, 0] - left[INNER, 0], CFG.input_size / CFG.crop_scale)


def test_crop_points_map_back_to_the_frame():
    p = _face(12.0)
    for m, side in zip(eye_matrices(p, CFG), EYE_ORDER):
        eye = p[list(EYE_ORDER[side])]
        assert np.allclose(to_image(m, apply_affine(m, eye)), eye, atol=1e-6)


def test_lid_opening_is_small_for_a_shut_eye_and_the_same_for_both_eyes():
    shut, open_ = _face(shut=True), _face()
    opening = [lid_opening(p[list(EYE_ORDER[s])]) for p in (shut, open_) for s in EYE_ORDER]
    assert opening[0] == pytest.approx(opening[1]) and opening[2] == pytest.approx(opening[3])
    assert opening[0] < 0.1 < 0.3 < opening[2]


def test_the_network_starts_at_the_mean_eye_and_a_few_steps_fit_a_batch():
    torch.manual_seed(0)
    net = EyeNet(CFG)
    x = torch.rand(6, 3, CFG.input_size, CFG.input_size)
    out = net(x)
    assert out.shape == (6, 8, 2)
    assert (out - torch.from_numpy(mean_eye(CFG))).abs().max() < 3.0        # about the mean eye, in crop pixels
    target = torch.from_numpy(mean_eye(CFG)).repeat(6, 1, 1) + torch.randn(6, 8, 2)
    weights = torch.ones(6, 8)
    assert float(eye_loss(target, target, weights, CFG.input_size, 2.0)) == 0.0
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    first = None
    for _ in range(40):
        loss = eye_loss(net(x), target, weights, CFG.input_size, 2.0)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * first


def test_a_shallower_trunk_keeps_the_first_blocks_of_a_deeper_one_and_its_depth_survives_saving(tmp_path):
    from occface_core.training.eye_model import load_eye_model, save_eye_model
    from occface_core.training.local_model import load_matching

    torch.manual_seed(0)
    deep, shallow = EyeNet(CFG), EyeNet(CFG, trunk_blocks=5)
    assert (shallow.trunk.stride, shallow.trunk.channels) == (4, 128) and len(shallow.trunk.blocks) == 5
    assert shallow(torch.rand(2, 3, CFG.input_size, CFG.input_size)).shape == (2, 8, 2)
    left = load_matching(shallow, deep.state_dict())
    assert left == ["regress.weight"]                     # 8x8 cells instead of 4x4: the one new tensor
    for a, b in zip(shallow.trunk.blocks, deep.trunk.blocks):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    save_eye_model(shallow, tmp_path / "eyes.pt", {"command": "test"})
    again = load_eye_model(tmp_path / "eyes.pt")
    assert len(again.trunk.blocks) == 5
    x = torch.rand(1, 3, CFG.input_size, CFG.input_size)
    assert torch.equal(again(x), shallow.eval()(x))
    with pytest.raises(ValueError, match="1 to 10"):
        EyeNet(CFG, trunk_blocks=11)


def test_a_shut_eye_takes_its_lid_mid_points_from_the_ibug_lids_not_the_teacher():
    shut, open_ = _face(shut=True), _face()
    for p in (shut, open_):
        p[[78, 80], 1] -= 3.0     # a teacher whose upper lids stay high
    points = np.stack([shut, open_]).astype(np.float32)
    labels = Labels(images=["a", "b"], sources=["helen"] * 2, splits=["train"] * 2, points=points,
                    weights=np.ones((2, NUM_POINTS), np.float32), vis=np.ones((2, NUM_POINTS), np.float32),
                    vis_mask=np.zeros((2, NUM_POINTS), np.float32))
    eyes = eye_set(labels, np.arange(2))
    assert len(eyes) == 4 and eyes.mirror.tolist() == [True, False, True, False]
    assert lid_opening(eyes.points[0]) < 0.1 and np.allclose(eyes.points[0] * [-1, 1] + [200, 0], eyes.points[1])
    assert eyes.points[2, 6, 1] == pytest.approx(open_[78, 1])                 # open: the teacher's own


def _eye_weights(tmp_path):
    net = EyeNet(CFG)
    path = tmp_path / "occface_eyes.onnx"
    assert export_eye_onnx(net, path) < 1e-3
    path.with_name("occface_eyes_config.json").write_text(json.dumps({"crop": CFG.to_dict()}))
    return path


def test_refinement_replaces_the_lids_of_visible_eyes_only(tmp_path):
    stage = EyeStage(_eye_weights(tmp_path))
    frame = np.random.default_rng(0).integers(0, 255, (200, 240, 3), dtype=np.uint8)
    points = _face(5.0).astype(np.float32)
    visibility = np.ones(NUM_POINTS, np.float32)
    visibility[36:42] = 0.1                                # the right eye is behind a hand
    out = stage.refine(frame, points, visibility)
    lids, right = [EYE_ORDER["left"][k] for k in (1, 2, 4, 5, 6, 7)], list(EYE_ORDER["right"])
    assert not np.allclose(out[lids], points[lids])
    assert np.abs(out[lids] - points[lids]).max() < 20     # still on that eye
    others = np.setdiff1d(np.arange(NUM_POINTS), lids)     # the corners too: they anchor pose and crop
    assert np.array_equal(out[others], points[others])
    assert np.array_equal(out[right], points[right])
    visibility[:] = 0.0
    assert stage.refine(frame, points, visibility) is points
    tiny = (points - 100) * 0.2 + 100                       # a face far away: eyes 4 px wide
    assert stage.refine(frame, tiny, np.ones(NUM_POINTS, np.float32)) is tiny


def test_corrupt_or_unconfigured_eye_weights_give_a_clear_error(tmp_path):
    bad = tmp_path / "occface_eyes.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(BackendError, match="eye stage"):
        EyeStage(bad)                               # no config beside it
    bad.with_name("occface_eyes_config.json").write_text(json.dumps({"crop": CFG.to_dict()}))
    with pytest.raises(BackendError, match="eye stage"):
        EyeStage(bad)


def test_the_shipped_backend_predicts_in_two_steps_the_tracker_needs_only_the_first():
    from occface_core.backends import RefiningBackend, create_backend
    from occface_core.types import Box

    frame = np.random.default_rng(1).integers(0, 255, (360, 480, 3), dtype=np.uint8)
    roi = Box(150, 90, 330, 270)
    with_eyes, without = create_backend("occface"), create_backend("occface", eye_stage=False, part_stages=False)
    assert isinstance(with_eyes, RefiningBackend) and with_eyes.refines and not without.refines
    located = with_eyes.locate(frame, roi)
    whole = with_eyes.predict(frame, roi)
    refined = with_eyes.refine(frame, located)
    assert np.array_equal(whole.points, refined.points) and np.array_equal(whole.visibility, located.visibility)
    assert np.array_equal(located.points, without.predict(frame, roi).points)   # the face model alone
    assert without.refine(frame, located) is located
