"""The Streaming tab: OSC targets added from a form and removed, each row with what it sends.

The form's fields become a typed `OscTarget` (`make_osc_target`), which the panel hands on in its
`added`/`removed` signals and the worker to the session's outputs; the figures come back keyed by the
same target. Spec strings are only the settings file's form (`OscTarget.spec`, `parse_osc_target`).
"""
from __future__ import annotations

import ipaddress
import json
import threading
from dataclasses import dataclass
from typing import Callable, Mapping
from urllib.parse import urlsplit

from PyQt6.QtCore import QSettings, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (QAbstractItemView, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QHeaderView,
                             QLabel, QLineEdit, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout,
                             QWidget)

from retarget.osc import SCHEMES, OscStats, OscTarget, OscTargetError, make_osc_target, parse_osc_target
from retarget.osc.target import VMC_NAME_SETS
from tracking.summary import StatsFailed

SETTINGS_KEY = "osc/targets"   # a JSON list of target specs


def needs_lookup(host: str) -> bool:
    """True when `host` is a name (not an IP address or localhost), so resolving it may block."""
    host = host.strip().strip("[]")
    if host in ("", "localhost"):
        return False
    try:
        ipaddress.ip_address(host)
        return False
    except ValueError:
        return True


@dataclass
class _Row:
    target: OscTarget
    last_sent: int = 0
    last_time: float | None = None
    rate: float = 0.0


