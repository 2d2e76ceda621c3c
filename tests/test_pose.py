"""Head pose by weighted PnP on synthetic landmark sets projected from the reference head."""
from __future__ import annotations

import json

import numpy as np
import pytest

from retarget.face_model import load_face_model
from retarget.head_pose import HeadPoseEstimator, PoseOptions, camera_matrix
from retarget.rotation import euler_to_matrix, matrix_to_euler, matrix_to_quat, quat_to_matrix
from retarget.stage import RetargetOptions, RetargetStage
from retarget.synthetic import face_result, interocular_cm, open_jaw, project

FRAME = (640, 480)


@pytest.fixture(scope="module")
def model():
    return load_face_model()


def angles_of(fit):
    return np.array(matrix_to_euler(fit.rotation))


def test_reference_head_axes(model):
    p = model.points
    assert p[36, 0] < 0 < p[45, 0], "x must point to the subject's left"
    assert p[8, 1] > p[33, 1] > p[27, 1], "y must point down"
    assert p[30, 2] < p[36, 2], "z must point away from the camera (nose tip nearest)"
    assert 7.0 < interocular_cm(model) < 11.0


@pytest.mark.parametrize("angles", [(0, 0, 0), (10, 30, 5), (-15, -45, -10), (20, 60, 0), (0, 0, 30)])
def test_recovers_known_pose_under_noise(model, angles):
    rng = np.random.default_rng(7)
    pts = project(model.points, *angles, translation_cm=(4, -3, 55)) + rng.normal(0, 0.5, (100, 2))
    fit = HeadPoseEstimator(model).estimate(pts, None, FRAME)
    assert fit is not None
    assert np.allclose(angles_of(fit), angles, atol=1.5)
    assert np.allclose(fit.tvec, (4, -3, 55), atol=1.5)
    assert fit.rms_px < 1.5


def test_euler_signs_are_subject_centred():
    # Yaw toward the subject's left moves the nose (facing -z) to +x: image right of an unmirrored view.
    assert (euler_to_matrix(0, 30, 0) @ [0, 0, -1])[0] > 0.4
    assert (euler_to_matrix(30, 0, 0) @ [0, 0, -1])[1] < -0.4    # looking up: nose moves up (-y)
    assert (euler_to_matrix(0, 0, 30) @ [0, -1, 0])[0] > 0.4     # roll: head top toward subject's left
    r = euler_to_matrix(12, -34, 7)
    assert np.allclose(matrix_to_euler(r), (12, -34, 7))
    assert np.allclose(quat_to_matrix(matrix_to_quat(r)), r)


def test_warm_start_tracks_a_fast_turn(model):
    est = HeadPoseEstimator(model)
    for yaw in np.linspace(-40, 40, 17):  # 5 degrees per frame
        fit = est.estimate(project(model.points, 5, yaw, 0), None, FRAME)
        assert fit is not None and abs(angles_of(fit)[1] - yaw) < 0.5


def test_occluded_points_do_not_tilt_the_head(model):
    est = HeadPoseEstimator(model)
    clean = est.estimate(project(model.points, 0, 15, 0), None, FRAME)
    # A hand over the mouth and chin: those points are wrong (dragged toward the hand) and flagged.
    pts = project(model.points, 0, 15, 0)
    vis = np.ones(100)
    hand = list(range(3, 14)) + list(range(31, 36)) + list(range(48, 68)) + list(range(82, 86))
    pts[hand] += np.array([25.0, -30.0])
    vis[hand] = 0.05
    est.reset()
    fit = est.estimate(pts, vis, FRAME)
    assert fit is not None
    assert np.allclose(angles_of(fit), angles_of(clean), atol=1.0)


def test_opening_the_jaw_does_not_nod_the_head(model):
    est = HeadPoseEstimator(model)
    fit = est.estimate(project(open_jaw(model.points, 2.5), -5, 20, 0), None, FRAME)
    assert np.allclose(angles_of(fit), (-5, 20, 0), atol=0.5)


def test_user_focal_length_and_too_few_points(model):
    pts = project(model.points, 0, 20, 0, translation_cm=(0, 0, 70), focal_length_px=1000.0)
    fit = HeadPoseEstimator(model, PoseOptions(focal_length_px=1000.0)).estimate(pts, None, FRAME)
    assert abs(fit.tvec[2] - 70) < 0.5 and camera_matrix(FRAME, 1000.0)[0, 0] == 1000.0
    default = HeadPoseEstimator(model).estimate(pts, None, FRAME)
    assert abs(angles_of(default)[1] - 20) < 3.0  # a wrong focal length mostly scales the distance
    vis = np.zeros(100)
    vis[[27, 30, 36, 45]] = 1.0
    assert HeadPoseEstimator(model).estimate(pts, vis, FRAME) is None


def test_stage_head_pose_output(model):
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=0), model=model)
    result = face_result(project(model.points, 10, -25, 3, translation_cm=(2, 1, 50)))
    stage.process(result)
    pose = result.head_pose
    assert np.isclose(np.linalg.norm(pose.quaternion), 1.0)
    assert np.allclose(pose.euler_deg, (10, -25, 3), atol=0.1)
    assert np.allclose(pose.translation, (0.02, 0.01, 0.50), atol=0.002)  # metres
    d = json.loads(json.dumps(pose.to_dict()))
    assert set(d) >= {"quaternion", "euler_deg", "translation"} and len(d["quaternion"]) == 4
    assert result.timings_ms["retarget"] > 0
    stage.process(face_result(None, frame_index=1))
    assert stage is not None
