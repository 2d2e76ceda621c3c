"""Typed events: what the outputs and the worker tell the window, one class per kind of news.

Each carries a one-line `message` for the window's banner and log, and typed fields for what the window
does with it (which OSC target an error is about, which files a recording wrote, how far a run got).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Callable, ClassVar

from retarget.osc import OscTarget


class EventKind(StrEnum):
    ERROR = "error"
    INFO = "info"
    RECORDING_STARTED = "recording-started"
    RECORDING_STOPPED = "recording-stopped"
    ENDED = "ended"


@dataclass(frozen=True)
class Event:
    """News for the user: the base class is a plain message ("streaming to …", "calibrating …")."""

    message: str
    kind: ClassVar[EventKind] = EventKind.INFO


@dataclass(frozen=True)
class Error(Event):
    """Something failed; tracking goes on unless the run ended. `osc` names the OSC target at fault."""

    osc: OscTarget | None = None
    kind: ClassVar[EventKind] = EventKind.ERROR


@dataclass(frozen=True)
class RecordingStarted(Event):
    video: Path | None = None
    export: Path | None = None
    kind: ClassVar[EventKind] = EventKind.RECORDING_STARTED


@dataclass(frozen=True)
class RecordingStopped(Event):
    video: Path | None = None
    export: Path | None = None
    video_frames: int | None = None     # frames in each file (None: that file was not recorded)
    export_frames: int | None = None
    kind: ClassVar[EventKind] = EventKind.RECORDING_STOPPED

    @property
    def frames(self) -> int:
        return self.video_frames if self.video_frames is not None else (self.export_frames or 0)


@dataclass(frozen=True)
class Ended(Event):
    """The run is over: `frames` reached in the source, `processed` in all (a seek back replays frames)."""

    frames: int = 0
    processed: int = 0
    stopped: bool = False               # by the user, not by the end of the source
    kind: ClassVar[EventKind] = EventKind.ENDED


EventSink = Callable[[Event], None]
