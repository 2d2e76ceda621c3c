"""End to end: RetargetStage output streamed by the OSC senders to a real python-osc server."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from retarget.arkit import ARKIT_NAMES
from retarget.face_model import load_face_model
from retarget.osc import create_sender
from retarget.stage import RetargetOptions, RetargetStage
from retarget.synthetic import close_eyes, face_result, open_jaw, project

from tests.osc_receiver import RecordingReceiver, messages_of


class FakeClock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def model():
    return load_face_model()


@pytest.fixture
def server():
    srv = RecordingReceiver()
    yield srv
    srv.stop()


def test_stage_to_vmc_face_then_no_face(model, server):
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=0), model=model)
    clock = FakeClock()
    sender = create_sender(f"vmc://127.0.0.1:{server.port}?rate=30", clock=clock)
    face = open_jaw(close_eyes(model.points), 2.0)
    for k in range(3):
        result = face_result(project(face, 0, 20, 0), frame_index=k)
        stage.process(result)
        sender.send(result)
        clock.t += 1 / 30
    dgrams = server.wait_for(3)
    assert len(dgrams) == 3
    msgs = messages_of(dgrams[-1])
    vals = {m.params[0]: m.params[1] for m in msgs if m.address == "/VMC/Ext/Blend/Val"}
    assert list(vals) == list(ARKIT_NAMES)
    assert vals["eyeBlinkLeft"] > 0.9 and vals["jawOpen"] > 0.6
    head = next(m for m in msgs if m.address == "/VMC/Ext/Bone/Pos").params
    assert math.isclose(float(np.linalg.norm(head[4:8])), 1.0, abs_tol=1e-5)
    ok = next(m for m in msgs if m.address == "/VMC/Ext/OK").params
    assert list(ok) == [1, 2, 0, 1]  # loaded, not calibrated yet (auto calibration off), tracking
    # The face is lost: status 0, shapes ease to neutral, and once settled nothing stale is flooded.
    for k in range(3, 3 + 150):  # 5 s at 30 fps
        result = face_result(None, frame_index=k)
        stage.process(result)
        if sender.send(result):
            # Lockstep: the fake clock sends faster than a loaded machine's receiver reads, and UDP
            # drops what overflows the socket buffer.
            server.wait_for(sender.stats().sent, settle=0.0)
        clock.t += 1 / 30
    sent = sender.stats().sent
    dgrams = server.wait_for(sent)
    assert len(dgrams) == sent < 3 + 150
    first_lost = messages_of(dgrams[3])
    assert next(m for m in first_lost if m.address == "/VMC/Ext/OK").params[3] == 0
    blinks = [next(m.params[1] for m in messages_of(d) if m.address == "/VMC/Ext/Blend/Val") for d in dgrams[3:]]
    assert blinks[0] > 0.6 and blinks[-1] < 0.01      # eases (no snap on the first lost frame), then settles
    assert all(b <= a + 1e-6 for a, b in zip(blinks, blinks[1:]))
    sender.close()


def test_pose_and_shapes_are_exportable_per_frame(model):
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=0), model=model)
    result = face_result(project(model.points, 0, 0, 0))
    stage.process(result)
    row = {"head_pose": result.head_pose.to_dict(), "blendshapes": result.blendshapes}
    assert json.loads(json.dumps(row))["blendshapes"]["jawOpen"] == pytest.approx(0.0, abs=0.05)
    assert "retarget" in result.timings_ms


def test_vmc_head_turns_the_avatar_to_its_own_left(model, server):
    """Subject turns to their own left -> in Unity axes (x avatar right, y up, z avatar front) the head's
    front (+z) swings toward -x, the avatar's own left; looking up swings it toward +y."""
    from retarget.rotation import quat_to_matrix

    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=0), model=model)
    stage.calibrate_neutral()
    for k in range(stage.options.neutral_now_frames):
        stage.process(face_result(project(model.points, 0, 0, 0, translation_cm=(0, 0, 60)), frame_index=k))
    assert stage.calibrated
    sender = create_sender(f"vmc://127.0.0.1:{server.port}?rate=1000")
    for k, (pitch, yaw) in enumerate([(0, 30), (20, 0)]):
        result = face_result(project(model.points, pitch, yaw, 0, translation_cm=(5, 0, 60)), frame_index=10 + k)
        stage.process(result)
        sender.send(result)
        msgs = messages_of(server.wait_for(k + 1, settle=0.0)[-1])
        head = next(m for m in msgs if m.address == "/VMC/Ext/Bone/Pos").params
        front = quat_to_matrix(head[4:8]) @ np.array([0.0, 0.0, 1.0])
        if yaw:
            assert front[0] < -0.45 and abs(front[1]) < 0.05
            # Moving 5 cm toward the image right (the subject's left) moves the avatar to its left (-x).
            assert head[1] == pytest.approx(-0.05, abs=0.005)
        else:
            assert front[1] > 0.3 and abs(front[0]) < 0.05
    sender.close()


