"""ARKit blendshapes from landmark geometry in a head-pose-normalised frame, relative to a neutral face.

Pose normalisation: each 2D landmark is lifted back to 3D along its camera ray up to the plane parallel
to the face through the reference head's point (its head-frame depth), in the head frame (x toward the
subject's left, y down, z back; centimetres of the reference head). A pure head turn therefore leaves
the head-frame points where they were, and the shapes below compare them with the calibrated neutral
face in the same frame. All distances are divided by the neutral inter-ocular distance D (outer eye
corners, about 9 cm), so a shape's "full" value is a fixed fraction of D.

What is measured (i = landmark index of DESIGN.md's 100-point layout; "up" is -y in the head frame):

| shape | measured from | full (1.0) at |
|---|---|---|
| eyeBlink L/R | lid opening: mean gap of (37,41) (78,79) (38,40) / (43,47) (80,81) (44,46) over eye width, as a fraction of neutral | opening <= 20 % of neutral (0 at >= 75 %) |
| eyeWide L/R | the same opening above neutral | 150 % of neutral (0 at 115 %) |
| eyeSquint L/R | lower lid (40,41,79 / 46,47,81) rising toward the corner line | 0.15 eye widths |
| eyeLookIn/Out L/R | iris centre (mean of 68-72 / 73-77) left-right offset from the eye-corner midpoint, over eye width, minus neutral | 0.2 eye widths; held while the eye is closed |
| eyeLookUp/Down L/R | iris centre up-down offset from the corner midpoint, minus neutral | 0.12 eye widths |
| browInnerUp | inner brow ends (21, 22) rising relative to the eye corners | 0.08 D |
| browOuterUp L/R | outer brow (25,26 / 17,18) rising | 0.08 D |
| browDown L/R | whole brow (22-26 / 17-21) lowering | 0.05 D |
| jawOpen | chin (8) drop (60 %) and inner-lip gap 62-66 (40 %) | 0.25 D chin drop, 0.3 D lip gap |
| mouthClose | chin dropped but lips together: jaw-from-chin minus jaw-from-lips, dead zone 0.2 | 0.8 difference |
| jawLeft/Right | chin (8) sideways relative to the nose bridge (27-30) | 0.06 D |
| mouthLeft/Right | mouth centre (48,54,51,57) sideways, minus half the jaw shift | 0.06 D |
| mouthSmile L/R | corner (54 / 48) up (and a little outward); the corners' usual drop with the jaw (35 % of the chin drop) is taken out | 0.05 D |
| mouthFrown L/R | corner down, corrected for jaw opening | 0.04 D |
| mouthStretch L/R | corner outward without rising | 0.06 D |
| mouthPucker | mouth width (48-54) narrowing with lips closed | 20 % narrower |
| mouthFunnel | mouth width narrowing with lips apart | 20 % narrower and 0.15 D gap |
| mouthRollUpper / Lower | upper lip (51-62) / lower lip (66-57) red thinning | 60 % thinner |
| mouthPress L/R | side lip thickness (52-63 + 65-56 / 50-61 + 67-58) thinning with lips closed | 40 % thinner |
| mouthShrugUpper / Lower | upper-lip centre (51) / lower-lip centre (57, relative to the chin) rising with lips closed | 0.05 D |
| mouthUpperUp L/R | upper lip side (52,53 / 49,50) rising | 0.05 D |
| mouthLowerDown L/R | lower lip side (55,56 / 58,59) dropping more than the chin | 0.06 D |
| noseSneer L/R | nostril wing (34,35 / 31,32) rising relative to the nose bridge | 0.04 D |
| cheekSquint L/R | derived, not seen: the smaller of eyeSquint and mouthSmile on that side | - |
| cheekPuff | jaw contour width at 2-4 / 12-14 growing with lips closed; only near-frontal (approximate) | 6 % wider |

Every shape except eyeBlink, jawOpen and mouthClose then passes a dead zone z, v -> (v - z) / (1 - z),
because a pixel of landmark noise reads as 5-15 % on the subtler shapes. z is 10 % unless the neutral
calibration measured this user's (and this model's and camera's) noise: then it is each shape's 90th
percentile over the calibration frames, between 10 % and 50 % (see `noise_dead_zones`).

Not measurable from these landmarks and always 0: jawForward (needs depth), mouthDimpleLeft/Right
(dimples are not landmarks), tongueOut (no tongue landmark).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .arkit import neutral_blendshapes
from .face_model import FaceModel
from .head_pose import PoseFit

if TYPE_CHECKING:   # blink.py reads the eye table below
    from .blink import EyeReading

UNMEASURED = ("jawForward", "mouthDimpleLeft", "mouthDimpleRight", "tongueOut")
DEAD_ZONE = 0.1
MAX_DEAD_ZONE = 0.5       # a noisier shape than this is better shown noisy than not at all
NOISE_PERCENTILE = 90.0   # of a shape's raw values over the neutral frames (a blink or a word may be among them)
# Full scale of the shapes a face rarely makes but landmark noise, speech and head motion imitate, in
# eye-corner distances (D, about 9 cm): at 0.06 / 0.04 / 0.05 a tenth of a shape was half a pixel of a
# 100-px face, and on the shared talking clips these shapes passed 0.5 on 20 % of frames.
JAW_SIDEWAYS_FULL = 0.12     # about 1 cm of chin shift
MOUTH_SIDEWAYS_FULL = 0.10
NOSE_SNEER_FULL = 0.07       # about 6 mm of nose-wing rise
BROW_DOWN_FULL = 0.07
NO_DEAD_ZONE = ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthClose")  # these have their own thresholds

# Per eye: corners (outer, inner), upper/lower lid pairs, lower lid points, pupil. Subject's own sides.
EYES = MappingProxyType({
    "Right": {"outer": 36, "inner": 39, "pairs": ((37, 41), (78, 79), (38, 40)), "lower": (40, 41, 79),
              "pupil": 68, "out_sign": -1.0},
    "Left": {"outer": 45, "inner": 42, "pairs": ((43, 47), (80, 81), (44, 46)), "lower": (46, 47, 81),
             "pupil": 73, "out_sign": 1.0},
})


def head_frame_points(points2d: np.ndarray, fit: PoseFit, model: FaceModel) -> np.ndarray:
    """Lift the 2D landmarks into the head frame: (100, 3) centimetres.

    Each landmark's camera ray is cut with the plane, parallel to the face (head-frame z constant), that
    holds the reference head's point. Expressions move landmarks mostly within that plane, so a pure
    head turn, nod or tilt leaves the lifted points where they were.
    """
    k = fit.camera_matrix
    pts = np.asarray(points2d, dtype=np.float64)
    rays = np.column_stack([(pts[:, 0] - k[0, 2]) / k[0, 0], (pts[:, 1] - k[1, 2]) / k[1, 1],
                            np.ones(len(pts))])
    rays_head = rays @ fit.rotation                               # R^T r for every ray (row form)
    t_head = fit.rotation.T @ fit.tvec                            # R^T t
    denom = rays_head[:, 2]
    denom = np.where(np.abs(denom) < 1e-6, 1e-6, denom)           # a ray grazing the plane (|yaw| ~ 90)
    s = (model.points[:, 2] + t_head[2]) / denom
    return rays_head * s[:, None] - t_head


def _clip(v: float) -> float:
    return (1.0 if v > 1.0 else v) if v > 0.0 else 0.0  # NaN -> 0.0 as well (comparisons are False)


def _mean(values: list[float], idx) -> float:
    return sum(values[i] for i in idx) / len(idx)


class BlendshapeMeasure:
    """Raw (unheld) ARKit values from head-frame points and a neutral face in the same frame.

    Plain Python floats on purpose: ~60 tiny reductions per frame cost ~1.5 ms as numpy calls and
    ~0.2 ms as Python arithmetic.
    """

    def __call__(self, q: np.ndarray, neutral: np.ndarray, yaw_deg: float = 0.0,
                 dead_zones: Mapping[str, float] | None = None, raw: bool = False,
                 eyes: Mapping[str, EyeReading] | None = None) -> dict[str, float]:
        """`dead_zones`: per-shape cut (DEAD_ZONE where absent); `raw`: no cut at all (to measure noise);
        `eyes`: each eye's blink and openness from `blink.BlinkEstimator` (what the app uses), instead of
        the lid opening against the neutral's."""
        g = _Geometry.of(q, neutral)
        out = neutral_blendshapes()
        _eyes(g, out, eyes)
        _brows(g, out)
        mouth = _jaw(g, out)
        _mouth(g, mouth, out)
        _nose_and_cheeks(g, mouth, yaw_deg, out)
        for name in UNMEASURED:
            out[name] = 0.0
        if raw:
            return out
        # Landmark noise of a pixel or so reads as 5-15 % on the subtler shapes: cut that floor off.
        for name, value in out.items():
            if name not in NO_DEAD_ZONE:
                zone = DEAD_ZONE if dead_zones is None else dead_zones.get(name, DEAD_ZONE)
                out[name] = _clip((value - zone) / (1.0 - zone))
        return out


