"""Assembling a tracking session (source, model, pipeline, outputs) from one typed config.

This is the composition of the layers below: the headless CLI, the window's worker and the benchmarks
all build their pipeline here, so they run the same thing. Everything that can be wrong with the user's
input (source, weights, output paths, OSC targets, calibration file) is found while building and raised
as the `UserError` subclass of the part that found it; with an `on_event` callback (the window) an output
that cannot start is reported there instead and the session runs without it.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from occface_core.backends import ModelName, create_backend
from occface_core.detector import BlazeFaceDetector
from retarget.osc import OscTarget
from retarget.stage import RetargetOptions, RetargetStage
from tracking.capture import CaptureThread
from tracking.pipeline import Pipeline, PipelineOptions
from tracking.smoother import DEFAULT_STRENGTH, SmootherOptions
from tracking.summary import RunSummary

from .annotate import OverlayOptions
from .events import EventSink
from .output_paths import check_writable
from .outputs import Outputs


@dataclass
class SessionConfig:
    source: int | str | Path
    model: ModelName | str = ModelName.AUTO   # checked once, by create_backend
    weights: Path | None = None
    eye_stage: bool = True                 # OccFace's second look at each eye (blinks); about 0.8 ms a frame
    record: Path | None = None             # annotated video
    export: Path | None = None             # per-frame .jsonl or .csv
    osc: list[OscTarget] = field(default_factory=list)
    max_frames: int | None = None
    realtime: bool = False                 # play a file at its frame rate, dropping stale frames like a camera
    paced: bool = False                    # play a file at its frame rate without dropping (the window)
    smoothing: bool = True
    smoothing_strength: float = DEFAULT_STRENGTH   # tracking.smoother.STRENGTH_HELP; 0 is no smoothing
    retarget: bool = True                  # head pose and blendshapes
    mirror: bool = False
    focal_length_px: float | None = None
    calibration: Path | None = None        # the user's neutral face: loaded if it exists, else saved there


@dataclass
class Session:
    config: SessionConfig
    capture: CaptureThread
    pipeline: Pipeline
    outputs: Outputs
    retarget_stage: RetargetStage | None = None

    def run(self, stop: threading.Event | None = None) -> RunSummary:
        """The headless run: every frame of the source until it ends or `stop` is set."""
        self.capture.start()
        return self.pipeline.run(self.capture, stop)

    def close(self) -> None:
        """Release the source, finalise every output, free the models; safe to call more than once."""
        self.capture.stop()
        self.outputs.close()
        self.pipeline.close_sinks()
        self.pipeline.backend.close()
        self.pipeline.detector.close()


def run_session(config: SessionConfig, sinks: tuple = (), stop: threading.Event | None = None) -> RunSummary:
    """Build a session, run it headless to the end (or until `stop` is set) with these extra sinks (a
    benchmark's collectors, the batch's visibility meter), and close it whatever happens."""
    session = build_session(config)
    for sink in sinks:
        session.pipeline.add_sink(sink)
    try:
        return session.run(stop)
    finally:
        session.close()


def smoother_settings(config: SessionConfig) -> tuple[SmootherOptions, bool]:
    """The smoother's options at the config's strength, and whether smoothing is on at all."""
    return SmootherOptions().with_strength(config.smoothing_strength), config.smoothing and config.smoothing_strength > 0


def build_retarget_stage(config: SessionConfig) -> RetargetStage | None:
    """The per-user calibration file is loaded when it exists (a bad one raises CalibrationError),
    otherwise written after calibrating: then its folder is checked now (an OutputError), not when the
    calibration made during the run is lost."""
    if not config.retarget:
        return None
    if config.calibration is not None and not Path(config.calibration).exists():
        check_writable(Path(config.calibration), "the calibration file")
    return RetargetStage(RetargetOptions(focal_length_px=config.focal_length_px, mirror=config.mirror,
                                         calibration_path=config.calibration))


def build_session(config: SessionConfig, on_event: EventSink | None = None,
                  overlay: OverlayOptions | None = None) -> Session:
    """Open the source, load the model and open the outputs the config asks for, or raise a UserError."""
    stage = build_retarget_stage(config)
    capture = CaptureThread(config.source, max_frames=config.max_frames, realtime=config.realtime,
                            paced=config.paced)
    try:
        backend = create_backend(config.model, config.weights, eye_stage=config.eye_stage)
    except BaseException:
        capture.stop()
        raise
    smoother, smoothing_on = smoother_settings(config)
    pipeline = Pipeline(backend, BlazeFaceDetector(), PipelineOptions(smoother=smoother, smoothing=smoothing_on),
                        stages=[stage] if stage is not None else [])
    return assemble_session(config, capture, pipeline, stage, on_event, overlay)


def assemble_session(config: SessionConfig, capture: CaptureThread, pipeline: Pipeline,
                     stage: RetargetStage | None = None, on_event: EventSink | None = None,
                     overlay: OverlayOptions | None = None) -> Session:
    """A session around a built pipeline, with the recording and OSC targets of `config` started."""
    info = capture.info
    outputs = Outputs(pipeline, info.fps, (info.width, info.height), retarget=stage is not None,
                      on_event=on_event, overlay=overlay)
    session = Session(config, capture, pipeline, outputs, stage)
    try:
        outputs.start_recording(config.record, config.export)
        for target in config.osc:
            outputs.add_osc(target)
    except BaseException:
        session.close()
        raise
    return session
