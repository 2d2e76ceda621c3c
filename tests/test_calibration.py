"""Neutral-face calibration: neutral now, automatic over the first seconds, saved and reloaded per user."""
from __future__ import annotations

import json

import numpy as np
import pytest

from retarget.arkit import ARKIT_NAMES
from retarget.blendshapes import NO_DEAD_ZONE
from retarget.calibration import CalibrationError, NeutralFace, default_calibration_path
from retarget.face_model import load_face_model
from retarget.rotation import matrix_to_euler, quat_to_matrix
from retarget.stage import RetargetOptions, RetargetStage
from retarget.synthetic import close_eyes, face_result, interocular_cm, project


@pytest.fixture(scope="module")
def model():
    return load_face_model()


def run(stage, points3d, angles=(0, 0, 0), start=0, frames=1, fps=30.0):
    result = None
    for k in range(frames):
        result = face_result(project(points3d, *angles), frame_index=start + k, fps=fps)
        stage.process(result)
    return result


def test_neutral_now_makes_the_users_resting_face_neutral(model):
    hooded = close_eyes(model.points, 0.45)  # this user's relaxed eyes are narrower than the mean face
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=0), model=model)
    before = run(stage, hooded).blendshapes
    assert before["eyeBlinkLeft"] > 0.3 and not stage.calibrated
    stage.calibrate_neutral()
    run(stage, hooded, start=1, frames=stage.options.neutral_now_frames)
    assert stage.calibrated
    after = run(stage, hooded, start=10, frames=12).blendshapes
    assert after["eyeBlinkLeft"] < 0.05 and after["eyeBlinkRight"] < 0.05
    closed = run(stage, close_eyes(model.points), start=30).blendshapes
    assert closed["eyeBlinkLeft"] > 0.9


def test_automatic_calibration_over_the_first_seconds(model, tmp_path):
    path = tmp_path / "alice.json"
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=1.0, calibration_path=path), model=model)
    run(stage, model.points, angles=(0, 50, 0), frames=40)  # turned far away: not a neutral sample
    assert not stage.calibrated
    result = run(stage, model.points, angles=(-12, 5, 0), start=40, frames=20)
    assert not stage.calibrated and result.calibrated is False  # 0.63 s so far
    result = run(stage, model.points, angles=(-12, 5, 0), start=60, frames=12)
    assert stage.calibrated and result.calibrated is True
    assert path.is_file(), "a new calibration is saved for the user"
    # The neutral head pose (camera above the screen) becomes the avatar's rest pose.
    result = run(stage, model.points, angles=(-12, 5, 0), start=80)
    rel = matrix_to_euler(quat_to_matrix(result.head_pose.rotation_from_neutral))
    assert np.allclose(rel, 0, atol=0.2)
    assert np.allclose(result.head_pose.translation_from_neutral, 0, atol=1e-4)


def test_a_user_who_sits_turned_to_the_camera_is_still_calibrated(model):
    """A camera on a side monitor: the face at 32° of yaw all along becomes the neutral, and a face
    that is not the mean head then shows no expression."""
    rng = np.random.default_rng(3)
    user = np.array(model.points) + np.c_[rng.normal(0, 0.25, (100, 2)), np.zeros(100)]   # cm
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=1.0), model=model)
    result = run(stage, user, angles=(-5, 32, 0), frames=40)
    assert stage.calibrated
    shapes = np.array([result.blendshapes[n] for n in ARKIT_NAMES])
    assert shapes.max() < 0.1, {n: round(float(v), 2) for n, v in zip(ARKIT_NAMES, shapes) if v >= 0.1}


def test_the_far_cheek_hidden_by_a_turn_does_not_stop_the_calibration_but_a_hand_does(model):
    """Turned 30°, the far side of the jaw outline is self-occluded (low visibility): still a neutral face.
    A hand over the mouth is not."""
    turned = project(np.array(model.points), -5, 30, 0)
    far_cheek = np.ones(100)
    far_cheek[[12, 13, 14]] = 0.05
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=1.0), model=model)
    for k in range(40):
        stage.process(face_result(turned, frame_index=k, visibility=far_cheek))
    assert stage.calibrated
    hand = far_cheek.copy()
    hand[48:68] = 0.05
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=1.0), model=model)
    for k in range(40):
        stage.process(face_result(turned, frame_index=k, visibility=hand))
    assert not stage.calibrated


