"""A few training steps on tiny synthetic data lower the loss; labels and CLI errors."""
import json

import cv2
import numpy as np
import torch

torch.set_num_threads(1)

from occface_core.codec import CodecConfig
from occface_core.model import ModelConfig, OccFaceNet
from occface_core.training.losses import LossWeights, compute_losses

TINY = ModelConfig(channels=16, fine_channels=16, vis_channels=8, codec=CodecConfig(input_size=64, heatmap_size=16))


def _synthetic_batch(n=8, seed=0):
    """Images with a bright blob at each of a few landmark positions; other points unlabelled."""
    rng = np.random.default_rng(seed)
    imgs, pts = [], []
    for _ in range(n):
        p = np.zeros((100, 2), np.float32)
        p[:] = rng.uniform(12, 52, (100, 2))
        img = np.zeros((64, 64, 3), np.uint8)
        for x, y in p[:5]:
            cv2.circle(img, (int(x), int(y)), 3, (255, 255, 255), -1)
        imgs.append(img)
        pts.append(p)
    w = torch.zeros(n, 100)
    w[:, :5] = 1
    vis = torch.ones(n, 100)
    vis[:, 3:5] = 0
    occ = torch.zeros(n, 64, 64, dtype=torch.uint8)
    occ[:, :, :8] = 1
    return {"image": torch.tensor(np.stack(imgs)).permute(0, 3, 1, 2).float() / 127.5 - 1,
            "points": torch.tensor(np.stack(pts)), "weights": w, "vis": vis, "vis_mask": (w > 0).float(),
            "occ_mask": occ, "face": torch.tensor([1.0] * (n - 2) + [0.0] * 2)}


def test_a_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    net = OccFaceNet(TINY)
    batch = _synthetic_batch(n=6)
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    losses = []
    for _ in range(12):
        out = net(batch["image"])
        loss = compute_losses(out, batch, TINY, LossWeights(), with_vis=True)
        opt.zero_grad()
        loss["total"].backward()
        opt.step()
        losses.append(float(loss["total"].detach()))
        assert all(torch.isfinite(v) for v in loss.values())
    assert np.mean(losses[-2:]) < 0.7 * np.mean(losses[:2])


def test_unlabelled_points_add_no_loss():
    torch.manual_seed(0)
    net = OccFaceNet(TINY).eval()
    batch = _synthetic_batch()
    out = net(batch["image"])
    base = compute_losses(out, batch, TINY, LossWeights(), with_vis=False)
    moved = dict(batch)
    moved["points"] = batch["points"].clone()
    moved["points"][:, 50:] += 7.0                      # unlabelled points (weight 0) anywhere else
    again = compute_losses(out, moved, TINY, LossWeights(), with_vis=False)
    for k in ("heatmap", "coord", "point_map", "edge_map"):
        assert torch.allclose(base[k], again[k])


def test_labels_use_hand_points_and_silhouette_convention(tmp_path):
    from occface_core.training.dataset import LabelConfig, labels_for_record
    p68 = np.stack([np.linspace(50, 170, 68), np.linspace(60, 160, 68)], 1)
    helen = {"source": "helen", "points68": p68.tolist()}
    pts, w, vis, vm = labels_for_record(helen, None, LabelConfig())
    assert (w[:68] == 1).all() and (w[82:86] == 1).all() and (w[68:82] == 0).all() and (w[86:] == 0).all()
    assert (vm[:17] == 1).all() and (vis[:17] == 1).all()   # silhouette jaw: visible by construction
    lp = {"source": "300w_lp_afw", "points68": p68.tolist(), "visible68": [0] * 5 + [1] * 63}
    pts, w, vis, vm = labels_for_record(lp, None, LabelConfig())
    assert vis[:5].tolist() == [0] * 5 and vm[:17].tolist() == [1] * 17   # 3D-true jaw, marked hidden


