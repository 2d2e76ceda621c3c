"""The OccFace Live desktop window (PyQt6) over the same pipeline the headless mode runs.

The pipeline runs on a `PipelineWorker` thread (app/worker.py, no Qt). A 15 ms timer polls the worker's
newest result and draws it (the view never queues frames); a 250 ms timer refreshes the status figures.
Every error reaches the window as a message in the red banner above the view (and the status bar); the
window stays usable.

    python main.py --camera 0
    python main.py --video talk.mp4 --max-frames 300     # closes itself after 300 frames
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import threading
import time
import traceback
from pathlib import Path

import cv2
import numpy as np
from PyQt6.QtCore import QSettings, QStandardPaths, Qt, QTimer
from PyQt6.QtGui import QAction, QCloseEvent, QColor, QKeySequence, QPalette, QShortcut
from PyQt6.QtWidgets import QApplication, QFileDialog, QLabel, QMainWindow, QSplitter, QTabWidget, QVBoxLayout, QWidget

from app.annotate import OverlayOptions, OverlayRenderer
from app.session import SessionConfig

from .cameras import CameraInfo, list_cameras
from .panels import (ErrorBanner, ExpressionPanel, RecordingPanel, StatusPanel, TransportBar, ViewPanel,
                     default_record_folder)
from .widgets import OscTargetsPanel
from .worker import EventKind, PipelineWorker, Snapshot, WorkerOptions, WorkerState, recording_paths

log = logging.getLogger(__name__)

ORGANISATION = "OccFace"
APPLICATION = "OccFace Live"
SETTINGS_ENV = "OCCFACE_SETTINGS"  # path of an .ini file used instead of the user's settings (tests)

VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v);;All files (*)"


def make_settings(path: str | os.PathLike | None = None) -> QSettings:
    """The app's settings: an .ini file when `path` (or $OCCFACE_SETTINGS) is given, else the user's."""
    path = path or os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(ORGANISATION, APPLICATION)


def _fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class MainWindow(QMainWindow):
    MAX_VIEW_FPS = 30.0  # drawing rate cap; tracking runs as fast as it can regardless
    def __init__(self, config: SessionConfig, settings: QSettings | None = None,
                 worker_options: WorkerOptions | None = None, autostart: bool = True,
                 cameras: list[CameraInfo] | None = None):
        super().__init__()
        self.base_config = config
        self.settings = settings if settings is not None else make_settings()
        self._worker_options = worker_options
        self._overlays = OverlayRenderer()  # the recorder's drawing, straight into the view's buffer
        self.worker: PipelineWorker | None = None
        self._max_frames_pending = config.max_frames  # only the first run obeys --max-frames
        self._run_max_frames: int | None = None
        self._shown_seq = 0
        self._view_skipped = 0
        self._last_draw = 0.0
        self._last_panel_update = 0.0
        self._calibrating_from: int | None = None  # neutral_id when "Calibrate neutral" was pressed
        self._last_snapshot = Snapshot()
        self._errors: list[str] = []
        self._closing = False
        self._cli_record = (config.record, config.export) if (config.record or config.export) else None
        self.exit_code = 0

        self.setWindowTitle(APPLICATION)
        self._build_ui(cameras)
        self._load_settings()
        for spec in config.osc:  # targets from the command line join the list for this run
            if spec not in self.osc_panel.specs():
                self.osc_panel.add_spec(spec, notify=False)
        self._select_source(config.source)

        self.frame_timer = QTimer(self)
        self.frame_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.frame_timer.timeout.connect(self._on_frame_tick)
        self.frame_timer.start(15)
        self.status_timer = QTimer(self)
        self.status_timer.timeout.connect(self._on_status_tick)
        self.status_timer.start(250)
        self._update_controls()
        if autostart:
            QTimer.singleShot(0, self.start)

    # --- layout -----------------------------------------------------------------------------------------
    def _build_ui(self, cameras: list[CameraInfo] | None) -> None:
        central = QWidget()
        root = QVBoxLayout(central)
        root.setContentsMargins(8, 6, 8, 4)
        root.setSpacing(6)
        root.addWidget(self._build_transport())
        self.error_banner = ErrorBanner()
        self.error_banner.dismissed.connect(self.clear_error)
        self.error_label = self.error_banner.label
        root.addWidget(self.error_banner)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_view_panel())
        splitter.addWidget(self._build_tabs())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([760, 500])
        self.splitter = splitter
        root.addWidget(splitter, 1)
        self.setCentralWidget(central)
        self._build_status_bar()
        self._fill_sources(cameras)
        self._add_shortcuts()

    def _build_transport(self) -> TransportBar:
        bar = TransportBar(self.style())
        self.source_combo, self.refresh_button, self.open_button = bar.source_combo, bar.refresh_button, bar.open_button
        self.start_button, self.pause_button, self.stop_button = bar.start_button, bar.pause_button, bar.stop_button
        self.record_button, self.record_time = bar.record_button, bar.record_time
        self.source_combo.activated.connect(self._source_activated)
        self.refresh_button.clicked.connect(lambda: self._fill_sources(None, keep_selection=True))
        self.open_button.clicked.connect(self.open_video)
        self.start_button.clicked.connect(lambda: self.start())  # not start(checked): clicked passes a bool
        self.pause_button.toggled.connect(self.set_paused)
        self.stop_button.clicked.connect(self.stop)
        self.record_button.toggled.connect(self._record_toggled)
        return bar

    def _build_view_panel(self) -> ViewPanel:
        panel = self.view_panel = ViewPanel()
        self.view, self.position_slider, self.position_label = panel.view, panel.position_slider, panel.position_label
        self.overlay_boxes, self.realtime_box = panel.overlay_boxes, panel.realtime_box
        self.position_slider.sliderReleased.connect(self._slider_released)
        self.position_slider.actionTriggered.connect(self._slider_action)
        for box in self.overlay_boxes.values():
            box.toggled.connect(self._overlay_changed)
        return panel

    def _build_tabs(self) -> QTabWidget:
        self.tabs = QTabWidget()
        self.tabs.setMinimumWidth(340)
        expression = ExpressionPanel()
        self.pose_readout, self.meters = expression.pose_readout, expression.meters
        self.calibrate_button, self.calibration_label = expression.calibrate_button, expression.calibration_label
        self.calibrate_button.clicked.connect(self.calibrate_neutral)
        self.range_button = expression.range_button
        self.range_button.clicked.connect(self.calibrate_range)
        self.tabs.addTab(expression, "Expression")
        self.osc_panel = OscTargetsPanel()
        self.osc_panel.added.connect(self._osc_added)
        self.osc_panel.removed.connect(self._osc_removed)
        self.osc_panel.error.connect(lambda msg: self.show_error(f"OSC: {msg}"))
        self.tabs.addTab(self.osc_panel, "Streaming")
        recording = RecordingPanel()
        self.record_folder, self.export_format = recording.record_folder, recording.export_format
        self.record_button2, self.record_info = recording.record_button, recording.record_info
        recording.browse_button.clicked.connect(self._choose_record_folder)
        self.record_button2.clicked.connect(self.record_button.toggle)
        self.tabs.addTab(recording, "Recording")
        self.status_panel = StatusPanel()
        self.status_fields, self.message_log = self.status_panel.fields, self.status_panel.message_log
        self.tabs.addTab(self.status_panel, "Status")
        return self.tabs

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_fps = QLabel("— fps")
        self.status_latency = QLabel("")
        self.status_detector = QLabel("")
        self.status_dropped = QLabel("")
        self.status_model = QLabel("")
        self.status_state = QLabel("")
        for w in (self.status_state, self.status_fps, self.status_latency, self.status_detector,
                  self.status_dropped, self.status_model):
            w.setContentsMargins(6, 0, 6, 0)
            sb.addPermanentWidget(w)

    def _add_shortcuts(self) -> None:
        self.record_action = QAction("Record", self)
        self.record_action.setShortcut(QKeySequence("Ctrl+R"))
        self.record_action.triggered.connect(self.record_button.toggle)
        self.addAction(self.record_action)
        QShortcut(QKeySequence("Space"), self, activated=self.pause_button.toggle)
        QShortcut(QKeySequence("Ctrl+O"), self, activated=self.open_video)
        QShortcut(QKeySequence("Ctrl+Q"), self, activated=self.close)

    # --- sources ----------------------------------------------------------------------------------------
    def _fill_sources(self, cameras: list[CameraInfo] | None, keep_selection: bool = False) -> None:
        current = self.current_source() if keep_selection else None
        if cameras is None:
            try:
                cameras = list_cameras()
            except Exception as exc:  # enumeration must never stop the window
                log.warning("camera enumeration failed: %s", exc)
                cameras = []
        self.cameras = cameras
        combo = self.source_combo
        combo.blockSignals(True)
        combo.clear()
        for cam in cameras:
            combo.addItem(cam.label, cam.index)
        if not cameras:
            combo.addItem("No camera found", None)
            item = combo.model().item(combo.count() - 1)
            item.setEnabled(False)
            combo.setItemData(combo.count() - 1, "No camera was found; connect one and press ⟳, "
                              "or open a video file.", Qt.ItemDataRole.ToolTipRole)
        for path in self._recent_videos():
            combo.addItem(f"Video: {Path(path).name}", str(path))
            combo.setItemData(combo.count() - 1, str(path), Qt.ItemDataRole.ToolTipRole)
        combo.addItem("Open video file…", "__open__")
        combo.blockSignals(False)
        if current is not None:
            self._select_source(current)

    def _recent_videos(self) -> list[str]:
        try:
            recent = json.loads(self.settings.value("source/recent_videos", "[]") or "[]")
        except (TypeError, json.JSONDecodeError):
            recent = []
        return [p for p in recent if isinstance(p, str)][:6]

    def _remember_video(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self._recent_videos() if p != str(path)]
        self.settings.setValue("source/recent_videos", json.dumps(recent[:6]))

    def _select_source(self, source: int | str | Path) -> None:
        combo = self.source_combo
        if isinstance(source, int):
            for i in range(combo.count()):
                if combo.itemData(i) == source:
                    combo.setCurrentIndex(i)
                    return
            # a camera index that was not enumerated: offer it anyway so its error is shown on Start
            combo.insertItem(0, f"Camera {source}", source)
            combo.setCurrentIndex(0)
            return
        path = str(Path(source))
        for i in range(combo.count()):
            if combo.itemData(i) == path:
                combo.setCurrentIndex(i)
                return
        combo.insertItem(combo.count() - 1, f"Video: {Path(path).name}", path)
        combo.setItemData(combo.count() - 2, path, Qt.ItemDataRole.ToolTipRole)
        combo.setCurrentIndex(combo.count() - 2)

    def current_source(self) -> int | Path | None:
        data = self.source_combo.currentData()
        if data is None or data == "__open__":
            return None
        return data if isinstance(data, int) else Path(data)

    def _source_activated(self, index: int) -> None:
        if self.source_combo.itemData(index) == "__open__":
            self.open_video()

    def open_video(self) -> None:
        start_dir = self.settings.value("source/video_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open a video", start_dir, VIDEO_FILTER)
        if not path:
            self._select_source(self._last_started_source())
            return
        self.settings.setValue("source/video_dir", str(Path(path).parent))
        self._remember_video(Path(path))
        self._select_source(Path(path))
        self.start()

    def _last_started_source(self) -> int | Path:
        return self.worker.config.source if self.worker is not None else self.base_config.source

    # --- run control ------------------------------------------------------------------------------------
    def worker_options(self) -> WorkerOptions:
        if self._worker_options is not None:
            return self._worker_options
        return WorkerOptions(realtime=self.realtime_box.isChecked())

    def start(self, source: int | Path | None = None) -> None:
        """(Re)start tracking on the selected source; errors show in the window."""
        if source is not None:
            self._select_source(source)
        source = self.current_source()
        if source is None:
            self.show_error("Choose a camera or a video file first.")
            return
        self.stop()
        self.clear_error()
        max_frames, self._max_frames_pending = self._max_frames_pending, None
        self._run_max_frames = max_frames
        config = dataclasses.replace(self.base_config, source=source, max_frames=max_frames,
                                     calibration=self.base_config.calibration or self.calibration_path())
        options = self.worker_options()
        record, self._cli_record = self._cli_record, None
        self.worker = PipelineWorker(config, options, osc_specs=self.osc_panel.specs(), record=record,
                                     overlay=self.overlay_options())
        self._shown_seq = 0
        self._view_skipped = 0
        self.view.clear("Starting…")
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(False)
        self.pause_button.setText("Pause")
        self.pause_button.blockSignals(False)
        self.worker.start()
        self.setWindowTitle(f"{APPLICATION} — {source.name if isinstance(source, Path) else f'camera {source}'}")
        if isinstance(source, Path):
            self._remember_video(source)
        self._log(f"started {source}")
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
        self.record_button.blockSignals(True)
        self.record_button.setChecked(False)
        self.record_button.blockSignals(False)
        self._update_controls()

    def set_paused(self, paused: bool) -> None:
        if self.worker is not None:
            self.worker.set_paused(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self._update_controls()

    @property
    def running(self) -> bool:
        worker = self.worker
        return worker is not None and worker.alive and worker.snapshot().state not in (WorkerState.FAILED, WorkerState.ENDED)

    def _update_controls(self) -> None:
        running = self.running
        self.stop_button.setEnabled(running)
        self.pause_button.setEnabled(running)
        self.record_button.setEnabled(running)
        self.record_button2.setEnabled(running)
        self.calibrate_button.setEnabled(running)
        self.range_button.setEnabled(running)
        recording = self.record_button.isChecked()
        self.record_button2.setText("■ Stop recording (Ctrl+R)" if recording else "● Start recording (Ctrl+R)")
        self.record_button.setText("■ Stop recording" if recording else "● Record")
        self.record_button.setStyleSheet("color: #ff5a4f; font-weight: bold;" if recording else "")

    # --- recording ----------------------------------------------------------------------------------------
    def _choose_record_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Recording folder", self.record_folder.text())
        if folder:
            self.record_folder.setText(folder)
            self.settings.setValue("record/folder", folder)

    def _record_toggled(self, on: bool) -> None:
        if on:
            self.start_recording()
        else:
            self.stop_recording()
        self._update_controls()

    def start_recording(self, folder: str | Path | None = None) -> tuple[Path, Path] | None:
        """Record the annotated video and the per-frame data into `folder` (default: the chosen one)."""
        if not self.running:
            self.show_error("Start a source before recording.")
            self._set_record_checked(False)
            return None
        folder = Path(folder or self.record_folder.text().strip() or default_record_folder()).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.show_error(f"cannot create the recording folder {folder}: {exc.strerror or exc}")
            self._set_record_checked(False)
            return None
        video, export = recording_paths(folder, self.export_format.currentData())
        self.worker.start_recording(video, export, self.overlay_options())
        self._set_record_checked(True)
        self.record_info.setText(f"Recording to\n{video}\n{export}")
        return video, export

    def stop_recording(self) -> None:
        if self.worker is not None:
            self.worker.stop_recording()
        self._set_record_checked(False)

    def _set_record_checked(self, on: bool) -> None:
        self.record_button.blockSignals(True)
        self.record_button.setChecked(on)
        self.record_button.blockSignals(False)
        self._update_controls()

    # --- streaming, calibration, overlays --------------------------------------------------------------
    def _osc_added(self, spec: str) -> None:
        self._save_osc()
        if self.worker is not None:
            self.worker.add_osc(spec)

    def _osc_removed(self, spec: str) -> None:
        self._save_osc()
        if self.worker is not None:
            self.worker.remove_osc(spec)

    def _save_osc(self) -> None:
        self.settings.setValue("osc/targets", self.osc_panel.to_json())

    def calibrate_neutral(self) -> None:
        if self.worker is None:
            self.show_error("Start a source before calibrating.")
            return
        self.worker.calibrate_neutral()
        self._calibrating_from = self.worker.snapshot().neutral_id
        self.calibration_label.setText("calibrating: hold a relaxed face…")

    def calibrate_range(self) -> None:
        if self.worker is None or not self.worker.snapshot().calibrated:
            self.show_error("Calibrate the neutral face before the range.")
            return
        self.worker.calibrate_range()
        self._calibrating_from = self.worker.snapshot().neutral_id
        self.calibration_label.setText("range: blink, smile, open your mouth, move your brows… (6 s)")

    def calibration_path(self) -> Path:
        """The user's neutral face, next to the settings: loaded at start when it exists, written by
        "Calibrate neutral" (and by the automatic calibration of a first run)."""
        folder = Path(self.settings.fileName()).parent
        if sys.platform == "win32" and self.settings.format() != QSettings.Format.IniFormat:
            # native settings live in the registry there, not in a folder
            folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation))
        return folder / "neutral_face.json"

    def overlay_options(self) -> OverlayOptions:
        return self.view_panel.overlay_options()

    def _overlay_changed(self) -> None:
        if self.worker is not None:
            self.worker.set_overlay(self.overlay_options())
        self._redraw_last()

    def _redraw_last(self) -> None:
        if self.worker is None:
            return
        _, result = self.worker.latest()
        if result is not None and result.image is not None:
            self.view.set_frame(self._annotated(result), result.frame_index)

    def _annotated(self, result) -> np.ndarray:
        """The frame as 32-bit BGRA (what the view shows without a conversion) with the overlays drawn."""
        canvas = cv2.cvtColor(result.image, cv2.COLOR_BGR2BGRA)
        self._overlays.draw(canvas, result, result.fps, self.overlay_options())
        return canvas

    # --- position slider --------------------------------------------------------------------------------
    def _slider_released(self) -> None:
        if self.worker is not None:
            self.worker.seek(self.position_slider.value())

    def _slider_action(self, action: int) -> None:
        if self.position_slider.isSliderDown() or self.worker is None:
            return
        # page/step clicks and keys: seek to where the slider is going
        QTimer.singleShot(0, lambda: self.worker and self.worker.seek(self.position_slider.value()))

    # --- timers ---------------------------------------------------------------------------------------------
    def _on_frame_tick(self) -> None:
        worker = self.worker
        if worker is None:
            return
        seq, result = worker.latest()
        now = time.perf_counter()
        # The view shows the newest result at most MAX_VIEW_FPS times a second; a result it skips is
        # simply replaced by a newer one (nothing queues up, tracking never waits for drawing).
        due = now - self._last_draw >= 0.9 / self.MAX_VIEW_FPS
        if seq != self._shown_seq and result is not None and due:
            self._view_skipped += max(0, seq - self._shown_seq - 1)
            self._shown_seq = seq
            self._last_draw = now
            try:
                if result.image is not None:
                    self.view.set_frame(self._annotated(result), result.frame_index)
                if now - self._last_panel_update >= 0.2:  # meters and readout: 5 updates a second
                    self._last_panel_update = now
                    self.meters.set_values(result.blendshapes)
                    self.pose_readout.set_pose(result.head_pose)
            except Exception as exc:  # a drawing fault must not freeze the window
                log.exception("drawing failed")
                self.show_error(f"drawing the frame failed: {exc}")
        self._drain_events(worker)

    def _drain_events(self, worker: PipelineWorker) -> None:
        for event in worker.events():
            if event.kind is EventKind.ERROR:
                if event.data.get("osc"):
                    self.osc_panel.message.setText(event.message)
                self.show_error(event.message)
                self._update_controls()
                if worker is self.worker and worker.snapshot().state is WorkerState.FAILED:
                    self.view.clear(f"Could not start: {event.message}\n\n"
                                    "Choose another camera or open a video file, then press Start.")
                if worker is self.worker and self._run_max_frames is not None and not self._closing:
                    # A scripted run (--max-frames) must end, not wait for someone to read the message:
                    # the error goes to stderr as well and the exit code says it failed.
                    print(f"error: {event.message}", file=sys.stderr)
                    self.exit_code = 1
                    if worker.snapshot().state is WorkerState.FAILED:
                        QTimer.singleShot(0, self.close)
            elif event.kind is EventKind.RECORDING_STARTED:
                self._set_record_checked(True)
                self.record_info.setText(f"Recording to\n{event.data.get('video')}\n{event.data.get('export')}")
                self._log(event.message)
            elif event.kind is EventKind.RECORDING_STOPPED:
                self._set_record_checked(False)
                self.record_info.setText(f"Last recording: {event.message}.\n"
                                         f"{event.data.get('video')}\n{event.data.get('export')}")
                self.last_recording = event.data
                self._log(event.message)
                self.statusBar().showMessage(event.message, 8000)
            elif event.kind is EventKind.ENDED:
                self._log(f"{event.message} after {event.data.get('frames', 0)} frames")
                if worker is self.worker:
                    self._on_run_ended(event)
            else:
                self._log(event.message)

    def _on_run_ended(self, event) -> None:
        self._set_record_checked(False)
        self._on_status_tick()
        self._update_controls()
        if not event.data.get("stopped"):
            self.statusBar().showMessage(f"{event.message}: {event.data.get('frames', 0)} frames", 8000)
        if self._run_max_frames is not None and not self._closing and not event.data.get("stopped"):
            # scripted run (--max-frames): close cleanly once the frames are done
            QTimer.singleShot(0, self.close)

    def _on_status_tick(self) -> None:
        worker = self.worker
        if worker is None:
            self.status_state.setText("stopped")
            self.status_fps.setText("— fps")
            self.record_time.setText("")
            self._update_controls()
            return
        s = worker.snapshot()
        self._last_snapshot = s
        state = "starting…" if s.state is WorkerState.STARTING else str(s.state)
        self.status_state.setText(state)
        self.status_fps.setText(f"{s.fps:.1f} fps")
        run = s.run
        total = run.stage_median_ms.get("total")
        # the time to process a frame; "latency" is the capture -> result figure in the statistics
        self.status_latency.setText(f"frame {total:.1f} ms" if total is not None else "frame —")
        self.status_detector.setText(f"detector {100 * run.detector_share:.1f} %")
        self.status_dropped.setText(f"dropped {run.frames_dropped}")
        self.status_model.setText(f"model {s.model or '—'}")
        self.status_panel.show_snapshot(
            s, state, f"{self.view.frames_shown} frames drawn, {self._view_skipped} newer results skipped")
        if s.retarget or s.state not in (WorkerState.RUNNING, WorkerState.PAUSED):
            pending = self._calibrating_from is not None and s.neutral_id == self._calibrating_from
            if not pending or s.state not in (WorkerState.RUNNING, WorkerState.PAUSED):
                self._calibrating_from = None
                self.calibration_label.setText("calibrated" if s.calibrated else "not calibrated yet")
        else:
            self.calibration_label.setText("retargeting is off")
        # position
        if s.frame_count and not s.live:
            self.position_slider.setEnabled(s.state in (WorkerState.RUNNING, WorkerState.PAUSED))
            if self.position_slider.maximum() != s.frame_count - 1:
                self.position_slider.setRange(0, s.frame_count - 1)
            if not self.position_slider.isSliderDown():
                self.position_slider.blockSignals(True)
                self.position_slider.setValue(s.position)
                self.position_slider.blockSignals(False)
            fps = s.source_fps or 30.0
            self.position_label.setText(f"{_fmt_duration(s.position / fps)} / {_fmt_duration(s.frame_count / fps)}")
        else:
            self.position_slider.setEnabled(False)
            self.position_label.setText("live" if s.live else "—")
        # recording
        if s.recording is not None:
            since = s.recording.started_at
            self.record_time.setText(f"● REC {_fmt_duration(time.perf_counter() - since)}  {s.recording.frames} frames")
            self.record_time.setStyleSheet("color: #ff5a4f; font-weight: bold;")
        else:
            self.record_time.setText("")
        self.osc_panel.update_stats(s.osc, time.perf_counter(), s.state in (WorkerState.RUNNING, WorkerState.PAUSED))
        if not worker.alive:
            self._update_controls()

    # --- messages -------------------------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        message = str(message).strip().splitlines()[0] if str(message).strip() else "unknown error"
        self._errors.append(message)
        self.error_banner.show_message(message)
        self.statusBar().showMessage(message, 10000)
        self._log(f"error: {message}")

    def clear_error(self) -> None:
        self.error_banner.show_message("")

    @property
    def errors(self) -> list[str]:
        return list(self._errors)

    def _log(self, message: str) -> None:
        lines = (self.message_log.text().splitlines() + [time.strftime("%H:%M:%S ") + message])[-12:]
        self.message_log.setText("\n".join(lines))

    # --- settings ----------------------------------------------------------------------------------------
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
        for key, box in self.overlay_boxes.items():
            box.setChecked(s.value(f"overlay/{key}", box.isChecked(), type=bool))
        self.realtime_box.setChecked(s.value("playback/realtime", True, type=bool))
        self.record_folder.setText(s.value("record/folder", self.record_folder.text()))
        fmt = s.value("record/format", "jsonl")
        index = self.export_format.findData(fmt)
        self.export_format.setCurrentIndex(max(0, index))
        self.tabs.setCurrentIndex(s.value("window/tab", 0, type=int))
        try:
            specs = json.loads(s.value("osc/targets", "[]") or "[]")
        except (TypeError, json.JSONDecodeError):
            specs = []
        for spec in specs:
            if isinstance(spec, str):
                self.osc_panel.add_spec(spec, notify=False)
        self.osc_panel.message.setText("")
        self._fill_sources(self.cameras)

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/splitter", self.splitter.saveState())
        s.setValue("window/tab", self.tabs.currentIndex())
        for key, box in self.overlay_boxes.items():
            s.setValue(f"overlay/{key}", box.isChecked())
        s.setValue("playback/realtime", self.realtime_box.isChecked())
        s.setValue("record/folder", self.record_folder.text())
        s.setValue("record/format", self.export_format.currentData())
        self._save_osc()
        s.sync()

    # --- closing ----------------------------------------------------------------------------------------------
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


# --- application ----------------------------------------------------------------------------------------------


def _apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    base, text = QColor(37, 37, 41), QColor(225, 225, 230)
    p.setColor(QPalette.ColorRole.Window, QColor(43, 43, 47))
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, QColor(50, 50, 55))
    p.setColor(QPalette.ColorRole.ToolTipBase, QColor(60, 60, 66))
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, QColor(55, 55, 60))
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.Highlight, QColor(255, 150, 30))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(20, 20, 20))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(120, 120, 125))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor(120, 120, 125))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(120, 120, 125))
    app.setPalette(p)


def prepare_qt_environment() -> None:
    """Undo what importing cv2 does to Qt: the opencv-contrib wheel (a mediapipe dependency) points
    QT_QPA_PLATFORM_PLUGIN_PATH at its own Qt plugins, with which PyQt6 cannot start on X11
    ("Could not load the Qt platform plugin xcb"). Call before creating the QApplication."""
    for var in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        value = os.environ.get(var, "")
        if value and f"{os.sep}cv2{os.sep}" in value + os.sep:
            del os.environ[var]


def _no_display() -> str | None:
    """A one-line reason when Qt would abort for lack of a display (Linux without X11/Wayland)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display found: run with --headless, or set QT_QPA_PLATFORM=offscreen"


def install_error_hooks(window_getter) -> None:
    """Unexpected exceptions (in slots or threads) become a message in the window, not an abort."""

    def hook(exc_type, exc, tb):
        log.error("unexpected error:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
        window = window_getter()
        if window is not None:
            try:
                window.show_error(f"unexpected error: {exc_type.__name__}: {exc}")
            except Exception:
                pass

    def thread_hook(args):
        hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook


def run_app(config: SessionConfig, settings_path: str | os.PathLike | None = None) -> int:
    """Open the window on `config.source` and run until it is closed; returns the exit code."""
    reason = _no_display()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    prepare_qt_environment()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    _apply_dark_theme(app)
    window = MainWindow(config, make_settings(settings_path))
    install_error_hooks(lambda: window)
    window.show()
    code = app.exec()
    return code or window.exit_code
