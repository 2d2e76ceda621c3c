"""The GUI's pipeline worker: one plain Python thread that owns a tracking Session.

This module never imports Qt. The window talks to the worker through two narrow channels:

- commands (`start_recording`, `add_osc`, `seek`, `set_paused`, ...) are queued and run *on the worker
  thread* between two frames, so the pipeline's sink list and stages are only ever touched by one
  thread;
- the worker publishes the newest `FaceResult` into a one-slot mailbox (`latest()`) and a statistics
  `Snapshot` a few times a second (`snapshot()`); the window polls both from a timer. Nothing queues
  up: a slow view simply skips results, it never slows tracking down.

The loop itself is `Pipeline.run`, the same as headless; the worker plugs in through `RunCallbacks`
(commands and statistics between frames, pause, the frame shown after a seek, publishing). A file is
paced at its own frame rate by the capture thread (`paced=True`).

Every failure (a source that does not open, an output that cannot be written, an OSC target that
cannot be created) becomes an entry in `events()` with a one-line message for the window.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import queue
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Callable

from occface_core.errors import UserError
from retarget.osc import OscSender, OscStats, create_sender
from tracking.pipeline import RunCallbacks, RunSummary, SinkStats, StatsFailed
from tracking.types import FaceResult, Frame

from .annotate import OverlayOptions
from .recording import FrameExporter, VideoRecorder
from .session import Session, SessionConfig, build_session

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


class EventKind(StrEnum):
    ERROR = "error"
    INFO = "info"
    RECORDING_STARTED = "recording-started"
    RECORDING_STOPPED = "recording-stopped"
    ENDED = "ended"


@dataclass
class RecordingInfo:
    video: Path | None
    export: Path | None
    started_at: float               # time.perf_counter()
    frames: int = 0

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started_at


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
    osc: dict[str, OscStats | StatsFailed] = field(default_factory=dict)   # by target spec
    calibrated: bool = False
    neutral_id: int = 0              # changes whenever a new neutral face is set
    retarget: bool = False


@dataclass(frozen=True)
class Event:
    kind: EventKind
    message: str
    data: dict[str, Any] = field(default_factory=dict)


def recording_paths(folder: Path, export_format: str = "jsonl", now: _dt.datetime | None = None,
                    video_ext: str = "mp4") -> tuple[Path, Path]:
    """A fresh pair of file names in `folder`, e.g. occface-20260127-104500.mp4 / .jsonl."""
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(folder) / f"occface-{stamp}"
    n = 1
    video, export = base.with_suffix(f".{video_ext}"), base.with_suffix(f".{export_format}")
    while video.exists() or export.exists():
        n += 1
        video = Path(f"{base}-{n}.{video_ext}")
        export = Path(f"{base}-{n}.{export_format}")
    return video, export


class _ReportingSink:
    """Wraps a recording sink so that a write that fails (disk full, folder removed) becomes a
    message in the window the first time, instead of only a log line; tracking goes on."""

    def __init__(self, sink: Any, what: str, emit: Callable[..., None]):
        self.sink, self.what, self._emit = sink, what, emit
        self.errors = 0

    def send(self, result: FaceResult) -> None:
        try:
            self.sink.send(result)
        except Exception as exc:
            self.errors += 1
            if self.errors == 1:
                self._emit(EventKind.ERROR, f"recording the {self.what} failed: {exc} (tracking goes on)")
            raise  # counted by the pipeline as an output error too

    def close(self) -> None:
        self.sink.close()

    def stats(self) -> SinkStats:
        return dataclasses.replace(self.sink.stats(), send_errors=self.errors)

    @property
    def frames_written(self) -> int:
        return self.sink.frames_written


class PipelineWorker:
    """Builds a Session from `config` and runs it on its own thread until the source ends or stop()."""

    def __init__(self, config: SessionConfig, options: WorkerOptions | None = None,
                 osc_specs: list[str] | None = None, record: tuple[Path | None, Path | None] | None = None,
                 overlay: OverlayOptions | None = None,
                 session_factory: Callable[[SessionConfig], Session] = build_session):
        # Recording and OSC are managed here (so the window can switch them at run time); the session
        # gets a config without them.
        self.options = options or WorkerOptions()
        self.config = dataclasses.replace(config, record=None, export=None, osc=[], paced=self.options.realtime)
        self._initial_osc = list(osc_specs or [])
        self._initial_record = record
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
        # worker-thread state
        self._recorder: _ReportingSink | None = None
        self._exporter: _ReportingSink | None = None
        self._recording: RecordingInfo | None = None
        self._osc: dict[str, OscSender] = {}
        # capture -> published ms of recent frames (the status's latency)
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

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def seek(self, frame_index: int) -> None:
        self._command(lambda: self._do_seek(frame_index))

    def start_recording(self, video: Path | None, export: Path | None, overlay: OverlayOptions | None = None) -> None:
        self._command(lambda: self._do_start_recording(video, export, overlay))

    def stop_recording(self) -> None:
        self._command(self._do_stop_recording)

    def add_osc(self, spec: str) -> None:
        self._command(lambda: self._do_add_osc(spec))

    def remove_osc(self, spec: str) -> None:
        self._command(lambda: self._do_remove_osc(spec))

    def calibrate_neutral(self) -> None:
        self._command(self._do_calibrate)

    def calibrate_range(self) -> None:
        self._command(self._do_calibrate_range)

    def set_overlay(self, overlay: OverlayOptions) -> None:
        """Overlay options for recordings started from now on."""
        self._overlay = overlay

    def _command(self, fn: Callable[[], None]) -> None:
        self._commands.put(fn)

    # --- worker thread ------------------------------------------------------------------------------
    def _emit(self, kind: EventKind, message: str, **data: Any) -> None:
        kind = EventKind(kind)  # validated once, here
        if kind is EventKind.ERROR:
            log.warning("%s", message)
        self._events.append(Event(kind, message, data))

    def _set_state(self, state: WorkerState) -> None:
        with self._lock:
            self._snapshot.state = state

    def _main(self) -> None:
        try:
            self.session = self._session_factory(self.config)
        except UserError as exc:
            self._set_state(WorkerState.FAILED)
            self._emit(EventKind.ERROR, str(exc))
            return
        except Exception as exc:  # an unexpected fault must reach the window, not kill it
            log.exception("could not start the session")
            self._set_state(WorkerState.FAILED)
            self._emit(EventKind.ERROR, f"could not start: {type(exc).__name__}: {exc}")
            return
        session = self.session
        info = session.capture.info
        with self._lock:
            snap = self._snapshot
            snap.source, snap.live, snap.width, snap.height = info.description, info.live, info.width, info.height
            snap.source_fps, snap.frame_count = info.fps, info.frame_count
            snap.paced_like_live = session.capture.realtime
            snap.model = str(getattr(session.pipeline.backend, "name", "?"))
            snap.retarget = session.retarget_stage is not None
        for spec in self._initial_osc:
            self._do_add_osc(spec)
        if self._initial_record is not None and any(self._initial_record):
            self._do_start_recording(*self._initial_record, self._overlay)
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
            self._emit(EventKind.ERROR, f"tracking stopped: {type(exc).__name__}: {exc}")
        finally:
            self._finish(session, summary)

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
        if self._recording is not None:
            self._recording.frames += 1
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
                self._emit(EventKind.ERROR, f"{type(exc).__name__}: {exc}")

    def _publish_stats(self, session: Session) -> None:
        pipeline, capture = session.pipeline, session.capture
        osc: dict[str, OscStats | StatsFailed] = {}
        for spec, sender in self._osc.items():
            try:
                osc[spec] = sender.stats()
            except Exception as exc:
                osc[spec] = StatsFailed(sink=spec, stats_error=str(exc))
        run = RunSummary(source=capture.info.description, model=self._snapshot.model,
                         frames_read=capture.frames_read, frames_dropped=capture.frames_dropped)
        pipeline.fill_summary(run, recent=STAGE_WINDOW)
        if self._first_frame_at is not None and self._last_frame_at is not None:
            run.wall_seconds = self._last_frame_at - self._first_frame_at
        with self._lock:
            latest = self._latest
        stalled = self._last_frame_at is None or time.perf_counter() - self._last_frame_at > 1.0
        fps = 0.0 if stalled or latest is None else float(latest.fps or 0.0)  # paused, stalled or ended: 0
        latency = statistics.median(self._latencies) if self._latencies else None
        calibrated = bool(getattr(session.retarget_stage, "calibrated", False))
        neutral = getattr(session.retarget_stage, "neutral", None)
        neutral_id = id(neutral) if neutral is not None else 0
        recording = dataclasses.replace(self._recording) if self._recording is not None else None
        with self._lock:
            s = self._snapshot
            s.run, s.fps, s.latency_ms = run, fps, latency
            s.recording, s.osc, s.calibrated, s.neutral_id = recording, osc, calibrated, neutral_id

    # --- commands (worker thread) --------------------------------------------------------------------
    def _do_seek(self, frame_index: int) -> None:
        session = self.session
        if session is None or session.capture.info.live:
            return
        count = session.capture.info.frame_count
        if count:
            frame_index = min(max(0, frame_index), count - 1)
        session.capture.seek(frame_index)  # restarts the capture's playback clock too
        self._show_one = self._paused.is_set()

    def _do_start_recording(self, video: Path | None, export: Path | None, overlay: OverlayOptions | None) -> None:
        session = self.session
        if session is None:
            return
        if self._recording is not None:
            self._do_stop_recording()
        info = session.capture.info
        recorder = exporter = None
        try:
            for path in (video, export):
                if path is not None:
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
            if video is not None:
                recorder = VideoRecorder(Path(video), info.fps, (info.width, info.height), overlay or self._overlay)
            if export is not None:
                exporter = FrameExporter(Path(export), retarget=session.retarget_stage is not None)
        except (UserError, OSError) as exc:
            if recorder is not None:
                recorder.close()
            msg = str(exc) if isinstance(exc, UserError) else f"cannot record: {exc.strerror or exc}"
            self._emit(EventKind.ERROR, f"recording did not start: {msg}")
            return
        self._recorder = _ReportingSink(recorder, "video", self._emit) if recorder is not None else None
        self._exporter = _ReportingSink(exporter, "per-frame data", self._emit) if exporter is not None else None
        for sink in (self._recorder, self._exporter):
            if sink is not None:
                session.pipeline.add_sink(sink)
        self._recording = RecordingInfo(video=Path(video) if video else None,
                                        export=Path(export) if export else None, started_at=time.perf_counter())
        self._publish_stats(session)
        self._emit(EventKind.RECORDING_STARTED, f"recording to {video or export}", video=video, export=export)

    def _do_stop_recording(self) -> None:
        session = self.session
        if self._recording is None or session is None:
            return
        frames = {}
        for name, sink in (("video", self._recorder), ("export", self._exporter)):
            if sink is None:
                continue
            self._detach_sink(session, sink, f"the {name}")
            frames[name] = sink.frames_written
        rec = self._recording
        self._recorder = self._exporter = None
        self._recording = None
        self._publish_stats(session)
        written = frames.get("video", frames.get("export", 0))
        self._emit(EventKind.RECORDING_STOPPED, f"recorded {written} frames ({rec.elapsed_s:.1f} s) to {rec.video or rec.export}",
                   video=rec.video, export=rec.export, frames=written, **{f"{k}_frames": v for k, v in frames.items()})

    def _do_add_osc(self, spec: str) -> None:
        session = self.session
        if session is None or spec in self._osc:
            return
        try:
            sender = create_sender(spec)
        except UserError as exc:
            self._emit(EventKind.ERROR, str(exc), spec=spec, osc=True)
            return
        self._osc[spec] = sender
        session.pipeline.add_sink(sender)
        self._emit(EventKind.INFO, f"streaming to {spec}", spec=spec)

    def _do_remove_osc(self, spec: str) -> None:
        session = self.session
        sender = self._osc.pop(spec, None)
        if sender is None or session is None:
            return
        self._detach_sink(session, sender, spec)

    def _detach_sink(self, session, sink, what: str) -> None:
        """Take an output out of the pipeline and close it (on the worker thread, between frames)."""
        session.pipeline.remove_sink(sink)
        try:
            sink.close()
        except Exception as exc:
            self._emit(EventKind.ERROR, f"closing {what} failed: {exc}")

    def _retarget_stage(self):
        """The running session's retarget stage, or None after an error event saying why there is none."""
        session = self.session
        if session is None or session.retarget_stage is None:
            self._emit(EventKind.ERROR, "calibration needs head pose and blendshapes (retargeting is off)")
            return None
        return session.retarget_stage

    def _do_calibrate(self) -> None:
        stage = self._retarget_stage()
        if stage is not None:
            stage.calibrate_neutral()
            self._emit(EventKind.INFO, "calibrating: hold a relaxed face toward the camera")

    def _do_calibrate_range(self) -> None:
        stage = self._retarget_stage()
        if stage is not None:
            stage.calibrate_range()
            self._emit(EventKind.INFO, "range: blink, smile, open your mouth, raise and lower your brows")

    def _finish(self, session: Session, summary: RunSummary | None) -> None:
        """Finalise every output (recording first, so the file is complete) and release the source.
        `summary` is Pipeline.run's, or None when tracking stopped on an exception."""
        self._run_commands()
        self._do_stop_recording()
        self._publish_stats(session)
        self._osc.clear()  # closed with the other sinks by the session
        if summary is None:
            summary = RunSummary(source=session.capture.info.description, model=self._snapshot.model)
            summary.interrupted = self._stop.is_set()
            try:
                summary.frames_read = session.capture.frames_read
                summary.frames_dropped = session.capture.frames_dropped
                summary.source_error = session.capture.read_error
                summary.source_warning = session.capture.read_warning
                session.pipeline.fill_summary(summary)
            except Exception:
                log.exception("summary failed")
        try:
            session.close()
        except Exception as exc:
            self._emit(EventKind.ERROR, f"closing the session failed: {exc}")
        self.summary = summary
        if summary.source_error:
            self._emit(EventKind.ERROR, summary.source_error)
        if summary.source_warning:   # a truncated file: the window says it as the CLI does
            self._emit(EventKind.INFO, f"warning: {summary.source_warning}")
        self._set_state(WorkerState.ENDED)
        self._emit(EventKind.ENDED, "stopped" if self._stop.is_set() else "end of source",
                   frames=self._frames_reached(session, summary), processed=summary.frames_processed,
                   stopped=self._stop.is_set())

    def _frames_reached(self, session: Session, summary: RunSummary) -> int:
        """The frames the run went through, as "end of source: N frames" reports them: in a file, up to the
        last position reached (at its end, the file's length), since after a seek back frames_processed
        counts the replayed frames again; from a camera, the frames processed."""
        with self._lock:
            latest = self._latest
        if session.capture.info.live or latest is None:
            return summary.frames_processed
        return latest.frame_index + 1
