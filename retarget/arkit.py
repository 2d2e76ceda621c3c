"""The 52 ARKit blendshape names, in Apple's documented order, and their "perfect sync" spellings.

Left/Right are the subject's own left and right (as in ARKit, where eyeBlinkLeft is the user's left eye).
"""
from __future__ import annotations

ARKIT_NAMES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
assert len(ARKIT_NAMES) == 52 and len(set(ARKIT_NAMES)) == 52


def perfect_sync_name(arkit_name: str) -> str:
    """VRoid/VSeeFace "perfect sync" clip names are the ARKit names with a capital first letter."""
    return arkit_name[:1].upper() + arkit_name[1:]


PERFECT_SYNC_NAMES: tuple[str, ...] = tuple(perfect_sync_name(n) for n in ARKIT_NAMES)


def neutral_blendshapes() -> dict[str, float]:
    """All 52 names at 0.0, in ARKit order (a fresh dict each call: callers may mutate it)."""
    return {name: 0.0 for name in ARKIT_NAMES}


def mirror_name(name: str) -> str:
    """The same shape on the other side (eyeBlinkLeft <-> eyeBlinkRight); unsided names map to themselves."""
    if name.endswith("Left"):
        return name[:-4] + "Right"
    if name.endswith("Right"):
        return name[:-5] + "Left"
    return name
