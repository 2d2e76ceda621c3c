"""The OccFace network: shapes, the visibility head's pooling and gate, export and the backend."""
import json

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

from occface_core.codec import CodecConfig
from occface_core.model import ModelConfig, OccFaceNet, count_flops, count_parameters

TINY = ModelConfig(channels=16, fine_channels=16, vis_channels=8, codec=CodecConfig(input_size=64, heatmap_size=16))


def test_output_shapes_and_ranges():
    torch.manual_seed(0)
    net = OccFaceNet(TINY).eval()
    with torch.no_grad():
        out = net(torch.randn(3, 3, 64, 64))
    assert len(out["heatmaps"]) == 1 and out["heatmaps"][0].shape == (3, 100, 16, 16)
    assert out["point_map"].shape == (3, 1, 16, 16)
    assert out["edge_map"].shape[:2] == (3, 17)
    assert out["coords"].shape == (3, 100, 2)
    assert float(out["coords"].min()) >= 0 and float(out["coords"].max()) <= 16   # inside the heatmap
    assert out["vis_logits"].shape == (3, 100) and out["face_logit"].shape == (3,)


def test_size_counts_include_the_encoder_and_grow_with_the_head_width():
    small, wide = OccFaceNet(TINY), OccFaceNet(ModelConfig(channels=32, fine_channels=32, vis_channels=8, codec=TINY.codec))
    encoder = count_parameters(small.encoder)
    assert count_parameters(small) > encoder > 100_000          # the face-mesh body dominates a tiny head
    assert count_parameters(wide) > count_parameters(small) and count_flops(wide) > count_flops(small)


def test_input_size_must_fit_the_stride_4_heatmaps():
    with pytest.raises(ValueError, match="stride 4"):
        OccFaceNet(ModelConfig(codec=CodecConfig(input_size=128, heatmap_size=16)))


def test_visibility_gate_starts_near_zero_and_pooling_equals_the_explicit_form():
    torch.manual_seed(0)
    net = OccFaceNet(TINY).eval()
    assert float(net.vis.alpha.abs().max()) <= 0.1
    feats = torch.randn(2, 16 + 1 + 17, 16, 16)
    att = torch.softmax(torch.randn(2, 100, 256), -1).reshape(2, 100, 16, 16)
    f = net.vis.proj(feats)
    pooled = torch.einsum("bphw,bchw->bpc", att, f)
    explicit = (att[:, :, None] * f[:, None]).sum(dim=(3, 4))     # the P x C' x h x w form of Eq. 4
    assert torch.allclose(pooled, explicit, atol=1e-5)


def _save_tiny(tmp_path):
    from occface_core.training.train import TrainConfig, save_weights
    torch.manual_seed(0)
    net = OccFaceNet(TINY).eval()
    path = tmp_path / "occface.pt"
    save_weights(net, path, TrainConfig(model=TINY), {"history": []})
    return net, path


def test_weights_load_and_predict_through_the_backend_torch_and_onnx(tmp_path):
    from occface_core.backends import create_backend
    from occface_core.training.export import export_onnx
    from occface_core.types import Box

    net, pt = _save_tiny(tmp_path)
    assert json.loads((tmp_path / "occface_config.json").read_text())["model"]["codec"]["input_size"] == 64
    onnx_path = tmp_path / "occface.onnx"
    info = export_onnx(pt, onnx_path)
    assert info["max_abs_diff_points"] < 1e-2
    frame = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    roi = Box(100, 50, 200, 170)
    preds = {}
    for path in (pt, onnx_path):
        backend = create_backend("occface", path)
        p = backend.predict(frame, roi)
        backend.close()
        assert p.points.shape == (100, 2) and p.visibility.shape == (100,)
        assert 0.0 <= p.face_score <= 1.0 and ((p.visibility >= 0) & (p.visibility <= 1)).all()
        sq = roi.square()   # the backend crops the square around the ROI; points come back in frame pixels
        assert (p.points[:, 0] >= sq.x0 - 1).all() and (p.points[:, 0] <= sq.x1 + 1).all()
        assert (p.points[:, 1] >= sq.y0 - 1).all() and (p.points[:, 1] <= sq.y1 + 1).all()
        preds[path.suffix] = p
    assert np.abs(preds[".pt"].points - preds[".onnx"].points).max() < 0.05


def test_missing_weights_is_a_clear_backend_error(tmp_path):
    from occface_core.backends import BackendError, create_backend
    with pytest.raises(BackendError, match="not found"):
        create_backend("occface", tmp_path / "nope.onnx")


def test_coarser_visibility_pooling_keeps_each_landmarks_attention_a_distribution():
    """At vis_stride 8 the attention is pooled 2x2 and scaled back: for a feature map that is constant,
    the pooled feature is that constant whatever the attention (as at stride 4)."""
    torch.manual_seed(0)
    net = OccFaceNet(ModelConfig(fine_channels=16, vis_stride=8)).eval()
    feats = torch.ones(1, 16 + 1 + 17, 32, 32) * 0.3
    att = torch.softmax(torch.randn(1, 100, 1024) * 3, -1).reshape(1, 100, 32, 32)
    pooled_att = torch.nn.functional.avg_pool2d(att, 2) * 4
    assert torch.allclose(pooled_att.sum(dim=(2, 3)), torch.ones(1, 100), atol=1e-5)
    with torch.no_grad():
        logits = net.vis(feats, att)
        same_everywhere = net.vis(feats, torch.full_like(att, 1 / 1024))
    assert torch.allclose(logits, same_everywhere, atol=1e-5)


def test_configs_written_before_a_field_existed_keep_the_old_wiring():
    legacy = {k: v for k, v in ModelConfig().to_dict().items() if k not in ("upsample", "vis_stride")}
    cfg = ModelConfig.from_dict(legacy)
    assert (cfg.upsample, cfg.vis_stride) == ("bilinear", 4)
    assert (ModelConfig().upsample, ModelConfig().vis_stride) == ("nearest", 8)
    with pytest.raises(ValueError):
        OccFaceNet(ModelConfig(upsample="cubic"))
