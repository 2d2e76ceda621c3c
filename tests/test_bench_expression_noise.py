"""The expression-noise benchmark's figures on a hand-made sequence."""
import numpy as np
import pytest

from benchmarks.bench_expression_noise import expression_noise
from retarget.arkit import ARKIT_NAMES


def test_figures_of_a_hand_made_sequence():
    shapes = np.zeros((4, 52))
    jaw = ARKIT_NAMES.index("jawLeft")
    shapes[[1, 3], jaw] = 0.8          # two twitches
    f = expression_noise(shapes, top=1)
    assert f["face_frames"] == 4
    assert f["mean_shape"] == pytest.approx(1.6 / (4 * 52))
    assert f["frames_with_a_shape_over_0.5"] == 0.5
    assert f["mean_frame_to_frame_change"] == pytest.approx(3 * 0.8 / (3 * 52))
    assert f["top_shapes"] == {"jawLeft": 0.4}
    assert expression_noise(np.zeros((0, 52))) == {"face_frames": 0}