def test_mirror_changes_the_streamed_pose_but_not_the_axes_drawn_on_the_image(model):
    """--mirror streams the mirrored head; the overlay is drawn on the camera image, so it must not flip."""
    from live.annotate import OverlayOptions, OverlayRenderer

    only_axes = OverlayOptions(points=False, roi=False, status=False, blendshapes=False, head_axes=True)
    images, yaws = [], []
    for mirror in (False, True):
        stage = RetargetStage(RetargetOptions(mirror=mirror))
        result = face_result(project(model.points, yaw=25.0, pitch=-10.0, roll=8.0))
        stage.process(result)
        yaws.append(result.head_pose.euler_deg[1])
        canvas = np.zeros((480, 640, 3), np.uint8)
        OverlayRenderer().draw(canvas, result, options=only_axes)
        images.append(canvas)
    assert yaws[0] == pytest.approx(-yaws[1], abs=1.0) and abs(yaws[0]) > 20
    assert images[0].any()
    differing = np.abs(images[0].astype(int) - images[1].astype(int)).max(axis=2) > 0
    assert differing.mean() < 0.0005     # the same arrows, up to anti-aliasing of a sub-pixel shift


def _shapes_after_calibration(stage, neutral2d, probe2d, frames=40):
    for k in range(frames):                                   # the automatic neutral calibration
        stage.process(face_result(neutral2d, frame_index=k))
    result = face_result(probe2d, frame_index=frames)
    for k in range(frames, frames + 10):                       # held long enough for any easing
        result = face_result(probe2d, frame_index=k)
        stage.process(result)
    return np.array([result.blendshapes[n] for n in ARKIT_NAMES])


def test_a_rolled_and_shifted_copy_of_a_face_gives_the_same_shapes(model):
    """A user whose face is not the mean head (eyes, brows and mouth a few mm off), calibrated frontal,
    then seen rolled 15° and 120 px aside with an unchanged expression: no shape moves by 0.05 or more."""
    rng = np.random.default_rng(0)
    user = np.array(model.points) + np.c_[rng.normal(0, 0.25, (100, 2)), np.zeros(100)]   # cm
    options = RetargetOptions(auto_calibrate_seconds=1.0)
    frontal = project(user)
    still = _shapes_after_calibration(RetargetStage(options, model), frontal, frontal)
    moved = project(user, roll=15.0, translation_cm=(11.0, 3.0, 60.0))
    turned = _shapes_after_calibration(RetargetStage(options, model), frontal, moved)
    assert np.abs(turned - still).max() < 0.05, {n: round(float(v), 3) for n, v in zip(ARKIT_NAMES, turned - still) if abs(v) >= 0.05}


def test_losing_the_face_eases_head_and_shapes_to_neutral_in_about_a_third_of_a_second(model):
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=1.0), model)
    frontal = project(np.array(model.points))
    for k in range(40):
        stage.process(face_result(frontal, frame_index=k))
    turned = face_result(project(open_jaw(np.array(model.points)), yaw=20.0), frame_index=40)
    stage.process(turned)
    angle0 = 2 * math.degrees(math.acos(min(1.0, turned.head_pose.rotation_from_neutral[3])))
    jaw0 = turned.blendshapes["jawOpen"]
    assert angle0 > 15 and jaw0 > 0.5
    angles, jaws = [], []
    for k in range(41, 71):                                     # one second without a face at 30 fps
        lost = face_result(None, frame_index=k)
        stage.process(lost)
        pose = lost.head_pose
        angles.append(0.0 if pose is None else 2 * math.degrees(math.acos(min(1.0, pose.rotation_from_neutral[3]))))
        jaws.append(lost.blendshapes["jawOpen"])
        assert pose is None or not pose.measured
    assert angles[0] > 0.5 * angle0 and jaws[0] > 0.5 * jaw0          # no snap on the first lost frame
    assert all(b <= a + 1e-9 for a, b in zip(angles, angles[1:]))     # straight back, no overshoot
    assert angles[8] < 0.1 * angle0 and jaws[8] < 0.1 * jaw0          # 0.3 s later: nearly neutral
    assert angles[-1] == 0.0 and jaws[-1] == 0.0                      # and then exactly neutral
