"""The pipeline's outputs: one that fails is counted and logged while tracking and the others go on;
outputs come and go through add_sink/remove_sink; the video recorder writes a playable annotated file."""
from __future__ import annotations

import dataclasses
import threading
import time

import cv2
import numpy as np
import pytest

from live.recording import VideoRecorder
from occface_core.types import Box
from tracking.pipeline import Pipeline, RunCallbacks, RunSummary, SinkStats
from tracking.types import FaceResult, Frame

from tests.helpers import FakeBackend, FakeDetector

FACE = Box(220, 140, 420, 340)


class ListSink:
    def __init__(self):
        self.results: list[FaceResult] = []
        self.closed = 0

    def send(self, result: FaceResult) -> None:
        self.results.append(result)

    def close(self) -> None:
        self.closed += 1

    def stats(self) -> SinkStats:
        return SinkStats()


class BrokenSink(ListSink):
    def send(self, result: FaceResult) -> None:
        raise OSError("disk full")


def frames(n: int, size=(640, 480)):
    for i in range(n):
        yield Frame(index=i, timestamp=i / 30.0, image=np.full((size[1], size[0], 3), 90, np.uint8),
                    captured_at=time.perf_counter())


def make_pipeline(*sinks) -> Pipeline:
    return Pipeline(FakeBackend(FACE), FakeDetector(FACE), sinks=list(sinks))


def test_a_failing_output_neither_stops_tracking_nor_the_other_outputs():
    broken, good = BrokenSink(), ListSink()
    pipeline = make_pipeline(broken, good)
    results = [pipeline.process(frame) for frame in frames(5)]
    assert all(r.has_face for r in results)
    assert len(good.results) == 5 and pipeline.sink_errors == 5
    summary = pipeline.fill_summary(RunSummary())
    assert summary.sink_errors == 5 and summary.frames_processed == 5


def test_outputs_are_added_and_removed_between_frames():
    first, later = ListSink(), ListSink()
    pipeline = make_pipeline(first)
    pipeline.process(next(frames(1)))
    pipeline.add_sink(later)
    pipeline.process(next(frames(1)))
    assert pipeline.remove_sink(first) and not pipeline.remove_sink(first)
    pipeline.process(next(frames(1)))
    assert (len(first.results), len(later.results)) == (2, 2)
    assert first.closed == 0  # removing hands it back to its owner, who closes it
    pipeline.close_sinks()
    pipeline.close_sinks()
    assert later.closed == 1


def test_the_video_recorder_writes_every_annotated_frame(tmp_path):
    path = tmp_path / "out.avi"
    recorder = VideoRecorder(path, 30.0, (640, 480))
    pipeline = make_pipeline(recorder)
    for frame in frames(6):
        pipeline.process(frame)
    pipeline.close_sinks()
    assert recorder.stats().to_dict() == {"video": str(path), "frames_written": 6}
    video = cv2.VideoCapture(str(path))
    ok, image = video.read()
    count = 1 if ok else 0
    while video.read()[0]:
        count += 1
    video.release()
    assert count == 6 and image.shape == (480, 640, 3)
    # the overlay was drawn: the plain grey frame now has coloured pixels (points, ROI)
    assert (np.abs(image.astype(int) - 90).max(axis=2) > 60).sum() > 50


def test_an_mp4_recording_is_h264_that_opencv_reads_back_frame_for_frame(tmp_path):
    import av   # pinned in requirements.txt: its wheel bundles FFmpeg with libx264

    path = tmp_path / "out.mp4"
    recorder = VideoRecorder(path, 29.97, (641, 481))   # odd sizes: yuv420p needs even ones
    assert recorder.codec == "h264"
    pipeline = make_pipeline(recorder)
    for frame in frames(5):
        pipeline.process(frame)
    pipeline.close_sinks()
    recorder.close()   # a second close (the window stops a recording the run already closed) is harmless
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (640, 480)
        assert abs(float(stream.average_rate) - 29.97) < 0.01
    video = cv2.VideoCapture(str(path))
    count = 0
    while video.read()[0]:
        count += 1
    video.release()
    assert count == 5


class ListCapture:
    """Stands in for a file CaptureThread: hands over the frames, then the end (None)."""

    realtime = False

    def __init__(self, n: int):
        self._frames = list(frames(n))
        self.info = type("Info", (), {"description": "list"})()
        self.frames_read, self.frames_dropped, self.frames_lost, self.read_error, self.read_warning = n, 0, 0, None, None

    def get(self, timeout=None):
        return self._frames.pop(0) if self._frames else None


