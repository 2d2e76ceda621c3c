"""Sources and run control: the camera or video to track, and Start, Pause and Stop.

The panel owns the source list (the cameras found, recent videos, "Open video file…") and remembers the
recent videos in the settings; the window starts and stops the worker when the panel asks.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from PyQt6.QtCore import QSettings, Qt, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QStyle, QToolButton, QWidget

from tracking.cameras import CameraInfo, list_cameras

log = logging.getLogger(__name__)

VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v);;All files (*)"
OPEN_ITEM = "__open__"   # the list's last entry: opens the file dialog
RECENT_KEY, VIDEO_DIR_KEY = "source/recent_videos", "source/video_dir"


class SourcePanel(QWidget):
    """The source list with its refresh and open buttons, then Start, Pause and Stop."""

    start_requested = pyqtSignal()
    stop_requested = pyqtSignal()
    pause_toggled = pyqtSignal(bool)

    def __init__(self, style: QStyle, settings: QSettings):
        super().__init__()
        self.settings = settings
        self.cameras: list[CameraInfo] = []
        self.last_started: int | Path | None = None   # what "Open video…" falls back to when cancelled
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
        self.source_combo.activated.connect(self._source_activated)
        self.refresh_button.clicked.connect(lambda: self.fill(None, keep_selection=True))
        self.open_button.clicked.connect(self.open_video)
        self.start_button.clicked.connect(self.start_requested.emit)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.stop_button.clicked.connect(self.stop_requested.emit)

    # --- the list -------------------------------------------------------------------------------------
    def fill(self, cameras: list[CameraInfo] | None, keep_selection: bool = False) -> None:
        """The cameras (enumerated when None), the recent videos and "Open video file…"."""
        current = self.current() if keep_selection else None
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
            combo.model().item(combo.count() - 1).setEnabled(False)
            combo.setItemData(combo.count() - 1, "No camera was found; connect one and press ⟳, "
                              "or open a video file.", Qt.ItemDataRole.ToolTipRole)
        for path in self._recent_videos():
            combo.addItem(f"Video: {Path(path).name}", str(path))
            combo.setItemData(combo.count() - 1, str(path), Qt.ItemDataRole.ToolTipRole)
        combo.addItem("Open video file…", OPEN_ITEM)
        combo.blockSignals(False)
        if current is not None:
            self.select(current)

    def select(self, source: int | str | Path) -> None:
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

    def current(self) -> int | Path | None:
        data = self.source_combo.currentData()
        if data is None or data == OPEN_ITEM:
            return None
        return data if isinstance(data, int) else Path(data)

    def _source_activated(self, index: int) -> None:
        if self.source_combo.itemData(index) == OPEN_ITEM:
            self.open_video()

    def open_video(self) -> None:
        """Choose a video file and start it (cancelled: the source that ran last is selected again)."""
        start_dir = self.settings.value(VIDEO_DIR_KEY, str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open a video", start_dir, VIDEO_FILTER)
        if not path:
            if self.last_started is not None:
                self.select(self.last_started)
            return
        self.settings.setValue(VIDEO_DIR_KEY, str(Path(path).parent))
        self.remember(Path(path))
        self.select(Path(path))
        self.start_requested.emit()

    def _recent_videos(self) -> list[str]:
        try:
            recent = json.loads(self.settings.value(RECENT_KEY, "[]") or "[]")
        except (TypeError, json.JSONDecodeError):
            recent = []
        return [p for p in recent if isinstance(p, str)][:6]

    def remember(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self._recent_videos() if p != str(path)]
        self.settings.setValue(RECENT_KEY, json.dumps(recent[:6]))

    # --- run control -------------------------------------------------------------------------------------
    def _pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_toggled.emit(paused)

    def reset_pause(self) -> None:
        """Unpaused, without asking anyone to resume (a new run starts unpaused)."""
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(False)
        self.pause_button.setText("Pause")
        self.pause_button.blockSignals(False)

    def set_running(self, running: bool) -> None:
        self.stop_button.setEnabled(running)
        self.pause_button.setEnabled(running)
