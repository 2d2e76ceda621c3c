"""The OccFace Live desktop window (PyQt6) over the same session the headless mode runs.

The window composes its panels (sources and run control, recording, OSC, calibration, the view with its
overlays, status) and wires their signals to a `live.worker.PipelineWorker`, which runs the session on
its own thread and never imports Qt. A 15 ms timer polls the worker's newest result and draws it (the
view never queues frames); a 250 ms timer refreshes the status figures. Every error reaches the window
as a message in the red banner above the view (and the status bar); the window stays usable.

    python main.py --camera 0
    python main.py --video talk.mp4 --max-frames 300     # closes itself after 300 frames
"""
from __future__ import annotations

import dataclasses
import logging
import sys
import time
from pathlib import Path

from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PyQt6.QtWidgets import QMainWindow, QSplitter, QTabWidget, QVBoxLayout, QWidget

from live.events import Ended, Error, RecordingStarted, RecordingStopped
from live.session import SessionConfig
from live.worker import PipelineWorker, Snapshot, WorkerOptions, WorkerState
from retarget.osc import OscTarget
from tracking.cameras import CameraInfo

from .osc_panel import OscTargetsPanel
from .panels import CalibrationPanel, ErrorBanner, StatusPanel, ViewPanel
from .recording_panel import RecordingPanel
from .settings import APPLICATION, calibration_path, make_settings
from .sources import SourcePanel

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, config: SessionConfig, settings: QSettings | None = None,
                 worker_options: WorkerOptions | None = None, autostart: bool = True,
                 cameras: list[CameraInfo] | None = None, osc_specs: list[str] = ()):
        super().__init__()
        self.base_config = config
        self.settings = settings if settings is not None else make_settings()
        self._worker_options = worker_options
        self.worker: PipelineWorker | None = None
        self._max_frames_pending = config.max_frames  # only the first run obeys --max-frames
        self._run_max_frames: int | None = None
        self._cli_record = (config.record, config.export)   # only the first run records them
        self._last_snapshot = Snapshot()
        self._errors: list[str] = []
        self._closing = False
        self.last_recording: RecordingStopped | None = None
        self.exit_code = 0

        self.setWindowTitle(APPLICATION)
        self._build_ui(cameras)
        self._load_settings()
        for spec in osc_specs:  # targets from the command line join the list (a bad one: a message)
            self.osc_panel.add_spec(spec, notify=False, known_ok=True)
        for target in config.osc:
            self.osc_panel.add_target(target, notify=False, known_ok=True)
        self.view_panel.take_smoothing(config)
        self.sources.last_started = config.source
        self.sources.select(config.source)

        self.frame_timer = self._timer(15, self._on_frame_tick, Qt.TimerType.PreciseTimer)
        self.status_timer = self._timer(250, self._on_status_tick)
        self._update_controls()
        if autostart:
            QTimer.singleShot(0, self.start)

    def _timer(self, interval_ms: int, slot, kind: Qt.TimerType = Qt.TimerType.CoarseTimer) -> QTimer:
        timer = QTimer(self)
        timer.setTimerType(kind)
        timer.timeout.connect(slot)
        timer.start(interval_ms)
        return timer

    # --- layout and wiring ----------------------------------------------------------------------------------
    def _build_ui(self, cameras: list[CameraInfo] | None) -> None:
        self.sources = SourcePanel(self.style(), self.settings)
        self.recording = RecordingPanel(lambda: self.worker)
        self.view_panel = ViewPanel()
        self.calibration = CalibrationPanel(lambda: self.worker)
        self.osc_panel = OscTargetsPanel()
        self.status_panel = StatusPanel()
        self.error_banner = ErrorBanner()
        central = QWidget()
        root = QVBoxLayout(central)
        root.setContentsMargins(8, 6, 8, 4)
        root.setSpacing(6)
        toolbar = self.sources.layout()
        toolbar.addSpacing(12)
        toolbar.addWidget(self.recording.button)
        toolbar.addWidget(self.recording.time_label)
        toolbar.addStretch(1)
        root.addWidget(self.sources)
        root.addWidget(self.error_banner)
        self.tabs = QTabWidget()
        self.tabs.setMinimumWidth(340)
        for panel, title in ((self.calibration, "Expression"), (self.osc_panel, "Streaming"),
                             (self.recording, "Recording"), (self.status_panel, "Status")):
            self.tabs.addTab(panel, title)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.view_panel)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([760, 500])
        root.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        for label in self.status_panel.bar_labels:
            self.statusBar().addPermanentWidget(label)
        self.sources.fill(cameras)
        self._connect()

    def _connect(self) -> None:
        self.sources.start_requested.connect(lambda: self.start())   # not start(checked): no source argument
        self.sources.stop_requested.connect(self.stop)
        self.sources.pause_toggled.connect(self.set_paused)
        self.recording.changed.connect(self._update_controls)
        self.recording.error.connect(self.show_error)
        self.calibration.error.connect(self.show_error)
        self.addAction(self.recording.action)
        self.view_panel.seek_requested.connect(lambda index: self.worker and self.worker.seek(index))
        self.view_panel.overlays_changed.connect(self._overlay_changed)
        self.view_panel.smoothing_changed.connect(lambda s: self.worker and self.worker.set_smoothing(s))
        self.osc_panel.added.connect(lambda target: self._osc_changed(target, added=True))
        self.osc_panel.removed.connect(lambda target: self._osc_changed(target, added=False))
        self.osc_panel.error.connect(lambda msg: self.show_error(f"OSC: {msg}"))
        self.error_banner.dismissed.connect(self.clear_error)
        QShortcut(QKeySequence("Space"), self, activated=self.sources.pause_button.toggle)
        QShortcut(QKeySequence("Ctrl+O"), self, activated=self.sources.open_video)
        QShortcut(QKeySequence("Ctrl+Q"), self, activated=self.close)

    # --- run control ------------------------------------------------------------------------------------
    def worker_options(self) -> WorkerOptions:
        if self._worker_options is not None:
            return self._worker_options
        return WorkerOptions(realtime=self.view_panel.realtime_box.isChecked())

    def start(self, source: int | Path | None = None) -> None:
        """(Re)start tracking on the selected source; errors show in the window."""
        if source is not None:
            self.sources.select(source)
        source = self.sources.current()
        if source is None:
            self.show_error("Choose a camera or a video file first.")
            return
        self.stop()
        self.clear_error()
        max_frames, self._max_frames_pending = self._max_frames_pending, None
        self._run_max_frames = max_frames
        (record, export), self._cli_record = self._cli_record, (None, None)
        strength = self.view_panel.smoothing.value()
        config = dataclasses.replace(self.base_config, source=source, max_frames=max_frames, record=record,
                                     export=export, osc=self.osc_panel.targets(), smoothing=strength > 0,
                                     smoothing_strength=strength,
                                     calibration=self.base_config.calibration or calibration_path(self.settings))
        self.worker = PipelineWorker(config, self.worker_options(), overlay=self.view_panel.overlay_options())
        self.view_panel.new_run("Starting…")
        self.sources.reset_pause()
        self.sources.last_started = source
        self.worker.start()
        self.setWindowTitle(f"{APPLICATION} — {source.name if isinstance(source, Path) else f'camera {source}'}")
        if isinstance(source, Path):
            self.sources.remember(source)
        self.status_panel.log(f"started {source}")
        self._update_controls()

    def stop(self) -> None:
        """Stop tracking; a recording in progress is finalised first."""
        worker = self.worker
        if worker is None:
            return
        worker.stop()
        self._drain_events(worker)
        self._on_status_tick()
        self.worker = None
        self.recording.set_checked(False)
        self._update_controls()

    def set_paused(self, paused: bool) -> None:
        if self.worker is not None:
            self.worker.set_paused(paused)
        self._update_controls()

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.running

    def _update_controls(self) -> None:
        running = self.running
        self.sources.set_running(running)
        self.recording.set_enabled(running)
        self.calibration.set_enabled(running)

    # --- streaming, overlays ----------------------------------------------------------------------------
    def _osc_changed(self, target: OscTarget, added: bool) -> None:
        self.osc_panel.save_settings(self.settings)
        if self.worker is not None:
            (self.worker.add_osc if added else self.worker.remove_osc)(target)

    def _overlay_changed(self) -> None:
        if self.worker is not None:
            self.worker.set_overlay(self.view_panel.overlay_options())
            self.view_panel.redraw(self.worker.latest()[1])

    # --- timers ---------------------------------------------------------------------------------------------
    def _on_frame_tick(self) -> None:
        worker = self.worker
        if worker is None:
            return
        seq, result = worker.latest()
        try:
            if self.view_panel.show_latest(seq, result):
                self.calibration.show_result(result)
        except Exception as exc:  # a drawing fault must not freeze the window
            log.exception("drawing failed")
            self.show_error(f"drawing the frame failed: {exc}")
        self._drain_events(worker)

    def _drain_events(self, worker: PipelineWorker) -> None:
        current = worker is self.worker
        for event in worker.events():
            if isinstance(event, Error):
                self._on_error(worker, event, current)
            elif isinstance(event, RecordingStarted):
                self.recording.show_started(event)
                self.status_panel.log(event.message)
            elif isinstance(event, RecordingStopped):
                self.recording.show_stopped(event)
                self.last_recording = event
                self.status_panel.log(event.message)
                self.statusBar().showMessage(event.message, 8000)
            elif isinstance(event, Ended):
                self.status_panel.log(f"{event.message} after {event.frames} frames")
                if current:
                    self._on_run_ended(event)
            else:
                self.status_panel.log(event.message)

    def _on_error(self, worker: PipelineWorker, event: Error, current: bool) -> None:
        if event.osc is not None:
            self.osc_panel.show_message(event.message)
        self.show_error(event.message)
        self._update_controls()
        failed = current and worker.snapshot().state is WorkerState.FAILED
        if failed:
            self.view_panel.view.clear(f"Could not start: {event.message}\n\n"
                                       "Choose another camera or open a video file, then press Start.")
        if current and self._run_max_frames is not None and not self._closing:
            # A scripted run (--max-frames) must end, not wait for someone to read the message:
            # the error goes to stderr as well and the exit code says it failed.
            print(f"error: {event.message}", file=sys.stderr)
            self.exit_code = 1
            if failed:
                QTimer.singleShot(0, self.close)

    def _on_run_ended(self, event: Ended) -> None:
        self.recording.set_checked(False)
        self._on_status_tick()
        self._update_controls()
        if not event.stopped:
            self.statusBar().showMessage(f"{event.message}: {event.frames} frames", 8000)
        if self._run_max_frames is not None and not self._closing and not event.stopped:
            # scripted run (--max-frames): close cleanly once the frames are done
            QTimer.singleShot(0, self.close)

    def _on_status_tick(self) -> None:
        worker = self.worker
        if worker is None:
            self.status_panel.show_stopped()
            self.recording.show_progress(None)
            self._update_controls()
            return
        s = self._last_snapshot = worker.snapshot()
        self.status_panel.show_snapshot(s, self.view_panel.drawn_text())
        self.calibration.show_snapshot(s)
        self.view_panel.show_position(s)
        self.recording.show_progress(s.recording)
        self.osc_panel.update_stats(s.osc, time.perf_counter(), s.state in (WorkerState.RUNNING, WorkerState.PAUSED))
        if not worker.alive:
            self._update_controls()

    # --- messages -------------------------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        message = str(message).strip().splitlines()[0] if str(message).strip() else "unknown error"
        self._errors.append(message)
        self.error_banner.show_message(message)
        self.statusBar().showMessage(message, 10000)
        self.status_panel.log(f"error: {message}")

    def clear_error(self) -> None:
        self.error_banner.show_message("")

    @property
    def errors(self) -> list[str]:
        return list(self._errors)

    # --- settings and closing -------------------------------------------------------------------------------
    def _load_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 720)
        splitter = s.value("window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        for panel in (self.view_panel, self.recording, self.osc_panel):
            panel.load_settings(s)
        self.tabs.setCurrentIndex(s.value("window/tab", 0, type=int))
        self.sources.fill(self.sources.cameras)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/splitter", self.splitter.saveState())
        s.setValue("window/tab", self.tabs.currentIndex())
        for panel in (self.view_panel, self.recording, self.osc_panel):
            panel.save_settings(s)
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._closing = True
        self.frame_timer.stop()
        self.status_timer.stop()
        try:
            self.save_settings()
        except Exception as exc:
            log.warning("could not save settings: %s", exc)
        self.stop()  # finalises a recording in progress before the window goes
        event.accept()
