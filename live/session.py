"""Assembling a tracking session (source, model, pipeline, outputs) from one typed config.

This is the composition of the layers below: the headless CLI and the GUI both build their pipeline
here, so they run the same thing. Everything that can be wrong with the user's input (source, weights,
output paths, OSC targets, calibration file) is found while building and raised as the `UserError`
subclass of the part that found it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from occface_core.backends import ModelName, create_backend
from occface_core.detector import BlazeFaceDetector
from retarget.osc import create_sender, parse_osc_target
from retarget.stage import RetargetOptions, RetargetStage
from tracking.capture import CaptureThread
from tracking.pipeline import Pipeline, PipelineOptions, Sink

from .recording import FrameExporter, VideoRecorder


@dataclass
class SessionConfig:
    source: int | str | Path
    model: ModelName | str = ModelName.AUTO   # checked once, by create_backend
    weights: Path | None = None
    eye_stage: bool = True                 # OccFace's second look at each eye (blinks); about 0.8 ms a frame
    record: Path | None = None             # annotated video
    export: Path | None = None             # per-frame .jsonl or .csv
    osc: list[str] = field(default_factory=list)   # e.g. ["vmc://127.0.0.1:39539"]
    max_frames: int | None = None
    realtime: bool = False                 # play a file at its frame rate, dropping stale frames like a camera
    paced: bool = False                    # play a file at its frame rate without dropping (the window)
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
    retarget_stage: RetargetStage | None = None

    def close(self) -> None:
        self.capture.stop()
        self.pipeline.close_sinks()
        self.pipeline.backend.close()
        self.pipeline.detector.close()


def build_retarget_stage(config: SessionConfig) -> RetargetStage | None:
    """The per-user calibration file is loaded when it exists (a bad one raises CalibrationError),
    otherwise written after calibrating."""
    if not config.retarget:
        return None
    return RetargetStage(RetargetOptions(focal_length_px=config.focal_length_px, mirror=config.mirror,
                                         calibration_path=config.calibration))


def build_osc_sinks(specs: list[str]) -> list[Sink]:
    targets = [parse_osc_target(spec) for spec in specs]  # all parsed before any socket opens
    return [create_sender(target) for target in targets]


def build_session(config: SessionConfig) -> Session:
    """Open the source, load the model and create every output, or raise a UserError."""
    osc_sinks = build_osc_sinks(config.osc)        # cheap checks first: fail before opening a camera
    stage = build_retarget_stage(config)
    capture = CaptureThread(config.source, max_frames=config.max_frames, realtime=config.realtime,
                           paced=config.paced)
    sinks: list[Sink] = []
    try:
        backend = create_backend(config.model, config.weights, eye_stage=config.eye_stage)
        if config.record is not None:
            sinks.append(VideoRecorder(config.record, capture.info.fps, (capture.info.width, capture.info.height)))
        if config.export is not None:
            sinks.append(FrameExporter(config.export, retarget=stage is not None))
    except BaseException:
        capture.stop()
        for sink in sinks + osc_sinks:
            sink.close()
        raise
    sinks.extend(osc_sinks)
    pipeline = Pipeline(backend, BlazeFaceDetector(), PipelineOptions(smoothing=config.smoothing),
                        stages=[stage] if stage is not None else [], sinks=sinks)
    return Session(config, capture, pipeline, stage)
