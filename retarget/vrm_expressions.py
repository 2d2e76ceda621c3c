"""The 52 ARKit shapes folded into VRM 0.x preset expressions, for avatars without perfect-sync clips.

Most VRM avatars (VRoid exports included) only carry the standard BlendShapeClips: Blink, Blink_L,
Blink_R, the vowels A I U E O, Joy Angry Sorrow Fun, and LookUp/Down/Left/Right. VMC receivers such as
VSeeFace apply `/VMC/Ext/Blend/Val` by clip name, so `vmc://…?names=vrm` sends these names instead of
the ARKit ones.

- Blink: both eyes closed is Blink; only what one eye closes beyond the other goes to Blink_L/_R, so a
  model whose Blink and Blink_L/_R clips add up never closes an eye twice.
- Vowels: the mouth is described by how open (jawOpen), round (funnel/pucker) and wide (stretch/smile)
  it is; each vowel is a prototype in that space, and the mouth's activity is shared among the vowels by
  closeness (a soft nearest-prototype), so a closed neutral mouth sends no vowel and a clear "a" sends
  mostly A.
- Emotions: Joy from the smile, Angry from lowered brows, Sorrow from the frown with raised inner brows.
  Fun stays 0: nothing in the landmarks tells it from Joy.
- Look: from the eyeLook shapes; Left/Right are the subject's own (as Blink_L is the subject's left eye).

These are heuristics, not a learned mapping; they follow what VRM's preset clips are meant to show.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

VRM_NAMES: tuple[str, ...] = ("Blink", "Blink_L", "Blink_R", "A", "I", "U", "E", "O",
                              "Joy", "Angry", "Sorrow", "Fun", "LookUp", "LookDown", "LookLeft", "LookRight")

# (open, round, wide) of each vowel's mouth, on the 0-1 scale of the ARKit shapes
VOWEL_PROTOTYPES: dict[str, tuple[float, float, float]] = {
    "A": (0.8, 0.0, 0.2),
    "I": (0.15, 0.0, 0.8),
    "U": (0.1, 0.8, 0.0),
    "E": (0.4, 0.0, 0.6),
    "O": (0.5, 0.7, 0.0),
}
VOWEL_SHARPNESS = 0.04   # softmax temperature on squared distance: smaller picks one vowel more firmly
MOUTH_DEAD_ZONE = 0.1    # activity below this is a resting mouth, not a vowel


def _mean(shapes: Mapping[str, float], *names: str) -> float:
    return float(np.mean([float(shapes.get(n, 0.0)) for n in names]))


def _vowels(shapes: Mapping[str, float]) -> dict[str, float]:
    feature = np.array([float(shapes.get("jawOpen", 0.0)),
                        max(float(shapes.get("mouthFunnel", 0.0)), float(shapes.get("mouthPucker", 0.0))),
                        max(_mean(shapes, "mouthStretchLeft", "mouthStretchRight"),
                            _mean(shapes, "mouthSmileLeft", "mouthSmileRight"))])
    activity = float(np.clip((feature.max() - MOUTH_DEAD_ZONE) / (1.0 - MOUTH_DEAD_ZONE), 0.0, 1.0))
    if activity == 0.0:
        return {name: 0.0 for name in VOWEL_PROTOTYPES}
    prototypes = np.array(list(VOWEL_PROTOTYPES.values()))
    d2 = ((prototypes - feature) ** 2).sum(axis=1)
    w = np.exp(-(d2 - d2.min()) / VOWEL_SHARPNESS)
    w = w / w.sum() * activity
    return {name: float(x) for name, x in zip(VOWEL_PROTOTYPES, w)}


def vrm_expressions(shapes: Mapping[str, float]) -> dict[str, float]:
    """VRM 0.x preset weights (0-1, keys in VRM_NAMES order) from ARKit blendshape weights."""
    left, right = float(shapes.get("eyeBlinkLeft", 0.0)), float(shapes.get("eyeBlinkRight", 0.0))
    both = min(left, right)
    out = {"Blink": both, "Blink_L": left - both, "Blink_R": right - both}
    out.update(_vowels(shapes))
    out["Joy"] = _mean(shapes, "mouthSmileLeft", "mouthSmileRight")
    out["Angry"] = _mean(shapes, "browDownLeft", "browDownRight")
    out["Sorrow"] = min(_mean(shapes, "mouthFrownLeft", "mouthFrownRight"), float(shapes.get("browInnerUp", 0.0)))
    out["Fun"] = 0.0
    out["LookUp"] = _mean(shapes, "eyeLookUpLeft", "eyeLookUpRight")
    out["LookDown"] = _mean(shapes, "eyeLookDownLeft", "eyeLookDownRight")
    out["LookLeft"] = _mean(shapes, "eyeLookOutLeft", "eyeLookInRight")     # both eyes toward the subject's left
    out["LookRight"] = _mean(shapes, "eyeLookOutRight", "eyeLookInLeft")
    return {name: float(np.clip(out[name], 0.0, 1.0)) for name in VRM_NAMES}