def test_save_and_reload_per_user(model, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = default_calibration_path("bob smith")
    assert path == tmp_path / "occface" / "neutral-bob_smith.json"
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=0), model=model)
    with pytest.raises(CalibrationError):
        stage.save_calibration(path)  # nothing calibrated yet
    stage.calibrate_neutral()
    run(stage, close_eyes(model.points, 0.4), angles=(0, 10, 0), frames=stage.options.neutral_now_frames)
    stage.save_calibration(path)
    data = json.loads(path.read_text())
    assert data["format"] == "occface-neutral" and len(data["points_head_cm"]) == 100
    # A new session for the same user starts calibrated, with no automatic collection.
    again = RetargetStage(RetargetOptions(calibration_path=path), model=model)
    assert again.calibrated
    assert np.allclose(again.neutral.points, stage.neutral.points, atol=1e-4)
    shapes = run(again, close_eyes(model.points, 0.4), angles=(0, 10, 0)).blendshapes
    assert shapes["eyeBlinkLeft"] < 0.05
    other = RetargetStage(RetargetOptions(auto_calibrate_seconds=0), model=model)
    other.load_calibration(path)
    assert other.calibrated


@pytest.mark.parametrize("content, words", [
    ("not json", "not valid JSON"),
    (json.dumps({"format": "something-else"}), "not an OccFace"),
    (json.dumps({"format": "occface-neutral", "version": 99}), "unsupported"),
    (json.dumps({"format": "occface-neutral", "version": 1, "points_head_cm": [[0, 0, 0]] * 68,
                 "rotation": [0, 0, 0, 1], "translation_m": [0, 0, 0.6]}), "100 finite"),
    (json.dumps({"format": "occface-neutral", "version": 1, "points_head_cm": [[0, 0, 0]] * 100,
                 "rotation": [0, 0, 0, 3], "translation_m": [0, 0, 0.6]}), "unit quaternion"),
    (json.dumps({"format": "occface-neutral", "version": 1}), "missing or malformed"),
])
def test_bad_calibration_files_raise_one_clear_error(tmp_path, content, words, model):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CalibrationError) as info:
        NeutralFace.load(path)
    assert words in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(CalibrationError):
        RetargetStage(RetargetOptions(calibration_path=path), model=model)
    with pytest.raises(CalibrationError, match="not found"):
        NeutralFace.load(tmp_path / "missing.json")


def test_first_seconds_use_the_users_own_face_not_the_mean_head(model):
    # Before the automatic calibration completes, the frames collected so far stand in for the neutral,
    # so a face that differs from the mean head does not read as an expression from the first frame.
    hooded = close_eyes(model.points, 0.45)
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=3.0), model=model)
    first = run(stage, hooded).blendshapes
    assert first["eyeBlinkLeft"] < 0.05 and not stage.calibrated
    later = run(stage, hooded, start=1, frames=20).blendshapes
    assert later["eyeBlinkLeft"] < 0.05 and not stage.calibrated
    assert run(stage, close_eyes(model.points), start=30).blendshapes["eyeBlinkLeft"] > 0.9


def _noisy_frames(points3d, n, sigma_px, seed=0):
    rng = np.random.default_rng(seed)
    return [project(points3d) + rng.normal(0, sigma_px, (100, 2)) for _ in range(n)]


def _false_expression(stage, frames, start):
    """Mean shape value on a still, neutral face (everything there is noise), blinks and jawOpen aside."""
    values = []
    for k, pts in enumerate(frames):
        result = face_result(pts, frame_index=start + k)
        stage.process(result)
        values += [v for name, v in result.blendshapes.items() if name not in NO_DEAD_ZONE]
    return float(np.mean(values))


def test_calibration_measures_the_noise_and_widens_the_dead_zones(model, tmp_path):
    """A noisy landmark model on a still face: the calibrated dead zones keep the avatar still, and a
    real smile still comes through."""
    path = tmp_path / "noisy.json"
    adaptive = RetargetStage(RetargetOptions(auto_calibrate_seconds=0, calibration_path=path), model=model)
    fixed = RetargetStage(RetargetOptions(auto_calibrate_seconds=0), model=model)
    adaptive.calibrate_neutral()
    for k, pts in enumerate(_noisy_frames(model.points, adaptive.options.neutral_now_frames, 0.8)):
        adaptive.process(face_result(pts, frame_index=k))
    zones = adaptive.neutral.dead_zones
    assert zones and all(0.1 <= z <= 0.5 for z in zones.values())
    assert max(zones.values()) > 0.2 and "eyeBlinkLeft" not in zones and "jawOpen" not in zones
    # the same neutral without the measured noise, for comparison
    fixed._set_neutral(NeutralFace(adaptive.neutral.points, adaptive.neutral.rotation,
                                   adaptive.neutral.translation_m), save=False)
    still = _noisy_frames(model.points, 60, 0.8, seed=1)
    assert _false_expression(adaptive, still, 100) < 0.7 * _false_expression(fixed, still, 100)

    smile = np.array(model.points)
    d = interocular_cm(model)
    smile[[48, 60], :2] += np.array([-0.03, -0.05]) * d
    smile[[54, 64], :2] += np.array([0.03, -0.05]) * d
    result = face_result(project(smile), frame_index=300)
    adaptive.process(result)
    assert result.blendshapes["mouthSmileLeft"] > 0.5

    # the measured dead zones are part of the user's saved calibration
    reloaded = NeutralFace.load(path)
    assert reloaded.dead_zones == pytest.approx(zones, abs=1e-4)


