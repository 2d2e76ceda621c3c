"""Visibility-aware constant-velocity Kalman smoothing of the 100 landmarks.

Each point has its own constant-velocity filter (state: position and velocity per axis). The matrices
carry filterpy's names (F, H, Q, R, P) and the equations are filterpy.kalman.KalmanFilter's; the
filters of all points run as one vectorised batch because a Python loop over 100 filterpy objects costs
several milliseconds per frame. tests/test_smoother.py checks the batch against filterpy itself.

- Noise is scaled by the face size, so the smoother behaves alike near and far from the camera.
- A point's measurement noise R grows as its visibility falls (1 / visibility²): an occluder barely
  drags it, but every point keeps taking its measurement, so none is ever frozen.
- Every point is predicted with the head's rigid motion: the similarity transform (rotation, scale,
  translation) that maps the visible points' last estimates onto their new measurements moves all
  points, and the per-point velocities keep only what the face itself does. Moving the head then costs
  no lag and does not bend the face.
- A point judged occluded goes with the head alone: its prior is carried by the similarity between the
  visible points' last and new estimates, so far-side jaw and ear points turn and scale with the head.
- Still at rest, no lag in motion: the process noise adapts to the head's speed (as the One Euro
  filter's cut-off does), from `acceleration_std_rest` below `still_speed` (noise alone moves the fit
  that much) to `acceleration_std_motion` at `motion_speed` face sizes per second. When the visible
  points' innovations are far beyond what the motion model expects (normalised innovation squared
  above a chi-square gate), the prior covariance is inflated for that frame, so a sudden change is
  followed at once. Each feature of the 100-point layout (an eye, a brow, the mouth...) has a gate of
  its own, past which its points take the measurement: a blink moves six points of a hundred, which
  the whole face's mean never noticed, so a still face's filter cut a 7-frame blink to 63 % of its
  depth and a 3-frame one to 30 %.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from occface_core.layout import GROUPS, NUM_POINTS

from occface_core.visibility import NOISE_VISIBILITY_FLOOR, VISIBLE

# The features an expression moves together, each gated on its own (see the module docstring).
FEATURES = tuple(np.array(idx) for idx in GROUPS.values())
# (features, points): 1 where a point belongs to a feature, for all features' means in one product
_MEMBERSHIP = np.zeros((len(FEATURES), NUM_POINTS))
for _row, _idx in enumerate(FEATURES):
    _MEMBERSHIP[_row, _idx] = 1.0


@dataclass(frozen=True)
class SmootherOptions:
    # Chosen on bench_avatar (OccFace v2.2, 8 still and 8 swaying val faces) with the blink check of
    # tests/test_smoother.py: smoothed / raw jitter on still faces 0.72 with 0.012 and 0.03 (the
    # previous values), 0.49 with these; smoothed NME at or below raw on still and swaying faces.
    measurement_std: float = 0.02           # of the face size, for a fully visible point
    acceleration_std_rest: float = 0.01     # face sizes per second², white-noise acceleration when still
    acceleration_std_motion: float = 0.6    # ... when the face moves at motion_speed or faster
    still_speed: float = 0.1                # face sizes per second under which the face counts as still
    motion_speed: float = 0.5               # face sizes per second
    occluded_below: float = VISIBLE         # visibility under which a point predicts with the head
    visibility_floor: float = NOISE_VISIBILITY_FLOOR   # floor for the visibility that divides the noise
    visibility_power: float = 2.0           # measurement std grows as 1 / visibility^power
    innovation_gate: float = 3.0            # mean NIS over visible points above this inflates the prior
    feature_gate: float = 0.5               # ... and over one feature's visible points (an eye, the mouth):
                                            # low, because measurement_std is set well above the per-frame
                                            # noise to hold back its slow wander, so a blink's innovations
                                            # are modest multiples of it (a 7-frame blink keeps 89 % of its
                                            # depth with 0.5, 42 % with 2)
    max_inflation: float = 400.0
    follow_head: bool = True                # predict with the head's rigid motion (off: a plain CV filter)
    speed_smoothing: float = 0.4            # EMA weight of the newest frame in the head's speed: one frame's
                                            # rigid fit carries the common noise of all points
    default_dt: float = 1 / 30

    def with_strength(self, strength: float) -> SmootherOptions:
        """These options at a smoothing strength: the measurement noise times `strength`. 1 keeps the
        tuned value above; 2 trusts each frame half as much (stiller, slower to follow a small
        expression); 0.5 follows the model more closely. 0 is no smoothing: the caller's switch."""
        return dataclasses.replace(self, measurement_std=self.measurement_std * strength)


