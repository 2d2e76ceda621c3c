"""The window's panels: each builds and lays out its own widgets; the window wires them to the worker.

TransportBar (source, start/pause/stop, record) · ErrorBanner · ViewPanel (live view, position,
overlay switches) · ExpressionPanel (head pose, calibration, blendshape meters) · RecordingPanel ·
StatusPanel (the run's figures and the message log). The OSC panel lives in widgets.py.
"""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                             QPushButton, QScrollArea, QSizePolicy, QStyle, QToolButton, QVBoxLayout,
                             QWidget)

from .annotate import OverlayOptions
from .widgets import BlendshapeMeters, HeadPoseReadout, SeekSlider, VideoView
from .worker import Snapshot, WorkerState

# (settings key, title, ticked by default, the OverlayOptions fields the box switches)
OVERLAYS = (("points", "Landmarks", True, ("points",)), ("roi", "ROI && state", True, ("roi", "status")),
            ("head_axes", "Head axes", True, ("head_axes",)), ("contours", "Contours", True, ("contours",)),
            ("blendshapes", "Shape bars", False, ("blendshapes",)))
STAGE_ORDER = ("detect", "landmarks", "region", "refine", "smooth", "retarget", "total")   # region, refine: with an eye stage


def default_record_folder() -> Path:
    videos = Path.home() / "Videos"
    return (videos if videos.is_dir() else Path.home()) / "OccFace"


class TransportBar(QWidget):
    """Source choice, start/pause/stop and the record button with its elapsed time."""

    def __init__(self, style: QStyle):
        super().__init__()
        bar = QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Source"))
        self.source_combo = QComboBox()
        self.source_combo.setMinimumWidth(300)
        self.source_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        bar.addWidget(self.source_combo)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("⟳")
        self.refresh_button.setToolTip("Look for cameras again")
        bar.addWidget(self.refresh_button)
        self.open_button = QPushButton("Open video…")
        bar.addWidget(self.open_button)
        bar.addSpacing(12)
        self.start_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Start")
        self.pause_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause), "Pause")
        self.pause_button.setCheckable(True)
        self.stop_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "Stop")
        for b in (self.start_button, self.pause_button, self.stop_button):
            bar.addWidget(b)
        bar.addSpacing(12)
        self.record_button = QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Record the annotated video and the per-frame data (Ctrl+R)")
        bar.addWidget(self.record_button)
        self.record_time = QLabel("")
        self.record_time.setMinimumWidth(120)
        bar.addWidget(self.record_time)
        bar.addStretch(1)


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
    """The live view, the position slider of a file, the overlay switches and the playback speed."""

    def __init__(self):
        super().__init__()
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
        overlays = QHBoxLayout()
        overlays.addWidget(QLabel("Overlays:"))
        self.overlay_boxes: dict[str, QCheckBox] = {}
        for key, title, default, _ in OVERLAYS:
            box = QCheckBox(title)
            box.setChecked(default)
            overlays.addWidget(box)
            self.overlay_boxes[key] = box
        overlays.addStretch(1)
        self.realtime_box = QCheckBox("Play files at their own speed")
        self.realtime_box.setChecked(True)
        self.realtime_box.setToolTip("Off: process video files as fast as the pipeline can")
        overlays.addWidget(self.realtime_box)
        lv.addLayout(overlays)

    def overlay_options(self) -> OverlayOptions:
        """What the boxes ask to draw, in the view and in recordings ("ROI & state" switches both)."""
        return OverlayOptions(**{field: self.overlay_boxes[key].isChecked()
                                 for key, _, _, fields in OVERLAYS for field in fields})


class ExpressionPanel(QWidget):
    """Head pose readout, "Calibrate neutral" with its state, and the blendshape meters."""

    def __init__(self):
        super().__init__()
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
        self.calibration_label = QLabel("not calibrated")
        self.calibration_label.setStyleSheet("color: #9a9aa0;")
        row.addWidget(self.calibration_label, 1)
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


class RecordingPanel(QWidget):
    """Where recordings go, the per-frame format, a second record button and what is being recorded."""

    def __init__(self):
        super().__init__()
        v = QVBoxLayout(self)
        form = QFormLayout()
        folder_row = QHBoxLayout()
        self.record_folder = QLineEdit(str(default_record_folder()))
        folder_row.addWidget(self.record_folder, 1)
        self.browse_button = QPushButton("Choose…")
        folder_row.addWidget(self.browse_button)
        form.addRow("Folder", folder_row)
        self.export_format = QComboBox()
        self.export_format.addItem("JSON lines (.jsonl)", "jsonl")
        self.export_format.addItem("CSV (.csv)", "csv")
        form.addRow("Per-frame data", self.export_format)
        v.addLayout(form)
        self.record_button = QPushButton("● Start recording (Ctrl+R)")
        v.addWidget(self.record_button)
        self.record_info = QLabel("Not recording. The video is recorded with the overlays shown in the view.")
        self.record_info.setWordWrap(True)
        self.record_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.record_info)
        v.addStretch(1)


class StatusPanel(QWidget):
    """The run's figures, refreshed from the worker's Snapshot, and the last messages."""

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

    def show_snapshot(self, s: Snapshot, state: str, view_text: str) -> None:
        f, run = self.fields, s.run
        f["source"].setText(s.source)
        f["model"].setText(s.model or "—")
        f["state"].setText(state)
        count = f" of {s.frame_count}" if s.frame_count else ""
        f["frames"].setText(f"{run.frames_processed} processed{count}, {run.frames_with_face} with a face")
        f["fps"].setText(f"{s.fps:.1f} now, {run.fps:.1f} over the run")
        stages = [f"{k} {run.stage_median_ms[k]:.1f}" for k in STAGE_ORDER if k in run.stage_median_ms]
        f["stages"].setText(", ".join(stages) + " ms" if stages else "—")
        f["latency"].setText("—" if s.latency_ms is None else
                             f"{s.latency_ms:.1f} ms median" + ("" if s.live else " (from hand-over; files are read ahead)"))
        f["detector"].setText(f"{100 * run.detector_share:.1f} % of frames ({run.detector_calls} "
                              f"call{'' if run.detector_calls == 1 else 's'})")
        never = not s.paced_like_live and s.state not in (WorkerState.STARTING, WorkerState.FAILED)
        f["dropped"].setText(f"{run.frames_dropped} by the source" + (" (files are read without dropping)" if never else ""))
        f["view"].setText(view_text)
