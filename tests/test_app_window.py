"""The desktop window, driven offscreen on the generated demo clip (model: mediapipe).

Settings live in a temporary .ini file (never the user's), OSC goes to loopback only.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import cv2  # noqa: E402  (after the Qt platform is set)
import numpy as np  # noqa: E402
from PyQt6.QtCore import QPoint, QSettings, Qt  # noqa: E402
from PyQt6.QtTest import QTest  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from app import application, sources  # noqa: E402
from app.application import prepare_qt_environment  # noqa: E402
from app.main_window import MainWindow  # noqa: E402
from app.settings import calibration_path  # noqa: E402
from live.worker import WorkerOptions  # noqa: E402
from tracking.demo_clip import DEFAULT_CLIP  # noqa: E402
from live.session import SessionConfig  # noqa: E402
from occface_core.types import Box  # noqa: E402
from retarget.synthetic import face_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FAST = WorkerOptions(realtime=False)



def test_the_demo_clip_is_committed():
    assert DEFAULT_CLIP.is_file(), "assets/demo.mp4 is part of the repository (python -m tracking.demo_clip)"


@pytest.fixture(scope="module")
def qapp():
    prepare_qt_environment()
    return QApplication.instance() or QApplication([])


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qapp, settings):
    windows = []

    def make(source=DEFAULT_CLIP, settings=settings, **kwargs):
        config_kwargs = {k: kwargs.pop(k) for k in list(kwargs)
                         if k in ("max_frames", "record", "export", "osc", "smoothing")}
        window = MainWindow(SessionConfig(source=source, model="mediapipe", **config_kwargs), settings,
                            worker_options=kwargs.pop("worker_options", FAST), cameras=kwargs.pop("cameras", []),
                            **kwargs)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
    qapp.processEvents()


def wait_until(qapp, condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        qapp.processEvents()
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def video_frames(path: Path) -> tuple[int, tuple[int, int]]:
    """Frames actually decodable from a video file, and its size."""
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"{path} does not open"
    count, size = 0, (0, 0)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        count += 1
        size = (frame.shape[1], frame.shape[0])
    cap.release()
    return count, size


def jsonl_frames(path: Path) -> list[int]:
    return [json.loads(line)["frame"] for line in path.read_text().splitlines() if line.strip()]


def test_frames_reach_the_view_and_the_status(qapp, make_window):
    window = make_window()
    wait_until(qapp, lambda: window.view_panel.view.frames_shown >= 15 and window._last_snapshot.run.frames_processed >= 15,
               what="frames in the view and the status")
    assert window.view_panel.view.last_frame_index is not None and window.view_panel.view.last_frame_index >= 0
    assert window.errors == []
    wait_until(qapp, lambda: "processed of 450" in window.status_panel.fields["frames"].text()
               and window._last_snapshot.fps > 0, what="status text")
    processed = int(window.status_panel.fields["frames"].text().split()[0])
    assert processed >= 15
    assert window.status_panel.fps.text().endswith("fps") and float(window.status_panel.fps.text().split()[0]) > 0
    assert "mediapipe" in window.status_panel.model.text()
    assert "landmarks" in window.status_panel.fields["stages"].text()
    assert "% of frames" in window.status_panel.fields["detector"].text()
    assert window.status_panel.dropped.text() == "dropped 0"
    # the slider follows the file
    assert window.view_panel.position_slider.isEnabled() and window.view_panel.position_slider.maximum() == 449

    # pause holds the frame count still; resume continues
    window.sources.pause_button.setChecked(True)
    wait_until(qapp, lambda: window._last_snapshot.state == "paused", what="paused")
    held = window.worker.latest()[0]
    t_end = time.monotonic() + 0.4
    while time.monotonic() < t_end:
        qapp.processEvents()
    assert window.worker.latest()[0] == held
    # a seek while paused shows the frame at the new position and stays paused
    window.view_panel.position_slider.setValue(200)
    window.view_panel.position_slider.sliderReleased.emit()
    wait_until(qapp, lambda: window.view_panel.view.last_frame_index == 200, what="the frame at the seek position")
    t_end = time.monotonic() + 0.3
    while time.monotonic() < t_end:
        qapp.processEvents()
    assert window.worker.latest()[0] == held + 1 and window._last_snapshot.state == "paused"
    window.sources.pause_button.setChecked(False)
    wait_until(qapp, lambda: window.worker.latest()[0] > held + 4, what="frames after resume")
    assert (window.view_panel.view.last_frame_index or 0) > 200

    # seeking with the position slider jumps in the file
    window.view_panel.position_slider.setValue(400)
    window.view_panel.position_slider.sliderReleased.emit()
    wait_until(qapp, lambda: (window.view_panel.view.last_frame_index or 0) >= 400, what="frames after the seek")


def test_a_click_on_the_position_slider_jumps_there(qapp, make_window):
    window = make_window(worker_options=WorkerOptions(realtime=False, start_paused=True))
    slider = window.view_panel.position_slider
    wait_until(qapp, lambda: slider.isEnabled() and slider.maximum() == 449, what="the slider")
    seeks, releases = [], []
    seek = window.worker.seek
    window.worker.seek = lambda index: (seeks.append(index), seek(index))
    slider.sliderReleased.connect(lambda: releases.append(slider.value()))
    QTest.mouseClick(slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(round(0.75 * slider.width()), slider.height() // 2))
    clicked = slider.value()
    assert abs(clicked - 0.75 * 449) <= 10, clicked   # not one page step (10 frames) from the start
    wait_until(qapp, lambda: window.view_panel.view.last_frame_index == clicked, what="the frame clicked on")
    assert releases == seeks == [clicked]   # one seek, through the drag's path (sliderReleased)


def test_unticking_roi_and_state_hides_the_state_text_too(qapp, make_window):
    window = make_window(autostart=False)
    for box in window.view_panel.overlay_boxes.values():
        box.setChecked(False)
    result = face_result(None)   # no face: only the ROI and the state text ("NO FACE ...") can be drawn
    result.image, result.roi = np.full((480, 640, 3), 90, np.uint8), Box(200, 120, 440, 360)
    plain = cv2.cvtColor(result.image, cv2.COLOR_BGR2BGRA)
    window.view_panel.overlay_boxes["roi"].setChecked(True)
    assert not np.array_equal(window.view_panel.annotated(result)[:60, :320], plain[:60, :320])   # the state text
    window.view_panel.overlay_boxes["roi"].setChecked(False)
    assert np.array_equal(window.view_panel.annotated(result), plain)
    options = window.view_panel.overlay_options()   # what the worker hands to recordings as well
    assert not options.roi and not options.status


def test_recording_on_and_off_gives_a_playable_file_with_the_right_frame_count(qapp, make_window, tmp_path):
    window = make_window()
    wait_until(qapp, lambda: window.view_panel.view.frames_shown >= 5, what="first frames")
    window.recording.folder.setText(str(tmp_path / "rec"))
    assert window.recording.action.shortcut().toString() == "Ctrl+R"
    window.recording.action.trigger()  # what the Ctrl+R shortcut does
    assert window.recording.button.isChecked()
    wait_until(qapp, lambda: window._last_snapshot.recording is not None, what="recording started")
    video, export = window._last_snapshot.recording.video, window._last_snapshot.recording.export
    assert video.parent == tmp_path / "rec" and video.suffix == ".mp4" and export.suffix == ".jsonl"
    wait_until(qapp, lambda: window._last_snapshot.recording is not None
               and window._last_snapshot.recording.frames >= 25, what="recorded frames")
    assert "REC" in window.recording.time_label.text()
    window.recording.button.setChecked(False)  # the button toggles recording off
    wait_until(qapp, lambda: getattr(window, "last_recording", None) is not None, what="recording stopped")
    info = window.last_recording
    frames, size = video_frames(video)
    exported = jsonl_frames(export)
    assert frames == info.video_frames == len(exported) >= 25
    assert size == (640, 480)
    assert exported == list(range(exported[0], exported[0] + len(exported)))  # no gaps, no repeats
    assert cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS) == pytest.approx(30.0)
    # tracking goes on after the recording stopped
    seq = window.worker.latest()[0]
    wait_until(qapp, lambda: window.worker.latest()[0] > seq + 3, what="frames after recording")
    assert window.errors == []


def test_closing_the_window_mid_recording_finalises_the_file(qapp, make_window, tmp_path):
    window = make_window()
    wait_until(qapp, lambda: window.view_panel.view.frames_shown >= 3, what="first frames")
    window.recording.export_format.setCurrentIndex(window.recording.export_format.findData("csv"))
    video, export = window.recording.start(tmp_path)
    wait_until(qapp, lambda: window._last_snapshot.recording is not None
               and window._last_snapshot.recording.frames >= 15, what="recorded frames")
    window.close()
    assert window.worker is None
    frames, size = video_frames(video)
    rows = export.read_text().splitlines()
    assert export.suffix == ".csv" and rows[0].startswith("frame,")
    assert frames == len(rows) - 1 >= 15
    assert size == (640, 480)


def test_a_camera_that_fails_shows_an_error_and_the_window_stays_usable(qapp, make_window, monkeypatch):
    window = make_window(source=97)
    wait_until(qapp, lambda: window.error_banner.isVisible(), what="the error banner")
    assert "camera 97" in window.error_banner.label.text()
    assert "could not be opened" in window.error_banner.label.text()
    texts = [window.sources.source_combo.itemText(i) for i in range(window.sources.source_combo.count())]
    assert "No camera found" in texts
    assert not window.recording.button.isEnabled()
    # the user opens the demo clip from the source list ("Open video file…") in the same window
    monkeypatch.setattr(sources.QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(DEFAULT_CLIP), "")))
    combo = window.sources.source_combo
    open_item = combo.findData("__open__")
    combo.setCurrentIndex(open_item)
    combo.activated.emit(open_item)
    assert not window.error_banner.isVisible()
    assert window.worker.config.source == DEFAULT_CLIP
    assert combo.currentData() == str(DEFAULT_CLIP)
    wait_until(qapp, lambda: window.view_panel.view.frames_shown >= 5, what="frames from the demo clip")
    assert window.recording.button.isEnabled()
    # Stop and Start (the buttons) run it again
    window.sources.stop_button.click()
    assert window.worker is None and not window.sources.stop_button.isEnabled()
    shown = window.view_panel.view.frames_shown
    window.sources.start_button.click()
    assert window.worker.config.source == DEFAULT_CLIP
    wait_until(qapp, lambda: window.view_panel.view.frames_shown >= shown + 3, what="frames after Start")


def test_a_missing_video_shows_an_error(qapp, make_window, tmp_path):
    window = make_window(source=tmp_path / "nope.mp4")
    wait_until(qapp, lambda: window.error_banner.isVisible(), what="the error banner")
    assert "video file not found" in window.error_banner.label.text()
    # an unusable recording folder is a message too, not a crash
    window.start(DEFAULT_CLIP)
    wait_until(qapp, lambda: window.view_panel.view.frames_shown >= 2, what="frames")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert window.recording.start(blocker / "sub") is None
    assert "recording folder" in window.error_banner.label.text()
    assert not window.recording.button.isChecked()


def test_settings_survive_a_restart(qapp, make_window, tmp_path):
    path = tmp_path / "restart.ini"
    first = make_window(settings=QSettings(str(path), QSettings.Format.IniFormat), autostart=False)
    first.view_panel.overlay_boxes["contours"].setChecked(False)
    first.view_panel.overlay_boxes["blendshapes"].setChecked(True)
    first.view_panel.realtime_box.setChecked(False)
    first.recording.folder.setText(str(tmp_path / "videos"))
    first.recording.export_format.setCurrentIndex(first.recording.export_format.findData("csv"))
    assert first.osc_panel.add_spec("raw://127.0.0.1:9123?rate=30")
    first.tabs.setCurrentIndex(2)
    first.resize(1100, 600)
    size = (first.width(), first.height())
    first.close()

    second = make_window(settings=QSettings(str(path), QSettings.Format.IniFormat), autostart=False)
    assert not second.view_panel.overlay_boxes["contours"].isChecked()
    assert second.view_panel.overlay_boxes["blendshapes"].isChecked()
    assert second.view_panel.overlay_boxes["points"].isChecked()
    assert not second.view_panel.realtime_box.isChecked()
    assert second.recording.folder.text() == str(tmp_path / "videos")
    assert second.recording.export_format.currentData() == "csv"
    assert second.osc_panel.specs() == ["raw://127.0.0.1:9123?rate=30"]
    assert second.tabs.currentIndex() == 2
    assert abs(second.width() - size[0]) <= 10 and abs(second.height() - size[1]) <= 10
    assert size[1] < 720  # the window can be smaller than a 1280×720 screen


def test_first_start_has_sensible_defaults(qapp, make_window):
    window = make_window(autostart=False)
    assert (window.width(), window.height()) == (1280, 720)
    assert window.view_panel.overlay_boxes["points"].isChecked() and window.view_panel.overlay_boxes["roi"].isChecked()
    assert window.view_panel.realtime_box.isChecked()
    assert window.recording.export_format.currentData() == "jsonl"
    assert window.recording.folder.text().endswith("OccFace")
    assert window.osc_panel.specs() == []
    assert not window.running and not window.sources.stop_button.isEnabled()


def test_osc_targets_are_added_and_removed_with_a_live_indicator(qapp, make_window):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.setblocking(False)
    port = receiver.getsockname()[1]
    received = []

    def drain():
        try:
            while True:
                received.append(receiver.recv(65536))
        except BlockingIOError:
            pass

    try:
        window = make_window()
        panel = window.osc_panel
        # a bad target is a message in the panel and the window, nothing is added
        assert not panel.add_spec("vmc://127.0.0.1:70000")
        assert "port" in panel.message.text() and "port" in window.error_banner.label.text()
        assert panel.specs() == []
        # a host name is looked up off the GUI thread; one that does not resolve is a message too
        assert panel.add_spec("vmc://no-such-host.invalid:39539") is None
        assert panel.message.text().startswith("looking up")
        wait_until(qapp, lambda: "does not resolve" in panel.message.text(), timeout=30, what="look-up result")
        assert panel.specs() == [] and "does not resolve" in window.error_banner.label.text()

        panel.protocol.setCurrentIndex(panel.protocol.findData("raw"))
        panel.host.setText("127.0.0.1")
        panel.port.setValue(port)
        panel.rate.setValue(120)
        panel.add_button.click()
        spec = f"raw://127.0.0.1:{port}?rate=120"
        assert panel.specs() == [spec]
        wait_until(qapp, lambda: (drain(), len(received) >= 10)[1], what="OSC datagrams on loopback")
        assert any(b"/occface/points" in packet for packet in received)
        status, sent = panel.COLUMNS.index("Status"), panel.COLUMNS.index("Sent")
        wait_until(qapp, lambda: panel.table.item(0, status).text() == "sending"
                   and int(panel.table.item(0, sent).text()) > 0, what="the live indicator")

        panel.table.selectRow(0)
        panel.remove_button.click()
        assert panel.specs() == [] and panel.table.rowCount() == 0
        seq = window.worker.latest()[0]
        wait_until(qapp, lambda: window.worker.latest()[0] > seq + 5, what="frames after removal")
        drain()
        received.clear()
        seq = window.worker.latest()[0]
        wait_until(qapp, lambda: window.worker.latest()[0] > seq + 5, what="more frames")
        drain()
        assert received == []
    finally:
        receiver.close()


def test_command_line_targets_join_the_list_and_a_bad_one_is_a_message(qapp, make_window):
    window = make_window(autostart=False, osc_specs=["vmc://127.0.0.1:70000", "raw://127.0.0.1:9123?rate=30"])
    assert window.osc_panel.specs() == ["raw://127.0.0.1:9123?rate=30"]
    assert "port must be a number" in window.error_banner.label.text()


def test_vmc_targets_can_send_perfect_sync_or_vrm_names(qapp):
    from app.osc_panel import OscTargetsPanel
    panel = OscTargetsPanel()
    panel.protocol.setCurrentIndex(panel.protocol.findData("vmc"))
    panel.port.setValue(39540)
    panel.names.setCurrentIndex(panel.names.findData("vrm"))
    panel.add_button.click()
    panel.names.setCurrentIndex(panel.names.findData("arkit"))
    panel.port.setValue(39539)
    panel.add_button.click()
    assert panel.specs() == ["vmc://127.0.0.1:39540?rate=60&names=vrm", "vmc://127.0.0.1:39539?rate=60"]
    panel.protocol.setCurrentIndex(panel.protocol.findData("vrchat"))
    assert not panel.names.isEnabled()   # only VMC has blendshape name sets


def test_the_smoothing_strength_reaches_the_running_pipeline_and_is_saved(qapp, make_window, settings, tmp_path):
    window = make_window()
    wait_until(qapp, lambda: window.running and window._last_snapshot.run.frames_processed >= 2, what="running")
    pipeline = window.worker.session.pipeline
    window.view_panel.smoothing.setValue(2.0)
    wait_until(qapp, lambda: pipeline.smoother.options.measurement_std == pytest.approx(0.04), what="stronger")
    window.view_panel.smoothing.setValue(0.0)
    wait_until(qapp, lambda: not pipeline.options.smoothing, what="smoothing off")
    window.close()
    assert settings.value("tracking/smoothing", type=float) == 0.0
    # --no-smoothing on the command line shows as 0 in the window (and runs so)
    fresh = QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat)
    assert make_window(settings=fresh, autostart=False).view_panel.smoothing.value() == 1.0
    assert make_window(settings=fresh, smoothing=False, autostart=False).view_panel.smoothing.value() == 0.0


def test_calibrate_neutral_button(qapp, make_window, tmp_path):
    window = make_window()
    wait_until(qapp, lambda: window.view_panel.view.frames_shown >= 3 and window.calibration.calibrate_button.isEnabled(),
               what="running")
    saved = calibration_path(window.settings)
    assert saved.parent == tmp_path  # next to the test's settings, never in the user's folders
    window.calibration.calibrate_button.click()
    assert window.calibration.label.text().startswith("calibrating")
    wait_until(qapp, lambda: window.calibration.label.text() == "calibrated" and saved.is_file(),
               what="calibrated and saved")
    wait_until(qapp, lambda: "°" in window.calibration.pose_readout.labels["yaw"].text(), what="head pose readout")
    assert len(window.calibration.meters.values()) == 52
    # then the range: six seconds of the clip's face, saved with the neutral
    window.calibration.range_button.click()
    assert window.calibration.label.text().startswith("range")
    wait_until(qapp, lambda: window.calibration.label.text() == "calibrated" and "ranges" in json.loads(saved.read_text()),
               what="range calibrated and saved")
    assert all(0.3 <= v <= 1.0 for v in json.loads(saved.read_text())["ranges"].values())
    window.close()
    # the next run starts calibrated from the saved neutral face
    again = make_window()
    wait_until(qapp, lambda: again.running and again._last_snapshot.run.frames_processed >= 1, what="second run")
    assert again.calibration.label.text() == "calibrated"


def test_max_frames_closes_the_window_cleanly_and_records(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OCCFACE_SETTINGS=str(tmp_path / "s.ini"))
    video, export = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    proc = subprocess.run([sys.executable, "main.py", "--demo", "--model", "mediapipe", "--max-frames", "12",
                           "--record", str(video), "--export", str(export)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert video_frames(video)[0] == 12
    assert jsonl_frames(export) == list(range(12))
    assert (tmp_path / "s.ini").is_file()  # the test's settings, not the user's


def test_a_scripted_run_with_a_bad_source_ends_with_an_error(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OCCFACE_SETTINGS=str(tmp_path / "s.ini"))
    proc = subprocess.run([sys.executable, "main.py", "--camera", "97", "--model", "mediapipe", "--max-frames", "5"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "camera 97 could not be opened" in proc.stderr and "Traceback" not in proc.stderr


def test_an_unexpected_exception_becomes_a_message_in_the_window(qapp, make_window, monkeypatch):
    window = make_window(autostart=False)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    application.install_error_hooks(lambda: window)
    try:
        raise ValueError("boom in a slot")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    assert window.error_banner.isVisible()
    assert "ValueError: boom in a slot" in window.error_banner.label.text()
    window.clear_error()
    assert not window.error_banner.isVisible()


def test_no_display_is_a_one_line_error_not_an_abort(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["OCCFACE_SETTINGS"] = str(tmp_path / "s.ini")
    proc = subprocess.run([sys.executable, "main.py", "--demo", "--model", "mediapipe"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    if sys.platform.startswith("linux"):
        assert proc.returncode == 2
        assert proc.stderr.strip().splitlines()[-1].startswith("error: no display found")


def test_a_file_played_like_a_camera_keeps_running_while_paused(qapp, settings):
    window = MainWindow(SessionConfig(source=DEFAULT_CLIP, model="mediapipe", realtime=True), settings,
                        worker_options=WorkerOptions(realtime=True), cameras=[])
    window.show()
    try:
        wait_until(qapp, lambda: window.view_panel.view.frames_shown >= 5 and window._last_snapshot.paced_like_live,
                   what="frames")
        wait_until(qapp, lambda: window.status_panel.fields["dropped"].text().endswith("by the source"), what="status")
        window.sources.pause_button.setChecked(True)
        wait_until(qapp, lambda: window._last_snapshot.state == "paused", what="paused")
        t_end = time.monotonic() + 0.6  # let the counters (published 4 times a second) catch up
        while time.monotonic() < t_end:
            qapp.processEvents()
        processed, read = window._last_snapshot.run.frames_processed, window._last_snapshot.run.frames_read
        # like a camera, the source keeps delivering while paused; nothing is processed or queued up
        wait_until(qapp, lambda: window._last_snapshot.run.frames_read >= read + 6, what="frames read while paused")
        assert window._last_snapshot.run.frames_processed == processed
        window.sources.pause_button.setChecked(False)
        wait_until(qapp, lambda: window._last_snapshot.run.frames_processed > processed + 3, what="frames after resume")
    finally:
        window.close()
