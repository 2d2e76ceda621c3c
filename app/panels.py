"""The window's panels by concern: each builds its own widgets, emits its own signals and keeps its own
settings; the window wires them to the worker.

ErrorBanner · ViewPanel (live view, position in a file, overlays, playback and smoothing) ·
CalibrationPanel (head pose, calibration, blendshape meters) · StatusPanel (the run's figures, the
status bar, the message log). Sources and run control: sources.py; recording: recording_panel.py;
OSC: osc_panel.py.
"""
from __future__ import annotations

import time
from typing import Callable

import cv2
import numpy as np
from PyQt6.QtCore import QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                             QScrollArea, QSizePolicy, QToolButton, QVBoxLayout, QWidget)

from live.annotate import OverlayOptions, OverlayRenderer
from live.session import SessionConfig
from live.worker import PipelineWorker, Snapshot, WorkerState
from tracking.smoother import DEFAULT_STRENGTH, STRENGTH_HELP
from tracking.types import FaceResult, Timing

from .recording_panel import fmt_duration
from .widgets import BlendshapeMeters, HeadPoseReadout, SeekSlider, VideoView

# (settings key, title, ticked by default, the OverlayOptions fields the box switches)
OVERLAYS = (("points", "Landmarks", True, ("points",)), ("roi", "ROI && state", True, ("roi", "status")),
            ("head_axes", "Head axes", True, ("head_axes",)), ("contours", "Contours", True, ("contours",)),
            ("blendshapes", "Shape bars", False, ("blendshapes",)))
ACTIVE = (WorkerState.RUNNING, WorkerState.PAUSED)


class ErrorBanner(QWidget):
    """The red line above the view that shows the latest error until dismissed."""

    dismissed = pyqtSignal()

    def __init__(self):
        super().__init__()
        banner = QHBoxLayout(self)
        banner.setContentsMargins(10, 4, 4, 4)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        banner.addWidget(self.label, 1)
        dismiss = QToolButton()
        dismiss.setText("✕")
        dismiss.setToolTip("Dismiss")
        dismiss.clicked.connect(self.dismissed.emit)
        banner.addWidget(dismiss)
        self.setStyleSheet("background: #5c1f1f; color: #ffdada; border-radius: 4px;")
        self.setVisible(False)

    def show_message(self, message: str) -> None:
        self.label.setText(message)
        self.setVisible(bool(message))


