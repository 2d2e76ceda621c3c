"""The window's custom widgets: the video view, position slider, blendshape meters, head-pose readout,
OSC targets."""
from __future__ import annotations

import ipaddress
import json
import math
import threading
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

import cv2
import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPixmap
from PyQt6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout,
                             QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QSizePolicy, QSlider,
                             QSpinBox, QStyle, QStyleOptionSlider, QTableWidget, QTableWidgetItem, QVBoxLayout,
                             QWidget)

from retarget.osc import SCHEMES, OscStats, OscTargetError, parse_osc_target
from tracking.pipeline import StatsFailed
from tracking.types import HeadPose

# --- the live view ------------------------------------------------------------------------------------


class VideoView(QWidget):
    """Shows the newest annotated frame, scaled to fit with its aspect ratio kept."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self._buffer: np.ndarray | None = None  # keeps the pixels alive while the QImage uses them
        self.frames_shown = 0
        self.last_frame_index: int | None = None
        self.placeholder = "No video. Choose a camera or a video file and press Start."
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def set_frame(self, image: np.ndarray, frame_index: int | None = None) -> None:
        """Show a BGR or BGRA frame (BGRA is used as it is; the view keeps a reference to it)."""
        # 32-bit pixels are Qt's fast path: a BGR888 image would be converted on every paint.
        bgra = image if image.ndim == 3 and image.shape[2] == 4 else cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
        bgra = np.ascontiguousarray(bgra)
        h, w = bgra.shape[:2]
        same_size = self._image is not None and (self._image.width(), self._image.height()) == (w, h)
        self._buffer = bgra
        self._image = QImage(bgra.data, w, h, bgra.strides[0], QImage.Format.Format_RGB32)
        self.frames_shown += 1
        self.last_frame_index = frame_index
        # Only the picture changed: repaint (and on X11 send) just its rectangle, not the borders.
        self.update(self.image_rect().toAlignedRect() if same_size else self.rect())

    def clear(self, placeholder: str | None = None) -> None:
        self._image = None
        self._buffer = None
        if placeholder is not None:
            self.placeholder = placeholder
        self.update()

    def image_rect(self) -> QRectF:
        """Where the frame goes: fitted with its aspect ratio kept, except that a frame which fits
        at 1:1 but not at 1.5× is shown pixel for pixel (crisp, and resampling a 640×480 frame would
        cost the GUI thread about 2 ms per frame that tracking needs on a small CPU)."""
        if self._image is None:
            return QRectF()
        iw, ih = self._image.width(), self._image.height()
        scale = min(self.width() / iw, self.height() / ih)
        if 1.0 <= scale < 1.5:
            scale = 1.0
        w, h = round(iw * scale), round(ih * scale)
        return QRectF((self.width() - w) // 2, (self.height() - h) // 2, w, h)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        painter = QPainter(self)
        target = self.image_rect()
        if self._image is None or not target.toAlignedRect().contains(event.rect()):
            painter.fillRect(self.rect(), QColor(18, 18, 20))
        if self._image is None:
            painter.setPen(QColor(170, 170, 175))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
        else:
            if target.width() == self._image.width() and target.height() == self._image.height():
                painter.drawImage(target.topLeft(), self._image)
            else:
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                painter.drawImage(target, self._image)
        painter.end()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(880, 560)


class SeekSlider(QSlider):
    """The position slider: a click on the groove jumps to that spot (a plain QSlider moves one page
    toward it). The click becomes a press on the handle there, so it can go on as a drag and always
    ends with sliderReleased, the signal the window seeks on: a click seeks exactly as a drag does."""

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt naming)
        pos = event.position()
        if event.button() == Qt.MouseButton.LeftButton and not self._on_handle(pos):
            self.setValue(self._value_at(pos))  # setValue, unlike setSliderPosition, triggers no action
            if not self._on_handle(pos):
                # a range so short that the handle cannot sit under the pointer: press and release it here
                self.setSliderDown(True)
                self.setSliderDown(False)
                event.accept()
                return
        super().mousePressEvent(event)

    def _style_option(self) -> QStyleOptionSlider:
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        return opt

    def _on_handle(self, pos: QPointF) -> bool:
        hit = self.style().hitTestComplexControl(QStyle.ComplexControl.CC_Slider, self._style_option(),
                                                 pos.toPoint(), self)
        return hit == QStyle.SubControl.SC_SliderHandle

    def _value_at(self, pos: QPointF) -> int:
        """The value whose handle is centred on `pos`."""
        opt, style, slider = self._style_option(), self.style(), QStyle.ComplexControl.CC_Slider
        groove = style.subControlRect(slider, opt, QStyle.SubControl.SC_SliderGroove, self)
        handle = style.subControlRect(slider, opt, QStyle.SubControl.SC_SliderHandle, self)
        if self.orientation() == Qt.Orientation.Horizontal:
            offset, span = pos.x() - groove.x() - handle.width() / 2, groove.width() - handle.width()
        else:
            offset, span = pos.y() - groove.y() - handle.height() / 2, groove.height() - handle.height()
        return QStyle.sliderValueFromPosition(self.minimum(), self.maximum(), round(offset), max(span, 1),
                                              opt.upsideDown)


# --- expression panel ---------------------------------------------------------------------------------


class BlendshapeMeters(QWidget):
    """All 52 blendshape values as labelled horizontal bars, in two columns, painted in one pass."""

    ROW_H = 16

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._values: dict[str, float] = {}
        self._names: list[str] = []
        self._labels: QPixmap | None = None
        self._labels_key: tuple | None = None
        self._label_w = 120.0
        self.setMinimumHeight(self.ROW_H * 26 + 4)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    def set_values(self, values: dict[str, float] | None) -> None:
        values = dict(values or {})
        if list(values) != self._names and values:
            self._names = list(values)
            rows = math.ceil(len(self._names) / 2)
            self.setMinimumHeight(self.ROW_H * rows + 4)
        self._values = values
        self.update()

    def values(self) -> dict[str, float]:
        return dict(self._values)

    def _layout(self) -> tuple[int, float, float]:
        rows = math.ceil(len(self._names) / 2)
        col_w = self.width() / 2
        return rows, col_w, self._label_w

    def _labels_pixmap(self) -> QPixmap:
        """The names never change while tracking, so they are drawn once per size, not per update."""
        key = (self.width(), self.height(), tuple(self._names))
        if self._labels_key != key:
            font = QFont(self.font())
            font.setPointSizeF(max(7.0, font.pointSizeF() - 1.5))
            ratio = self.devicePixelRatioF()
            pixmap = QPixmap(int(self.width() * ratio), int(self.height() * ratio))
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setFont(font)
            widest = max(painter.fontMetrics().horizontalAdvance(n) for n in self._names) + 8
            col_w = self.width() / 2
            self._label_w = min(float(widest), col_w - 36)
            rows = math.ceil(len(self._names) / 2)
            painter.setPen(QColor(205, 205, 210))
            for i, name in enumerate(self._names):
                col, row = divmod(i, rows)
                painter.drawText(QRectF(col * col_w + 2, 2 + row * self.ROW_H, self._label_w - 4, self.ROW_H),
                                 Qt.AlignmentFlag.AlignVCenter, name)
            painter.end()
            self._labels, self._labels_key = pixmap, key
        return self._labels

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        if not self._names:
            painter.setPen(QColor(150, 150, 155))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             "Blendshapes appear here while a face is tracked.")
            painter.end()
            return
        painter.drawPixmap(0, 0, self._labels_pixmap())
        rows, col_w, label_w = self._layout()
        track, high, normal = QColor(48, 48, 54), QColor(255, 96, 64), QColor(255, 160, 0)
        for i, name in enumerate(self._names):
            col, row = divmod(i, rows)
            x = col * col_w + 2
            y = 2 + row * self.ROW_H
            value = min(max(float(self._values.get(name, 0.0)), 0.0), 1.0)
            bar = QRectF(x + label_w, y + 3, col_w - label_w - 8, self.ROW_H - 6)
            painter.fillRect(bar, track)
            if value > 0:
                painter.fillRect(QRectF(bar.x(), bar.y(), bar.width() * value, bar.height()),
                                 normal if value < 0.85 else high)
        painter.end()


class HeadPoseReadout(QWidget):
    """Yaw, pitch, roll in degrees and the head position in centimetres."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.labels: dict[str, QLabel] = {}
        names = (("yaw", "Yaw"), ("pitch", "Pitch"), ("roll", "Roll"), ("x", "X"), ("y", "Y"), ("z", "Z"))
        for i, (key, title) in enumerate(names):
            caption = QLabel(title)
            caption.setStyleSheet("color: #9a9aa0;")
            value = QLabel("—")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setMinimumWidth(64)
            value.setStyleSheet("font-family: monospace; font-size: 13px;")
            row, col = divmod(i, 3)
            grid.addWidget(caption, row, 2 * col)
            grid.addWidget(value, row, 2 * col + 1)
            self.labels[key] = value

    def set_pose(self, pose: HeadPose | None) -> None:
        if pose is None:
            for label in self.labels.values():
                label.setText("—")
            return
        pitch, yaw, roll = (float(a) for a in pose.euler_deg)
        self.labels["yaw"].setText(f"{yaw:+.1f}°")
        self.labels["pitch"].setText(f"{pitch:+.1f}°")
        self.labels["roll"].setText(f"{roll:+.1f}°")
        for key, v in zip(("x", "y", "z"), pose.translation):
            self.labels[key].setText(f"{100 * float(v):+.1f} cm")

    def text(self) -> str:
        return " ".join(f"{k}={v.text()}" for k, v in self.labels.items())


