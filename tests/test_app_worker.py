"""The GUI's pipeline worker without any window: it never imports Qt and finalises its outputs."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from live.events import Error
from live.session import SessionConfig, assemble_session
from live.recording import recording_paths
from live.worker import PipelineWorker, WorkerOptions
from occface_core.types import Box
from retarget.osc import OscTarget
from tests.helpers import FakeBackend, FakeDetector
from tracking.capture import CaptureThread
from tracking.demo_clip import DEFAULT_CLIP
from tracking.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]


def test_the_worker_and_the_pipeline_never_import_qt():
    code = ("import sys, live.worker, tracking.pipeline, live.session, live.outputs; "
            "print(sorted(m for m in sys.modules if m.startswith(('PyQt', 'PySide'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_recording_paths_are_fresh(tmp_path):
    video, export = recording_paths(tmp_path, "csv")
    assert video.suffix == ".mp4" and export.suffix == ".csv" and video.stem == export.stem
    video.write_text("")
    video2, export2 = recording_paths(tmp_path, "csv")
    assert video2 != video and not video2.exists() and not export2.exists()


def test_worker_runs_a_clip_with_recording_and_reports_errors(tmp_path):
    # a target whose socket cannot be made: an error event naming it, and tracking goes on
    unusable = OscTarget("vmc", "nowhere", 39539, 60.0, address="no-such-host.invalid")
    worker = PipelineWorker(SessionConfig(source=DEFAULT_CLIP, model="mediapipe", max_frames=20,
                                          record=tmp_path / "a.mp4", export=tmp_path / "a.jsonl", osc=[unusable]),
                            WorkerOptions(realtime=False))
    worker.start()
    worker.join(60)
    assert not worker.alive
    events = worker.events()
    kinds = [e.kind for e in events]
    assert kinds[-1] == "ended" and "recording-stopped" in kinds
    errors = [e for e in events if isinstance(e, Error)]
    assert len(errors) == 1 and errors[0].osc == unusable and "cannot open a UDP socket" in errors[0].message
    snap = worker.snapshot()
    assert snap.state == "ended" and snap.run.frames_processed == 20 and snap.model == "mediapipe"
    assert snap.recording is None
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert [json.loads(l)["frame"] for l in lines] == list(range(20))
    cap = cv2.VideoCapture(str(tmp_path / "a.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 20


def test_worker_reports_a_source_that_does_not_open():
    worker = PipelineWorker(SessionConfig(source=Path("/nonexistent/clip.mp4"), model="mediapipe"))
    worker.start()
    worker.join(30)
    assert worker.snapshot().state == "failed"
    errors = [e.message for e in worker.events() if e.kind == "error"]
    assert errors and "not found" in errors[0]


def test_realtime_playback_paces_a_file():
    worker = PipelineWorker(SessionConfig(source=DEFAULT_CLIP, model="mediapipe", max_frames=16,
                                          retarget=False), WorkerOptions(realtime=True))
    start = time.perf_counter()
    worker.start()
    worker.join(60)
    # 16 frames at 30 fps span 0.5 s of media time
    assert worker.snapshot().run.frames_processed == 16
    assert time.perf_counter() - start >= 0.5


def test_the_views_overlays_look_like_the_recordings():
    """The view draws with the recorder's renderer straight into a BGRA buffer: the same pixels."""
    import cv2
    import numpy as np

    from live.annotate import OverlayOptions, OverlayRenderer, annotate

    worker = PipelineWorker(SessionConfig(source=DEFAULT_CLIP, model="mediapipe", max_frames=30),
                            WorkerOptions(realtime=False)).start()
    worker.join(60)
    _, result = worker.latest()
    assert result is not None and result.has_face and result.head_pose is not None
    renderer = OverlayRenderer()
    for options in (OverlayOptions(contours=True, blendshapes=True), OverlayOptions(points=False, status=False),
                    OverlayOptions(roi=False, head_axes=False, contours=True)):
        expected = annotate(result.image, result, result.fps, options)
        for _ in range(2):  # the status label first rendered, then from the cache
            canvas = cv2.cvtColor(result.image, cv2.COLOR_BGR2BGRA)
            renderer.draw(canvas, result, result.fps, options)
            assert np.array_equal(canvas[..., :3], expected), options
    assert not np.array_equal(annotate(result.image, result, None, OverlayOptions()), result.image)


