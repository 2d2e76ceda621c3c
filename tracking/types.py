"""Typed values that flow through the tracking pipeline."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from occface_core.types import Box


@dataclass
class Frame:
    """One captured image. `timestamp` is seconds of media time (files) or capture time (cameras);
    `captured_at` is time.perf_counter() when the frame was captured (cameras, realtime playback) or
    handed to the pipeline (files read ahead), for latency figures."""

    index: int
    timestamp: float
    image: np.ndarray
    captured_at: float


@dataclass
class FaceResult:
    """The pipeline's answer for one frame.

    points/visibility are the smoothed landmarks (100×2 frame pixels, 100 probabilities), None when no
    face was found. raw_points are the model's unsmoothed output. detected says whether the detector ran
    on this frame (False: the region came from the previous frame's landmarks). `extras` carries what
    later stages add (head pose, blendshapes) so that sinks can export them without knowing the stage.
    """

    frame_index: int
    timestamp: float
    captured_at: float
    frame_size: tuple[int, int]  # (width, height)
    has_face: bool
    detected: bool
    roi: Box | None = None
    points: np.ndarray | None = None
    visibility: np.ndarray | None = None
    raw_points: np.ndarray | None = None
    face_score: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    fps: float | None = None  # the pipeline's recent processing rate, for overlays
    image: np.ndarray | None = field(default=None, repr=False, compare=False)  # the frame itself
