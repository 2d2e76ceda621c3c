"""OSC senders against a real python-osc server on loopback: what arrives is decoded and checked."""
from __future__ import annotations

import json
import math
import socket
import time

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from retarget.arkit import ARKIT_NAMES, PERFECT_SYNC_NAMES
from retarget.rotation import euler_to_matrix, matrix_to_quat
from tracking.types import HeadPose
from occface_core.errors import UserError
from retarget.osc import KEEPALIVE_S, OscTargetError, create_sender, parse_osc_target
from retarget.osc.encode import MAX_DATAGRAM
from tests.osc_receiver import RecordingReceiver, messages_of
from tracking.types import FaceResult
from retarget.vrm_expressions import VRM_NAMES


@pytest.fixture
def server():
    srv = RecordingReceiver()  # a real python-osc ThreadingOSCUDPServer on 127.0.0.1:0
    yield srv
    srv.stop()


class FakeClock:
    """Deterministic time for the rate tests (the senders take a clock)."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def make_result(frame_index=1, has_face=True, shapes=None, pose=None, calibrated=True) -> FaceResult:
    rng = np.random.default_rng(frame_index)
    result = FaceResult(frame_index=frame_index, timestamp=frame_index / 30.0, captured_at=time.perf_counter(),
                        frame_size=(640, 480), has_face=has_face, detected=False)
    if has_face:
        result.points = rng.uniform(100, 400, size=(100, 2))
        result.visibility = rng.uniform(0, 1, size=100)
        result.face_score = 0.93
    result.blendshapes = shapes if shapes is not None else {
        n: round(i / 51.0, 3) for i, n in enumerate(ARKIT_NAMES)}
    result.head_pose = pose
    result.calibrated = calibrated
    return result


def make_pose(pitch=10.0, yaw=-20.0, roll=5.0) -> HeadPose:
    q = matrix_to_quat(euler_to_matrix(pitch, yaw, roll))
    return HeadPose(quaternion=q, euler_deg=(pitch, yaw, roll), translation=(0.01, -0.02, 0.6),
                    rotation_from_neutral=q, translation_from_neutral=(0.01, -0.02, 0.05))


# --- target parsing -------------------------------------------------------------------------------

def test_parse_targets_defaults_and_options(tmp_path):
    t = parse_osc_target("vmc://127.0.0.1")
    assert (t.scheme, t.host, t.port, t.names) == ("vmc", "127.0.0.1", 39539, "arkit")
    t = parse_osc_target("vmc://localhost:39540?rate=30&names=perfect_sync")
    assert (t.port, t.rate_hz, t.names, t.address) == (39540, 30.0, "perfect_sync", "127.0.0.1")
    assert parse_osc_target("vmc://127.0.0.1?names=VRM").names == "vrm"
    assert parse_osc_target("vrchat://127.0.0.1").port == 9000
    assert parse_osc_target("raw://127.0.0.1").port == 9100
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"jawOpen": "JawOpen", "tongueOut": None, "headYaw": "HeadYaw"}))
    t = parse_osc_target(f"vrchat://127.0.0.1:9001?map={names}")
    assert t.name_map["jawOpen"] == "JawOpen" and "tongueOut" not in t.name_map
    assert t.name_map["headYaw"] == "HeadYaw" and t.name_map["eyeBlinkLeft"] == "eyeBlinkLeft"
    assert str(t) == "vrchat://127.0.0.1:9001"


@pytest.mark.parametrize("spec, words", [
    ("127.0.0.1:39539", "expected SCHEME://"),
    ("osc://127.0.0.1:9000", "unknown scheme"),
    ("vmc://127.0.0.1:0", "port"),
    ("vmc://127.0.0.1:65536", "port"),
    ("vmc://127.0.0.1:abc", "port"),
    ("vmc://:39539", "missing host"),
    ("vmc://no-such-host.invalid:39539", "does not resolve"),
    ("vmc://127.0.0.1?rate=0", "rate"),
    ("vmc://127.0.0.1?names=shouting", "names"),
    ("raw://127.0.0.1?map=x.json", "unknown option"),
    ("vrchat://127.0.0.1?map=/nonexistent/names.json", "not found"),
])
def test_parse_targets_rejects_bad_specs_with_one_line(spec, words):
    with pytest.raises(OscTargetError) as info:
        parse_osc_target(spec)
    message = str(info.value)
    assert words in message and "\n" not in message
    assert isinstance(info.value, UserError)  # mapped to "error: ..." and exit 2 by main.py


def test_bad_vrchat_map_content(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(OscTargetError, match="not valid JSON"):
        parse_osc_target(f"vrchat://127.0.0.1?map={bad}")
    bad.write_text(json.dumps({"notAShape": "X"}))
    with pytest.raises(OscTargetError, match="unknown key"):
        parse_osc_target(f"vrchat://127.0.0.1?map={bad}")
    bad.write_text(json.dumps({"jawOpen": "Jaw Open"}))
    with pytest.raises(OscTargetError, match="parameter name"):
        parse_osc_target(f"vrchat://127.0.0.1?map={bad}")
    good = tmp_path / "ft.json"
    good.write_text(json.dumps({"jawOpen": "FT/v2/JawOpen"}))  # nested names are allowed
    assert parse_osc_target(f"vrchat://127.0.0.1?map={good}").name_map["jawOpen"] == "FT/v2/JawOpen"


# --- VMC ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("names", ["arkit", "perfect_sync", "vrm"])
def test_vmc_frames_travel_in_bundles_of_at_most_1200_bytes_with_apply_after_every_value(server, names):
    sender = create_sender(f"vmc://127.0.0.1:{server.port}?names={names}")
    assert sender.send(make_result(shapes={n: 0.5 for n in ARKIT_NAMES}, pose=make_pose()))
    server.wait_for(1)
    sender.close()
    parts = list(server.raw_datagrams)
    assert all(OscBundle.dgram_is_bundle(d) and len(d) <= MAX_DATAGRAM for d in parts)
    addresses = [m.address for d in parts for m in messages_of(d)]
    assert addresses.index("/VMC/Ext/Blend/Apply") > max(i for i, a in enumerate(addresses) if a == "/VMC/Ext/Blend/Val")
    assert addresses[-1] == "/VMC/Ext/T" and len(parts) >= (2 if names != "vrm" else 1)


def test_vmc_bundle_contents_and_order(server):
    sender = create_sender(f"vmc://127.0.0.1:{server.port}")
    shapes = {n: round(i / 51.0, 3) for i, n in enumerate(ARKIT_NAMES)}
    pose = make_pose()
    assert sender.send(make_result(shapes=shapes, pose=pose))
    dgrams = server.wait_for(1)
    sender.close()
    assert len(dgrams) == 1 and OscBundle.dgram_is_bundle(dgrams[0])
    msgs = messages_of(dgrams[0])
    addresses = [m.address for m in msgs]
    assert addresses == (["/VMC/Ext/Blend/Val"] * 52 + ["/VMC/Ext/Blend/Apply", "/VMC/Ext/Bone/Pos",
                         "/VMC/Ext/Root/Pos", "/VMC/Ext/OK", "/VMC/Ext/T"])
    vals = [m.params for m in msgs[:52]]
    assert [v[0] for v in vals] == list(ARKIT_NAMES)
    assert np.allclose([v[1] for v in vals], [shapes[n] for n in ARKIT_NAMES], atol=1e-6)
    head = msgs[53].params
    assert head[0] == "Head" and len(head) == 8
    q = np.array(head[4:8])
    assert math.isclose(float(np.linalg.norm(q)), 1.0, abs_tol=1e-5)
    # Unity axes: camera (x right, y down, z away) -> (-x, -y, -z); quaternion components unchanged.
    assert np.allclose(head[1:4], [-0.01, 0.02, -0.05], atol=1e-6)
    assert np.allclose(q, pose.rotation_from_neutral, atol=1e-6)
    root = msgs[54].params
    assert root[0] == "root" and np.allclose(root[1:], [0, 0, 0, 0, 0, 0, 1])
    assert list(msgs[55].params) == [1, 3, 0, 1]
    assert math.isclose(msgs[56].params[0], 1 / 30.0, rel_tol=1e-5)
    # The python-osc dispatcher on the server side decoded the same 57 messages.
    deadline = time.monotonic() + 1.0
    while len(server.dispatched) < 57 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(server.dispatched) == 57
    stats = sender.stats()
    assert stats.sent == 1 and stats.send_errors == 0 and stats.median_latency_ms >= 0


def test_vmc_perfect_sync_names(server):
    sender = create_sender(f"vmc://127.0.0.1:{server.port}?names=perfect_sync")
    sender.send(make_result(pose=make_pose()))
    msgs = messages_of(server.wait_for(1)[0])
    sender.close()
    assert [m.params[0] for m in msgs[:52]] == list(PERFECT_SYNC_NAMES)
    assert PERFECT_SYNC_NAMES[0] == "EyeBlinkLeft" and PERFECT_SYNC_NAMES[-1] == "TongueOut"


def test_vmc_vrm_names_send_the_preset_expressions(server):
    shapes = {n: 0.0 for n in ARKIT_NAMES}
    shapes.update(eyeBlinkLeft=1.0, eyeBlinkRight=0.3, jawOpen=0.9)
    sender = create_sender(f"vmc://127.0.0.1:{server.port}?names=vrm")
    sender.send(make_result(shapes=shapes, pose=make_pose()))
    msgs = messages_of(server.wait_for(1)[0])
    sender.close()
    blend = [m for m in msgs if m.address == "/VMC/Ext/Blend/Val"]
    assert [m.params[0] for m in blend] == list(VRM_NAMES)
    sent = {m.params[0]: m.params[1] for m in blend}
    assert sent["Blink"] == pytest.approx(0.3) and sent["Blink_L"] == pytest.approx(0.7) and sent["Blink_R"] == 0
    assert sent["A"] > 0.8 and max(sent[v] for v in "IUEO") < 0.05
    assert msgs[len(blend)].address == "/VMC/Ext/Blend/Apply"


def test_vmc_no_face_sends_status_zero_and_does_not_spam_stale_frames(server):
    clock = FakeClock()
    sender = create_sender(f"vmc://127.0.0.1:{server.port}?rate=60", clock=clock)
    neutral = {n: 0.0 for n in ARKIT_NAMES}
    assert KEEPALIVE_S <= 0.2            # receivers such as VSeeFace drop a source after 0.5 s of silence
    for i in range(9):  # 0.15 s of identical no-face frames at 60 fps
        sender.send(make_result(frame_index=i, has_face=False, shapes=neutral))
        clock.t += 1 / 60
    dgrams = server.wait_for(1)
    assert len(dgrams) == 1, "identical stale frames must not be resent at full rate"
    msgs = messages_of(dgrams[0])
    ok = next(m for m in msgs if m.address == "/VMC/Ext/OK")
    assert ok.params[3] == 0
    head = next(m for m in msgs if m.address == "/VMC/Ext/Bone/Pos")
    assert np.allclose(head.params[4:], [0, 0, 0, 1])
    clock.t += KEEPALIVE_S  # ... but a keepalive still goes out every KEEPALIVE_S
    sender.send(make_result(frame_index=99, has_face=False, shapes=neutral))
    assert len(server.wait_for(2)) == 2
    # Shapes still easing toward neutral are new content and do go out.
    clock.t += 1 / 60
    sender.send(make_result(frame_index=100, has_face=False, shapes={**neutral, "jawOpen": 0.2}))
    assert len(server.wait_for(3)) == 3
    assert sender.stats().skipped_stale >= 8
    sender.close()


@pytest.mark.parametrize("scheme, rate, fps", [("vmc", 30, 120), ("vmc", 60, 60), ("vmc", 30, 30),
                                               ("raw", 20, 60), ("vrchat", 10, 90)])
def test_rate_limit(server, scheme, rate, fps):
    clock = FakeClock()
    sender = create_sender(f"{scheme}://127.0.0.1:{server.port}?rate={rate}", clock=clock)
    sent_frames = []
    jitter = np.random.default_rng(rate + fps).uniform(-0.003, 0.003, fps)
    for i in range(fps):  # one simulated second with up to 3 ms of frame jitter
        if sender.send(make_result(frame_index=i, pose=make_pose(),
                                   shapes={n: (i % 7) / 7 for n in ARKIT_NAMES})):
            sent_frames.append(i)
            if scheme != "vrchat":  # lockstep, so a loaded receiver never overflows its UDP buffer
                server.wait_for(len(sent_frames), settle=0.0)
        clock.t = 1000.0 + (i + 1) / fps + jitter[i]
    stats = sender.stats()
    assert stats.sent == len(sent_frames)
    assert rate - 1 <= stats.sent <= rate + 1
    if scheme != "vrchat":  # one bundle per frame; VRChat sends one message per changed parameter
        dgrams = server.wait_for(stats.sent)
        assert len(dgrams) == stats.sent
        frames = [int(m.params[0]) for d in dgrams for m in messages_of(d)
                  if m.address == "/occface/frame"]
        assert scheme != "raw" or frames == sent_frames
    sender.close()


# --- VRChat ---------------------------------------------------------------------------------------

def test_vrchat_sends_every_parameter_then_only_changes(server):
    clock = FakeClock()
    sender = create_sender(f"vrchat://127.0.0.1:{server.port}", clock=clock)
    shapes = {n: round(i / 51.0, 3) for i, n in enumerate(ARKIT_NAMES)}
    sender.send(make_result(frame_index=1, shapes=shapes, pose=make_pose()))
    dgrams = server.wait_for(52)
    assert len(dgrams) == 52
    msgs = [OscMessage(d) for d in dgrams]
    got = {m.address: m.params for m in msgs}
    assert set(got) == {f"/avatar/parameters/{n}" for n in ARKIT_NAMES}
    for n in ARKIT_NAMES:
        (value,) = got[f"/avatar/parameters/{n}"]
        assert math.isclose(value, shapes[n], abs_tol=1e-6) and 0.0 <= value <= 1.0
    clock.t += 0.1
    sender.send(make_result(frame_index=2, shapes={**shapes, "jawOpen": 0.75}, pose=make_pose()))
    dgrams = server.wait_for(53)
    assert len(dgrams) == 53
    last = OscMessage(dgrams[-1])
    assert last.address == "/avatar/parameters/jawOpen" and math.isclose(last.params[0], 0.75, abs_tol=1e-6)
    sender.close()


def test_vrchat_name_map_renames_drops_and_adds_head(server, tmp_path):
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"jawOpen": "JawOpen", "tongueOut": None, "headYaw": "HeadYaw"}))
    sender = create_sender(f"vrchat://127.0.0.1:{server.port}?map={names}")
    sender.send(make_result(pose=make_pose(yaw=-45.0)))
    dgrams = server.wait_for(52)
    sender.close()
    got = {OscMessage(d).address: OscMessage(d).params[0] for d in dgrams}
    assert "/avatar/parameters/JawOpen" in got and "/avatar/parameters/jawOpen" not in got
    assert "/avatar/parameters/tongueOut" not in got
    assert math.isclose(got["/avatar/parameters/HeadYaw"], -0.5, abs_tol=1e-4)
    assert len(got) == 52  # 52 - tongueOut + HeadYaw


# --- raw ------------------------------------------------------------------------------------------

def test_raw_stream_addresses_points_and_pose(server):
    sender = create_sender(f"raw://127.0.0.1:{server.port}")
    result = make_result(pose=make_pose())
    sender.send(result)
    (dgram,) = server.wait_for(1)
    sender.close()
    msgs = {m.address: m.params for m in messages_of(dgram)}
    assert list(msgs) == ["/occface/frame", "/occface/face", "/occface/points", "/occface/visibility",
                          "/occface/head/quat", "/occface/head/euler", "/occface/head/pos", "/occface/blend"]
    assert all(len(d) <= MAX_DATAGRAM for d in server.raw_datagrams) and len(server.raw_datagrams) >= 2
    assert list(msgs["/occface/frame"]) == [1, pytest.approx(1 / 30.0), 640, 480]
    assert msgs["/occface/face"][0] == 1 and math.isclose(msgs["/occface/face"][1], 0.93, abs_tol=1e-6)
    assert np.allclose(np.array(msgs["/occface/points"]).reshape(100, 2), result.points, atol=1e-3)
    assert np.allclose(msgs["/occface/visibility"], result.visibility, atol=1e-6)
    assert math.isclose(float(np.linalg.norm(msgs["/occface/head/quat"])), 1.0, abs_tol=1e-5)
    assert np.allclose(msgs["/occface/head/euler"], [10.0, -20.0, 5.0], atol=1e-4)
    assert len(msgs["/occface/blend"]) == 52


def test_raw_without_face_sends_status_only(server):
    sender = create_sender(f"raw://127.0.0.1:{server.port}")
    sender.send(make_result(has_face=False, shapes={n: 0.0 for n in ARKIT_NAMES}))
    (dgram,) = server.wait_for(1)
    sender.close()
    msgs = {m.address: m.params for m in messages_of(dgram)}
    assert list(msgs) == ["/occface/frame", "/occface/face", "/occface/blend"]
    assert msgs["/occface/face"][0] == 0


# --- faults ---------------------------------------------------------------------------------------

def test_absent_receiver_never_raises():
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there now
    sender = create_sender(f"vmc://127.0.0.1:{port}?rate=1000")
    for i in range(20):
        sender.send(make_result(frame_index=i, pose=make_pose()))
        time.sleep(0.002)
    stats = sender.stats()
    assert stats.sent + stats.send_errors >= 1
    sender.close()


def test_send_errors_are_counted_not_raised():
    # Broadcast without SO_BROADCAST fails locally on every send: a real OSError without a network.
    sender = create_sender("vmc://255.255.255.255:39539?rate=1000")
    clock = FakeClock()
    sender._clock = clock
    for i in range(5):
        sender.send(make_result(frame_index=i))
        clock.t += 0.01
    stats = sender.stats()
    assert stats.send_errors == 5 and stats.sent == 0
    assert stats.last_error
    sender.close()
    sender.send(make_result(frame_index=9))  # after close: silently nothing


def test_a_malformed_result_is_counted_not_raised(server):
    sender = create_sender(f"vmc://127.0.0.1:{server.port}")
    bad = make_result(pose=make_pose())
    bad.blendshapes = {"jawOpen": "not a number"}
    assert sender.send(bad) is False
    stats = sender.stats()
    assert stats.send_errors == 1 and "ValueError" in stats.last_error
    sender._next_due = -math.inf
    assert sender.send(make_result(frame_index=2, pose=make_pose())) is True
    sender.close()
