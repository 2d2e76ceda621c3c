"""The retarget stage: smoothed landmarks in, head pose and 52 ARKit blendshapes out, per FaceResult.

    stage = RetargetStage(RetargetOptions(calibration_path=default_calibration_path("alice")))
    for result in results:              # after the smoother
        stage.process(result)
        result.head_pose                # HeadPose or None
        result.pose_mirrored            # True with RetargetOptions.mirror: the pose is of the mirrored face
        result.blendshapes              # {"eyeBlinkLeft": 0.02, ..., "tongueOut": 0.0}, ARKit order
        result.calibrated               # whether a neutral face is set
    stage.calibrate_neutral()           # "neutral now": the next few face frames become the neutral
    stage.calibrate_range()             # then a few seconds of pulling faces set each shape's full scale

Steps per frame: (mirror the landmarks if the source is a mirrored view) -> weighted PnP head pose ->
lift the landmarks into the head frame -> measure shapes against the neutral face (scaled to the
user's calibrated ranges, if any) -> hold/ease the regions that are occluded (and let a self-occluded
eye follow the visible one at large yaw) -> collect frames for calibration when one is due.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from types import MappingProxyType

import numpy as np

from occface_core.layout import MIRROR, NUM_POINTS
from tracking.types import FaceResult, HeadPose, Timing

from .arkit import ARKIT_NAMES, mirror_name
from .blendshapes import BlendshapeMeasure, head_frame_points, noise_dead_zones
from .blink import BlinkEstimator
from .calibration import CalibrationError, NeutralCollector, NeutralFace, RangeCollector
from .expression_hold import OUTLINE_REGIONS, ExpressionHold, HoldOptions
from .face_model import FaceModel, load_face_model
from .head_pose import DEFAULT_HFOV_DEG, HeadPoseEstimator, PoseOptions
from .rotation import matrix_to_euler, matrix_to_quat, quat_to_matrix

log = logging.getLogger(__name__)

__all__ = ["RetargetOptions", "RetargetStage", "CalibrationError", "HeadPose"]

CM_PER_M = 100.0
EYE_SHAPES_RIGHT = tuple(n for n in ARKIT_NAMES if n.startswith("eye") and n.endswith("Right"))
EYE_SHAPES_LEFT = tuple(n for n in ARKIT_NAMES if n.startswith("eye") and n.endswith("Left"))
GAZE_SHAPES = MappingProxyType({side: tuple(n for n in ARKIT_NAMES if n.startswith("eyeLook") and n.endswith(side))
                                for side in ("Left", "Right")})
GAZE_HOLD_BLINK = 0.5  # beyond this the lids cover the iris and its landmarks are guesses


@dataclass
class RetargetOptions:
    """focal_length_px: camera focal length in pixels; None derives it from the frame width and hfov_deg.
    mirror: swap left and right on purpose: for a source that is a mirrored (selfie) view, so Left/Right
    are the subject's own again, or, with an ordinary camera, for an avatar that mirrors the user.
    The landmarks are flipped (x -> width - x, left/right partners swapped) before anything else.
    auto_calibrate_seconds: seconds of face at the start, unoccluded and turned at most
    auto_calibrate_max_angle_deg, that become the neutral face (0 disables); skipped when a calibration
    was loaded from calibration_path.
    calibration_path: the user's neutral-face file: loaded at start when it exists (a bad file raises
    CalibrationError), written after each new calibration.
    neutral_now_frames: frames that calibrate_neutral() collects (median, so a blink does not count).
    eye_follow_yaw_deg: beyond this |yaw| the far eye is self-occluded and copies the near one (nearer
    frontal, an eye copies the other only while it is the one flagged hidden)."""

    focal_length_px: float | None = None
    mirror: bool = False
    auto_calibrate_seconds: float = 3.0
    calibration_path: Path | None = None
    neutral_now_frames: int = 20   # about 2/3 s: enough frames for a steady median and a noise estimate
    hfov_deg: float = DEFAULT_HFOV_DEG
    eye_follow_yaw_deg: float = 35.0
    # A camera on a side monitor sees its user 30° or more from the side all session: with a 25° limit
    # such a user was never calibrated and their relaxed face read as a smile (bench_avatar, a val face
    # at 31° yaw). The neutral is measured in the head frame, so a turned one serves.
    auto_calibrate_max_angle_deg: float = 40.0
    hold: HoldOptions = field(default_factory=HoldOptions)


class RetargetStage:
    """Head pose, blendshapes and calibration for one tracked face (not thread-safe: one pipeline)."""

    def __init__(self, options: RetargetOptions | None = None, model: FaceModel | None = None):
        self.options = options or RetargetOptions()
        self.model = model or load_face_model()
        self._pose = HeadPoseEstimator(self.model, PoseOptions(focal_length_px=self.options.focal_length_px,
                                                               hfov_deg=self.options.hfov_deg))
        self._measure = BlendshapeMeasure()
        self._blink = BlinkEstimator()
        self._hold = ExpressionHold(self.options.hold)
        self._neutral: NeutralFace | None = None
        # While the automatic calibration collects, the median of what it has so far stands in for the
        # neutral: the mean head differs from any one face enough to read as a smile or a frown.
        self._provisional: np.ndarray | None = None
        self._manual: NeutralCollector | None = None
        self._auto: NeutralCollector | None = None
        self._range: RangeCollector | None = None
        self._last_timestamp: float | None = None
        self._last_gaze: dict[str, float] = {}
        self._last_pose: HeadPose | None = None   # the last measured pose, eased to neutral when the face is lost
        path = self.options.calibration_path
        if path is not None and Path(path).exists():
            self.load_calibration(path)
        elif self.options.auto_calibrate_seconds > 0:
            self._auto = self._new_auto_collector()

    # --- calibration -------------------------------------------------------------------------------
    @property
    def calibrated(self) -> bool:
        return self._neutral is not None

    @property
    def neutral(self) -> NeutralFace | None:
        return self._neutral

    def calibrate_neutral(self) -> None:
        """"Neutral now": the next `neutral_now_frames` face frames become the neutral face.
        Safe to call from another thread (a GUI button): it only starts a new collection."""
        self._manual = NeutralCollector(self.options.neutral_now_frames)
        log.info("neutral-face calibration requested: hold a relaxed face toward the camera")

    def calibrate_range(self, seconds: float = 6.0) -> None:
        """"Range": for the next `seconds` of face the user pulls every face they can, and each shape they
        make is scaled so that their full expression reads 1.0 (calibration.RangeCollector). Needs a
        neutral face first; safe to call from another thread (it only starts a new collection)."""
        if self._neutral is None:
            log.warning("range calibration needs a neutral face first: calibrate the neutral face")
            return
        self._range = RangeCollector(seconds)
        log.info("range calibration: blink, smile, open the mouth, raise and lower the brows, puff the cheeks")

    def save_calibration(self, path: Path) -> None:
        if self._neutral is None:
            raise CalibrationError("nothing to save: no neutral face calibrated yet")
        self._neutral.save(Path(path))
        log.info("neutral face saved to %s", path)

    def load_calibration(self, path: Path) -> None:
        self._set_neutral(NeutralFace.load(Path(path)), save=False)
        log.info("neutral face loaded from %s", path)

    def _set_neutral(self, neutral: NeutralFace, save: bool = True) -> None:
        self._neutral = neutral
        self._auto = None
        self._provisional = None
        if save and self.options.calibration_path is not None:
            try:
                self.save_calibration(self.options.calibration_path)
            except OSError as exc:  # a read-only folder must not stop tracking
                log.warning("could not save the calibration to %s: %s", self.options.calibration_path, exc)

    def _new_auto_collector(self) -> NeutralCollector:
        return NeutralCollector(min_frames=10, min_seconds=self.options.auto_calibrate_seconds)

    # --- per frame ---------------------------------------------------------------------------------
    def process(self, result: FaceResult) -> None:
        start = time.perf_counter()
        dt = self._dt(result.timestamp)
        pose: HeadPose | None = None
        shapes: dict[str, float]
        if result.has_face and result.points is not None:
            pose, shapes = self._process_face(result, dt)
            self._last_pose = pose
        else:
            self._pose.reset()
            shapes = self._hold.update(None, set(), dt)
            pose = self._ease_lost_pose(dt)
        result.head_pose = pose
        result.pose_mirrored = self.options.mirror
        result.blendshapes = shapes
        result.calibrated = self.calibrated
        result.timings_ms[Timing.RETARGET] = (time.perf_counter() - start) * 1000.0

    def _ease_lost_pose(self, dt: float) -> HeadPose | None:
        """With the face lost, the avatar's head eases from its last pose to neutral (the shapes' easing
        time) instead of snapping there; None once it has arrived."""
        last = self._last_pose
        if last is None:
            return None
        keep = math.exp(-dt / self.options.hold.lost_ease_s)
        x, y, z, w = (keep * v for v in last.rotation_from_neutral)
        w += 1.0 - keep                                   # nlerp toward the identity quaternion
        norm = math.sqrt(x * x + y * y + z * z + w * w)
        eased = replace(last, rotation_from_neutral=(x / norm, y / norm, z / norm, w / norm),
                        translation_from_neutral=tuple(keep * v for v in last.translation_from_neutral),
                        measured=False)
        settled = 1.0 - eased.rotation_from_neutral[3] < 1e-5 and max(map(abs, eased.translation_from_neutral)) < 1e-4
        self._last_pose = None if settled else eased
        return self._last_pose

    def _dt(self, timestamp: float) -> float:
        last, self._last_timestamp = self._last_timestamp, float(timestamp)
        if last is None or not math.isfinite(timestamp) or not 0.0 < timestamp - last < 1.0:
            return 1.0 / 30.0  # first frame, a seek or a clock jump: assume one frame at 30 fps
        return float(timestamp - last)

    def _process_face(self, result: FaceResult, dt: float) -> tuple[HeadPose | None, dict[str, float]]:
        points = self._unmirrored(result.points, result.frame_size)
        vis = (np.ones(NUM_POINTS) if result.visibility is None
               else np.asarray(result.visibility, dtype=np.float64).reshape(NUM_POINTS))
        if self.options.mirror:
            vis = vis[MIRROR]
        fit = self._pose.estimate(points, vis, result.frame_size)
        if fit is None:  # too few reliable points: treat the expression as occluded
            return None, self._hold.update(None, set(), dt)

        head_points = head_frame_points(points, fit, self.model)
        finite = bool(np.isfinite(head_points).all())  # a NaN landmark must never become the neutral
        pitch, yaw, roll = matrix_to_euler(fit.rotation)
        if self._auto is not None and self._provisional is None and finite and self._auto_eligible(pitch, yaw, set()):
            self._provisional = head_points  # the very first face frame, until the median takes over
        if self._neutral is not None:
            neutral_points = self._neutral.points
        elif self._provisional is not None:
            neutral_points = self._provisional
        else:
            neutral_points = self.model.points
        dead_zones = self._neutral.dead_zones if self._neutral is not None else None
        # The lids from the model's own output: a blink is faster than the smoother (see blink.py).
        lids = (head_points if result.raw_points is None
                else head_frame_points(self._unmirrored(result.raw_points, result.frame_size), fit, self.model))
        eyes = self._blink.update(lids, yaw, neutral_points)
        raw = self._measure(head_points, neutral_points, yaw_deg=yaw, dead_zones=dead_zones, eyes=eyes)
        occluded = self._hold.occluded_regions(self._hold.region_visibility(vis))
        measured = self._hold_gaze_while_closed(self._in_range(raw, dt, occluded))
        measured, occluded = self._eyes_follow(measured, occluded, yaw)
        shapes = self._hold.update(measured, occluded, dt)

        translation_m = fit.tvec / CM_PER_M
        if finite:
            self._collect_calibration(head_points, fit.rotation, translation_m, dt, pitch, yaw, occluded)
        pose = self._head_pose(fit.rotation, translation_m, (pitch, yaw, roll), fit.rms_px, fit.points_used)
        return pose, shapes

    def _unmirrored(self, points, frame_size: tuple[int, int]) -> np.ndarray:
        """(100, 2) float points; with the mirror option flipped in x, left and right partners swapped."""
        points = np.asarray(points, dtype=np.float64).reshape(NUM_POINTS, 2)
        if self.options.mirror:
            points = points[MIRROR] * np.array([-1.0, 1.0]) + np.array([float(frame_size[0]), 0.0])
        return points

    def _in_range(self, measured: dict[str, float], dt: float, occluded: set[str]) -> dict[str, float]:
        """Scale each shape to the user's calibrated range; feed a running range calibration first, with
        the frames where nothing covers the face (a hand drags the points: that is not the user's face)."""
        collector = self._range
        if collector is not None and self._neutral is not None and not (occluded - OUTLINE_REGIONS):
            collector.add(measured, dt)
            if collector.ready():
                self._set_neutral(replace(self._neutral, ranges=collector.ranges()))
                if self._range is collector:
                    self._range = None
                log.info("shape ranges calibrated for %d shapes", len(self._neutral.ranges))
        ranges = self._neutral.ranges if self._neutral is not None else {}
        if not ranges:
            return measured
        return {name: min(1.0, value / ranges.get(name, 1.0)) for name, value in measured.items()}

    def _hold_gaze_while_closed(self, measured: dict[str, float]) -> dict[str, float]:
        """A closing lid hides the iris: keep the gaze of the last open-eye frame instead of reading it."""
        for side, names in GAZE_SHAPES.items():
            if measured[f"eyeBlink{side}"] >= GAZE_HOLD_BLINK:
                for name in names:
                    measured[name] = self._last_gaze.get(name, 0.0)
            else:
                for name in names:
                    self._last_gaze[name] = measured[name]
        return measured

    def _eyes_follow(self, measured: dict[str, float], occluded: set[str], yaw: float):
        """A hidden eye copies the seen one (blinks are bilateral) instead of holding: the far eye at
        large yaw (behind the nose, whatever its visibility says), and at any yaw an eye that a hand,
        hair or a thick glasses frame covers while the other is clear. Held, it stayed open while the
        other blinked (a val face behind thick glasses: one eye read 1.0, the covered one 0). Both eyes
        hidden: both hold. Yaw > 0 turns toward the subject's left, so the left eye is then the far one."""
        if abs(yaw) >= self.options.eye_follow_yaw_deg:
            far, near = ("left", "right") if yaw > 0 else ("right", "left")
        else:
            hidden = [side for side in ("left", "right") if f"eye_{side}" in occluded]
            if len(hidden) != 1:
                return measured, occluded
            far, near = hidden[0], "right" if hidden[0] == "left" else "left"
        if f"eye_{near}" in occluded:
            return measured, occluded
        measured = dict(measured)
        for name in (EYE_SHAPES_LEFT if far == "left" else EYE_SHAPES_RIGHT):
            source = mirror_name(name)
            # In/Out swap sides with the eye (looking to one side is "in" for one eye, "out" for the other).
            if "LookIn" in source:
                source = source.replace("LookIn", "LookOut")
            elif "LookOut" in source:
                source = source.replace("LookOut", "LookIn")
            measured[name] = measured[source]
        return measured, occluded - {f"eye_{far}"}

    def _collect_calibration(self, head_points, rotation, translation_m, dt, pitch, yaw, occluded) -> None:
        manual = self._manual  # calibrate_neutral() may replace it from a GUI thread meanwhile
        if manual is not None:
            manual.add(head_points, rotation, translation_m, dt)
            if manual.ready():
                self._set_neutral(self._with_ranges(manual.result(self._noise_floor)))
                if self._manual is manual:
                    self._manual = None
                log.info("neutral face calibrated (neutral now)")
        elif self._auto is not None:
            if self._auto_eligible(pitch, yaw, occluded):
                self._auto.add(head_points, rotation, translation_m, dt)
                if self._auto.frames % 5 == 1:  # a median per 5 frames is plenty for a stand-in
                    self._provisional = self._auto.median_points()
                if self._auto.ready():
                    self._set_neutral(self._with_ranges(self._auto.result(self._noise_floor)))
                    log.info("neutral face calibrated automatically from %d frames", self._neutral.frames)

    def _with_ranges(self, neutral: NeutralFace) -> NeutralFace:
        """A new neutral keeps the user's shape ranges: they describe the user's expressions, not the rest face."""
        return replace(neutral, ranges=self._neutral.ranges) if self._neutral is not None else neutral

    def _noise_floor(self, frames: list[np.ndarray], neutral_points: np.ndarray) -> dict[str, float]:
        return noise_dead_zones(frames, neutral_points, self._measure)

    def _auto_eligible(self, pitch: float, yaw: float, occluded: set[str]) -> bool:
        """Only frames within the angle limit and with nothing in front of the face make a neutral face
        (the outline's far side hides behind the face at any turn: that is no occluder)."""
        limit = self.options.auto_calibrate_max_angle_deg
        return abs(pitch) <= limit and abs(yaw) <= limit and not (occluded - OUTLINE_REGIONS)

    def _head_pose(self, rotation: np.ndarray, translation_m: np.ndarray, euler, rms: float,
                   used: int) -> HeadPose:
        if self._neutral is not None:
            rel_rot = rotation @ quat_to_matrix(self._neutral.rotation).T
            rel_t = translation_m - np.asarray(self._neutral.translation_m)
        else:
            rel_rot, rel_t = rotation, np.zeros(3)
        return HeadPose(quaternion=matrix_to_quat(rotation),
                        euler_deg=tuple(float(a) for a in euler),  # type: ignore[arg-type]
                        translation=tuple(float(v) for v in translation_m),  # type: ignore[arg-type]
                        rotation_from_neutral=matrix_to_quat(rel_rot),
                        translation_from_neutral=tuple(float(v) for v in rel_t),  # type: ignore[arg-type]
                        reprojection_error_px=float(rms), points_used=int(used))
