"""The overlays drawn on a frame (the view and recordings share live/annotate.py)."""
from __future__ import annotations

import numpy as np

from live.annotate import ORANGE, OverlayOptions, OverlayRenderer
from retarget.synthetic import face_result

SHAPES_ONLY = OverlayOptions(points=False, contours=False, roi=False, status=False, head_axes=False, blendshapes=True)


def test_shape_bar_labels_are_readable_on_a_white_wall():
    result = face_result(None)
    result.blendshapes = {name: 1.0 for name in SHAPES_ONLY.blendshape_bars}   # every bar full: all orange
    canvas = np.full((480, 640, 3), 255, np.uint8)
    OverlayRenderer().draw(canvas, result, None, SHAPES_ONLY)

    orange = np.all(canvas == ORANGE, axis=2)
    rows, cols = np.nonzero(orange)
    assert rows.size, "the bars are drawn"
    # the labels are to the right of the bars, on the rows the bars cover
    labels = canvas[rows.min():rows.max() + 1, cols.max() + 3:].max(axis=2)
    backed = np.nonzero((labels < 250).any(axis=0))[0]
    assert backed.size, "the wall behind the labels is darkened"
    labels = labels[:, : backed.max() + 1]   # up to the backing's edge
    assert np.mean(labels < 128) > 0.6, "most of the label area is dark"
    assert (labels > 230).sum() > 100, "the white text stands out from that backing"
    assert np.all(canvas[:, :cols.min() - 20] == 255), "the rest of the frame is untouched"
