"""ExpressionHold: an occluded region holds its shapes, then eases to neutral; it glides back in."""
from __future__ import annotations

import numpy as np

from occface_core.layout import NUM_POINTS
from retarget.arkit import ARKIT_NAMES
from retarget.expression_hold import REGIONS, ExpressionHold, HoldOptions

DT = 1 / 30


def measured(**values: float) -> dict[str, float]:
    shapes = {name: 0.0 for name in ARKIT_NAMES}
    shapes.update(values)
    return shapes


def test_a_hidden_mouth_holds_then_eases_while_the_eyes_follow_the_measurement():
    hold = ExpressionHold(HoldOptions(hold_s=0.25, ease_s=0.5))
    for _ in range(10):
        hold.update(measured(jawOpen=0.8, eyeBlinkLeft=0.1), set(), DT)
    held = hold.update(measured(jawOpen=0.0, eyeBlinkLeft=0.9), {"mouth"}, DT)
    assert held["jawOpen"] == 0.8          # the hand's shape is not read as a closed mouth
    assert held["eyeBlinkLeft"] == 0.9     # the visible eye is not held
    values = [hold.update(measured(jawOpen=0.0), {"mouth"}, DT)["jawOpen"] for _ in range(120)]
    assert values[5] == 0.8                # still within hold_s
    assert all(b <= a for a, b in zip(values, values[1:])) and values[-1] == 0.0  # eased to neutral exactly


def test_a_region_that_comes_back_glides_to_the_measurement():
    hold = ExpressionHold(HoldOptions(reenter_s=0.08))
    for _ in range(30):
        hold.update(measured(), {"mouth"}, DT)
    first = hold.update(measured(jawOpen=1.0), set(), DT)["jawOpen"]
    assert 0.0 < first < 1.0
    later = [hold.update(measured(jawOpen=1.0), set(), DT)["jawOpen"] for _ in range(15)]
    assert later[-1] == 1.0


def test_occlusion_has_hysteresis_and_no_face_eases_everything():
    hold = ExpressionHold(HoldOptions(occluded_below=0.5, visible_above=0.6))
    vis = np.ones(NUM_POINTS)
    vis[list(REGIONS["mouth"])] = 0.4
    assert hold.occluded_regions(hold.region_visibility(vis)) == {"mouth"}
    vis[list(REGIONS["mouth"])] = 0.55     # between the thresholds: stays occluded
    assert hold.occluded_regions(hold.region_visibility(vis)) == {"mouth"}
    vis[list(REGIONS["mouth"])] = 0.7
    assert hold.occluded_regions(hold.region_visibility(vis)) == set()
    hold.update(measured(mouthSmileLeft=0.6), set(), DT)
    values = [hold.update(None, set(), DT)["mouthSmileLeft"] for _ in range(120)]
    # a lost face eases at once (no hold): about 95 % of the way in 0.3 s, then exactly neutral
    assert 0.3 < values[0] < 0.6 and values[8] < 0.1 * 0.6 and values[-1] == 0.0


def test_regions_are_the_layout_groups_they_always_were():
    assert REGIONS["eye_right"] == tuple(range(36, 42)) + (78, 79) + tuple(range(68, 73))
    assert REGIONS["mouth"] == tuple(range(48, 68)) + tuple(range(82, 86))
    assert REGIONS["chin"] == (7, 8, 9)
    assert REGIONS["cheeks"] == (2, 3, 4, 12, 13, 14)
    assert REGIONS["nose"] == tuple(range(31, 36))


def test_a_hand_over_the_chin_alone_holds_the_jaw_and_mouth_shapes():
    """The mouth's points mostly visible, the chin's three covered: the jaw is read from the chin."""
    hold = ExpressionHold()
    vis = np.ones(NUM_POINTS)
    for _ in range(10):
        hold.occluded_regions(hold.region_visibility(vis))
        hold.update(measured(jawLeft=0.1), set(), DT)
    vis[list(REGIONS["chin"])] = 0.05
    occluded = hold.occluded_regions(hold.region_visibility(vis))
    assert occluded == {"chin"}
    shapes = hold.update(measured(jawLeft=1.0, mouthFrownRight=0.8, eyeBlinkLeft=0.7), occluded, DT)
    assert shapes["jawLeft"] == 0.1 and shapes["mouthFrownRight"] == 0.0 and shapes["eyeBlinkLeft"] == 0.7


def test_the_hold_keeps_the_value_from_before_the_occluder_dragged_the_points():
    """Visibility falls over a few frames while the hand drags the lip points: the held value is the
    last one measured with the region clearly visible, not the dragged one."""
    hold = ExpressionHold()
    vis = np.ones(NUM_POINTS)
    for _ in range(10):
        hold.occluded_regions(hold.region_visibility(vis))
        hold.update(measured(mouthSmileLeft=0.2), set(), DT)
    for v, dragged in ((0.58, 0.5), (0.52, 0.8)):          # fading, not yet occluded: shown as measured
        vis[list(REGIONS["mouth"])] = v
        assert hold.occluded_regions(hold.region_visibility(vis)) == set()
        assert hold.update(measured(mouthSmileLeft=dragged), set(), DT)["mouthSmileLeft"] == dragged
    vis[list(REGIONS["mouth"])] = 0.3
    occluded = hold.occluded_regions(hold.region_visibility(vis))
    values = [hold.update(measured(mouthSmileLeft=1.0), occluded, DT)["mouthSmileLeft"] for _ in range(6)]
    assert values[0] < 0.8 and abs(values[-1] - 0.2) < 0.06   # most of the way back to it within 0.2 s


def test_a_cheek_outline_cut_off_by_the_crop_holds_cheek_puff_only():
    """A face leaving the frame fast: one side of the jaw outline falls outside the crop (low
    visibility) while mouth and chin are seen; cheekPuff, measured from that outline, holds."""
    hold = ExpressionHold()
    vis = np.ones(NUM_POINTS)
    for _ in range(10):
        hold.occluded_regions(hold.region_visibility(vis))
        hold.update(measured(), set(), DT)
    vis[[12, 13, 14]] = 0.05
    occluded = hold.occluded_regions(hold.region_visibility(vis))
    assert occluded == {"cheeks"}
    shapes = hold.update(measured(cheekPuff=0.9, jawOpen=0.4), occluded, DT)
    assert shapes["cheekPuff"] == 0.0 and shapes["jawOpen"] == 0.4
