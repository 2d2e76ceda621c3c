"""The window's custom widgets: the video view, position slider, blendshape meters, head-pose readout."""
from __future__ import annotations

import math

import cv2
import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPixmap
from PyQt6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QSlider, QStyle, QStyleOptionSlider, QWidget

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
