"""VMC protocol sender (https://protocol.vmc.info): one frame in bundles of at most 1,200 bytes.

A frame's messages, in this order (split over consecutive bundles, as VMC's own sender does, so no
datagram fragments):

- ``/VMC/Ext/Blend/Val`` (s name, f value) for each of the 52 shapes, ARKit camelCase names
  (``eyeBlinkLeft``) or, with ``?names=perfect_sync``, the PascalCase perfect-sync clip names
  (``EyeBlinkLeft``) that VRoid/VSeeFace perfect-sync avatars use; with ``?names=vrm``, instead, the 16
  VRM 0.x preset expressions (Blink, A, Joy, LookUp, ...) derived from them (retarget.vrm_expressions);
- ``/VMC/Ext/Blend/Apply`` (no arguments) so the receiver applies them together;
- ``/VMC/Ext/Bone/Pos`` (s "Head", f px, py, pz, f qx, qy, qz, qw): head rotation and translation
  relative to the calibrated neutral pose, in Unity axes (left-handed: x to the avatar's right, y up,
  z to the avatar's front), position in metres, unit quaternion;
- ``/VMC/Ext/Root/Pos`` (s "root", f 0 0 0, f 0 0 0 1): the avatar root stays where the receiver put it;
- ``/VMC/Ext/OK`` (i loaded=1, i calibration state, i calibration mode=0, i tracking status): calibration
  state 3 once a neutral face is calibrated, 2 while calibrating; tracking status 1 with a face, 0 without;
- ``/VMC/Ext/T`` (f seconds): the frame's timestamp.

Axis change: the camera frame (x image right, y down, z away from the camera) sees the subject from the
front, so the subject's own right/up/forward are -x/-y/-z. A Unity humanoid faces +z with +x to its
right, hence position (x, y, z)_unity = (-x, -y, -z)_camera; the map is -I, so the rotation matrix and
therefore the quaternion components stay the same. A subject turning to their own left makes the
avatar turn to its own left (a mirror-like display is the receiver's choice, not an accident here).
"""
from __future__ import annotations

from typing import Sequence

from tracking.types import FaceResult

from ..arkit import ARKIT_NAMES, PERFECT_SYNC_NAMES
from tracking.types import HeadPose
from .base import OscSender, Packet
from .encode import Datagram, FloatMessageTemplate, encode_message, pack_bundles
from .target import OscTarget
from ..vrm_expressions import VRM_NAMES, vrm_expressions

CALIBRATED = 3
CALIBRATING = 2


def camera_to_unity_position(p: Sequence[float]) -> tuple[float, float, float]:
    return (-float(p[0]), -float(p[1]), -float(p[2]))


def camera_to_unity_quaternion(q: Sequence[float]) -> tuple[float, float, float, float]:
    # The axis map is -I (a reflection composed with a half-turn), which leaves R and hence q unchanged.
    return (float(q[0]), float(q[1]), float(q[2]), float(q[3]))


_APPLY = encode_message("/VMC/Ext/Blend/Apply")
_ROOT = encode_message("/VMC/Ext/Root/Pos", "root", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)


class VmcSender(OscSender):
    """VMC protocol: shapes, head bone, root, status and time, one frame in as few <= 1,200-byte bundles as fit."""

    def __init__(self, target: OscTarget, **kwargs):
        super().__init__(target, **kwargs)
        self._vrm = target.names == "vrm"
        keys = VRM_NAMES if self._vrm else ARKIT_NAMES
        sent = {"arkit": ARKIT_NAMES, "perfect_sync": PERFECT_SYNC_NAMES, "vrm": VRM_NAMES}[target.names]
        # Address, type tags and names never change: encode them once (see osc.encode).
        self._blend = [(key, FloatMessageTemplate("/VMC/Ext/Blend/Val", name)) for key, name in zip(keys, sent)]

    def _build(self, result: FaceResult) -> Sequence[Packet]:
        shapes = result.blendshapes or {}
        if self._vrm:
            shapes = vrm_expressions(shapes)
        pose: HeadPose | None = result.head_pose
        messages = [template.encode(float(shapes.get(key, 0.0))) for key, template in self._blend]
        messages.append(_APPLY)
        if pose is not None:
            pos = camera_to_unity_position(pose.translation_from_neutral)
            rot = camera_to_unity_quaternion(pose.rotation_from_neutral)
        else:  # no face: hold the head at neutral rather than repeating a stale pose
            pos, rot = (0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)
        messages.append(encode_message("/VMC/Ext/Bone/Pos", "Head", *pos, *rot))
        messages.append(_ROOT)
        calibration = CALIBRATED if result.calibrated else CALIBRATING
        tracking = 1 if (result.has_face and pose is not None) else 0
        messages.append(encode_message("/VMC/Ext/OK", 1, calibration, 0, tracking))
        messages.append(encode_message("/VMC/Ext/T", float(result.timestamp)))
        # The 52 Blend/Val messages alone are over 2 kB: split over bundles of at most MAX_DATAGRAM
        # bytes, in order, so Apply comes after every value of the frame.
        return [Datagram(bundle) for bundle in pack_bundles(messages)]
