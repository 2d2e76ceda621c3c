"""The neutral face: what the blendshapes are measured against and where the avatar's head rests.

A `NeutralFace` holds the head-frame landmarks of the user's relaxed face (100 x 3, centimetres of the
reference head) and the head pose at that moment. It comes from, in order of preference: a file saved
earlier for this user (`load`), an explicit "neutral now" (`NeutralCollector` started by the stage's
`calibrate_neutral()`), or the automatic collection over the first seconds with a face. While that
collects, the median of the frames so far stands in; with no calibration at all (automatic calibration
off and no file), the reference head itself serves as neutral.

File format (JSON, one per user, e.g. ``~/.config/occface/neutral-<user>.json``)::

    {"format": "occface-neutral", "version": 1, "num_points": 100,
     "points_head_cm": [[x, y, z], ... 100 rows], "rotation": [qx, qy, qz, qw],
     "translation_m": [x, y, z], "frames": 45, "created": "2026-11-27T10:00:00+00:00",
     "dead_zones": {"jawLeft": 0.23, ...}, "ranges": {"mouthSmileLeft": 0.6, ...}}

`dead_zones` (optional) are the per-shape noise floors measured over the calibration frames
(retarget.blendshapes.noise_dead_zones); a file without them uses the default dead zone. `ranges`
(optional) are this user's full expression per shape, from a range calibration (`RangeCollector`):
the value that shows as 1.0; a shape without one keeps the fixed scale.
"""
from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from occface_core.errors import UserError
from occface_core.layout import NUM_POINTS
from tracking.types import Quat, Vec3

from .arkit import ARKIT_NAMES
from .rotation import matrix_to_quat

log = logging.getLogger(__name__)

FORMAT = "occface-neutral"
VERSION = 1
MIN_RANGE = 0.3          # a range calibration never amplifies a shape more than 3.3 times: below this a
                         # shape's 98th percentile is as likely a stray reading as a weak expression
RANGE_PERCENTILE = 98.0  # of a shape's values while the user pulls faces: their full expression


class CalibrationError(UserError):
    """A calibration file that cannot be read or is not a neutral face of this layout (one line)."""


