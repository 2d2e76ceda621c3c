"""The figures of a run: the run summary (`--summary-json`, the window's status) and each output's counters."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .types import Timing


@dataclass
class SinkStats:
    """An output's counters for the run summary; each kind of output adds its own fields.
    `to_dict()` is the summary JSON's form, `errors` what counts toward the summary's sink_errors."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def errors(self) -> int:
        return 0


@dataclass
class StatsFailed(SinkStats):
    """stats() itself raised: the summary says so instead of losing the run's other figures."""

    sink: str
    stats_error: str


@dataclass
class RunSummary:
    source: str = ""
    model: str = ""
    frames_read: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0
    frames_lost: int = 0            # a damaged file's frames that could not be decoded (skipped)
    detector_calls: int = 0
    frames_with_face: int = 0
    wall_seconds: float = 0.0
    stage_median_ms: dict[Timing, float] = field(default_factory=dict)
    sinks: list[SinkStats] = field(default_factory=list)
    sink_errors: int = 0
    interrupted: bool = False
    source_error: str | None = None
    source_warning: str | None = None

    @property
    def fps(self) -> float:
        return self.frames_processed / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def detector_share(self) -> float:
        return self.detector_calls / self.frames_processed if self.frames_processed else 0.0

    @property
    def face_share(self) -> float:
        return self.frames_with_face / self.frames_processed if self.frames_processed else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "model": self.model,
            "frames_read": self.frames_read, "frames_processed": self.frames_processed,
            "frames_dropped": self.frames_dropped, "frames_lost": self.frames_lost,
            "detector_calls": self.detector_calls,
            "detector_share": round(self.detector_share, 4),
            "frames_with_face": self.frames_with_face, "face_share": round(self.face_share, 4),
            "wall_seconds": round(self.wall_seconds, 3), "fps": round(self.fps, 2),
            "stage_median_ms": {k: round(v, 3) for k, v in self.stage_median_ms.items()},
            "sinks": [s.to_dict() for s in self.sinks], "sink_errors": self.sink_errors,
            "interrupted": self.interrupted, "source_error": self.source_error,
            "source_warning": self.source_warning,
        }
