"""Assembling a tracking session (source, model, pipeline, outputs) from one typed config.

The headless CLI and the GUI both build their pipeline here, so they run the same thing. Everything
that can be wrong with the user's input (source, weights, output paths, OSC targets) is checked while
building and raised as a `SessionError` with a one-line message.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from occface_core.backends import BackendError, create_backend

from .capture import CaptureThread, SourceError
from occface_core.detector import BlazeFaceDetector
from .pipeline import Pipeline, PipelineOptions, Sink, Stage
from .recording import FrameExporter, OutputError, VideoRecorder


class SessionError(RuntimeError):
    """Bad user input found while building a session; the message is one line fit for the user."""


@dataclass
class SessionConfig:
    source: int | str | Path
    model: str = "auto"                    # auto | occface | mediapipe
    weights: Path | None = None
    record: Path | None = None             # annotated video
    export: Path | None = None             # per-frame .jsonl or .csv
    osc: list[str] = field(default_factory=list)   # e.g. ["vmc://127.0.0.1:39539"]
    max_frames: int | None = None
    realtime: bool = False                 # play a file at its frame rate, dropping stale frames like a camera
    smoothing: bool = True
    retarget: bool = True                  # head pose and blendshapes
    mirror: bool = False
    focal_length_px: float | None = None
    calibration: Path | None = None        # the user's neutral face: loaded if it exists, else saved there


@dataclass
class Session:
    config: SessionConfig
    capture: CaptureThread
    pipeline: Pipeline
    retarget_stage: Any | None = None

    def close(self) -> None:
        self.capture.stop()
        self.pipeline.close_sinks()
        self.pipeline.backend.close()
        self.pipeline.detector.close()


def build_stages(config: SessionConfig) -> list[Stage]:
    if not config.retarget:
        return []
    from retarget.calibration import CalibrationError
    from retarget.stage import RetargetOptions, RetargetStage

    # The calibration file is per user: loaded when it exists, otherwise written after calibrating.
    options = RetargetOptions(focal_length_px=config.focal_length_px, mirror=config.mirror,
                              calibration_path=config.calibration)
    try:
        return [RetargetStage(options)]
    except (CalibrationError, OSError) as exc:
        raise SessionError(f"cannot load calibration {config.calibration}: {exc}") from None


def build_osc_sinks(specs: list[str]) -> list[Sink]:
    if not specs:
        return []
    from retarget.osc import create_sender
    from retarget.osc_target import OscTargetError, parse_osc_target

    try:
        targets = [parse_osc_target(spec) for spec in specs]
    except OscTargetError as exc:
        raise SessionError(str(exc)) from None
    return [create_sender(target) for target in targets]


def build_session(config: SessionConfig) -> Session:
    """Open the source, load the model and create every output, or raise SessionError."""
    osc_sinks = build_osc_sinks(config.osc)        # cheap checks first: fail before opening a camera
    stages = build_stages(config)
    try:
        capture = CaptureThread(config.source, max_frames=config.max_frames, realtime=config.realtime)
    except SourceError as exc:
        raise SessionError(str(exc)) from None
    sinks: list[Sink] = []
    try:
        backend = create_backend(config.model, config.weights)
        if config.record is not None:
            fps = capture.info.fps
            sinks.append(VideoRecorder(config.record, fps, (capture.info.width, capture.info.height)))
        if config.export is not None:
            sinks.append(FrameExporter(config.export))
    except (BackendError, OutputError) as exc:
        capture.stop()
        for sink in sinks:
            sink.close()
        raise SessionError(str(exc)) from None
    sinks.extend(osc_sinks)
    pipeline = Pipeline(backend, BlazeFaceDetector(), PipelineOptions(smoothing=config.smoothing),
                        stages=stages, sinks=sinks)
    return Session(config, capture, pipeline, stages[0] if stages else None)