@dataclass(frozen=True)
class NeutralFace:
    points: np.ndarray           # (100, 3) head frame, cm
    rotation: Quat               # head rotation at neutral, camera frame
    translation_m: Vec3          # camera -> head origin at neutral, metres
    frames: int = 0
    created: str = ""
    dead_zones: Mapping[str, float] = field(default_factory=dict)  # per blendshape; absent: the default
    ranges: Mapping[str, float] = field(default_factory=dict)      # per blendshape; absent: 1.0

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "num_points": NUM_POINTS,
                "points_head_cm": np.round(self.points, 5).tolist(),
                "rotation": [float(v) for v in self.rotation],
                "translation_m": [float(v) for v in self.translation_m],
                "frames": int(self.frames), "created": self.created,
                "dead_zones": {k: round(float(v), 4) for k, v in self.dead_zones.items()},
                "ranges": {k: round(float(v), 4) for k, v in self.ranges.items()}}

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a crash mid-write never leaves a half file for next start

    @staticmethod
    def load(path: Path) -> "NeutralFace":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CalibrationError(f"calibration file not found: {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CalibrationError(f"calibration file {path} is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CalibrationError(f"{path} is not an OccFace neutral-face calibration file")
        if data.get("version") != VERSION:
            raise CalibrationError(f"{path}: unsupported calibration version {data.get('version')!r}")
        try:
            points = np.asarray(data["points_head_cm"], dtype=np.float64)
            rotation = tuple(float(v) for v in data["rotation"])
            translation = tuple(float(v) for v in data["translation_m"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"{path}: missing or malformed field ({exc})") from None
        if points.shape != (NUM_POINTS, 3) or not np.isfinite(points).all():
            raise CalibrationError(f"{path}: points_head_cm must be {NUM_POINTS} finite [x, y, z] rows")
        if len(rotation) != 4 or len(translation) != 3 or not all(map(math.isfinite, rotation + translation)):
            raise CalibrationError(f"{path}: rotation must be 4 numbers and translation_m 3")
        norm = math.sqrt(sum(v * v for v in rotation))
        if not 0.9 < norm < 1.1:
            raise CalibrationError(f"{path}: rotation is not a unit quaternion")
        dead_zones = _read_shape_values(path, "dead_zones", data.get("dead_zones", {}), 0.0, 1.0, "[0, 1)")
        ranges = _read_shape_values(path, "ranges", data.get("ranges", {}), MIN_RANGE, 1.0 + 1e-9,
                                    f"[{MIN_RANGE}, 1]")
        points.setflags(write=False)
        return NeutralFace(points=points, rotation=tuple(v / norm for v in rotation),  # type: ignore[arg-type]
                           translation_m=translation, frames=int(data.get("frames", 0)),  # type: ignore[arg-type]
                           created=str(data.get("created", "")), dead_zones=dead_zones, ranges=ranges)


def _read_shape_values(path: Path, key: str, values, low: float, high: float, shown: str) -> dict[str, float]:
    """A {blendshape: number} field of the file, each number in [low, high)."""
    if not isinstance(values, dict):
        raise CalibrationError(f"{path}: {key} must be an object of blendshape name -> number")
    out = {}
    for name, value in values.items():
        if name not in ARKIT_NAMES or not isinstance(value, (int, float)) or not low <= value < high:
            raise CalibrationError(f"{path}: {key}[{name!r}] must be an ARKit shape with a value in {shown}")
        out[name] = float(value)
    return out


def default_calibration_path(user: str = "default") -> Path:
    """A per-user file under the XDG config folder (~/.config/occface/neutral-<user>.json)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in user) or "default"
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "occface" / f"neutral-{safe}.json"


class NeutralCollector:
    """Gathers frames for a neutral face and takes the per-point median (a blink or a word in the
    middle of the window does not end up in the neutral)."""

    def __init__(self, min_frames: int, min_seconds: float = 0.0):
        self.min_frames = max(1, int(min_frames))
        self.min_seconds = float(min_seconds)
        self._points: list[np.ndarray] = []
        self._rotations: list[np.ndarray] = []
        self._translations: list[np.ndarray] = []
        self._seconds = 0.0

    def add(self, head_points: np.ndarray, rotation: np.ndarray, translation_m: np.ndarray,
            dt: float) -> None:
        self._points.append(np.asarray(head_points, dtype=np.float64))
        self._rotations.append(np.asarray(rotation, dtype=np.float64))
        self._translations.append(np.asarray(translation_m, dtype=np.float64))
        self._seconds += max(0.0, dt)

    @property
    def frames(self) -> int:
        return len(self._points)

    def ready(self) -> bool:
        return self.frames >= self.min_frames and self._seconds >= self.min_seconds

    def median_points(self) -> np.ndarray:
        return np.median(np.stack(self._points), axis=0)

    def result(self, noise: Callable[[list[np.ndarray], np.ndarray], dict[str, float]] | None = None) -> NeutralFace:
        """The neutral face; `noise(frames, neutral_points)`, when given, sets its per-shape dead zones."""
        points = self.median_points()
        points.setflags(write=False)
        dead_zones = noise(self._points, points) if noise is not None else {}
        # Mean rotation: average the matrices, then project back onto a rotation (SVD).
        u, _, vt = np.linalg.svd(np.mean(np.stack(self._rotations), axis=0))
        rot = u @ vt
        if np.linalg.det(rot) < 0:
            u[:, -1] *= -1
            rot = u @ vt
        translation = np.median(np.stack(self._translations), axis=0)
        return NeutralFace(points=points, rotation=matrix_to_quat(rot),
                           translation_m=tuple(float(v) for v in translation),  # type: ignore[arg-type]
                           frames=self.frames, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           dead_zones=dead_zones)


class RangeCollector:
    """Gathers a user's blendshape values while they pull every face they can (blink, smile, open the
    mouth, raise the brows, ...) and turns them into per-shape ranges: a shape the user reached at
    least MIN_RANGE on is scaled so that their full expression (its RANGE_PERCENTILE) reads 1.0; a
    model whose lids never quite meet then still closes the avatar's eyes. Shapes the user did not make
    keep the fixed scale (nothing was learned about them)."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self._values: list[list[float]] = []
        self._elapsed = 0.0

    def add(self, shapes: Mapping[str, float], dt: float) -> None:
        self._values.append([float(shapes[name]) for name in ARKIT_NAMES])
        self._elapsed += max(0.0, dt)

    def ready(self) -> bool:
        return self._elapsed >= self.seconds and len(self._values) >= 10

    def ranges(self) -> dict[str, float]:
        reached = np.percentile(np.array(self._values), RANGE_PERCENTILE, axis=0)
        return {name: round(float(min(value, 1.0)), 4)
                for name, value in zip(ARKIT_NAMES, reached) if value >= MIN_RANGE}