@dataclass(frozen=True)
class _Geometry:
    """One frame's head-frame points (qx, qy) beside the neutral's (nx, ny), as plain float lists, with
    the neutral's eye-corner distance d (the unit of most shapes) and each point's displacement in d."""

    qx: list[float]
    qy: list[float]
    nx: list[float]
    ny: list[float]
    d: float
    dx: list[float]
    dy: list[float]

    @staticmethod
    def of(q: np.ndarray, neutral: np.ndarray) -> "_Geometry":
        qx, qy = np.asarray(q, dtype=np.float64)[:, 0].tolist(), np.asarray(q, dtype=np.float64)[:, 1].tolist()
        nx, ny = np.asarray(neutral, dtype=np.float64)[:, 0].tolist(), np.asarray(neutral, dtype=np.float64)[:, 1].tolist()
        d = math.hypot(nx[36] - nx[45], ny[36] - ny[45]) or 1.0
        dx = [(a - b) / d for a, b in zip(qx, nx)]         # per-point displacement from neutral, in D
        dy = [(a - b) / d for a, b in zip(qy, ny)]
        return _Geometry(qx, qy, nx, ny, d, dx, dy)


@dataclass(frozen=True)
class _JawState:
    """What the mouth and cheek shapes need from the jaw step."""

    chin_drop: float
    lip_gap: float
    lips_apart: float