def test_run_callbacks_pause_between_frames_and_see_every_result():
    pipeline, capture, stop = make_pipeline(), ListCapture(4), threading.Event()
    calls, seen, holds = [], [], iter([False, True, True, False])

    def paused() -> bool:  # held twice before the second frame
        return next(holds, False)

    summary = pipeline.run(capture, stop, callbacks=RunCallbacks(
        between_frames=lambda: calls.append(len(seen)), paused=paused,
        before_process=lambda frame: calls.append(f"frame {frame.index}"), on_result=seen.append))
    assert [r.frame_index for r in seen] == [0, 1, 2, 3] and summary.frames_processed == 4
    assert calls[:6] == [0, "frame 0", 1, 1, 1, "frame 1"]   # no frame was taken while paused
    assert calls[-1] == 4                                   # and once after the last frame


class RecordingThreadSink(ListSink):
    def __init__(self):
        super().__init__()
        self.threads: set[str] = set()

    def send(self, result: FaceResult) -> None:
        self.threads.add(threading.current_thread().name)
        super().send(result)


def test_a_headless_run_finishes_each_frame_on_a_second_thread_in_order_before_the_sinks_close():
    sink = RecordingThreadSink()
    pipeline, seen = make_pipeline(sink), []
    summary = pipeline.run(ListCapture(12), threading.Event(), callbacks=RunCallbacks(on_result=seen.append))
    assert [r.frame_index for r in sink.results] == list(range(12)) and sink.closed == 1
    assert [r.frame_index for r in seen] == list(range(12))
    assert sink.threads == {"pipeline-outputs"}
    assert summary.frames_processed == 12 and summary.frames_with_face == 12
    assert all(r.timings_ms["total"] >= r.timings_ms["landmarks"] for r in sink.results)


def test_between_frame_hooks_keep_the_sinks_on_the_pipeline_thread():
    sink = RecordingThreadSink()
    make_pipeline(sink).run(ListCapture(3), threading.Event(), callbacks=RunCallbacks(between_frames=lambda: None))
    assert sink.threads == {threading.current_thread().name} and len(sink.results) == 3


class FailingStage:
    def process(self, result: FaceResult) -> None:
        if result.frame_index == 2:
            raise ValueError("stage broke")


def test_a_stage_that_raises_on_the_output_thread_stops_the_run_with_its_error_and_the_sinks_still_close():
    sink = ListSink()
    pipeline = Pipeline(FakeBackend(FACE), FakeDetector(FACE), stages=[FailingStage()], sinks=[sink])
    with pytest.raises(ValueError, match="stage broke"):
        pipeline.run(ListCapture(50), threading.Event())
    assert sink.closed == 1 and [r.frame_index for r in sink.results] == [0, 1]


class RefiningFake(FakeBackend):
    """A two-step backend: `refine` moves point 40 (a lid) down 3 px and notes its thread."""

    refines = True

    def __init__(self, face_box):
        super().__init__(face_box)
        self.refine_threads: set[str] = set()

    def locate(self, frame, roi):
        return FakeBackend.predict(self, frame, roi)

    def refine(self, frame, prediction):
        self.refine_threads.add(threading.current_thread().name)
        points = prediction.points.copy()
        points[40, 1] += 3.0
        return dataclasses.replace(prediction, points=points)

    def predict(self, frame, roi):
        return self.refine(frame, self.locate(frame, roi))


def test_a_refining_backend_is_tracked_on_its_first_step_and_refined_beside_the_next_frame():
    sequential, overlapped = ListSink(), ListSink()
    backend = RefiningFake(FACE)
    pipeline = Pipeline(backend, FakeDetector(FACE), sinks=[sequential])
    for frame in frames(6):
        pipeline.process(frame)
    assert backend.refine_threads == {threading.current_thread().name}
    first_step = FakeBackend(FACE).predict(None, FACE).points
    for r in sequential.results:
        assert r.raw_points[40, 1] == pytest.approx(first_step[40, 1] + 3.0)   # outputs see the refined lid
        assert r.points[40, 1] == pytest.approx(first_step[40, 1] + 3.0)
    # the region follows the first step's points only: the same regions as a backend without a second step
    plain = Pipeline(FakeBackend(FACE), FakeDetector(FACE))
    plain_rois = [plain.process(frame).roi for frame in frames(6)]
    assert [r.roi for r in sequential.results] == plain_rois
    backend = RefiningFake(FACE)
    Pipeline(backend, FakeDetector(FACE), sinks=[overlapped]).run(ListCapture(6), threading.Event())
    assert backend.refine_threads == {"pipeline-outputs"}
    for a, b in zip(sequential.results, overlapped.results, strict=True):
        assert a.roi == b.roi and np.array_equal(a.points, b.points) and np.array_equal(a.raw_points, b.raw_points)
