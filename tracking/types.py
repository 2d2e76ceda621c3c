"""Typed values that flow through the tracking pipeline, and the per-frame result the later stages fill.

HeadPose lives here, not in retarget, because FaceResult (this layer) carries it to every output."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from occface_core.types import Box


@dataclass
class Frame:
    """One captured image. `timestamp` is seconds of media time (files) or capture time (cameras);
    `captured_at` is time.perf_counter() when the frame was captured (cameras, realtime playback) or
    handed to the pipeline (files read ahead), for latency figures."""

    index: int
    timestamp: float
    image: np.ndarray
    captured_at: float


class Timing(StrEnum):
    """The keys of `FaceResult.timings_ms` and of the run summary's stage medians, in the order the
    status shows them. `REGION` and `REFINE` come with a refining backend (OccFace's eye stage):
    the smoothing the next region follows, and the second look."""

    DETECT = "detect"          # the face detector (frames where it ran)
    LANDMARKS = "landmarks"    # the landmark model
    REGION = "region"
    REFINE = "refine"
    SMOOTH = "smooth"          # the output's Kalman smoothing
    RETARGET = "retarget"      # head pose and blendshapes
    TOTAL = "total"            # the whole frame


Quat = tuple[float, float, float, float]
Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class HeadPose:
    """Head rotation and translation of one frame.

    quaternion: (x, y, z, w), unit, head rotation in the camera frame (identity = facing the camera).
    euler_deg: (pitch, yaw, roll) in degrees, signs as in the module docstring.
    translation: (x, y, z) metres from the camera to the head origin (the nose-bridge top, iBUG 27).
    rotation_from_neutral / translation_from_neutral: the same relative to the calibrated neutral pose,
    which is what an avatar should follow (a camera above the screen then does not tilt the avatar).
    reprojection_error_px: weighted RMS reprojection error; points_used: landmarks that took part.
    """

    quaternion: Quat
    euler_deg: Vec3
    translation: Vec3
    rotation_from_neutral: Quat = (0.0, 0.0, 0.0, 1.0)
    translation_from_neutral: Vec3 = (0.0, 0.0, 0.0)
    reprojection_error_px: float = 0.0
    points_used: int = 0
    measured: bool = True    # False: the face is lost and this is the avatar's pose easing to neutral

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able lists and floats."""
        return {
            "quaternion": [float(v) for v in self.quaternion],
            "euler_deg": [float(v) for v in self.euler_deg],
            "translation": [float(v) for v in self.translation],
            "rotation_from_neutral": [float(v) for v in self.rotation_from_neutral],
            "translation_from_neutral": [float(v) for v in self.translation_from_neutral],
            "reprojection_error_px": float(self.reprojection_error_px),
            "points_used": int(self.points_used),
            "measured": bool(self.measured),
        }


@dataclass
class FaceResult:
    """The pipeline's answer for one frame.

    points/visibility are the smoothed landmarks (100×2 frame pixels, 100 probabilities), None when no
    face was found. raw_points are the model's unsmoothed output. detected says whether the detector ran
    on this frame (False: the region came from the previous frame's landmarks).

    The retarget stage fills head_pose .. calibrated; `calibrated` stays None when no retarget stage
    runs (the export then has no pose or shape columns). head_pose is None on a frame without a usable
    fit; pose_mirrored says the pose is of the mirrored face (RetargetOptions.mirror); blendshapes maps
    the 52 ARKit names, in ARKit order, to 0..1.
    """

    frame_index: int
    timestamp: float
    captured_at: float
    frame_size: tuple[int, int]  # (width, height)
    has_face: bool
    detected: bool
    roi: Box | None = None
    points: np.ndarray | None = None
    visibility: np.ndarray | None = None
    raw_points: np.ndarray | None = None
    face_score: float = 0.0
    timings_ms: dict[Timing, float] = field(default_factory=dict)
    head_pose: HeadPose | None = None
    pose_mirrored: bool = False
    blendshapes: dict[str, float] | None = None
    calibrated: bool | None = None
    fps: float | None = None  # the pipeline's recent processing rate, for overlays
    image: np.ndarray | None = field(default=None, repr=False, compare=False)  # the frame itself