def test_calibration_files_without_or_with_bad_dead_zones(model, tmp_path):
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=0), model=model)
    stage.calibrate_neutral()
    run(stage, model.points, frames=stage.options.neutral_now_frames)
    data = stage.neutral.to_json()
    del data["dead_zones"]            # written before dead zones existed
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    assert NeutralFace.load(old).dead_zones == {}
    for bad in ({"jawLeft": 1.5}, {"notAShape": 0.2}, [0.2]):
        data["dead_zones"] = bad
        old.write_text(json.dumps(data))
        with pytest.raises(CalibrationError, match="dead_zones"):
            NeutralFace.load(old)


def test_a_range_calibration_lets_a_user_whose_lids_never_meet_close_the_avatars_eyes(model, tmp_path):
    """The landmarks of this user's blink close the lids only 30 %: eyeBlink reads about 0.4. After a
    range calibration in which they blink, that blink reads 1.0; shapes they did not make keep their
    scale, the ranges survive a new neutral, and they are saved and reloaded with the calibration."""
    path = tmp_path / "ranges.json"
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=0, calibration_path=path), model=model)
    stage.calibrate_range()                                   # no neutral yet: refused, nothing collected
    stage.calibrate_neutral()
    run(stage, model.points, frames=stage.options.neutral_now_frames)
    half_blink = close_eyes(model.points, 0.3)
    before = run(stage, half_blink, start=100, frames=10).blendshapes
    assert 0.2 < before["eyeBlinkLeft"] < 0.6
    smile = np.array(model.points)
    smile[[48, 60], :2] += np.array([-0.02, -0.03]) * interocular_cm(model)
    smile[[54, 64], :2] += np.array([0.02, -0.03]) * interocular_cm(model)
    shown_smile = run(stage, smile, start=120, frames=10).blendshapes["mouthSmileLeft"]

    stage.calibrate_range(seconds=2.0)
    for k in range(90):                                       # three seconds: blinking, then at rest
        run(stage, half_blink if (k // 10) % 2 else model.points, start=200 + k)
    assert stage.neutral.ranges and "eyeBlinkLeft" in stage.neutral.ranges and "mouthSmileLeft" not in stage.neutral.ranges
    after = run(stage, half_blink, start=400, frames=10).blendshapes
    assert after["eyeBlinkLeft"] > 0.95 and after["eyeBlinkRight"] > 0.95
    assert run(stage, model.points, start=420, frames=10).blendshapes["eyeBlinkLeft"] < 0.05
    assert run(stage, smile, start=440, frames=10).blendshapes["mouthSmileLeft"] == pytest.approx(shown_smile, abs=1e-6)

    stage.calibrate_neutral()                                 # a new neutral keeps the user's ranges
    run(stage, model.points, start=500, frames=stage.options.neutral_now_frames)
    assert stage.neutral.ranges["eyeBlinkLeft"] == pytest.approx(before["eyeBlinkLeft"], abs=0.1)
    assert NeutralFace.load(path).ranges == pytest.approx(dict(stage.neutral.ranges), abs=1e-4)


def test_a_calibration_file_with_a_bad_range_is_refused_in_one_line(model, tmp_path):
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=0), model=model)
    stage.calibrate_neutral()
    run(stage, model.points, frames=stage.options.neutral_now_frames)
    path = tmp_path / "bad.json"
    stage.save_calibration(path)
    data = json.loads(path.read_text())
    data["ranges"] = {"eyeBlinkLeft": 0.05}                   # would amplify twentyfold
    path.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match=r"ranges\['eyeBlinkLeft'\]"):
        NeutralFace.load(path)