# --- streaming panel ----------------------------------------------------------------------------------

PROTOCOLS = (("VMC", "vmc"), ("VRChat", "vrchat"), ("Raw points", "raw"))
# VMC blendshape names: what the avatar's clips are called (retarget.osc.vmc)
VMC_NAMES = (("ARKit (52 shapes)", "arkit"), ("Perfect sync (52 clips)", "perfect_sync"),
             ("VRM presets (Blink, A…O, Joy…)", "vrm"))


def make_spec(scheme: str, host: str, port: int, rate: float, names: str = "arkit") -> str:
    host = host.strip()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    spec = f"{scheme}://{host}:{int(port)}?rate={rate:g}"
    return spec + (f"&names={names}" if scheme == "vmc" and names != "arkit" else "")


def _needs_lookup(spec: str) -> bool:
    """True when the spec's host is a name (not an IP address or localhost), so checking it may block."""
    try:
        host = urlsplit(spec).hostname or ""
    except ValueError:
        return False
    if host in ("", "localhost"):
        return False
    try:
        ipaddress.ip_address(host)
        return False
    except ValueError:
        return True


def validate_spec(spec: str) -> str | None:
    """None when `spec` is a usable target, else the one-line reason."""
    try:
        parse_osc_target(spec)
    except OscTargetError as exc:
        return str(exc)
    return None


