"""The headless pipeline: capture → tracker → smoother → stages (retargeting) → sinks (OSC, recording).

It never imports Qt; the GUI runs the same `Pipeline` on a worker thread. Stages enrich a FaceResult
(`process(result)`); sinks consume it (`send(result)`, `close()`, `stats()`). A sink that raises is
logged and counted but never stops tracking or the other sinks.
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from occface_core.backends import LandmarkBackend, RefiningBackend
from occface_core.detector import FaceDetector
from occface_core.types import Box, LandmarkPrediction

from .capture import CaptureThread
from .smoother import LandmarkKalmanSmoother, SmootherOptions
from .summary import RunSummary, SinkStats, StatsFailed
from .tracker import FaceTracker, TrackerOptions
from .types import FaceResult, Frame, Timing

log = logging.getLogger(__name__)

TIMING_WINDOW = 20_000  # frames of per-stage timings kept for the medians (about 5 minutes at 60 fps)


class Stage(Protocol):
    def process(self, result: FaceResult) -> None: ...


class Sink(Protocol):
    def send(self, result: FaceResult) -> None: ...

    def close(self) -> None: ...

    def stats(self) -> SinkStats: ...


@dataclass(frozen=True)
class PipelineOptions:
    tracker: TrackerOptions = TrackerOptions()
    smoother: SmootherOptions = SmootherOptions()
    smoothing: bool = True
    # run(): a frame's refinement (the eye stage), output smoothing, stages and sinks run on a second
    # thread while the next frame is tracked. The models release the GIL, so on two cores that work
    # costs the tracking thread almost nothing. Only when run() is given no between-frame hooks: those
    # may change the sinks and stages, which must then stay on one thread (the GUI's worker drives them).
    overlap_outputs: bool = True


@dataclass
class RunCallbacks:
    """Hooks for a caller that drives `Pipeline.run` interactively (the GUI worker); all run on the
    pipeline's thread, so whatever they change (sinks, stages, the capture's position) is never touched
    by two threads.

    between_frames: before each frame and once after the last (queued commands, statistics).
    paused: while it returns True no frame is processed; a live source is drained meanwhile so the
    newest frame is the one taken on resume.
    before_process: each frame just before processing (pacing a file at its own frame rate).
    on_result: each result."""

    between_frames: Callable[[], None] | None = None
    paused: Callable[[], bool] | None = None
    before_process: Callable[[Frame], None] | None = None
    on_result: Callable[[FaceResult], None] | None = None


class Pipeline:
    """Processes frames one by one; `run()` drives it from a CaptureThread until the end or a stop."""

    def __init__(self, backend: LandmarkBackend, detector: FaceDetector, options: PipelineOptions | None = None,
                 stages: list[Stage] | None = None, sinks: list[Sink] | None = None):
        self.options = options or PipelineOptions()
        self.backend = backend
        self.detector = detector
        # A backend with a second step (OccFace's eye stage) is tracked on its first step alone: the
        # region follows that step's points through their own smoother, so the second step and the
        # output's smoothing can run beside the next frame (`overlap_outputs`). The region then moves
        # as it did before the eye stage existed; the outputs see the refined points.
        self.refiner = backend if isinstance(backend, RefiningBackend) and backend.refines else None
        self.tracker = FaceTracker(_Locating(backend) if self.refiner else backend, detector, self.options.tracker)
        self.smoother = LandmarkKalmanSmoother(self.options.smoother)   # the output's points
        self.region_smoother = LandmarkKalmanSmoother(self.options.smoother) if self.refiner else None
        self.stages: list[Stage] = list(stages or [])
        self.sinks: list[Sink] = list(sinks or [])
        self._sinks_closed = False
        # Per-stage timings of the most recent frames (bounded: a GUI session can run for hours).
        self._timings: dict[Timing, deque[float]] = {}
        self._recent = deque(maxlen=30)  # perf_counter of recent frames, for the FPS figure
        self.frames_processed = 0
        self.frames_with_face = 0
        self.sink_errors = 0

    # -- one frame -------------------------------------------------------------------------------
    def process(self, frame: Frame) -> FaceResult:
        """Track one frame and run its stages and sinks; returns the finished result."""
        return self._finish(self._track(frame))

    def _track(self, frame: Frame) -> _Tracked:
        """The tracker and the smoothing its next region follows: all the next frame depends on."""
        t0 = time.perf_counter()
        step = self.tracker.process(frame.image)
        h, w = frame.image.shape[:2]
        result = FaceResult(frame_index=frame.index, timestamp=frame.timestamp, captured_at=frame.captured_at,
                            frame_size=(w, h), has_face=step.prediction is not None, detected=step.detected,
                            roi=step.roi, timings_ms=dict(step.timings_ms), image=frame.image)
        region_smoother = self.region_smoother or self.smoother
        if step.prediction is None:
            region_smoother.reset()
        else:
            t1 = time.perf_counter()
            points = self._smooth(region_smoother, step.prediction, step.new_track, frame.timestamp)
            self.tracker.follow(points)
            if self.refiner is None:
                self._fill(result, step.prediction, points)
            result.timings_ms[Timing.REGION if self.refiner else Timing.SMOOTH] = (time.perf_counter() - t1) * 1000
        result.timings_ms[Timing.TOTAL] = (time.perf_counter() - t0) * 1000
        return _Tracked(result, step.prediction, step.new_track)

    def _finish(self, tracked: _Tracked) -> FaceResult:
        """The refinement and the output's smoothing (a refining backend only), then the stages
        (retargeting) and the sinks; `total` adds this time to the tracking's."""
        result, t0 = tracked.result, time.perf_counter()
        if self.refiner is not None:
            if tracked.prediction is None:
                self.smoother.reset()
            else:
                refined = self.refiner.refine(result.image, tracked.prediction)
                t1 = time.perf_counter()
                result.timings_ms[Timing.REFINE] = (t1 - t0) * 1000
                points = self._smooth(self.smoother, refined, tracked.new_track, result.timestamp)
                self._fill(result, refined, points)
                result.timings_ms[Timing.SMOOTH] = (time.perf_counter() - t1) * 1000
        for stage in self.stages:
            stage.process(result)
        result.timings_ms[Timing.TOTAL] += (time.perf_counter() - t0) * 1000

        now = time.perf_counter()
        self._recent.append(now)
        if len(self._recent) >= 2:
            result.fps = (len(self._recent) - 1) / max(self._recent[-1] - self._recent[0], 1e-6)
        self._deliver(result)
        self._record(result)
        return result

    def _smooth(self, smoother: LandmarkKalmanSmoother, prediction: LandmarkPrediction, new_track: bool,
                timestamp: float) -> np.ndarray:
        if new_track:
            smoother.reset()
        if not self.options.smoothing:
            return prediction.points
        return smoother.update(prediction.points, prediction.visibility, timestamp)

    @staticmethod
    def _fill(result: FaceResult, prediction: LandmarkPrediction, points: np.ndarray) -> None:
        result.raw_points, result.visibility, result.face_score = (prediction.points, prediction.visibility,
                                                                   prediction.face_score)
        result.points = points

    def set_smoothing(self, smoother: SmootherOptions, enabled: bool = True) -> None:
        """Change the smoothing between frames (the window's control): both smoothers take `smoother`."""
        switched = enabled != self.options.smoothing
        self.options = dataclasses.replace(self.options, smoother=smoother, smoothing=enabled)
        for filt in (self.smoother, self.region_smoother):
            if filt is not None:
                filt.options = smoother
                if switched:   # switched back on: start from the next measurement, not a stale state
                    filt.reset()

    # -- outputs ---------------------------------------------------------------------------------
    def add_sink(self, sink: Sink) -> None:
        """Attach an output; call from the thread that runs the pipeline (the GUI worker does, between frames)."""
        self.sinks.append(sink)

    def remove_sink(self, sink: Sink) -> bool:
        """Detach an output without closing it (its owner closes it); False when it was not attached."""
        if sink not in self.sinks:
            return False
        self.sinks.remove(sink)
        return True

    def _deliver(self, result: FaceResult) -> None:
        for sink in self.sinks:
            try:
                sink.send(result)
            except Exception as exc:  # a failing output must not stop tracking or the other outputs
                self.sink_errors += 1
                if self.sink_errors <= 5:
                    log.warning("output %s failed: %s", type(sink).__name__, exc)

    def _record(self, result: FaceResult) -> None:
        self.frames_processed += 1
        self.frames_with_face += int(result.has_face)
        for name, ms in result.timings_ms.items():
            self._timings.setdefault(name, deque(maxlen=TIMING_WINDOW)).append(ms)

    # -- a whole source --------------------------------------------------------------------------
    def run(self, capture: CaptureThread, stop: threading.Event | None = None,
            callbacks: RunCallbacks | None = None) -> RunSummary:
        """Process every frame the capture hands over until it ends or `stop` is set; close the sinks."""
        stop = stop or threading.Event()
        hooks = callbacks or RunCallbacks()
        start = time.perf_counter()
        interrupted = False
        interactive = hooks.between_frames is not None or hooks.paused is not None
        outputs = None if interactive or not self.options.overlap_outputs else _OutputThread(self._finish, hooks)
        try:
            self._loop(capture, stop, hooks, outputs)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if outputs is not None:
                outputs.close()   # every tracked frame reaches the sinks before they close
            wall_seconds = time.perf_counter() - start
            self.close_sinks()
        summary = self.summary(capture)
        summary.interrupted = interrupted or stop.is_set()
        summary.wall_seconds = wall_seconds
        if outputs is not None:
            outputs.raise_error()
        return summary

    def _loop(self, capture: CaptureThread, stop: threading.Event, hooks: RunCallbacks,
              outputs: _OutputThread | None = None) -> None:
        while not stop.is_set():
            if hooks.between_frames is not None:
                hooks.between_frames()
            if hooks.paused is not None and hooks.paused():
                self._idle(capture, stop)
                continue
            try:
                frame = capture.get(timeout=0.1)
            except queue.Empty:
                continue
            if frame is None:
                break
            if hooks.before_process is not None:
                hooks.before_process(frame)
                if stop.is_set():
                    break
            if outputs is not None:
                outputs.put(self._track(frame))
                continue
            result = self.process(frame)
            if hooks.on_result is not None:
                hooks.on_result(result)
        if hooks.between_frames is not None:
            hooks.between_frames()  # commands queued during the last frame still run

    @staticmethod
    def _idle(capture: CaptureThread, stop: threading.Event) -> None:
        """Paused: a live source (or a file played like one) keeps running and its newest frame is
        taken and dropped; a file simply waits where it is."""
        if capture.realtime:
            try:
                capture.get(timeout=0.05)
            except queue.Empty:
                pass
        else:
            stop.wait(0.03)

    @property
    def model_name(self) -> str:
        return str(getattr(self.backend, "name", "?"))

    def summary(self, capture: CaptureThread, recent: int | None = None) -> RunSummary:
        """The run's figures so far: the capture's counters and error, then the pipeline's (`fill_summary`).
        `run()` returns it at the end; the window's worker asks for it while running and after a fault."""
        summary = RunSummary(source=capture.info.description, model=self.model_name,
                             frames_read=capture.frames_read, frames_dropped=capture.frames_dropped,
                             frames_lost=capture.frames_lost,
                             source_error=capture.read_error, source_warning=capture.read_warning)
        return self.fill_summary(summary, recent)

    def fill_summary(self, summary: RunSummary, recent: int | None = None) -> RunSummary:
        """The pipeline's counters into `summary`; stage medians over the last `recent` frames (None: the
        whole TIMING_WINDOW; the window's live figures use a short one)."""
        summary.frames_processed = self.frames_processed
        summary.frames_with_face = self.frames_with_face
        summary.detector_calls = self.tracker.detector_calls
        summary.stage_median_ms = self.stage_medians(recent)
        summary.sinks = [_sink_stats(s) for s in self.sinks]
        summary.sink_errors = self.sink_errors + sum(s.errors for s in summary.sinks)
        return summary

    def stage_medians(self, recent: int | None = None) -> dict[Timing, float]:
        """Median ms per stage over the last `recent` (default TIMING_WINDOW) frames that ran the stage
        ('detect' only runs on some)."""
        medians = {name: statistics.median(list(values)[-recent:] if recent else values)
                   for name, values in self._timings.items() if values}
        if Timing.TOTAL in medians:   # the sum of the others reads best last
            medians[Timing.TOTAL] = medians.pop(Timing.TOTAL)
        return medians

    def close_sinks(self) -> None:
        """Close every sink once: run() closes them when it ends and Session.close() again on the way out."""
        if self._sinks_closed:
            return
        self._sinks_closed = True
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:
                log.warning("closing %s failed: %s", type(sink).__name__, exc)


