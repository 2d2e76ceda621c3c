import time

import cv2
import numpy as np
import pytest

from tracking.capture import CaptureThread, SourceError


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 60-frame 160×120 clip whose frame index is written into its pixels."""
    path = tmp_path_factory.mktemp("clip") / "count.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for i in range(60):
        writer.write(np.full((120, 160, 3), i * 4, np.uint8))
    writer.release()
    return path


def frame_value(frame) -> int:
    return int(round(float(frame.image.mean()) / 4))


def drain(capture, delay=0.0):
    frames = []
    while True:
        frame = capture.get(timeout=5)
        if frame is None:
            return frames
        frames.append(frame)
        time.sleep(delay)


def test_a_file_loses_no_frame_even_with_a_slow_consumer(clip):
    with CaptureThread(clip) as capture:
        frames = drain(capture, delay=0.005)
    assert [f.index for f in frames] == list(range(60))
    assert [frame_value(f) for f in frames] == list(range(60))
    assert capture.frames_dropped == 0 and capture.frames_read == 60
    assert frames[30].timestamp == pytest.approx(1.0)


def test_realtime_drops_stale_frames_and_counts_them(clip):
    with CaptureThread(clip, realtime=True) as capture:
        frames = drain(capture, delay=0.1)  # a consumer at 10 fps behind a 30 fps source
    indices = [f.index for f in frames]
    assert indices == sorted(indices) and len(indices) < 40
    assert capture.frames_dropped > 0
    assert capture.frames_read == 60
    assert len(frames) + capture.frames_dropped == 60


def test_paced_playback_keeps_the_frame_rate_drops_nothing_and_does_not_race_after_a_stall(clip):
    with CaptureThread(clip, max_frames=24, paced=True) as capture:
        first = [capture.get(timeout=5) for _ in range(12)]
        # 12 frames span 11 frame intervals, 0.37 s; unpaced they would come in a few ms. Half of it is
        # the bound: on a loaded machine the reader thread can be descheduled between setting the pace
        # and stamping frame 0, which shortens the measured span without any racing.
        assert first[11].captured_at - first[0].captured_at >= 0.5 * 11 / 30
        time.sleep(1.0)                                          # a pause: the reader waits on a full queue
        rest = drain(capture)
        times = [f.captured_at for f in rest]
    assert [f.index for f in first + rest] == list(range(24)) and capture.frames_dropped == 0
    # after the queued frames the clock restarts: the later frames come at the frame rate again
    assert times[-1] - times[5] >= (len(times) - 6) / 30 - 0.05


def test_max_frames_stops_the_source(clip):
    with CaptureThread(clip, max_frames=7) as capture:
        assert len(drain(capture)) == 7


def test_seek_jumps_in_a_file(clip):
    capture = CaptureThread(clip)
    capture.seek(50)
    capture.start()
    frames = drain(capture)
    capture.stop()
    assert frames[0].index == 50 and frame_value(frames[0]) == 50


def test_bad_sources_raise_one_line_errors(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        CaptureThread(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(SourceError, match="empty"):
        CaptureThread(tmp_path / "empty.mp4")


def test_after_a_seek_the_next_frame_is_the_one_asked_for(clip):
    """Frames read ahead before the seek must not come out after it."""
    with CaptureThread(clip) as capture:
        for target in (40, 5, 33, 12, 50, 0, 21):
            capture.get(timeout=5)
            time.sleep(0.01)  # let the reader fill its queue ahead
            capture.seek(target)
            frame = capture.get(timeout=5)
            assert frame.index == target and frame_value(frame) == target


def test_a_truncated_file_warns_once_with_frames_read_against_frames_expected(clip, tmp_path):
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])   # the header still says 60 frames
    with CaptureThread(truncated) as capture:
        frames = drain(capture)
    assert 0 < len(frames) < 60
    assert capture.read_warning == (f"{truncated} ended after {len(frames)} of 60 frames: "
                                    "the file may be truncated or damaged")
    assert capture.read_error is None   # a damaged file is played as far as it goes, not an error


def test_a_complete_file_gives_no_warning(clip):
    with CaptureThread(clip) as capture:
        drain(capture)
    assert capture.read_warning is None