def _eyes(g: _Geometry, out: dict[str, float], eyes: Mapping[str, EyeReading] | None) -> None:
    """Blink, wide and squint from the lid opening; gaze from the iris against the eye corners."""
    qx, qy, nx, ny = g.qx, g.qy, g.nx, g.ny
    for side, e in EYES.items():
        outer, inner, pairs, lower, pupil = e["outer"], e["inner"], e["pairs"], e["lower"], e["pupil"]
        width = abs(qx[outer] - qx[inner]) or 1e-6
        width_n = abs(nx[outer] - nx[inner]) or 1e-6
        o_now = sum(qy[lo] - qy[up] for up, lo in pairs) / len(pairs) / width
        o_neu = sum(ny[lo] - ny[up] for up, lo in pairs) / len(pairs) / width_n
        if eyes is not None:
            ratio, blink = eyes[side].openness, eyes[side].blink
        else:
            ratio = o_now / o_neu if o_neu > 1e-6 else 1.0
            blink = _clip((0.75 - ratio) / (0.75 - 0.20))
        out[f"eyeBlink{side}"] = blink
        out[f"eyeWide{side}"] = _clip((ratio - 1.15) / 0.35)

        rise_q = ((qy[outer] + qy[inner]) / 2 - _mean(qy, lower)) / width
        rise_n = ((ny[outer] + ny[inner]) / 2 - _mean(ny, lower)) / width_n
        out[f"eyeSquint{side}"] = _clip((rise_q - rise_n) / 0.15)

        iris = range(pupil, pupil + 5)  # pupil and its ring: less noise than the pupil alone
        gx = ((_mean(qx, iris) - (qx[outer] + qx[inner]) / 2) / width
              - (_mean(nx, iris) - (nx[outer] + nx[inner]) / 2) / width_n)
        gy = ((_mean(qy, iris) - (qy[outer] + qy[inner]) / 2) / width
              - (_mean(ny, iris) - (ny[outer] + ny[inner]) / 2) / width_n)
        out_amount = e["out_sign"] * gx
        out[f"eyeLookOut{side}"] = _clip(out_amount / 0.2)
        out[f"eyeLookIn{side}"] = _clip(-out_amount / 0.2)
        out[f"eyeLookUp{side}"] = _clip(-gy / 0.12)
        out[f"eyeLookDown{side}"] = _clip(gy / 0.12)