DEFAULT_STRENGTH = 1.0
STRENGTH_HELP = ("1 (the default) is the measurement noise tuned on still and swaying faces: it halves a "
                 "still face's jitter and adds no lag when the head moves; 2 is stiller and slower to follow "
                 "small expressions, 0.5 closer to the model's raw output, 0 turns smoothing off")


def similarity_2d(src: np.ndarray, dst: np.ndarray) -> tuple[complex, complex]:
    """Least-squares similarity dst ≈ a·src + t, with points as complex numbers (a = scale·e^{iθ}).

    Closed form, no linear-algebra call: small numpy.linalg calls wake BLAS worker threads that then
    spin, which costs more CPU than the whole filter. Sums, not means: ndarray.mean's Python wrapper
    costs more than the arithmetic on a hundred points.
    """
    s = src[:, 0] + 1j * src[:, 1]
    d = dst[:, 0] + 1j * dst[:, 1]
    n = max(len(s), 1)
    s_mean, d_mean = s.sum() / n, d.sum() / n
    sc, dc = s - s_mean, d - d_mean
    denom = float((sc.real ** 2 + sc.imag ** 2).sum())
    a = complex((np.conj(sc) * dc).sum() / denom) if denom > 1e-9 else 1.0 + 0j
    return a, complex(d_mean - a * s_mean)


def apply_similarity(points: np.ndarray, a: complex, t: complex) -> np.ndarray:
    z = a * (points[:, 0] + 1j * points[:, 1]) + t
    return np.stack([z.real, z.imag], axis=1)


