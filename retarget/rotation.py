"""Rotation helpers (quaternions, matrices, Euler angles) shared by the pose estimator and the senders.

Camera frame (OpenCV): x to the image right, y down, z away from the camera. The identity rotation is
a head squarely facing the camera. Euler angles use the subject's point of view:
pitch > 0 looks up, yaw > 0 turns toward the subject's own left, roll > 0 tilts the top of the head
toward the subject's own left shoulder (all in degrees, applied yaw, then pitch, then roll).
"""
from __future__ import annotations

import math

import numpy as np

from tracking.types import Quat, Vec3


def matrix_to_quat(r: np.ndarray) -> Quat:
    """Rotation matrix -> unit quaternion (x, y, z, w) with w >= 0 (Shepperd's method, stable)."""
    m = np.asarray(r, dtype=np.float64)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        w, x, y, z = 0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        w, x, y, z = (m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        w, x, y, z = (m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        w, x, y, z = (m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s
    q = np.array([x, y, z, w])
    q /= np.linalg.norm(q)
    if q[3] < 0:
        q = -q
    return (float(q[0]), float(q[1]), float(q[2]), float(q[3]))


def quat_to_matrix(q: Quat) -> np.ndarray:
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def euler_to_matrix(pitch_deg: float, yaw_deg: float, roll_deg: float) -> np.ndarray:
    """Subject-centred angles -> camera-frame rotation (the inverse of `matrix_to_euler`).

    The signs make the angles subject-centred: yaw toward the subject's left moves the nose (facing -z)
    toward +x, the image right of an unmirrored camera; pitch up moves it toward -y.
    """
    return _ry(-math.radians(yaw_deg)) @ _rx(-math.radians(pitch_deg)) @ _rz(math.radians(roll_deg))


def matrix_to_euler(r: np.ndarray) -> Vec3:
    """Camera-frame rotation -> (pitch, yaw, roll) degrees for R = Ry(-yaw) Rx(-pitch) Rz(roll)."""
    m = np.asarray(r, dtype=np.float64)
    # For R = Ry(a) Rx(b) Rz(c): m[1,2] = -sin(b), m[0,2] = sin(a)cos(b), m[2,2] = cos(a)cos(b),
    # m[1,0] = cos(b)sin(c), m[1,1] = cos(b)cos(c).
    b = math.asin(max(-1.0, min(1.0, -m[1, 2])))
    a = math.atan2(m[0, 2], m[2, 2])
    c = math.atan2(m[1, 0], m[1, 1])
    return (-math.degrees(b), -math.degrees(a), math.degrees(c))