class ViewPanel(QWidget):
    """The live view, the position slider of a file, the overlay switches, the playback speed and the
    smoothing strength."""

    seek_requested = pyqtSignal(int)
    overlays_changed = pyqtSignal()
    smoothing_changed = pyqtSignal(float)
    MAX_VIEW_FPS = 30.0  # drawing rate cap; tracking runs as fast as it can regardless

    def __init__(self):
        super().__init__()
        self._renderer = OverlayRenderer()  # the recorder's drawing, straight into the view's buffer
        self._shown_seq = self._skipped = 0
        self._last_draw = 0.0
        lv = QVBoxLayout(self)
        lv.setContentsMargins(0, 0, 0, 0)
        self.view = VideoView()
        lv.addWidget(self.view, 1)
        pos = QHBoxLayout()
        self.position_slider = SeekSlider(Qt.Orientation.Horizontal)
        self.position_slider.setEnabled(False)
        pos.addWidget(self.position_slider, 1)
        self.position_label = QLabel("—")
        self.position_label.setMinimumWidth(130)
        self.position_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        pos.addWidget(self.position_label)
        lv.addLayout(pos)
        lv.addLayout(self._build_switches())
        self.position_slider.sliderReleased.connect(lambda: self.seek_requested.emit(self.position_slider.value()))
        self.position_slider.actionTriggered.connect(self._slider_action)

    def _build_switches(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Overlays:"))
        self.overlay_boxes: dict[str, QCheckBox] = {}
        for key, title, default, _ in OVERLAYS:
            box = QCheckBox(title)
            box.setChecked(default)
            box.toggled.connect(self.overlays_changed.emit)
            row.addWidget(box)
            self.overlay_boxes[key] = box
        row.addStretch(1)
        self.realtime_box = QCheckBox("Play files at their own speed")
        self.realtime_box.setChecked(True)
        self.realtime_box.setToolTip("Off: process video files as fast as the pipeline can")
        row.addWidget(self.realtime_box)
        row.addWidget(QLabel("Smoothing"))
        self.smoothing = QDoubleSpinBox()
        self.smoothing.setRange(0.0, 4.0)
        self.smoothing.setSingleStep(0.25)
        self.smoothing.setDecimals(2)
        self.smoothing.setValue(DEFAULT_STRENGTH)
        self.smoothing.setToolTip(f"How strongly the landmarks are smoothed: {STRENGTH_HELP}.")
        self.smoothing.valueChanged.connect(self.smoothing_changed.emit)
        row.addWidget(self.smoothing)
        return row

    def _slider_action(self, action: int) -> None:
        if not self.position_slider.isSliderDown():
            # page/step clicks and keys: seek to where the slider is going
            QTimer.singleShot(0, lambda: self.seek_requested.emit(self.position_slider.value()))

    def overlay_options(self) -> OverlayOptions:
        """What the boxes ask to draw, in the view and in recordings ("ROI & state" switches both)."""
        return OverlayOptions(**{field: self.overlay_boxes[key].isChecked()
                                 for key, _, _, fields in OVERLAYS for field in fields})

    def annotated(self, result: FaceResult) -> np.ndarray:
        """The frame as 32-bit BGRA (what the view shows without a conversion) with the overlays drawn."""
        canvas = cv2.cvtColor(result.image, cv2.COLOR_BGR2BGRA)
        self._renderer.draw(canvas, result, result.fps, self.overlay_options())
        return canvas

    def new_run(self, placeholder: str) -> None:
        self._shown_seq = self._skipped = 0
        self.view.clear(placeholder)

    def show_latest(self, seq: int, result: FaceResult | None) -> bool:
        """Draw the worker's newest result (number `seq`) if it is new and a frame is due: at most
        MAX_VIEW_FPS a second; a result it skips is simply replaced by a newer one (nothing queues up,
        tracking never waits for drawing). True when it was shown."""
        now = time.perf_counter()
        if seq == self._shown_seq or result is None or now - self._last_draw < 0.9 / self.MAX_VIEW_FPS:
            return False
        self._skipped += max(0, seq - self._shown_seq - 1)
        self._shown_seq, self._last_draw = seq, now
        self.redraw(result)
        return True

    def redraw(self, result: FaceResult | None) -> None:
        if result is not None and result.image is not None:
            self.view.set_frame(self.annotated(result), result.frame_index)

    def drawn_text(self) -> str:
        return f"{self.view.frames_shown} frames drawn, {self._skipped} newer results skipped"

    def show_position(self, s: Snapshot) -> None:
        slider = self.position_slider
        if s.frame_count and not s.live:
            slider.setEnabled(s.state in ACTIVE)
            if slider.maximum() != s.frame_count - 1:
                slider.setRange(0, s.frame_count - 1)
            if not slider.isSliderDown():
                slider.blockSignals(True)
                slider.setValue(s.position)
                slider.blockSignals(False)
            fps = s.source_fps or 30.0
            self.position_label.setText(f"{fmt_duration(s.position / fps)} / {fmt_duration(s.frame_count / fps)}")
        else:
            slider.setEnabled(False)
            self.position_label.setText("live" if s.live else "—")

    def take_smoothing(self, config: SessionConfig) -> None:
        """The command line's smoothing (--smoothing, --no-smoothing) over the saved one, when it sets one."""
        wanted = config.smoothing_strength if config.smoothing else 0.0
        if wanted != DEFAULT_STRENGTH:
            self.smoothing.setValue(wanted)

    def load_settings(self, settings: QSettings) -> None:
        for key, box in self.overlay_boxes.items():
            box.setChecked(settings.value(f"overlay/{key}", box.isChecked(), type=bool))
        self.realtime_box.setChecked(settings.value("playback/realtime", True, type=bool))
        self.smoothing.setValue(settings.value("tracking/smoothing", DEFAULT_STRENGTH, type=float))

    def save_settings(self, settings: QSettings) -> None:
        for key, box in self.overlay_boxes.items():
            settings.setValue(f"overlay/{key}", box.isChecked())
        settings.setValue("playback/realtime", self.realtime_box.isChecked())
        settings.setValue("tracking/smoothing", self.smoothing.value())


class CalibrationPanel(QWidget):
    """The Expression tab: the head pose readout, "Calibrate neutral" and "Calibrate range" (asked of
    the running worker) with the calibration's state, and the blendshape meters."""

    error = pyqtSignal(str)

    def __init__(self, worker: Callable[[], PipelineWorker | None]):
        super().__init__()
        self._worker = worker
        self._calibrating_from: int | None = None   # neutral_id when a calibration was asked for
        self._last_update = 0.0
        v = QVBoxLayout(self)
        pose_box = QGroupBox("Head pose")
        pv = QVBoxLayout(pose_box)
        self.pose_readout = HeadPoseReadout()
        pv.addWidget(self.pose_readout)
        v.addWidget(pose_box)
        row = QHBoxLayout()
        self.calibrate_button = QPushButton("Calibrate neutral")
        self.calibrate_button.setToolTip("Hold a relaxed face toward the camera, then press")
        row.addWidget(self.calibrate_button)
        self.range_button = QPushButton("Calibrate range")
        self.range_button.setToolTip("After the neutral: press, then for six seconds blink, smile, open your "
                                     "mouth, raise and lower your brows. Each face you make then reaches 1.0")
        row.addWidget(self.range_button)
        self.label = QLabel("not calibrated")
        self.label.setStyleSheet("color: #9a9aa0;")
        row.addWidget(self.label, 1)
        v.addLayout(row)
        shapes_box = QGroupBox("Blendshapes")
        sv = QVBoxLayout(shapes_box)
        sv.setContentsMargins(4, 4, 4, 4)
        self.meters = BlendshapeMeters()
        scroll = QScrollArea()  # lets the window shrink below the meters' height
        scroll.setWidget(self.meters)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        sv.addWidget(scroll)
        v.addWidget(shapes_box, 1)
        self.calibrate_button.clicked.connect(self.calibrate_neutral)
        self.range_button.clicked.connect(self.calibrate_range)

    def calibrate_neutral(self) -> None:
        worker = self._worker()
        if worker is None:
            self.error.emit("Start a source before calibrating.")
            return
        worker.calibrate_neutral()
        self._begin(worker, "calibrating: hold a relaxed face…")

    def calibrate_range(self) -> None:
        worker = self._worker()
        if worker is None or not worker.snapshot().calibrated:
            self.error.emit("Calibrate the neutral face before the range.")
            return
        worker.calibrate_range()
        self._begin(worker, "range: blink, smile, open your mouth, move your brows… (6 s)")

    def set_enabled(self, running: bool) -> None:
        self.calibrate_button.setEnabled(running)
        self.range_button.setEnabled(running)

    def _begin(self, worker: PipelineWorker, text: str) -> None:
        """A calibration was asked for: `text` shows until the worker reports a new neutral face."""
        self._calibrating_from = worker.snapshot().neutral_id
        self.label.setText(text)

    def show_result(self, result: FaceResult) -> None:
        """The meters and the readout follow the view at most five times a second."""
        now = time.perf_counter()
        if now - self._last_update >= 0.2:
            self._last_update = now
            self.meters.set_values(result.blendshapes)
            self.pose_readout.set_pose(result.head_pose)

    def show_snapshot(self, s: Snapshot) -> None:
        active = s.state in ACTIVE
        if s.retarget or not active:
            pending = self._calibrating_from is not None and s.neutral_id == self._calibrating_from
            if not pending or not active:
                self._calibrating_from = None
                self.label.setText("calibrated" if s.calibrated else "not calibrated yet")
        else:
            self.label.setText("retargeting is off")


class StatusPanel(QWidget):
    """The Status tab (the run's figures, refreshed from the worker's Snapshot, and the last messages)
    and the status bar's figures (`bar_labels`, which the window places)."""

    FIELDS = (("source", "Source"), ("model", "Model"), ("state", "State"), ("frames", "Frames"),
              ("fps", "Frames/s"), ("stages", "Time per stage"), ("latency", "Capture → result"),
              ("detector", "Needed the detector"), ("dropped", "Dropped frames"), ("view", "View"))

    def __init__(self):
        super().__init__()
        v = QVBoxLayout(self)
        self.form = QFormLayout()
        self.fields: dict[str, QLabel] = {}
        for key, title in self.FIELDS:
            label = QLabel("—")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.form.addRow(title, label)
            self.fields[key] = label
        v.addLayout(self.form)
        v.addWidget(QLabel("Messages"))
        self.message_log = QLabel("")
        self.message_log.setWordWrap(True)
        self.message_log.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.message_log.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_log.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        v.addWidget(self.message_log, 1)
        self.state, self.fps, self.latency = QLabel(""), QLabel("— fps"), QLabel("")
        self.detector, self.dropped, self.model = QLabel(""), QLabel(""), QLabel("")
        self.bar_labels = (self.state, self.fps, self.latency, self.detector, self.dropped, self.model)
        for label in self.bar_labels:
            label.setContentsMargins(6, 0, 6, 0)

    def log(self, message: str) -> None:
        lines = (self.message_log.text().splitlines() + [time.strftime("%H:%M:%S ") + message])[-12:]
        self.message_log.setText("\n".join(lines))

    def show_stopped(self) -> None:
        self.state.setText("stopped")
        self.fps.setText("— fps")

    def show_snapshot(self, s: Snapshot, view_text: str) -> None:
        state = "starting…" if s.state is WorkerState.STARTING else str(s.state)
        run = s.run
        self.state.setText(state)
        self.fps.setText(f"{s.fps:.1f} fps")
        total = run.stage_median_ms.get(Timing.TOTAL)
        # the time to process a frame; "latency" is the capture -> result figure in the statistics
        self.latency.setText(f"frame {total:.1f} ms" if total is not None else "frame —")
        self.detector.setText(f"detector {100 * run.detector_share:.1f} %")
        self.dropped.setText(f"dropped {run.frames_dropped}")
        self.model.setText(f"model {s.model or '—'}")
        f = self.fields
        f["source"].setText(s.source)
        f["model"].setText(s.model or "—")
        f["state"].setText(state)
        count = f" of {s.frame_count}" if s.frame_count else ""
        f["frames"].setText(f"{run.frames_processed} processed{count}, {run.frames_with_face} with a face")
        f["fps"].setText(f"{s.fps:.1f} now, {run.fps:.1f} over the run")
        stages = [f"{k} {run.stage_median_ms[k]:.1f}" for k in Timing if k in run.stage_median_ms]
        f["stages"].setText(", ".join(stages) + " ms" if stages else "—")
        f["latency"].setText("—" if s.latency_ms is None else
                             f"{s.latency_ms:.1f} ms median" + ("" if s.live else " (from hand-over; files are read ahead)"))
        f["detector"].setText(f"{100 * run.detector_share:.1f} % of frames ({run.detector_calls} "
                              f"call{'' if run.detector_calls == 1 else 's'})")
        never = not s.paced_like_live and s.state not in (WorkerState.STARTING, WorkerState.FAILED)
        f["dropped"].setText(f"{run.frames_dropped} by the source" + (" (files are read without dropping)" if never else ""))
        f["view"].setText(view_text)