def test_a_recording_that_fails_while_running_is_reported_and_tracking_goes_on(tmp_path, monkeypatch):
    from live.recording import FrameExporter

    def failing_send(self, result):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(FrameExporter, "send", failing_send)
    worker = PipelineWorker(SessionConfig(source=DEFAULT_CLIP, model="mediapipe", max_frames=15,
                                          record=tmp_path / "v.mp4", export=tmp_path / "d.jsonl"),
                            WorkerOptions(realtime=False))
    worker.start()
    worker.join(60)
    errors = [e.message for e in worker.events() if e.kind == "error"]
    assert len(errors) == 1 and "per-frame data failed" in errors[0] and "No space left" in errors[0]
    assert worker.snapshot().run.frames_processed == 15  # tracking went on, and so did the video
    cap = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 15


def test_cameras_are_listed_from_sysfs_without_their_metadata_nodes(tmp_path):
    from tracking.cameras import _linux_cameras

    for node, index, name in (("video0", "0", "HD Webcam"), ("video1", "1", "HD Webcam"),
                              ("video2", "0", "USB Capture"), ("vbi0", "0", "x")):
        (tmp_path / node).mkdir()
        (tmp_path / node / "index").write_text(index + "\n")
        (tmp_path / node / "name").write_text(name + "\n")
    cameras = _linux_cameras(tmp_path)
    assert [(c.index, c.name) for c in cameras] == [(0, "HD Webcam"), (2, "USB Capture")]
    assert cameras[0].label == "Camera 0 — HD Webcam"
    assert _linux_cameras(tmp_path / "missing") == []


def test_end_of_source_gives_the_files_length_after_a_seek_back(tmp_path):
    """A seek back replays frames: "end of source: N frames" is still the file's length, not the number
    of frames processed."""
    clip = tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for i in range(30):
        writer.write(np.full((120, 160, 3), 4 * i, np.uint8))
    writer.release()
    face = Box(40, 30, 120, 100)
    worker: PipelineWorker

    class SeekBackOnce:
        """A stage that, at frame 20, seeks back to frame 5 as the position slider would."""

        def __init__(self):
            self.done = False

        def process(self, result) -> None:
            if result.frame_index == 20 and not self.done:
                self.done = True
                worker.seek(5)

    def fake_session(config: SessionConfig, **kwargs):
        pipeline = Pipeline(FakeBackend(face), FakeDetector(face), stages=[SeekBackOnce()])
        return assemble_session(config, CaptureThread(config.source, paced=config.paced), pipeline, **kwargs)

    worker = PipelineWorker(SessionConfig(source=clip, retarget=False), WorkerOptions(realtime=False),
                            session_factory=fake_session)
    worker.start()
    worker.join(30)
    ended = [e for e in worker.events() if e.kind == "ended"]
    assert worker.summary.frames_processed == 21 + 25   # frames 0-20, then 5-29
    assert ended[0].message == "end of source"
    assert ended[0].frames == 30 and ended[0].processed == 46


def test_a_truncated_file_ends_with_a_warning_in_the_window_too(tmp_path):
    full, truncated = tmp_path / "full.avi", tmp_path / "truncated.avi"
    writer = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for i in range(30):
        writer.write(np.full((120, 160, 3), 4 * i, np.uint8))
    writer.release()
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])   # the header still says 30 frames
    face = Box(40, 30, 120, 100)

    def fake_session(config: SessionConfig, **kwargs):
        pipeline = Pipeline(FakeBackend(face), FakeDetector(face))
        return assemble_session(config, CaptureThread(config.source, paced=config.paced), pipeline, **kwargs)

    worker = PipelineWorker(SessionConfig(source=truncated, retarget=False), WorkerOptions(realtime=False),
                            session_factory=fake_session)
    worker.start()
    worker.join(30)
    warnings = [e.message for e in worker.events() if e.kind == "info" and e.message.startswith("warning:")]
    assert len(warnings) == 1 and "of 30 frames: the file may be truncated or damaged" in warnings[0]
    assert worker.summary.source_warning == warnings[0].removeprefix("warning: ")