@dataclass
class _Tracked:
    """A frame between tracking and finishing: its result so far and the tracker's prediction, which
    a refining backend's second step still has to refine."""

    result: FaceResult
    prediction: LandmarkPrediction | None
    new_track: bool


class _Locating:
    """A refining backend as the tracker sees it: `predict` is the first step alone."""

    def __init__(self, backend: RefiningBackend):
        self._backend = backend
        self.name = backend.name

    def predict(self, frame: np.ndarray, roi: Box) -> LandmarkPrediction:
        return self._backend.locate(frame, roi)

    def close(self) -> None:
        """The pipeline's owner closes the backend itself."""


class _OutputThread:
    """Finishes tracked results (stages, sinks, the on_result hook) on its own thread, in frame order.
    At most `depth` results wait, so a slow output slows the tracking instead of piling up frames:
    on a machine that cannot keep up, each waiting frame is a frame of latency.
    An exception there stops the run: it is raised on the tracking thread at the next frame."""

    def __init__(self, finish: Callable[[_Tracked], FaceResult], hooks: RunCallbacks, depth: int = 1):
        self._finish = finish
        self._on_result = hooks.on_result
        self._queue: queue.Queue[_Tracked | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pipeline-outputs", daemon=True)
        self._thread.start()

    def put(self, tracked: _Tracked) -> None:
        self.raise_error()
        self._queue.put(tracked)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while (tracked := self._queue.get()) is not None:
            if self._error is not None:
                continue   # drain: the tracking thread raises at its next frame
            try:
                finished = self._finish(tracked)
                if self._on_result is not None:
                    self._on_result(finished)
            except Exception as exc:
                self._error = exc


def _sink_stats(sink: Sink) -> SinkStats:
    try:
        return sink.stats()
    except Exception as exc:
        return StatsFailed(sink=type(sink).__name__, stats_error=str(exc))
