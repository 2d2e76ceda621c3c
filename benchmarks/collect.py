"""What a benchmark's collecting output reports to the run summary."""
from __future__ import annotations

from dataclasses import dataclass

from tracking.pipeline import SinkStats


@dataclass
class CollectorStats(SinkStats):
    sink: str
    frames: int
