"""Recording: the record button in the toolbar (Ctrl+R) with its elapsed time, and the Recording tab
(the folder, the per-frame format, a second button, what is being recorded).

The panel owns those widgets and the recording settings, and asks the running worker to start and stop
recording; a problem is its `error` signal.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from PyQt6.QtCore import QSettings, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                             QVBoxLayout, QWidget)

from live.events import RecordingStarted, RecordingStopped
from live.outputs import RecordingInfo
from live.recording import recording_paths
from live.worker import PipelineWorker

FOLDER_KEY, FORMAT_KEY = "record/folder", "record/format"


def default_record_folder() -> Path:
    videos = Path.home() / "Videos"
    return (videos if videos.is_dir() else Path.home()) / "OccFace"


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class RecordingPanel(QWidget):
    """The Recording tab; `button`, `time_label` and `action` (Ctrl+R) go into the window's toolbar."""

    error = pyqtSignal(str)
    changed = pyqtSignal()        # started or stopped: the window's controls follow

    def __init__(self, worker: Callable[[], PipelineWorker | None]):
        super().__init__()
        self._worker = worker
        v = QVBoxLayout(self)
        form = QFormLayout()
        folder_row = QHBoxLayout()
        self.folder = QLineEdit(str(default_record_folder()))
        folder_row.addWidget(self.folder, 1)
        self.browse_button = QPushButton("Choose…")
        folder_row.addWidget(self.browse_button)
        form.addRow("Folder", folder_row)
        self.export_format = QComboBox()
        self.export_format.addItem("JSON lines (.jsonl)", "jsonl")
        self.export_format.addItem("CSV (.csv)", "csv")
        form.addRow("Per-frame data", self.export_format)
        v.addLayout(form)
        self.tab_button = QPushButton("● Start recording (Ctrl+R)")
        v.addWidget(self.tab_button)
        self.info = QLabel("Not recording. The video is recorded with the overlays shown in the view.")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.info)
        v.addStretch(1)
        # the toolbar's part
        self.button = QPushButton("● Record")
        self.button.setCheckable(True)
        self.button.setToolTip("Record the annotated video and the per-frame data (Ctrl+R)")
        self.time_label = QLabel("")
        self.time_label.setMinimumWidth(120)
        self.action = QAction("Record", self)
        self.action.setShortcut(QKeySequence("Ctrl+R"))
        self.action.triggered.connect(self.button.toggle)
        self.button.toggled.connect(self._toggled)
        self.tab_button.clicked.connect(self.button.toggle)
        self.browse_button.clicked.connect(self._choose_folder)
        self._settings: QSettings | None = None

    def _toggled(self, on: bool) -> None:
        if on:
            self.start()
        else:
            self.stop()
        self.changed.emit()

    def start(self, folder: str | Path | None = None) -> tuple[Path, Path] | None:
        """Record the annotated video (with the view's overlays) and the per-frame data into `folder`
        (default: the chosen one); the file names, or None after an error message."""
        worker = self._worker()
        if worker is None or not worker.running:
            return self._refuse("Start a source before recording.")
        folder = Path(folder or self.folder.text().strip() or default_record_folder()).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return self._refuse(f"cannot create the recording folder {folder}: {exc.strerror or exc}")
        video, export = recording_paths(folder, self.export_format.currentData())
        worker.start_recording(video, export)
        self.show_started(RecordingStarted("", video, export))
        return video, export

    def stop(self) -> None:
        worker = self._worker()
        if worker is not None:
            worker.stop_recording()
        self.set_checked(False)

    def _refuse(self, message: str) -> None:
        self.error.emit(message)
        self.set_checked(False)
        return None

    @property
    def recording(self) -> bool:
        return self.button.isChecked()

    def set_checked(self, on: bool) -> None:
        """Show the state without asking for it (the worker reported it)."""
        self.button.blockSignals(True)
        self.button.setChecked(on)
        self.button.blockSignals(False)
        self.set_enabled(self.button.isEnabled())

    def set_enabled(self, running: bool) -> None:
        self.button.setEnabled(running)
        self.tab_button.setEnabled(running)
        on = self.button.isChecked()
        self.tab_button.setText("■ Stop recording (Ctrl+R)" if on else "● Start recording (Ctrl+R)")
        self.button.setText("■ Stop recording" if on else "● Record")
        self.button.setStyleSheet("color: #ff5a4f; font-weight: bold;" if on else "")

    def show_started(self, event: RecordingStarted) -> None:
        self.set_checked(True)
        self.info.setText(f"Recording to\n{event.video}\n{event.export}")

    def show_stopped(self, event: RecordingStopped) -> None:
        self.set_checked(False)
        self.info.setText(f"Last recording: {event.message}.\n{event.video}\n{event.export}")

    def show_progress(self, recording: RecordingInfo | None) -> None:
        if recording is None:
            self.time_label.setText("")
            return
        self.time_label.setText(f"● REC {fmt_duration(time.perf_counter() - recording.started_at)}  "
                                f"{recording.frames} frames")
        self.time_label.setStyleSheet("color: #ff5a4f; font-weight: bold;")

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Recording folder", self.folder.text())
        if folder:
            self.folder.setText(folder)
            if self._settings is not None:
                self._settings.setValue(FOLDER_KEY, folder)

    def load_settings(self, settings: QSettings) -> None:
        self._settings = settings
        self.folder.setText(settings.value(FOLDER_KEY, self.folder.text()))
        self.export_format.setCurrentIndex(max(0, self.export_format.findData(settings.value(FORMAT_KEY, "jsonl"))))

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue(FOLDER_KEY, self.folder.text())
        settings.setValue(FORMAT_KEY, self.export_format.currentData())
