"""live.outputs.Outputs, the one owner of the recording and the OSC senders: strict without a callback
(the command line), reporting through typed events with one (the window)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from live.events import Error, Event, RecordingStarted, RecordingStopped
from live.outputs import Outputs
from live.recording import OutputError
from occface_core.types import Box
from retarget.osc import OscStats, OscTarget, OscTargetError, make_osc_target
from tests.helpers import FakeBackend, FakeDetector
from tracking.pipeline import Pipeline
from tracking.types import Frame

FACE = Box(220, 140, 420, 340)
UNUSABLE = OscTarget("vmc", "nowhere", 39539, 60.0, address="no-such-host.invalid")   # no socket can be made


def frames(n: int):
    for i in range(n):
        yield Frame(index=i, timestamp=i / 30.0, image=np.full((480, 640, 3), 90, np.uint8),
                    captured_at=time.perf_counter())


def outputs(on_event=None) -> Outputs:
    pipeline = Pipeline(FakeBackend(FACE), FakeDetector(FACE))
    return Outputs(pipeline, 30.0, (640, 480), retarget=False, on_event=on_event)


def test_without_a_callback_an_output_that_cannot_start_raises(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = outputs()
    with pytest.raises(OutputError):
        out.start_recording(blocker / "sub" / "v.avi", None)
    with pytest.raises(OscTargetError, match="cannot open a UDP socket"):
        out.add_osc(UNUSABLE)
    assert out.pipeline.sinks == [] and out.recording is None


def test_with_a_callback_outputs_start_stop_and_report_typed_events(tmp_path):
    events: list[Event] = []
    out = outputs(events.append)
    target = make_osc_target("raw", "127.0.0.1", 9, 1000.0)     # the discard port: nobody listens
    assert out.add_osc(target) and not out.add_osc(UNUSABLE)
    assert out.start_recording(tmp_path / "v.avi", tmp_path / "d.jsonl")
    for frame in frames(4):
        out.pipeline.process(frame)
    stats = out.stats()
    assert stats.recording.frames == 4 and isinstance(stats.osc[target], OscStats)
    out.close()
    assert out.pipeline.sinks == []
    started, stopped = (next(e for e in events if isinstance(e, kind)) for kind in (RecordingStarted, RecordingStopped))
    assert started.video == tmp_path / "v.avi" and started.export == tmp_path / "d.jsonl"
    assert (stopped.video_frames, stopped.export_frames, stopped.frames) == (4, 4, 4)
    errors = [e for e in events if isinstance(e, Error)]
    assert len(errors) == 1 and errors[0].osc == UNUSABLE
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 4


def test_a_recording_that_cannot_start_is_an_event_and_nothing_is_attached(tmp_path):
    events: list[Event] = []
    out = outputs(events.append)
    assert not out.start_recording(tmp_path / "v.mkv", None)   # an unsupported container
    assert [type(e) for e in events] == [Error] and events[0].message.startswith("recording did not start")
    assert out.pipeline.sinks == [] and out.recording is None