def _brows(g: _Geometry, out: dict[str, float]) -> None:
    """Brow rise relative to the eye corners, positive = up."""
    qy, ny, d = g.qy, g.ny, g.d

    def brow_rise(idx, corners) -> float:
        ref_q, ref_n = _mean(qy, corners), _mean(ny, corners)
        return sum((ref_q - qy[i]) - (ref_n - ny[i]) for i in idx) / len(idx) / d

    r_corners, l_corners = (36, 39), (42, 45)
    out["browInnerUp"] = _clip((brow_rise((21,), r_corners) + brow_rise((22,), l_corners)) / 2 / 0.08)
    out["browOuterUpRight"] = _clip(brow_rise((17, 18), r_corners) / 0.08)
    out["browOuterUpLeft"] = _clip(brow_rise((25, 26), l_corners) / 0.08)
    out["browDownRight"] = _clip(-brow_rise(range(17, 22), r_corners) / BROW_DOWN_FULL)
    out["browDownLeft"] = _clip(-brow_rise(range(22, 27), l_corners) / BROW_DOWN_FULL)


def _jaw(g: _Geometry, out: dict[str, float]) -> _JawState:
    """Jaw open/close and the sideways jaw and mouth shifts against the nose bridge."""
    qx, qy, nx, ny, d, dy = g.qx, g.qy, g.nx, g.ny, g.d, g.dy
    chin_drop = dy[8]
    lip_gap = ((qy[66] - qy[62]) - (ny[66] - ny[62])) / d
    jaw_chin = chin_drop / 0.25
    jaw_lips = lip_gap / 0.3
    out["jawOpen"] = _clip(0.6 * jaw_chin + 0.4 * jaw_lips)
    # Lips held together while the chin drops; a dead zone keeps ordinary jaw opening at 0.
    out["mouthClose"] = _clip((min(jaw_chin, 1.0) - max(jaw_lips, 0.0) - 0.2) / 0.6)

    bridge = range(27, 31)
    nose_x_q, nose_x_n = _mean(qx, bridge), _mean(nx, bridge)
    chin = (7, 8, 9)
    jaw_shift = ((_mean(qx, chin) - nose_x_q) - (_mean(nx, chin) - nose_x_n)) / d
    out["jawLeft"] = _clip(jaw_shift / JAW_SIDEWAYS_FULL)
    out["jawRight"] = _clip(-jaw_shift / JAW_SIDEWAYS_FULL)
    mouth_idx = (48, 54, 51, 57)
    mouth_shift = ((_mean(qx, mouth_idx) - nose_x_q) - (_mean(nx, mouth_idx) - nose_x_n)) / d
    mouth_shift -= 0.5 * jaw_shift
    out["mouthLeft"] = _clip(mouth_shift / MOUTH_SIDEWAYS_FULL)
    out["mouthRight"] = _clip(-mouth_shift / MOUTH_SIDEWAYS_FULL)
    return _JawState(chin_drop=chin_drop, lip_gap=lip_gap, lips_apart=_clip(lip_gap / 0.15))