class LandmarkKalmanSmoother:
    """Smooths (N, 2) landmark sets frame by frame; call reset() when a new track starts."""

    def __init__(self, options: SmootherOptions | None = None):
        self.options = options or SmootherOptions()
        self.x: np.ndarray | None = None   # (N, 2 axes, 2) position and velocity per axis
        self.P: np.ndarray | None = None   # (N, 2, 2) covariance, shared by the x and y axes
        self._last_time: float | None = None
        self._head_velocity: np.ndarray | None = None   # (N, 2) smoothed per-point rigid motion, pixels/s

    def reset(self) -> None:
        self.x = self.P = None
        self._last_time = None
        self._head_velocity = None

    @staticmethod
    def F(dt: float) -> np.ndarray:
        return np.array([[1.0, dt], [0.0, 1.0]])

    H = np.array([[1.0, 0.0]])

    def Q(self, dt: float, face_size: float, speed: float = 0.0) -> np.ndarray:
        """Discrete white-noise acceleration (filterpy's Q_continuous_white_noise, order 2); its level
        rises from the resting to the moving one with the face's speed (face sizes per second)."""
        o = self.options
        accel = o.acceleration_std_rest + self.motion_share(speed) * (o.acceleration_std_motion - o.acceleration_std_rest)
        q = (accel * face_size) ** 2
        return q * np.array([[dt ** 3 / 3, dt ** 2 / 2], [dt ** 2 / 2, dt]])

    def motion_share(self, speed: float) -> float:
        """0 for a still face, 1 at motion_speed and above (face sizes per second), linear between."""
        o = self.options
        return min(max((speed - o.still_speed) / (o.motion_speed - o.still_speed), 0.0), 1.0)

    def R(self, visibility: np.ndarray, face_size: float) -> np.ndarray:
        vis = np.maximum(visibility, self.options.visibility_floor)
        return (self.options.measurement_std * face_size / vis ** self.options.visibility_power) ** 2

    def update(self, points: np.ndarray, visibility: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        """Filter one frame's measurements; returns the smoothed (N, 2) points."""
        z = np.asarray(points, dtype=np.float64)
        vis = np.asarray(visibility, dtype=np.float64)
        visible = vis >= self.options.occluded_below
        # the face size from the points that are seen: an occluded point can be anywhere
        face_size = _face_size(z, visible if visible.sum() >= 3 else None)
        if self.x is None:
            return self._start(z, face_size, timestamp)
        dt = self._dt(timestamp)
        previous = self.x[:, :, 0].copy()
        head = self._head_motion(previous, z, visible)
        carried = ~visible if head is not None else np.zeros_like(visible)
        previous_P = self.P.copy() if carried.any() else None

        # How far the head's rigid motion moves each point; its mean over the visible points is the
        # head's speed, for the process noise (translation, turn and scale alike).
        head_shift, speed = np.zeros_like(previous), 0.0
        if head is not None:
            head_shift = apply_similarity(previous, *head) - previous
            speed = self._head_speed(head_shift / dt, visible) / face_size

        # Predict every point: x = F x, P = F P Fᵀ + Q; the head's own motion is added to every point's
        # position, so the per-point velocities are left with what the face itself does (expressions):
        # moving the head then costs no lag and does not bend the face (a lagging chin read as jawLeft).
        Q = self.Q(dt, face_size, speed)
        self._predict(dt, Q)
        # Only as much of the head's motion as the head's speed says is real: the fit to this frame's
        # measurements carries their common noise (the whole face shifting with the crop), which a still
        # face must not follow, or smoothing would remove only the points' independent noise.
        self.x[:, :, 0] += self.motion_share(speed) * head_shift
        R = self.R(vis, face_size)
        free = ~carried
        y = z - self.x[:, :, 0]
        S = self.P[:, 0, 0] + R
        nis = (y ** 2).sum(axis=1) / S / 2
        face_inflation, feature_moved = self._inflation(nis, visible)
        if face_inflation > 1.0:
            # The face moved faster than the model expects: trust the measurements this frame. Inflate
            # from the moving face's process noise: the resting one is too small to matter.
            self.P[free] += (face_inflation - 1.0) * self.Q(dt, face_size, speed=self.options.motion_speed)
        moved = feature_moved & free
        if moved.any():
            # One feature moved (a blink, the mouth opening): its points' position variance grows until
            # each one's own innovation is expected, so they take the measurement; the velocity is left
            # alone, or it would carry a lid on past where it stopped.
            needed = (y[moved] ** 2).sum(axis=1) / 2 - R[moved]
            self.P[moved, 0, 0] = np.maximum(self.P[moved, 0, 0], needed)
        self._correct(free, z, R)

        if carried.any():
            # Occluded points go with the head alone: the similarity taking the visible points' last
            # estimates to their new ones carries them and sets their velocity. Their uncertainty is
            # the head's, not a free point's; their measurement still counts, weighed by visibility.
            a, t = similarity_2d(previous[visible], self.x[visible, :, 0])
            moved = apply_similarity(previous[carried], a, t)
            self.x[carried, :, 0] = moved
            self.x[carried, :, 1] = 0.0
            self.P[carried] = previous_P[carried] + Q
            self._correct(carried, z, R, update_velocity=False)
        return self.x[:, :, 0].copy()

    def _inflation(self, nis: np.ndarray, visible: np.ndarray) -> tuple[float, np.ndarray]:
        """From the normalised innovations squared: how much to inflate the whole face's prior (1: not
        at all, from the visible points' mean), and which points belong to a feature whose visible
        points' mean is beyond its own gate (100-point layout only)."""
        o = self.options
        moved = np.zeros(len(nis), dtype=bool)
        if not visible.any():
            return 1.0, moved
        seen_nis = nis[visible]
        mean_nis = float(seen_nis.sum()) / len(seen_nis)
        face = min(mean_nis / o.innovation_gate, o.max_inflation) ** 2 if mean_nis > o.innovation_gate else 1.0
        if len(nis) == NUM_POINTS:
            seen = _MEMBERSHIP * visible                  # each feature's visible points
            counts = seen.sum(axis=1)
            gated = (counts >= 3) & (seen @ nis > o.feature_gate * counts)
            moved = _MEMBERSHIP[gated].any(axis=0)
        return face, moved

    def _head_speed(self, velocity: np.ndarray, visible: np.ndarray) -> float:
        """Mean speed of the visible points under the head's rigid motion, smoothed over frames (pixels/s):
        noise averages out in the smoothed velocity vectors, a real motion builds up within a few frames."""
        w = self.options.speed_smoothing
        if self._head_velocity is None or self._head_velocity.shape != velocity.shape:
            self._head_velocity = velocity
        else:
            self._head_velocity = w * velocity + (1 - w) * self._head_velocity
        seen = self._head_velocity[visible]
        return float(np.sqrt((seen * seen).sum(axis=1)).sum()) / max(len(seen), 1)

    def _head_motion(self, previous: np.ndarray, z: np.ndarray, visible: np.ndarray) -> tuple[complex, complex] | None:
        """The similarity taking the visible points' last estimates to their new measurements (the rigid
        part of the motion; per-point noise averages out in the fit), or None without enough points."""
        if not self.options.follow_head or visible.sum() < 3:
            return None
        return similarity_2d(previous[visible], z[visible])

    def _predict(self, dt: float, Q: np.ndarray) -> None:
        """x = F x, P = F P Fᵀ + Q with F = [[1, dt], [0, 1]], written out for the 2x2 blocks (a batched
        matmul of tiny matrices costs more than the maths)."""
        self.x[:, :, 0] += dt * self.x[:, :, 1]
        P = self.P
        p01, p11 = P[:, 0, 1], P[:, 1, 1]
        P[:, 0, 0] += dt * (p01 + P[:, 1, 0]) + dt * dt * p11 + Q[0, 0]
        P[:, 0, 1] += dt * p11 + Q[0, 1]
        P[:, 1, 0] += dt * p11 + Q[1, 0]
        P[:, 1, 1] += Q[1, 1]

    def _correct(self, sel: np.ndarray, z: np.ndarray, R: np.ndarray, update_velocity: bool = True) -> None:
        """Kalman update of the selected points: y = z - H x, S = H P Hᵀ + R, K = P Hᵀ S⁻¹."""
        every = bool(sel.all())     # the usual frame: views, no gather and scatter
        x, P = (self.x, self.P) if every else (self.x[sel], self.P[sel])
        if not every:
            z, R = z[sel], R[sel]
        p00, p01, p10, p11 = P[:, 0, 0], P[:, 0, 1], P[:, 1, 0], P[:, 1, 1]
        y = z - x[:, :, 0]
        S = p00 + R
        k0 = p00 / S                                         # gain for position...
        k1 = p10 / S if update_velocity else np.zeros_like(S)  # ...and velocity
        # Joseph form, as filterpy uses, keeps P symmetric and positive: (I - K H) P (I - K H)ᵀ + K R Kᵀ,
        # written out for 2x2 blocks: I - K H = [[a, 0], [b, 1]].
        a, b = 1.0 - k0, -k1
        lower = b * p00 + p10                               # row 2 of (I - K H) P, first column
        k01r = k0 * k1 * R
        new00 = a * a * p00 + k0 ** 2 * R
        new01 = a * (p00 * b + p01) + k01r
        new10 = lower * a + k01r
        new11 = lower * b + b * p01 + p11 + k1 ** 2 * R
        if every:
            x[:, :, 0] += y * k0[:, None]
            x[:, :, 1] += y * k1[:, None]
            P[:, 0, 0], P[:, 0, 1], P[:, 1, 0], P[:, 1, 1] = new00, new01, new10, new11
            return
        x[:, :, 0] += y * k0[:, None]
        x[:, :, 1] += y * k1[:, None]
        self.x[sel] = x
        new = np.empty_like(P)
        new[:, 0, 0], new[:, 0, 1], new[:, 1, 0], new[:, 1, 1] = new00, new01, new10, new11
        self.P[sel] = new

    def _start(self, z: np.ndarray, face_size: float, timestamp: float | None) -> np.ndarray:
        n = len(z)
        self.x = np.zeros((n, 2, 2))
        self.x[:, :, 0] = z
        pos_var = (self.options.measurement_std * face_size) ** 2
        vel_var = (0.5 * face_size) ** 2  # unknown velocity at the start of a track
        self.P = np.tile(np.diag([pos_var, vel_var]), (n, 1, 1))
        self._last_time = timestamp
        return z.copy()

    def _dt(self, timestamp: float | None) -> float:
        if timestamp is None or self._last_time is None:
            dt = self.options.default_dt
        else:
            dt = timestamp - self._last_time
            if not 0 < dt < 1.0:
                dt = self.options.default_dt
        self._last_time = timestamp
        return dt


def _face_size(points: np.ndarray, use: np.ndarray | None = None) -> float:
    """Square root of the area of the landmark box (pixels), the scale for all noise terms."""
    subset = points[:68] if len(points) >= 68 else points
    if use is not None and use[:len(subset)].sum() >= 2:   # the seen points may all lie outside the 68
        subset = subset[use[:len(subset)]]
    span = subset.max(axis=0) - subset.min(axis=0)
    return float(max(np.sqrt(max(span[0], 1.0) * max(span[1], 1.0)), 1.0))
