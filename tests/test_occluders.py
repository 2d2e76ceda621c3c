"""Landmark-aware masking labels (Eq. 9) and the synthetic occluders."""
import numpy as np
import torch

from occface_core import codec
from occface_core.training.occluders import OccluderBank, eq9_occlusion, mask_to_heatmap, point_occlusion


def test_eq9_labels_on_a_hand_made_mask():
    # 32x32 heatmap; the mask covers the left half (x < 16 cells, x < 64 px) of a 128 px crop
    mask = torch.zeros(1, 128, 128, dtype=torch.uint8)
    mask[:, :, :64] = 1
    pts = torch.tensor([[[5.5, 10.5], [25.5, 10.5], [15.0, 20.5], [17.0, 3.5]]])  # heatmap cells
    hm = codec.encode_heatmaps(pts, 32, sigma=2.0)
    cover = mask_to_heatmap(mask, 32)
    # deep inside: occluded; far right: visible; one cell inside the border: about 69 % of the
    # Gaussian's mass is covered (Phi(0.5)); one cell outside: about 31 %
    assert eq9_occlusion(cover, hm, threshold=0.5).tolist() == [[1.0, 0.0, 1.0, 0.0]]
    assert eq9_occlusion(cover, hm, threshold=0.75).tolist() == [[1.0, 0.0, 0.0, 0.0]]
    assert eq9_occlusion(cover, hm, threshold=0.25).tolist() == [[1.0, 0.0, 1.0, 1.0]]


def test_exact_point_occlusion():
    mask = np.zeros((10, 10), np.uint8)
    mask[2:5, 2:5] = 1
    pts = np.array([[3.0, 3.0], [7.0, 7.0], [-1.0, 3.0], [4.4, 2.0]])
    assert point_occlusion(mask, pts).tolist() == [1, 0, 0, 1]


def test_occluder_bank_without_assets_paints_and_reports_its_mask():
    rng = np.random.default_rng(0)
    bank = OccluderBank(None)
    img = np.full((128, 128, 3), 128, np.uint8)
    pts = np.stack([np.linspace(30, 98, 68), np.linspace(30, 98, 68)], 1)
    bank.remember(np.zeros_like(img))
    for kind in ("shape", "bar", "patch"):
        out, mask = bank.apply(rng, img, pts, kind)
        assert out.shape == img.shape and mask.shape == (128, 128)
        assert mask.sum() > 0
        changed = (out != img).any(-1)
        assert not changed[mask == 0].any()      # nothing painted outside the reported mask


def test_held_out_families_cover_the_face_parts_they_are_made_for():
    """The families training never sees: each paints an image-sized mask over the region it names."""
    from occface_core.training.occluders import HELD_OUT_KINDS, KINDS
    assert not set(HELD_OUT_KINDS) & set(KINDS)
    t = np.linspace(-1.2, 1.2, 17)
    pts = np.zeros((68, 2))
    pts[:17] = np.stack([112 + 60 * np.sin(t), 100 + 60 * np.cos(t)], 1)
    pts[17:27] = np.stack([np.linspace(70, 154, 10), np.full(10, 72)], 1)
    pts[27:36] = [112, 100]
    pts[36:42] = np.stack([np.linspace(76, 100, 6), np.full(6, 88)], 1)     # right eye around x 88
    pts[42:48] = np.stack([np.linspace(124, 148, 6), np.full(6, 88)], 1)    # left eye around x 136
    pts[48:68] = np.stack([np.linspace(92, 132, 20), np.full(20, 140)], 1)  # mouth at y 140
    image = np.full((224, 224, 3), 128, np.uint8)
    bank = OccluderBank(None)
    region = {"glasses": range(36, 48), "hair": range(17, 48), "hand": range(17, 68), "microphone": range(48, 68)}
    for k, kind in enumerate(HELD_OUT_KINDS):
        for seed in range(5):
            out, mask = bank.apply(np.random.default_rng([k, seed]), image, pts, kind)
            assert out.shape == image.shape and mask.shape == image.shape[:2]
            assert mask.sum() > 0 and (out[mask > 0] != 128).any()
            x0, y0 = pts[list(region[kind])].min(0).astype(int) - 15
            x1, y1 = pts[list(region[kind])].max(0).astype(int) + 15
            assert mask[y0:y1, x0:x1].any(), (kind, seed)      # clear glasses may hide no point, only their rim
