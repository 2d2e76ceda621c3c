"""Where the window keeps its settings (QSettings): the user's, or an .ini file for tests and scripts."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from PyQt6.QtCore import QSettings, QStandardPaths

ORGANISATION = "OccFace"
APPLICATION = "OccFace Live"
SETTINGS_ENV = "OCCFACE_SETTINGS"  # path of an .ini file used instead of the user's settings (tests)


def make_settings(path: str | os.PathLike | None = None) -> QSettings:
    """The app's settings: an .ini file when `path` (or $OCCFACE_SETTINGS) is given, else the user's."""
    path = path or os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(ORGANISATION, APPLICATION)


def calibration_path(settings: QSettings) -> Path:
    """The user's neutral face, next to the settings: loaded at start when it exists, written by
    "Calibrate neutral" (and by the automatic calibration of a first run)."""
    folder = Path(settings.fileName()).parent
    if sys.platform == "win32" and settings.format() != QSettings.Format.IniFormat:
        # native settings live in the registry there, not in a folder
        folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation))
    return folder / "neutral_face.json"
