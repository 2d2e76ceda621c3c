"""Raw stream: every landmark with its visibility, the head pose, the face score and the shapes.

Default port 9100. A frame's messages go in consecutive bundles of at most 1,200 bytes (so nothing
fragments on a real network), starting with /occface/frame and ending with /occface/blend; every
address, in sending order:

``/occface/frame``      (i frame_index, f timestamp_s, i width_px, i height_px)
``/occface/face``       (i has_face 0/1, f face_score)
``/occface/points``     200 floats: x0, y0, x1, y1, ... x99, y99 -- all 100 points of the layout in
                        DESIGN.md ("The 100-point layout") in index order, frame pixels (origin top-left,
                        y down). Sent only with a face.
``/occface/visibility`` 100 floats: v0 ... v99, each point's visibility probability in [0, 1].
                        Sent only with a face.
``/occface/head/quat``  (f x, y, z, w): unit quaternion, head rotation in the camera frame (OpenCV axes:
                        x right, y down, z away from the camera; identity faces the camera).
``/occface/head/euler`` (f pitch, yaw, roll) degrees; pitch > 0 looks up, yaw > 0 turns to the subject's
                        left, roll > 0 tilts toward the subject's left shoulder.
``/occface/head/pos``   (f x, y, z) metres, camera frame, camera -> nose-bridge top.
                        The three head messages are sent only when a pose was estimated.
``/occface/blend``      52 floats in [0, 1] in ARKit order (retarget.arkit.ARKIT_NAMES, eyeBlinkLeft first,
                        tongueOut last); eased toward 0 when there is no face.

Without a face the bundle holds /occface/frame, /occface/face (0, score) and /occface/blend; once the
shapes have settled, it is repeated every 0.2 s as a keepalive.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from occface_core.layout import NUM_POINTS
from tracking.types import FaceResult

from ..arkit import ARKIT_NAMES
from tracking.types import HeadPose
from .base import OscSender, Packet
from .encode import Datagram, encode_message, osc_string, pack_bundles

RAW_ADDRESSES = ("/occface/frame", "/occface/face", "/occface/points", "/occface/visibility",
                 "/occface/head/quat", "/occface/head/euler", "/occface/head/pos", "/occface/blend")


def _floats(address: str, values: np.ndarray) -> bytes:
    """A message of many float32 arguments, packed in one go."""
    v = np.asarray(values, dtype=">f4").ravel()
    return osc_string(address) + osc_string("," + "f" * v.size) + v.tobytes()


class RawSender(OscSender):
    """All 100 points with visibility, head pose, face score and shapes; a frame in <= 1,200-byte bundles."""

    def _build(self, result: FaceResult) -> Sequence[Packet]:
        w, h = result.frame_size
        messages = [
            encode_message("/occface/frame", int(result.frame_index), float(result.timestamp), int(w), int(h)),
            encode_message("/occface/face", int(bool(result.has_face)), float(result.face_score)),
        ]
        if result.has_face and result.points is not None:
            pts = np.asarray(result.points, dtype=np.float64).reshape(NUM_POINTS, 2)
            vis = (np.asarray(result.visibility, dtype=np.float64).reshape(NUM_POINTS)
                   if result.visibility is not None else np.ones(NUM_POINTS))
            messages.append(_floats("/occface/points", pts))
            messages.append(_floats("/occface/visibility", vis))
        pose: HeadPose | None = result.head_pose
        if result.has_face and pose is not None:
            messages.append(_floats("/occface/head/quat", np.asarray(pose.quaternion)))
            messages.append(_floats("/occface/head/euler", np.asarray(pose.euler_deg)))
            messages.append(_floats("/occface/head/pos", np.asarray(pose.translation)))
        shapes = result.blendshapes or {}
        messages.append(_floats("/occface/blend", np.array([shapes.get(n, 0.0) for n in ARKIT_NAMES])))
        return [Datagram(bundle) for bundle in pack_bundles(messages)]