@dataclass
class _Row:
    spec: str
    last_sent: int = 0
    last_time: float | None = None
    rate: float = 0.0


class OscTargetsPanel(QWidget):
    """Add and remove OSC targets; each row shows what it sends and its last error."""

    added = pyqtSignal(str)
    removed = pyqtSignal(str)
    error = pyqtSignal(str)
    _checked = pyqtSignal(str, str, bool)  # from the look-up thread: spec, problem ("" if none), notify

    COLUMNS = ("", "Target", "Sent", "Rate", "Latency", "Status")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._checking: set[str] = set()
        self._checked.connect(self._on_checked)  # queued: delivered on the GUI thread
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.protocol = QComboBox()
        for title, scheme in PROTOCOLS:
            self.protocol.addItem(title, scheme)
        self.host = QLineEdit("127.0.0.1")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(SCHEMES["vmc"].default_port)
        self.rate = QDoubleSpinBox()
        self.rate.setRange(1.0, 240.0)
        self.rate.setDecimals(0)
        self.rate.setSuffix(" Hz")
        self.rate.setValue(SCHEMES["vmc"].default_rate_hz)
        self.names = QComboBox()
        for title, names in VMC_NAMES:
            self.names.addItem(title, names)
        self.protocol.currentIndexChanged.connect(self._protocol_changed)
        form.addRow("Protocol", self.protocol)
        form.addRow("Names", self.names)
        host_row = QHBoxLayout()
        host_row.addWidget(self.host, 3)
        host_row.addWidget(QLabel("Port"))
        host_row.addWidget(self.port, 1)
        form.addRow("Host", host_row)
        form.addRow("Rate", self.rate)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add target")
        self.add_button.clicked.connect(self._add_clicked)
        self.remove_button = QPushButton("Remove selected")
        self.remove_button.clicked.connect(self._remove_clicked)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        layout.addLayout(buttons)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #ff7a6b;")
        layout.addWidget(self.message)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col in (2, 3, 4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.table, 1)
        hint = QLabel("VMC: 39539 to a renderer, 39540 to VSeeFace. VRChat: port 9000. "
                      "Raw: all 100 points with visibility.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #9a9aa0;")
        layout.addWidget(hint)

    def _protocol_changed(self) -> None:
        scheme = self.protocol.currentData()
        self.port.setValue(SCHEMES[scheme].default_port)
        self.rate.setValue(SCHEMES[scheme].default_rate_hz)
        self.names.setEnabled(scheme == "vmc")

    def specs(self) -> list[str]:
        return [row.spec for row in self._rows]

    def add_spec(self, spec: str, notify: bool = True) -> bool | None:
        """Add a target after checking it; False (and a message) when it is unusable or already there.

        A host name (not an IP address) is resolved on a helper thread, since a name that does not
        resolve can block for seconds; the row appears when the check succeeds (None is returned)."""
        spec = spec.strip()
        if spec in self.specs() or spec in self._checking:
            self._show_error(f"{spec} is already in the list")
            return False
        if not _needs_lookup(spec):
            return self._add_checked(spec, validate_spec(spec), notify)
        self._checking.add(spec)
        self.message.setStyleSheet("color: #9a9aa0;")
        self.message.setText(f"looking up {spec} …")

        def check() -> None:
            self._checked.emit(spec, validate_spec(spec) or "", notify)

        threading.Thread(target=check, name="osc-target-check", daemon=True).start()
        return None

    def _on_checked(self, spec: str, problem: str, notify: bool) -> None:
        self._checking.discard(spec)
        self._add_checked(spec, problem or None, notify)

    def _add_checked(self, spec: str, problem: str | None, notify: bool) -> bool:
        if problem is not None:
            self._show_error(problem)
            return False
        self.message.setText("")
        self._rows.append(_Row(spec))
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, text in enumerate(("●", spec, "0", "—", "—", "waiting")):
            item = QTableWidgetItem(text)
            if col == 0:
                item.setForeground(QColor(140, 140, 140))
            self.table.setItem(row, col, item)
        if notify:
            self.added.emit(spec)
        return True

    def remove_spec(self, spec: str) -> None:
        for i, row in enumerate(self._rows):
            if row.spec == spec:
                del self._rows[i]
                self.table.removeRow(i)
                self.removed.emit(spec)
                return

    def _add_clicked(self) -> None:
        host = self.host.text().strip()
        if not host:
            self._show_error("enter a host, e.g. 127.0.0.1")
            return
        self.add_spec(make_spec(self.protocol.currentData(), host, self.port.value(), self.rate.value(),
                                self.names.currentData()))

    def _remove_clicked(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        if not rows and self._rows:
            rows = [len(self._rows) - 1]
        for r in rows:
            self.remove_spec(self._rows[r].spec)

    def _show_error(self, message: str) -> None:
        self.message.setStyleSheet("color: #ff7a6b;")
        self.message.setText(message)
        self.error.emit(message)

    def update_stats(self, stats: Mapping[str, OscStats | StatsFailed], now: float, running: bool) -> None:
        """Refresh each row from the senders' stats() (keyed by spec)."""
        for i, row in enumerate(self._rows):
            s = stats.get(row.spec)
            dot = self.table.item(i, 0)
            if s is None:
                dot.setForeground(QColor(140, 140, 140))
                self._set(i, 3, "—")
                self._set(i, 5, "idle" if not running else "starting")
                row.last_time = None
                continue
            if isinstance(s, StatsFailed):
                self._set(i, 5, f"stats failed: {s.stats_error}")
                continue
            sent = s.sent
            if row.last_time is not None and now > row.last_time:
                rate = (sent - row.last_sent) / (now - row.last_time)
                row.rate = rate if row.rate == 0 else 0.6 * row.rate + 0.4 * rate
            row.last_sent, row.last_time = sent, now
            errors, latency, last_error = s.send_errors, s.median_latency_ms, s.last_error
            self._set(i, 2, str(sent))
            self._set(i, 3, f"{row.rate:.0f}/s")
            self._set(i, 4, f"{latency:.1f} ms" if latency is not None else "—")
            if errors:
                status, colour = f"{errors} errors: {last_error}", QColor(255, 90, 80)
            elif row.rate > 0.5:
                status, colour = "sending", QColor(80, 220, 80)
            else:
                status, colour = "idle (nothing new to send)", QColor(230, 190, 60)
            self._set(i, 5, status)
            dot.setForeground(colour)
            self.table.item(i, 5).setToolTip(last_error or status)

    def _set(self, row: int, col: int, text: str) -> None:
        item = self.table.item(row, col)
        if item is not None and item.text() != text:
            item.setText(text)

    def row_status(self, spec: str) -> dict[str, str]:
        for i, row in enumerate(self._rows):
            if row.spec == spec:
                return {name or "dot": self.table.item(i, c).text() for c, name in enumerate(self.COLUMNS)}
        return {}

    def to_json(self) -> str:
        return json.dumps(self.specs())