class OscTargetsPanel(QWidget):
    """Add and remove OSC targets; each row shows what it sends and its last error."""

    added = pyqtSignal(object)     # OscTarget
    removed = pyqtSignal(object)   # OscTarget
    error = pyqtSignal(str)
    _checked = pyqtSignal(object, str, object)   # from the look-up thread: target or None, problem, how

    COLUMNS = ("", "Target", "Sent", "Rate", "Latency", "Status")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._checking: set[str] = set()
        self._checked.connect(self._on_checked)  # queued: delivered on the GUI thread
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_form())
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
        layout.addWidget(self._build_table(), 1)
        hint = QLabel(". ".join(f"{s.title}: {s.hint}" for s in SCHEMES.values()) + ".")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #9a9aa0;")
        layout.addWidget(hint)

    def _build_form(self) -> QFormLayout:
        form = QFormLayout()
        self.protocol = QComboBox()
        for scheme in SCHEMES.values():
            self.protocol.addItem(scheme.title, scheme.name)
        self.host = QLineEdit("127.0.0.1")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.rate = QDoubleSpinBox()
        self.rate.setRange(1.0, 240.0)
        self.rate.setDecimals(0)
        self.rate.setSuffix(" Hz")
        self.names = QComboBox()
        for names, title in VMC_NAME_SETS.items():
            self.names.addItem(title, names)
        self.protocol.currentIndexChanged.connect(self._protocol_changed)
        self._protocol_changed()
        form.addRow("Protocol", self.protocol)
        form.addRow("Names", self.names)
        host_row = QHBoxLayout()
        host_row.addWidget(self.host, 3)
        host_row.addWidget(QLabel("Port"))
        host_row.addWidget(self.port, 1)
        form.addRow("Host", host_row)
        form.addRow("Rate", self.rate)
        return form

    def _build_table(self) -> QTableWidget:
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        for col in range(len(self.COLUMNS)):
            mode = QHeaderView.ResizeMode.Stretch if col == 1 else QHeaderView.ResizeMode.ResizeToContents
            header.setSectionResizeMode(col, mode)
        return self.table

    def _protocol_changed(self) -> None:
        scheme = SCHEMES[self.protocol.currentData()]
        self.port.setValue(scheme.default_port)
        self.rate.setValue(scheme.default_rate_hz)
        self.names.setEnabled(scheme.name == "vmc")

    # --- the list -------------------------------------------------------------------------------------
    def targets(self) -> list[OscTarget]:
        return [row.target for row in self._rows]

    def specs(self) -> list[str]:
        return [row.target.spec for row in self._rows]

    def add_target(self, target: OscTarget, notify: bool = True, known_ok: bool = False) -> bool:
        """Add a checked target; False (and a message) when it is already there, unless `known_ok`."""
        if target in self.targets():
            if not known_ok:
                self._show_error(f"{target.spec} is already in the list")
            return known_ok
        self.message.setText("")
        self._rows.append(_Row(target))
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, text in enumerate(("●", target.spec, "0", "—", "—", "waiting")):
            item = QTableWidgetItem(text)
            if col == 0:
                item.setForeground(QColor(140, 140, 140))
            self.table.setItem(row, col, item)
        if notify:
            self.added.emit(target)
        return True

    def add_spec(self, spec: str, notify: bool = True, known_ok: bool = False) -> bool | None:
        """Add a target written as a spec (the settings file's and the command line's form); see `_check`."""
        spec = spec.strip()
        try:
            host = urlsplit(spec).hostname or ""
        except ValueError:
            host = ""
        return self._check(lambda: parse_osc_target(spec), host, spec, (notify, known_ok))

    def remove_target(self, target: OscTarget) -> None:
        for i, row in enumerate(self._rows):
            if row.target == target:
                del self._rows[i]
                self.table.removeRow(i)
                self.removed.emit(target)
                return

    def _check(self, build: Callable[[], OscTarget], host: str, label: str,
               how: tuple[bool, bool] = (True, False)) -> bool | None:
        """Build and add a target; False (and a message) when it is unusable or already there. A host
        name (not an IP address) is resolved on a helper thread, since a name that does not resolve can
        block for seconds; the row appears when the check succeeds (None is returned)."""
        if label in self._checking:
            self._show_error(f"{label} is already in the list")
            return False
        if not needs_lookup(host):
            try:
                return self.add_target(build(), *how)
            except OscTargetError as exc:
                self._show_error(str(exc))
                return False
        self._checking.add(label)
        self.message.setStyleSheet("color: #9a9aa0;")
        self.message.setText(f"looking up {label} …")

        def check() -> None:
            try:
                self._checked.emit((label, build()), "", how)
            except OscTargetError as exc:
                self._checked.emit((label, None), str(exc), how)

        threading.Thread(target=check, name="osc-target-check", daemon=True).start()
        return None

    def _on_checked(self, checked: tuple[str, OscTarget | None], problem: str, how: tuple[bool, bool]) -> None:
        label, target = checked
        self._checking.discard(label)
        if target is None:
            self._show_error(problem)
        else:
            self.add_target(target, *how)

    def _add_clicked(self) -> None:
        host = self.host.text().strip()
        if not host:
            self._show_error("enter a host, e.g. 127.0.0.1")
            return
        scheme, port, rate = self.protocol.currentData(), self.port.value(), self.rate.value()
        names = self.names.currentData() if scheme == "vmc" else "arkit"
        self._check(lambda: make_osc_target(scheme, host, port, rate, names), host, f"{scheme}://{host}:{port}")

    def _remove_clicked(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        if not rows and self._rows:
            rows = [len(self._rows) - 1]
        for r in rows:
            self.remove_target(self._rows[r].target)

    def _show_error(self, message: str) -> None:
        self.show_message(message)
        self.error.emit(message)

    def show_message(self, message: str) -> None:
        """A problem with a target, under the form (the worker's errors about a target land here too)."""
        self.message.setStyleSheet("color: #ff7a6b;")
        self.message.setText(message)

    # --- figures and settings -------------------------------------------------------------------------------
    def update_stats(self, stats: Mapping[OscTarget, OscStats | StatsFailed], now: float, running: bool) -> None:
        """Refresh each row from its sender's stats()."""
        for i, row in enumerate(self._rows):
            s = stats.get(row.target)
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
            if row.last_time is not None and now > row.last_time:
                rate = (s.sent - row.last_sent) / (now - row.last_time)
                row.rate = rate if row.rate == 0 else 0.6 * row.rate + 0.4 * rate
            row.last_sent, row.last_time = s.sent, now
            self._set(i, 2, str(s.sent))
            self._set(i, 3, f"{row.rate:.0f}/s")
            self._set(i, 4, f"{s.median_latency_ms:.1f} ms" if s.median_latency_ms is not None else "—")
            if s.send_errors:
                status, colour = f"{s.send_errors} errors: {s.last_error}", QColor(255, 90, 80)
            elif row.rate > 0.5:
                status, colour = "sending", QColor(80, 220, 80)
            else:
                status, colour = "idle (nothing new to send)", QColor(230, 190, 60)
            self._set(i, 5, status)
            dot.setForeground(colour)
            self.table.item(i, 5).setToolTip(s.last_error or status)

    def _set(self, row: int, col: int, text: str) -> None:
        item = self.table.item(row, col)
        if item is not None and item.text() != text:
            item.setText(text)

    def load_settings(self, settings: QSettings) -> None:
        try:
            specs = json.loads(settings.value(SETTINGS_KEY, "[]") or "[]")
        except (TypeError, json.JSONDecodeError):
            specs = []
        for spec in specs:
            if isinstance(spec, str):
                self.add_spec(spec, notify=False)
        self.message.setText("")

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue(SETTINGS_KEY, json.dumps(self.specs()))