def _mouth(g: _Geometry, jaw: _JawState, out: dict[str, float]) -> None:
    """Corners (smile, frown, stretch), width (pucker, funnel) and lip thickness (roll, press, shrug)."""
    qx, qy, nx, ny, dx, dy = g.qx, g.qy, g.nx, g.ny, g.dx, g.dy
    chin_drop = jaw.chin_drop
    corner_drop_from_jaw = 0.35 * max(chin_drop, 0.0)  # corners follow the jaw a little
    for side, corner, sign in (("Left", 54, 1.0), ("Right", 48, -1.0)):
        outward = sign * dx[corner]
        up = -(dy[corner] - corner_drop_from_jaw)
        # A small dead zone (0.005 D, about half a millimetre) keeps landmark noise out.
        out[f"mouthSmile{side}"] = _clip((up + 0.5 * max(outward, 0.0) - 0.005) / 0.05)
        out[f"mouthFrown{side}"] = _clip((-up - 0.005) / 0.04)
        out[f"mouthStretch{side}"] = _clip((outward - 2.0 * max(up, 0.0)) / 0.06)

    width_q = abs(qx[54] - qx[48])
    width_n = abs(nx[54] - nx[48]) or 1e-6
    narrow = (width_n - width_q) / width_n
    lips_apart = jaw.lips_apart
    out["mouthPucker"] = _clip(narrow / 0.2) * (1.0 - lips_apart)
    out["mouthFunnel"] = _clip(narrow / 0.2) * lips_apart

    def thinning(a: int, b: int) -> float:
        t_n = ny[b] - ny[a]
        return (t_n - (qy[b] - qy[a])) / t_n if abs(t_n) > 1e-6 else 0.0

    out["mouthRollUpper"] = _clip(thinning(51, 62) / 0.6)
    out["mouthRollLower"] = _clip(thinning(66, 57) / 0.6)
    closed = 1.0 - lips_apart
    out["mouthPressLeft"] = _clip((thinning(52, 63) + thinning(65, 56)) / 2 / 0.4) * closed
    out["mouthPressRight"] = _clip((thinning(50, 61) + thinning(67, 58)) / 2 / 0.4) * closed
    out["mouthShrugUpper"] = _clip(-dy[51] / 0.05) * closed
    out["mouthShrugLower"] = _clip(-(dy[57] - chin_drop) / 0.05) * closed
    out["mouthUpperUpLeft"] = _clip(-(dy[52] + dy[53]) / 2 / 0.05)
    out["mouthUpperUpRight"] = _clip(-(dy[49] + dy[50]) / 2 / 0.05)
    out["mouthLowerDownLeft"] = _clip(((dy[55] + dy[56]) / 2 - chin_drop) / 0.06)
    out["mouthLowerDownRight"] = _clip(((dy[58] + dy[59]) / 2 - chin_drop) / 0.06)


def _nose_and_cheeks(g: _Geometry, jaw: _JawState, yaw_deg: float, out: dict[str, float]) -> None:
    """Sneer from the nose wings against the bridge; cheek squint from eye squint and smile; puff from
    the widening of the jaw outline (only near frontal)."""
    qx, qy, nx, ny, d = g.qx, g.qy, g.nx, g.ny, g.d
    bridge = range(27, 31)
    bridge_q, bridge_n = _mean(qy, bridge), _mean(ny, bridge)

    def wing_rise(idx) -> float:
        return -((_mean(qy, idx) - bridge_q) - (_mean(ny, idx) - bridge_n)) / d

    speech = jaw.lips_apart   # talking moves the upper lip and, in every model, the nose wings with it
    out["noseSneerLeft"] = _clip(wing_rise((34, 35)) / NOSE_SNEER_FULL) * (1.0 - speech)
    out["noseSneerRight"] = _clip(wing_rise((31, 32)) / NOSE_SNEER_FULL) * (1.0 - speech)
    out["cheekSquintLeft"] = min(out["eyeSquintLeft"], out["mouthSmileLeft"])
    out["cheekSquintRight"] = min(out["eyeSquintRight"], out["mouthSmileRight"])
    if abs(yaw_deg) < 20.0:  # the jaw outline is a silhouette: it slides with larger turns
        cheek_q = _mean(qx, (12, 13, 14)) - _mean(qx, (2, 3, 4))
        cheek_n = _mean(nx, (12, 13, 14)) - _mean(nx, (2, 3, 4))
        widen = (cheek_q - cheek_n) / (cheek_n or 1e-6)
        out["cheekPuff"] = _clip(widen / 0.06) * (1.0 - jaw.lips_apart)


def noise_dead_zones(frames: Sequence[np.ndarray], neutral: np.ndarray,
                     measure: BlendshapeMeasure | None = None) -> dict[str, float]:
    """Per-shape dead zones from how much each shape reads on frames of a face held neutral.

    The raw value of a shape on a still, relaxed face is landmark noise; its NOISE_PERCENTILE over the
    calibration frames is where real movement starts to stand out. A noisy model or a dark camera then
    gets wider dead zones instead of a twitching avatar; a clean one keeps the default 10 %.
    """
    measure = measure or BlendshapeMeasure()
    values = [measure(q, neutral, raw=True) for q in frames]
    if not values:
        return {}
    zones = {}
    for name in values[0]:
        if name in NO_DEAD_ZONE or name in UNMEASURED:
            continue
        floor = float(np.percentile([v[name] for v in values], NOISE_PERCENTILE))
        zones[name] = float(min(max(floor, DEAD_ZONE), MAX_DEAD_ZONE))
    return zones
