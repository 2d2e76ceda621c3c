"""Heatmap codec: encoding targets and decoding heatmaps back to coordinates."""
import numpy as np
import torch

from occface_core import codec
from occface_core.codec import CodecConfig


def test_decode_recovers_a_known_subpixel_peak():
    true = torch.tensor([[[12.3, 17.7], [5.55, 25.2]]])
    cfg = CodecConfig()
    hm = codec.encode_heatmaps(true, 32, sigma=cfg.sigma)
    got, att = codec.soft_argmax(hm, beta=cfg.beta)
    assert torch.allclose(att.sum(dim=(2, 3)), torch.ones(1, 2), atol=1e-5)
    assert (got - true).abs().max() < 0.05  # heatmap cells: well under a pixel of the 128 px input


def test_pixel_round_trip_through_heatmaps():
    cfg = CodecConfig(input_size=128, heatmap_size=32)
    px = np.array([[40.0, 70.25], [100.5, 3.0]])
    hm = codec.encode_heatmaps(torch.tensor(codec.to_heatmap(px, cfg))[None].float(), 32, cfg.sigma)
    back = codec.to_pixels(codec.soft_argmax(hm, cfg.beta)[0][0].numpy(), cfg)
    assert np.abs(back - px).max() < 0.25  # input pixels


def test_heatmap_targets_peak_at_one_where_the_point_is():
    hm = codec.encode_heatmaps(torch.tensor([[[10.5, 20.5]]]), 32, sigma=1.0)
    assert hm.shape == (1, 1, 32, 32)
    assert abs(float(hm[0, 0, 20, 10]) - 1.0) < 1e-6
    assert float(hm[0, 0, 0, 0]) < 1e-6


def test_edge_map_lies_on_the_segments_of_labelled_points_only():
    pts = torch.zeros(1, 100, 2)
    pts[0, :17] = torch.stack([torch.linspace(4.5, 28.5, 17), torch.full((17,), 16.5)], dim=1)  # a flat jaw
    w = torch.zeros(1, 100)
    w[0, :17] = 1
    em = codec.encode_edge_map(pts, w, 32, sigma=0.75)
    assert em.shape == (1, codec.NUM_EDGE_MAPS, 32, 32)
    jaw = em[0, 0]
    assert float(jaw[16, 4:29].min()) > 0.99          # on the line
    assert float(jaw[10].max()) < 1e-3                 # far from it
    assert float(em[0, 1:].max()) == 0.0               # contours without labels stay empty
