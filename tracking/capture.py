"""Frame capture on its own thread: a camera index or a video file.

Live sources never queue up latency: the consumer always gets the newest frame, and frames it was too
slow to take are dropped and counted. Files are read without dropping, so a recording keeps every
frame; the reader simply waits for the consumer. A damaged stretch of a file is read past: its frames
that cannot be decoded are skipped and counted as lost (`frames_lost`), and keep their place in the
frame numbering.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# FFmpeg (inside OpenCV) prints decoder complaints such as "[wmv2 @ 0x...] Error at MB" while reading a
# damaged file; the capture reports that in one line of its own. Read when OpenCV first uses FFmpeg.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")   # AV_LOG_QUIET

import cv2  # noqa: E402

from occface_core.errors import UserError
from occface_core.native_logs import quiet_native_stderr

from .types import Frame

log = logging.getLogger(__name__)

# OpenCV's FFmpeg reader gives up on one bad packet per failed read, and the next read goes on after it;
# at the end of a file every read fails, in well under a microsecond. So this many failed reads in a row
# is the end, and a damaged stretch shorter than that is read past.
MAX_FAILED_READS_IN_A_ROW = 1000


class SourceError(UserError):
    """The camera or video cannot be opened or read; the message is fit for the user."""


@dataclass(frozen=True)
class SourceInfo:
    description: str
    live: bool
    width: int
    height: int
    fps: float
    frame_count: int | None  # None for cameras


def open_capture(source: int | str | Path) -> tuple[cv2.VideoCapture, SourceInfo]:
    """Open a camera index or a video file and check that a first frame can be read.

    OpenCV and FFmpeg print their own diagnostics while probing a bad source; those are silenced
    here because the SourceError says the same in one line.
    """
    with quiet_native_stderr():
        return _open_capture(source)


def _open_capture(source: int | str | Path) -> tuple[cv2.VideoCapture, SourceInfo]:
    live = isinstance(source, int)
    if live:
        cap = cv2.VideoCapture(source)
        description = f"camera {source}"
        if not cap.isOpened():
            raise SourceError(f"camera {source} could not be opened (is it connected and free?)")
    else:
        path = Path(source)
        description = str(path)
        if path.is_dir():
            raise SourceError(f"{path} is a folder, not a video file")
        if not path.is_file():
            raise SourceError(f"video file not found: {path}")
        if path.stat().st_size == 0:
            raise SourceError(f"video file is empty: {path}")
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise SourceError(f"video file could not be opened (corrupt or unsupported format): {path}")
    ok, first = cap.read()
    if not ok or first is None:
        cap.release()
        kind = "camera" if live else "video file"
        raise SourceError(f"{kind} gave no frames: {description}")
    if not live:
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    count = cap.get(cv2.CAP_PROP_FRAME_COUNT) if not live else 0.0
    plausible = 0 < count < 1e8   # a file without a duration in its header gives garbage here
    info = SourceInfo(description, live, first.shape[1], first.shape[0], fps if fps > 0 else 30.0,
                      int(count) if plausible else None)
    return cap, info


def ended_early_warning(info: SourceInfo, frames_available: int) -> str | None:
    """One line when a file ends well before the length its header gives, or gives no length at all
    (both happen to truncated downloads); None for a file that ended where it should."""
    expected = info.frame_count
    if expected is None:
        return (f"{info.description} ended after {frames_available} frames and its header gives no length: "
                "the file may be truncated or damaged")
    if frames_available < expected - max(2, 0.02 * expected):   # header counts may be estimates
        return (f"{info.description} ended after {frames_available} of {expected} frames: "
                "the file may be truncated or damaged")
    return None


def frames_lost_warning(info: SourceInfo, lost: int) -> str:
    """One line for a damaged file whose undecodable frames were skipped."""
    of = f" of {info.frame_count}" if info.frame_count is not None else ""
    return f"{info.description}: {lost}{of} frames could not be decoded (the file is damaged) and were skipped"


_END = object()  # sentinel put in the queue when the source is exhausted


class CaptureThread:
    """Reads frames on a background thread and hands them to one consumer.

    Use as a context manager or call start()/stop(). `get()` returns the next Frame, or None at the end
    of a file (or after stop()).

    `realtime=True` plays a video file at its own frame rate and drops what the consumer misses, as a
    camera would (for trying and benchmarking live behaviour without a camera); cameras always are.
    `paced=True` plays a file at its own frame rate without dropping (the window's playback): after a
    pause or a stall the clock restarts instead of racing to catch up.
    """

    def __init__(self, source: int | str | Path, max_frames: int | None = None, file_queue_size: int = 4,
                 realtime: bool = False, paced: bool = False):
        self._cap, self.info = open_capture(source)
        self._max_frames = max_frames
        self.realtime = realtime or self.info.live
        self.paced = paced and not self.realtime
        # A live source keeps one slot (the newest frame); a file blocks the reader instead of dropping.
        self._queue: queue.Queue = queue.Queue(maxsize=1 if self.realtime else file_queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._lock = threading.Lock()
        self._next_index = 0
        self._generation = 0  # bumped by seek(); frames carry the generation they were read in
        self._pace_origin: tuple[float, int] | None = None  # (perf_counter, frame index) of realtime playback
        self.frames_read = 0
        self.frames_dropped = 0
        self.frames_lost = 0   # a damaged file's frames that could not be decoded
        self.read_error: str | None = None
        self.read_warning: str | None = None   # a file that ended early: read on, but tell the user

    def start(self) -> "CaptureThread":
        self._thread.start()
        return self

    def __enter__(self) -> "CaptureThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._drain()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        self._cap.release()

    def get(self, timeout: float | None = None) -> Frame | None:
        """The next frame; None at the end of the source. Raises queue.Empty on timeout."""
        while True:
            item = self._queue.get(timeout=timeout)
            if item is _END:
                self._queue.put(_END)  # stay at the end for any later call
                return None
            generation, item = item
            if generation == self._generation:
                break
            # read before a seek and handed over after it: not the frame the user asked for
        if not self.realtime:
            # A file is read ahead of the consumer; the time it waited in that queue is not capture
            # latency a camera would have, so latency is counted from when the frame is taken.
            item.captured_at = time.perf_counter()
        return item

    def seek(self, frame_index: int) -> None:
        """Jump to a frame of a file (used by the GUI's position slider)."""
        if self.info.live:
            return
        with self._lock:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, max(0, frame_index))
            self._next_index = max(0, frame_index)
            self._generation += 1
            self._pace_origin = None  # realtime playback restarts its clock at the new position
            self._drain()

    def _drain(self) -> None:
        try:
            while True:
                if self._queue.get_nowait() is _END:
                    self._queue.put_nowait(_END)
                    return
        except (queue.Empty, queue.Full):
            pass

    def _run(self) -> None:
        start = time.perf_counter()
        failed = 0   # failed reads of a file in a row, since its last frame (or the last seek)
        failed_generation = 0
        try:
            while not self._stop.is_set():
                if self._max_frames is not None and self.frames_read >= self._max_frames:
                    break
                with self._lock:
                    ok, image = self._cap.read()
                    index = self._next_index
                    generation = self._generation
                    self._next_index += 1
                if generation != failed_generation:   # failures before a seek are not a gap after it
                    failed, failed_generation = 0, generation
                if not ok or image is None:
                    if self.info.live:
                        self.read_error = f"{self.info.description} stopped delivering frames"
                        log.warning(self.read_error)
                        break
                    failed += 1
                    if failed < MAX_FAILED_READS_IN_A_ROW:
                        continue   # a bad packet: the next read goes on after it
                    self._file_ended(frames_available=index + 1 - failed, seeked=generation > 0)
                    break
                self.frames_lost += failed   # frames between two good ones that could not be decoded
                failed = 0
                if (self.realtime or self.paced) and not self.info.live:
                    self._pace(index)
                now = time.perf_counter()
                timestamp = (now - start) if self.info.live else index / self.info.fps
                frame = Frame(index=index, timestamp=timestamp, image=image, captured_at=now)
                self.frames_read += 1
                self._hand_over((generation, frame))
        finally:
            self._put_end()

    def _file_ended(self, frames_available: int, seeked: bool) -> None:
        """The file gave its last frame at `frames_available` (lost frames included): warn of a damaged or
        truncated file. Once frames were lost in the middle, the file is damaged and every frame short of
        its header's count is counted lost (decoders also swallow frames that refer to a broken one)."""
        expected = self.info.frame_count
        if self.frames_lost and expected is not None and not seeked:
            self.frames_lost = max(self.frames_lost, expected - self.frames_read)
        if self.frames_lost:
            self.read_warning = frames_lost_warning(self.info, self.frames_lost)
        else:
            self.read_warning = ended_early_warning(self.info, frames_available)

    def _pace(self, index: int) -> None:
        """Wait until frame `index` is due at the file's frame rate."""
        now = time.perf_counter()
        if self._pace_origin is None:
            self._pace_origin = (now, index)
        origin_time, origin_index = self._pace_origin
        due = origin_time + (index - origin_index) / self.info.fps
        if self.paced and due < now - 0.5:  # paused or stalled: go on from here (realtime drops instead)
            self._pace_origin, due = (now, index), now
        self._stop.wait(max(0.0, due - now))

    def _hand_over(self, frame: tuple[int, Frame]) -> None:
        if self.realtime:
            try:
                self._queue.put_nowait(frame)
            except queue.Full:
                try:
                    self._queue.get_nowait()  # the consumer was too slow: the stale frame goes
                    self.frames_dropped += 1
                except queue.Empty:
                    pass
                self._queue.put_nowait(frame)
            return
        while not self._stop.is_set():
            try:
                self._queue.put(frame, timeout=0.1)
                return
            except queue.Full:
                continue

    def _put_end(self) -> None:
        while True:
            try:
                self._queue.put(_END, timeout=0.1)
                return
            except queue.Full:
                if self._stop.is_set():  # nobody will read the rest
                    try:
                        self._queue.get_nowait()
                    except queue.Empty:
                        pass
