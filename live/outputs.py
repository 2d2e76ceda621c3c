"""The one owner of a session's outputs: the recording (annotated video and per-frame export) and the OSC
senders. It alone creates them, attaches them to the pipeline, takes them off and closes them, and
reports their figures (`stats()`) and their errors.

Errors: with no `on_event` callback (the command line) an output that cannot start raises its
`UserError`, so the run never begins; with one (the window) it becomes an `Error` event and tracking goes
on without that output, and a write that fails later is reported once the same way. Call every method
from the thread that runs the pipeline (the window's worker does so between frames).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from occface_core.errors import UserError
from retarget.osc import OscSender, OscStats, OscTarget, create_sender
from tracking.pipeline import Pipeline, Sink
from tracking.summary import StatsFailed
from tracking.types import FaceResult

from .annotate import OverlayOptions
from .events import Error, Event, EventSink, RecordingStarted, RecordingStopped
from .recording import FrameExporter, OutputError, VideoRecorder

log = logging.getLogger(__name__)


@dataclass
class RecordingInfo:
    video: Path | None
    export: Path | None
    started_at: float               # time.perf_counter()
    frames: int = 0                 # written so far (the video's count when there is one)

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started_at


@dataclass
class OutputStats:
    recording: RecordingInfo | None = None
    osc: dict[OscTarget, OscStats | StatsFailed] = field(default_factory=dict)


class _Reporting:
    """A recording sink whose first failed write becomes an event (disk full, folder removed); the error
    is raised on, so the pipeline counts it and tracking goes on."""

    def __init__(self, sink: VideoRecorder | FrameExporter, what: str, outputs: Outputs):
        self.sink, self.what, self._outputs = sink, what, outputs
        self.errors = 0

    def send(self, result: FaceResult) -> None:
        try:
            self.sink.send(result)
        except Exception as exc:
            self.errors += 1
            if self.errors == 1:
                self._outputs.report(Error(f"recording the {self.what} failed: {exc} (tracking goes on)"))
            raise

    def close(self) -> None:
        self.sink.close()

    def stats(self):
        return self.sink.stats()


class Outputs:
    """Recording and OSC for one pipeline. `frame_rate` and `frame_size` are the source's (the video's),
    `retarget` whether head pose and shapes are computed (the CSV's columns)."""

    def __init__(self, pipeline: Pipeline, frame_rate: float, frame_size: tuple[int, int], retarget: bool,
                 on_event: EventSink | None = None, overlay: OverlayOptions | None = None):
        self.pipeline = pipeline
        self.frame_rate, self.frame_size, self.retarget = frame_rate, frame_size, retarget
        self.overlay = overlay               # drawn into recordings started from now on
        self._on_event = on_event
        self._video: Sink | None = None
        self._export: Sink | None = None
        self._recording: RecordingInfo | None = None
        self._osc: dict[OscTarget, OscSender] = {}

    # --- recording ------------------------------------------------------------------------------------
    @property
    def recording(self) -> RecordingInfo | None:
        return self._recording

    def start_recording(self, video: Path | None, export: Path | None,
                        overlay: OverlayOptions | None = None) -> bool:
        """Record the annotated video and/or the per-frame data (a recording in progress stops first)."""
        if video is None and export is None:
            return False
        self.stop_recording()
        recorder = exporter = None
        try:
            if video is not None:
                recorder = VideoRecorder(Path(video), self.frame_rate, self.frame_size, overlay or self.overlay)
            if export is not None:
                exporter = FrameExporter(Path(export), retarget=self.retarget)
        except (UserError, OSError) as exc:
            if recorder is not None:
                recorder.close()
            if isinstance(exc, OSError):
                exc = OutputError(f"cannot record: {exc.strerror or exc}")
            return self._failed(exc, f"recording did not start: {exc}")
        self._video, self._export = self._reporting(recorder, "video"), self._reporting(exporter, "per-frame data")
        for sink in (self._video, self._export):
            if sink is not None:
                self.pipeline.add_sink(sink)
        self._recording = RecordingInfo(video=Path(video) if video else None, export=Path(export) if export else None,
                                        started_at=time.perf_counter())
        self.report(RecordingStarted(f"recording to {video or export}", video=video, export=export))
        return True

    def stop_recording(self) -> None:
        """Finalise the recording's files (a no-op when nothing records)."""
        info = self._recording
        if info is None:
            return
        frames = {}
        for name, sink in (("video", self._video), ("export", self._export)):
            if sink is not None:
                self._detach(sink, f"the {name}")
                frames[name] = _written(sink)
        self._video = self._export = None
        self._recording = None
        written = frames.get("video", frames.get("export", 0))
        self.report(RecordingStopped(f"recorded {written} frames ({info.elapsed_s:.1f} s) to {info.video or info.export}",
                                     video=info.video, export=info.export, video_frames=frames.get("video"),
                                     export_frames=frames.get("export")))

    def _reporting(self, sink, what: str) -> Sink | None:
        if sink is None or self._on_event is None:
            return sink
        return _Reporting(sink, what, self)

    # --- OSC ----------------------------------------------------------------------------------------------
    def add_osc(self, target: OscTarget) -> bool:
        """Start streaming to `target` (already streaming: nothing to do)."""
        if target in self._osc:
            return True
        try:
            sender = create_sender(target)
        except UserError as exc:
            return self._failed(exc, str(exc), osc=target)
        self._osc[target] = sender
        self.pipeline.add_sink(sender)
        self.report(Event(f"streaming to {target.spec}"))
        return True

    def remove_osc(self, target: OscTarget) -> None:
        sender = self._osc.pop(target, None)
        if sender is not None:
            self._detach(sender, target.spec)

    # --- figures, errors, the end -----------------------------------------------------------------------------
    def stats(self) -> OutputStats:
        osc: dict[OscTarget, OscStats | StatsFailed] = {}
        for target, sender in self._osc.items():
            try:
                osc[target] = sender.stats()
            except Exception as exc:
                osc[target] = StatsFailed(sink=target.spec, stats_error=str(exc))
        recording = None
        if self._recording is not None:
            sink = self._video or self._export
            recording = dataclasses.replace(self._recording, frames=_written(sink) if sink is not None else 0)
        return OutputStats(recording, osc)

    def close(self) -> None:
        """Finalise the recording, then close every OSC sender; safe to call more than once."""
        self.stop_recording()
        for target in list(self._osc):
            self.remove_osc(target)

    def report(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event)
        elif isinstance(event, Error):
            log.warning("%s", event.message)

    def _failed(self, exc: UserError, message: str, osc: OscTarget | None = None) -> bool:
        if self._on_event is None:
            raise exc
        self.report(Error(message, osc=osc))
        return False

    def _detach(self, sink: Sink, what: str) -> None:
        """Take an output out of the pipeline and close it."""
        self.pipeline.remove_sink(sink)
        try:
            sink.close()
        except Exception as exc:
            self.report(Error(f"closing {what} failed: {exc}"))


def _written(sink: Sink) -> int:
    inner = sink.sink if isinstance(sink, _Reporting) else sink
    return int(getattr(inner, "frames_written", 0))
