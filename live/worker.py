"""The window's pipeline worker: one plain Python thread that owns a tracking Session.

This module never imports Qt. The window talks to the worker through two narrow channels:

- commands (`start_recording`, `add_osc`, `seek`, `set_paused`, ...) are queued and run *on the worker
  thread* between two frames, so the pipeline's sink list and stages are only ever touched by one
  thread;
- the worker publishes the newest `FaceResult` into a one-slot mailbox (`latest()`) and a statistics
  `Snapshot` a few times a second (`snapshot()`); the window polls both from a timer. Nothing queues
  up: a slow view simply skips results, it never slows tracking down.

The loop itself is `Pipeline.run`, the same as headless; the worker plugs in through `RunCallbacks`
(commands and statistics between frames, pause, the frame shown after a seek, publishing). A file is
paced at its own frame rate by the capture thread (`paced=True`). The session's `Outputs` own the
recording and the OSC senders; the worker only forwards the window's commands to them.

Every failure (a source that does not open, an output that cannot be written, an OSC target that
cannot be created) becomes a typed event in `events()` with a one-line message for the window.
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Callable

from occface_core.errors import UserError
from retarget.osc import OscStats, OscTarget
from tracking.pipeline import RunCallbacks
from tracking.summary import RunSummary, StatsFailed
from tracking.types import FaceResult, Frame

from .annotate import OverlayOptions
from .events import Ended, Error, Event
from .outputs import RecordingInfo
from .session import Session, SessionConfig, build_session, smoother_settings

log = logging.getLogger(__name__)

STAGE_WINDOW = 90  # recent frames over which the live per-stage times and the latency are medians


@dataclass(frozen=True)
class WorkerOptions:
    realtime: bool = True           # pace video files at their own frame rate (cameras are live anyway)
    stats_interval_s: float = 0.25  # how often the statistics snapshot is refreshed
    start_paused: bool = False


class WorkerState(StrEnum):
    """What the worker is doing (a str, so the window's displays and comparisons read it directly)."""

    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    ENDED = "ended"
    FAILED = "failed"


@dataclass
class Snapshot:
    """Everything the status displays, gathered on the worker thread (so no pipeline object is read
    from two threads)."""

    state: WorkerState = WorkerState.STARTING
    source: str = ""
    live: bool = False
    paced_like_live: bool = False    # a camera, or a file played like one (drops frames it cannot take)
    model: str = ""
    width: int = 0
    height: int = 0
    source_fps: float = 0.0
    frame_count: int | None = None
    position: int = 0                # index of the newest processed frame
    run: RunSummary = field(default_factory=RunSummary)  # counts so far; stage medians of recent frames;
    #                                  wall_seconds from the first to the newest frame, so run.fps is the run's rate
    fps: float = 0.0                 # recent processing rate (the pipeline's own counter)
    latency_ms: float | None = None  # frame captured -> result published, median of recent frames
    recording: RecordingInfo | None = None
    osc: dict[OscTarget, OscStats | StatsFailed] = field(default_factory=dict)
    calibrated: bool = False
    neutral_id: int = 0              # changes whenever a new neutral face is set
    retarget: bool = False


SessionFactory = Callable[..., Session]   # build_session(config, on_event=..., overlay=...)


class PipelineWorker:
    """Builds a Session from `config` (its recording and OSC targets included) and runs it on its own
    thread until the source ends or stop()."""

    def __init__(self, config: SessionConfig, options: WorkerOptions | None = None,
                 overlay: OverlayOptions | None = None, session_factory: SessionFactory = build_session):
        self.options = options or WorkerOptions()
        self.config = dataclasses.replace(config, paced=self.options.realtime)
        self._overlay = overlay
        self._session_factory = session_factory
        self._commands: queue.Queue[Callable[[], None]] = queue.Queue()
        self._stop = threading.Event()
        self._paused = threading.Event()
        if self.options.start_paused:
            self._paused.set()
        self._lock = threading.Lock()
        self._latest: FaceResult | None = None
        self._latest_seq = 0
        self._snapshot = Snapshot(source=str(config.source))
        self._events: deque[Event] = deque(maxlen=200)
        self._thread = threading.Thread(target=self._main, name="pipeline-worker", daemon=True)
        self.session: Session | None = None
        self.summary: RunSummary | None = None
        # worker-thread state: capture -> published ms of recent frames (the status's latency)
        self._latencies: deque[float] = deque(maxlen=STAGE_WINDOW)
        self._first_frame_at: float | None = None
        self._last_frame_at: float | None = None
        self._show_one = False  # process one frame while paused (after a seek)
        self._next_stats = 0.0

    # --- called from the window (any thread) --------------------------------------------------------
    def start(self) -> "PipelineWorker":
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop tracking, finalise every output and release the source; safe to call more than once."""
        self._stop.set()
        self._paused.clear()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def running(self) -> bool:
        """Started and not yet ended or failed (paused counts as running)."""
        return self.alive and self.snapshot().state not in (WorkerState.FAILED, WorkerState.ENDED)

    def latest(self) -> tuple[int, FaceResult | None]:
        """(sequence number, newest result); the number grows by one per processed frame."""
        with self._lock:
            return self._latest_seq, self._latest

    def snapshot(self) -> Snapshot:
        with self._lock:
            return dataclasses.replace(self._snapshot, run=dataclasses.replace(self._snapshot.run),
                                       osc=dict(self._snapshot.osc))

    def events(self) -> list[Event]:
        """Events since the last call (errors, recording started/stopped, end of source)."""
        out = []
        while True:
            try:
                out.append(self._events.popleft())
            except IndexError:
                return out

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._paused.set()
        else:
            self._paused.clear()

    def seek(self, frame_index: int) -> None:
        self._command(lambda: self._do_seek(frame_index))

    def start_recording(self, video: Path | None, export: Path | None, overlay: OverlayOptions | None = None) -> None:
        self._command(lambda: self._outputs_do(lambda o: o.start_recording(video, export, overlay)))

    def stop_recording(self) -> None:
        self._command(lambda: self._outputs_do(lambda o: o.stop_recording()))

    def add_osc(self, target: OscTarget) -> None:
        self._command(lambda: self._outputs_do(lambda o: o.add_osc(target)))

    def remove_osc(self, target: OscTarget) -> None:
        self._command(lambda: self._outputs_do(lambda o: o.remove_osc(target)))

    def calibrate_neutral(self) -> None:
        self._command(lambda: self._calibrate("calibrate_neutral", "calibrating: hold a relaxed face toward the camera"))

    def calibrate_range(self) -> None:
        self._command(lambda: self._calibrate(
            "calibrate_range", "range: blink, smile, open your mouth, raise and lower your brows"))

    def set_overlay(self, overlay: OverlayOptions) -> None:
        """Overlay options for recordings started from now on."""
        self._overlay = overlay
        self._command(lambda: self._outputs_do(lambda o: setattr(o, "overlay", overlay)))

    def set_smoothing(self, strength: float) -> None:
        """The smoothing strength from the next frame on (0: off)."""
        self.config = dataclasses.replace(self.config, smoothing=strength > 0, smoothing_strength=strength)
        config = self.config
        self._command(lambda: self.session and self.session.pipeline.set_smoothing(*smoother_settings(config)))

    def _command(self, fn: Callable[[], None]) -> None:
        self._commands.put(fn)

    # --- worker thread ------------------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        if isinstance(event, Error):
            log.warning("%s", event.message)
        self._events.append(event)

    def _set_state(self, state: WorkerState) -> None:
        with self._lock:
            self._snapshot.state = state

    def _main(self) -> None:
        try:
            self.session = self._session_factory(self.config, on_event=self._emit, overlay=self._overlay)
        except UserError as exc:
            self._fail(str(exc))
            return
        except Exception as exc:  # an unexpected fault must reach the window, not kill it
            log.exception("could not start the session")
            self._fail(f"could not start: {type(exc).__name__}: {exc}")
            return
        session = self.session
        info = session.capture.info
        with self._lock:
            snap = self._snapshot
            snap.source, snap.live, snap.width, snap.height = info.description, info.live, info.width, info.height
            snap.source_fps, snap.frame_count = info.fps, info.frame_count
            snap.paced_like_live = session.capture.realtime
            snap.model = session.pipeline.model_name
            snap.retarget = session.retarget_stage is not None
        self._publish_stats(session)
        summary: RunSummary | None = None
        try:
            session.capture.start()
            self._set_state(WorkerState.PAUSED if self._paused.is_set() else WorkerState.RUNNING)
            self._next_stats = 0.0
            summary = session.pipeline.run(session.capture, self._stop, callbacks=RunCallbacks(
                between_frames=self._between_frames, paused=self._holding, before_process=self._before_process,
                on_result=self._publish))
        except Exception as exc:
            log.exception("tracking stopped")
            self._emit(Error(f"tracking stopped: {type(exc).__name__}: {exc}"))
        finally:
            self._finish(session, summary)

    def _fail(self, message: str) -> None:
        self._set_state(WorkerState.FAILED)
        self._emit(Error(message))

    # --- the pipeline's callbacks (worker thread) -------------------------------------------------------
    def _between_frames(self) -> None:
        self._run_commands()
        now = time.perf_counter()
        if now >= self._next_stats and self.session is not None:
            self._publish_stats(self.session)
            self._next_stats = now + self.options.stats_interval_s

    def _holding(self) -> bool:
        """Paused, unless a seek asked to show the frame at the new position once."""
        if self._paused.is_set() and not self._show_one:
            self._set_state(WorkerState.PAUSED)
            return True
        return False

    def _before_process(self, frame: Frame) -> None:
        if self._show_one:  # a seek while paused: show the frame at the new position, then hold
            self._show_one = False
        elif self._snapshot.state is not WorkerState.RUNNING:
            self._set_state(WorkerState.RUNNING)

    def _publish(self, result: FaceResult) -> None:
        published = time.perf_counter()
        self._latencies.append((published - result.captured_at) * 1000.0)
        if self._first_frame_at is None:
            self._first_frame_at = published
        self._last_frame_at = published
        with self._lock:
            self._latest = result
            self._latest_seq += 1
            self._snapshot.position = result.frame_index

    def _run_commands(self) -> None:
        while True:
            try:
                fn = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                fn()
            except Exception as exc:
                log.exception("command failed")
                self._emit(Error(f"{type(exc).__name__}: {exc}"))

    def _publish_stats(self, session: Session) -> None:
        run = session.pipeline.summary(session.capture, recent=STAGE_WINDOW)
        if self._first_frame_at is not None and self._last_frame_at is not None:
            run.wall_seconds = self._last_frame_at - self._first_frame_at
        with self._lock:
            latest = self._latest
        stalled = self._last_frame_at is None or time.perf_counter() - self._last_frame_at > 1.0
        fps = 0.0 if stalled or latest is None else float(latest.fps or 0.0)  # paused, stalled or ended: 0
        latency = statistics.median(self._latencies) if self._latencies else None
        calibrated = bool(getattr(session.retarget_stage, "calibrated", False))
        neutral = getattr(session.retarget_stage, "neutral", None)
        outputs = session.outputs.stats()
        with self._lock:
            s = self._snapshot
            s.run, s.fps, s.latency_ms = run, fps, latency
            s.recording, s.osc, s.calibrated = outputs.recording, outputs.osc, calibrated
            s.neutral_id = id(neutral) if neutral is not None else 0

    # --- commands (worker thread) --------------------------------------------------------------------
    def _outputs_do(self, action: Callable) -> None:
        """Run `action(outputs)` and refresh the statistics, so the window sees the change at once."""
        if self.session is not None:
            action(self.session.outputs)
            self._publish_stats(self.session)

    def _do_seek(self, frame_index: int) -> None:
        session = self.session
        if session is None or session.capture.info.live:
            return
        count = session.capture.info.frame_count
        if count:
            frame_index = min(max(0, frame_index), count - 1)
        session.capture.seek(frame_index)  # restarts the capture's playback clock too
        self._show_one = self._paused.is_set()

    def _calibrate(self, method: str, message: str) -> None:
        stage = self.session.retarget_stage if self.session is not None else None
        if stage is None:
            self._emit(Error("calibration needs head pose and blendshapes (retargeting is off)"))
            return
        getattr(stage, method)()
        self._emit(Event(message))

    def _finish(self, session: Session, summary: RunSummary | None) -> None:
        """Finalise every output (recording first, so the file is complete) and release the source.
        `summary` is Pipeline.run's, or None when tracking stopped on an exception."""
        self._run_commands()
        session.outputs.stop_recording()
        self._publish_stats(session)
        if summary is None:
            try:
                summary = session.pipeline.summary(session.capture)
            except Exception:
                log.exception("summary failed")
                summary = RunSummary(source=session.capture.info.description, model=self._snapshot.model)
            summary.interrupted = self._stop.is_set()
        try:
            session.close()
        except Exception as exc:
            self._emit(Error(f"closing the session failed: {exc}"))
        self.summary = summary
        if summary.source_error:
            self._emit(Error(summary.source_error))
        if summary.source_warning:   # a truncated file: the window says it as the CLI does
            self._emit(Event(f"warning: {summary.source_warning}"))
        self._set_state(WorkerState.ENDED)
        self._emit(Ended("stopped" if self._stop.is_set() else "end of source",
                         frames=self._frames_reached(session, summary), processed=summary.frames_processed,
                         stopped=self._stop.is_set()))

    def _frames_reached(self, session: Session, summary: RunSummary) -> int:
        """The frames the run went through, as "end of source: N frames" reports them: in a file, up to the
        last position reached (at its end, the file's length), since after a seek back frames_processed
        counts the replayed frames again; from a camera, the frames processed."""
        with self._lock:
            latest = self._latest
        if session.capture.info.live or latest is None:
            return summary.frames_processed
        return latest.frame_index + 1
