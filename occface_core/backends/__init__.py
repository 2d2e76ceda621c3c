"""Landmark backends behind one interface: a frame and a region in; 100 points, visibility, face score out.

`create_backend` is the one place that knows the concrete classes, so the tracker, the evaluation
command and the app choose a backend by name.
"""
from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import UserError
from ..types import Box, LandmarkPrediction

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEFAULT_OCCFACE_WEIGHTS = ASSETS / "occface.onnx"


class BackendError(UserError):
    """A backend cannot be created (missing or corrupt weights, a missing dependency)."""


class LandmarkBackend(Protocol):
    """Predicts the 100-point layout for the face inside `roi` of `frame` (BGR, uint8)."""

    name: str

    def predict(self, frame: np.ndarray, roi: Box) -> LandmarkPrediction: ...

    def close(self) -> None: ...


@runtime_checkable
class RefiningBackend(LandmarkBackend, Protocol):
    """A backend whose prediction has a second step that needs only the frame and the first step's
    points (OccFace's eye stage): `predict` is `refine(frame, locate(frame, roi))`. The tracker needs
    only `locate`, so the pipeline runs `refine` beside the next frame's tracking. `refines` is False
    when there is no second step (the eye stage is off or its weights are missing)."""

    refines: bool

    def locate(self, frame: np.ndarray, roi: Box) -> LandmarkPrediction: ...

    def refine(self, frame: np.ndarray, prediction: LandmarkPrediction) -> LandmarkPrediction: ...


class ModelName(StrEnum):
    """The landmark models a user can choose (``--model``); AUTO is OccFace when its weights exist."""

    AUTO = "auto"
    OCCFACE = "occface"
    MEDIAPIPE = "mediapipe"

    @classmethod
    def parse(cls, value: "str | ModelName") -> "ModelName":
        """The one check of a model name from the user; BackendError names the choices."""
        try:
            return cls(value)
        except ValueError:
            raise BackendError(f"unknown backend {value!r}; choose one of {', '.join(BACKEND_NAMES)}") from None


BACKEND_NAMES = tuple(m.value for m in ModelName)


def create_backend(name: str | ModelName = ModelName.AUTO, weights: Path | None = None,
                   eye_stage: bool = True, part_stages: bool = True) -> LandmarkBackend:
    """Build a backend by name. "auto" is OccFace when its shipped weights exist, else MediaPipe.
    `eye_stage`, `part_stages`: OccFace's second look at each eye, at the mouth and the nose, when their weights
    sit beside the face model's."""
    name = ModelName.parse(name)
    if name is ModelName.AUTO:
        name = ModelName.OCCFACE if (weights is not None or _occface_available()) else ModelName.MEDIAPIPE
    if name is ModelName.MEDIAPIPE:
        from .mediapipe_backend import MediaPipeMeshBackend
        return MediaPipeMeshBackend()
    if name is ModelName.OCCFACE:
        path = Path(weights) if weights is not None else DEFAULT_OCCFACE_WEIGHTS
        if not path.is_file():
            raise BackendError(f"model weights not found: {path}")
        from .occface_backend import OccFaceBackend  # onnxruntime is loaded only when chosen
        return OccFaceBackend(path, eye_stage=eye_stage, part_stages=part_stages)
    raise AssertionError(f"unhandled model {name}")  # ModelName.parse admitted a member added above


def _occface_available() -> bool:
    return DEFAULT_OCCFACE_WEIGHTS.is_file()