def test_cli_errors_are_one_line(tmp_path, capsys):
    from occface_core.training import evaluate, train
    assert train.main(["--data", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    data = tmp_path / "a.jsonl"
    data.write_text(json.dumps({"image": "x.jpg", "points68": [[0, 0]] * 68}) + "\n")
    assert evaluate.main(["--data", str(data), "--weights", str(tmp_path / "w.onnx"), "--out", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "weights" in err and "\n" not in err


def _two_view_batch(tmp_path, n=4):
    """Two views (one augmentation and its nudged twin) of n labelled synthetic faces, as training draws them."""
    from occface_core.training.dataset import AugmentConfig, FaceDataset, Labels
    rng = np.random.default_rng(1)
    (tmp_path / "img").mkdir()
    pts = np.zeros((n, 100, 2), np.float32)
    for i in range(n):
        cv2.imwrite(str(tmp_path / "img" / f"{i}.jpg"), rng.integers(0, 255, (224, 224, 3), dtype=np.uint8))
        pts[i] = rng.uniform(70, 150, (100, 2))
        pts[i, 36], pts[i, 45] = (80, 100), (140, 100)      # outer eye corners: inter-ocular 60 px
    labels = Labels([f"img/{i}.jpg" for i in range(n)], ["helen"] * n, ["train"] * n, pts,
                    np.ones((n, 100), np.float32), np.ones((n, 100), np.float32), np.ones((n, 100), np.float32))
    ds = FaceDataset(labels, tmp_path, AugmentConfig(input_size=64, negative=0.0, flip=0.5), train=True, views=2)
    return torch.utils.data.default_collate([ds[i] for i in range(n)])


def test_the_second_view_is_the_first_with_its_region_nudged_as_between_two_tracked_frames(tmp_path):
    from occface_core.training.dataset import AugmentConfig
    batch = _two_view_batch(tmp_path, n=8)
    aug = AugmentConfig()
    assert torch.equal(batch["source_order"][:, 0], batch["source_order"][:, 1])   # same flip
    for A0, A1, io in zip(batch["to_source"][:, 0], batch["to_source"][:, 1], batch["interocular"][:, 0]):
        scale0, scale1 = torch.linalg.det(A0[:, :2]).abs().sqrt(), torch.linalg.det(A1[:, :2]).abs().sqrt()
        assert abs(float(torch.log(scale1 / scale0))) <= 2.5 * aug.pair_scale + 1e-4
        turn = torch.rad2deg(torch.atan2(A1[1, 0], A1[0, 0]) - torch.atan2(A0[1, 0], A0[0, 0]))
        assert abs(float(turn)) <= 2.5 * aug.pair_rotation + 1e-3
        centre0, centre1 = A0 @ torch.tensor([31.5, 31.5, 1.0]), A1 @ torch.tensor([31.5, 31.5, 1.0])
        crop_size_src = 64 * scale0
        assert float((centre1 - centre0).abs().max()) <= 1.1 * aug.pair_shift * crop_size_src + 1.0
    # the crops differ (nudge and sensor noise) but show the same augmented face
    diff = (batch["image"][:, 0] - batch["image"][:, 1]).abs().mean()
    assert 0.0 < float(diff) < 0.5


def test_consistency_is_zero_for_points_that_agree_in_the_source_and_measures_disagreement(tmp_path):
    from occface_core import codec
    from occface_core.training.losses import consistency_loss
    batch = _two_view_batch(tmp_path)
    assert batch["image"].shape == (4, 2, 3, 64, 64)
    assert not torch.equal(batch["to_source"][:, 0], batch["to_source"][:, 1])   # two different jitters
    # each view's own labels, read as predictions: the same face points in source pixels -> no loss
    exact = codec.to_heatmap(batch["points"], TINY.codec)
    assert float(consistency_loss(exact, batch, TINY)) < 1e-3
    # one view's points moved by 3 source pixels -> 3 / 60 inter-ocular
    moved = batch["points"].clone()
    A = batch["to_source"][:, 1, :, :2]                                  # crop -> source linear part
    shift_crop = torch.linalg.solve(A, torch.tensor([3.0, 0.0]).expand(4, 2))
    moved[:, 1] += shift_crop[:, None, :]
    loss = consistency_loss(codec.to_heatmap(moved, TINY.codec), batch, TINY)
    assert abs(float(loss) - 3.0 / 60.0) < 2e-3


def test_one_training_step_with_two_views_updates_the_heads_and_the_encoder(tmp_path):
    from occface_core.training.losses import consistency_loss
    from occface_core.training.train import flatten_views
    torch.manual_seed(0)
    net = OccFaceNet(TINY)
    batch = _two_view_batch(tmp_path)
    flat = flatten_views(batch)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    out = net(flat["image"])
    losses = compute_losses(out, flat, TINY, LossWeights(), with_vis=True)
    total = losses["total"] + consistency_loss(out["coords"].unflatten(0, (-1, 2)), batch, TINY)
    total.backward()
    torch.optim.SGD(net.parameters(), lr=1e-3).step()
    changed = {n for n, p in net.named_parameters() if not torch.equal(p, before[n])}
    assert any(n.startswith("encoder.") for n in changed) and "hm_head.weight" in changed


def test_shut_eye_crops_are_drawn_more_often():
    from occface_core.training.train import TrainConfig, shut_eye_sampling_weights
    open_eye = np.zeros((100, 2))
    open_eye[36:42] = [[0, 0], [1, -1], [2, -1], [3, 0], [2, 1], [1, 1]]           # EAR 0.67
    open_eye[42:48] = open_eye[36:42] + [10, 0]
    shut = open_eye.copy()
    shut[[37, 38, 40, 41], 1] *= 0.1                                                  # EAR 0.07 on the right eye
    w = shut_eye_sampling_weights(np.stack([open_eye, shut]), TrainConfig())
    assert w.tolist() == [1.0, TrainConfig().shut_eye_weight]


def test_eye_aspect_loss_is_zero_for_agreeing_eyes_and_grows_as_predicted_lids_open():
    from occface_core.layout import LEFT_EYE, RIGHT_EYE, eye_aspect_ratio
    from occface_core.training.losses import eye_aspect_loss

    rng = np.random.default_rng(0)
    target = torch.tensor(rng.uniform(5, 25, (2, 100, 2)), dtype=torch.float32)
    weights = torch.ones(2, 100)
    assert torch.allclose(eye_aspect_ratio(target).double(),             # one formula for tensors and arrays
                          torch.from_numpy(eye_aspect_ratio(target.numpy()[:, :68])), atol=1e-5)
    assert float(eye_aspect_loss(target, target, weights)) == 0.0
    opened = target.clone().requires_grad_(True)
    shift = torch.zeros_like(target)
    for _, u1, u2, _, l4, l5 in (RIGHT_EYE, LEFT_EYE):      # upper lids up, lower lids down
        shift[:, [u1, u2], 1] -= 1.0
        shift[:, [l4, l5], 1] += 1.0
    loss = eye_aspect_loss(opened + shift, target, weights)
    loss.backward()
    assert float(loss) > 0 and float(opened.grad.abs().sum()) > 0
    unlabelled = weights.clone()
    unlabelled[:, list(RIGHT_EYE) + list(LEFT_EYE)] = 0
    assert float(eye_aspect_loss(target + shift, target, unlabelled)) == 0.0
