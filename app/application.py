"""Starting the desktop application: the Qt environment, the theme, error hooks, the window.

    python main.py --camera 0          # main.py calls run_app for every run without --headless
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import traceback

from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication

from live.session import SessionConfig

from .main_window import MainWindow
from .settings import APPLICATION, ORGANISATION, make_settings

log = logging.getLogger(__name__)


def apply_dark_theme(app: QApplication) -> None:
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


def run_app(config: SessionConfig, settings_path: str | os.PathLike | None = None, osc_specs: list[str] = ()) -> int:
    """Open the window on `config.source` and run until it is closed; returns the exit code."""
    reason = _no_display()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    prepare_qt_environment()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    apply_dark_theme(app)
    window = MainWindow(config, make_settings(settings_path), osc_specs=osc_specs)
    install_error_hooks(lambda: window)
    window.show()
    code = app.exec()
    return code or window.exit_code
