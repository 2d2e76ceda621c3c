"""ARKit shapes folded into VRM 0.x preset expressions (retarget.vrm_expressions)."""
import pytest

from retarget.arkit import ARKIT_NAMES
from retarget.vrm_expressions import VRM_NAMES, vrm_expressions


def _face(**values):
    shapes = {n: 0.0 for n in ARKIT_NAMES}
    shapes.update(values)
    return vrm_expressions(shapes)


def _top_vowel(out):
    return max("AIUEO", key=lambda v: out[v])


def test_a_resting_face_sends_nothing():
    out = _face(jawOpen=0.05, mouthSmileLeft=0.05, mouthSmileRight=0.05)
    assert list(out) == list(VRM_NAMES)
    assert all(v == pytest.approx(0.0, abs=0.06) for v in out.values())


def test_blinks_are_split_so_no_eye_closes_twice():
    both = _face(eyeBlinkLeft=0.9, eyeBlinkRight=0.95)
    assert both["Blink"] == pytest.approx(0.9) and both["Blink_L"] == 0 and both["Blink_R"] == pytest.approx(0.05)
    wink = _face(eyeBlinkLeft=1.0)
    assert wink["Blink"] == 0 and wink["Blink_L"] == 1.0 and wink["Blink_R"] == 0


@pytest.mark.parametrize("shapes, vowel", [
    (dict(jawOpen=0.85), "A"),
    (dict(jawOpen=0.15, mouthStretchLeft=0.8, mouthStretchRight=0.8), "I"),
    (dict(jawOpen=0.1, mouthPucker=0.85), "U"),
    (dict(jawOpen=0.4, mouthStretchLeft=0.6, mouthStretchRight=0.6), "E"),
    (dict(jawOpen=0.5, mouthFunnel=0.7), "O"),
])
def test_each_vowel_mouth_picks_its_vowel(shapes, vowel):
    out = _face(**shapes)
    assert _top_vowel(out) == vowel
    assert out[vowel] > 0.5
    assert sum(out[v] for v in "AIUEO") <= 1.0 + 1e-9


def test_emotions_and_gaze_follow_their_shapes():
    assert _face(mouthSmileLeft=0.8, mouthSmileRight=0.6)["Joy"] == pytest.approx(0.7)
    assert _face(browDownLeft=0.6, browDownRight=0.6)["Angry"] == pytest.approx(0.6)
    sad = _face(mouthFrownLeft=0.7, mouthFrownRight=0.7, browInnerUp=0.5)
    assert sad["Sorrow"] == pytest.approx(0.5) and sad["Joy"] == 0
    assert _face(mouthFrownLeft=0.7, mouthFrownRight=0.7)["Sorrow"] == 0   # a frown alone is not sorrow
    left = _face(eyeLookOutLeft=0.6, eyeLookInRight=0.6)
    assert left["LookLeft"] == pytest.approx(0.6) and left["LookRight"] == 0
    assert _face(eyeLookUpLeft=0.4, eyeLookUpRight=0.4)["LookUp"] == pytest.approx(0.4)
    assert all(0.0 <= v <= 1.0 for v in _face(**{n: 1.0 for n in ARKIT_NAMES}).values())
