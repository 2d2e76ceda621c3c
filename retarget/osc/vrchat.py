"""VRChat avatar-parameter sender: ``/avatar/parameters/<Name>`` (f value), one message per parameter.

VRChat listens on UDP 9000 once OSC is enabled (Action menu -> Options -> OSC -> Enabled). Each ARKit
shape goes to the avatar parameter its name map names (default: the ARKit name itself, e.g.
``/avatar/parameters/jawOpen``); a user map (``vrchat://127.0.0.1:9000?map=names.json``) renames or
drops parameters and may add ``headPitch``/``headYaw``/``headRoll`` (degrees from neutral / 90, clamped
to [-1, 1]). Values are floats in [0, 1] (head angles in [-1, 1]).

Plain messages rather than bundles, because that is what VRChat's OSC documentation shows. To keep the
parameter sync quiet, a parameter is re-sent only when it changed by more than `CHANGE_EPSILON` (VRChat
syncs floats at 8 bits anyway), and every parameter at least once per `FULL_REFRESH_S`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

from tracking.types import FaceResult, HeadPose

from ..arkit import ARKIT_NAMES
from ..rotation import matrix_to_euler, quat_to_matrix
from .base import OscSender, Packet
from .encode import Datagram, FloatMessageTemplate
from .target import OscTarget, OscTargetError

CHANGE_EPSILON = 1.0 / 512
FULL_REFRESH_S = 1.0   # every parameter again, changed or not (a receiver that joined late catches up)

# Extra keys a VRChat name map may use besides the 52 ARKit names: head angles in degrees / 90.
VRCHAT_HEAD_KEYS = ("headPitch", "headYaw", "headRoll")

_OSC_RESERVED = frozenset(" #*,?[]{}")  # characters OSC address patterns reserve


def default_vrchat_name_map() -> dict[str, str]:
    """ARKit name -> avatar parameter name; by default the parameter carries the ARKit name itself."""
    return {name: name for name in ARKIT_NAMES}


def load_vrchat_name_map(path: Path) -> dict[str, str]:
    """Read a user's JSON name map ``{"jawOpen": "JawOpen", "tongueOut": null, ...}``.

    Keys are ARKit names (or headPitch/headYaw/headRoll); a null value drops that parameter; names the
    file does not mention keep their default (the ARKit name).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OscTargetError(f"VRChat name map not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OscTargetError(f"VRChat name map {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise OscTargetError(f"VRChat name map {path} must be a JSON object of ARKit name -> parameter name")
    known = set(ARKIT_NAMES) | set(VRCHAT_HEAD_KEYS)
    mapping = default_vrchat_name_map()
    for key, value in data.items():
        if key not in known:
            raise OscTargetError(f"VRChat name map {path}: unknown key {key!r} (expected an ARKit name "
                                 f"or one of {', '.join(VRCHAT_HEAD_KEYS)})")
        if value is None:
            mapping.pop(key, None)
        elif isinstance(value, str) and value and not value.startswith("/") \
                and not any(c in _OSC_RESERVED for c in value):
            mapping[key] = value  # "/" inside is fine: face-tracking avatars use e.g. "FT/v2/JawOpen"
        else:
            raise OscTargetError(f"VRChat name map {path}: value for {key!r} must be a parameter name "
                                 f"(no leading '/', no spaces or any of #*,?[]{{}}), or null")
    return mapping


class VrchatSender(OscSender):
    """VRChat OSC: avatar parameters from the blendshapes (and optional head angles)."""

    def __init__(self, target: OscTarget, **kwargs):
        super().__init__(target, **kwargs)
        self._name_map = dict(target.name_map) if target.name_map is not None else default_vrchat_name_map()
        self._templates = {key: FloatMessageTemplate(f"/avatar/parameters/{name}")
                           for key, name in self._name_map.items()}
        self._last_values: dict[str, float] = {}
        self._last_full_at = -math.inf

    @property
    def name_map(self) -> dict[str, str]:
        return dict(self._name_map)

    def _values(self, result: FaceResult) -> dict[str, float]:
        shapes = result.blendshapes or {}
        values = {key: float(shapes.get(key, 0.0)) for key in self._name_map if key not in VRCHAT_HEAD_KEYS}
        if any(key in self._name_map for key in VRCHAT_HEAD_KEYS):
            pose: HeadPose | None = result.head_pose
            pitch, yaw, roll = (matrix_to_euler(quat_to_matrix(pose.rotation_from_neutral))
                                if pose is not None else (0.0, 0.0, 0.0))
            for key, angle in zip(VRCHAT_HEAD_KEYS, (pitch, yaw, roll)):
                if key in self._name_map:
                    values[key] = max(-1.0, min(1.0, angle / 90.0))
        return values

    def _build(self, result: FaceResult) -> Sequence[Packet]:
        now = self._clock()
        full = now - self._last_full_at >= FULL_REFRESH_S
        if full:
            self._last_full_at = now
        packets: list[Packet] = []
        for key, value in self._values(result).items():
            last = self._last_values.get(key)
            if not full and last is not None and abs(value - last) <= CHANGE_EPSILON:
                continue
            packets.append(Datagram(self._templates[key].encode(value)))
            self._last_values[key] = value
        return packets
