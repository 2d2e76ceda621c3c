"""Recording sinks: the annotated video and the per-frame data (JSONL or CSV).

Both write as they go under a temporary name beside the final one (`live.atomic`) and are moved into
place when closed, so a run stopped with Ctrl-C or SIGTERM (the pipeline's shutdown closes them) leaves
a playable video and an export complete up to the last processed frame, and a run that fails, or wrote
no frame, leaves any file already at that name as it was.
"""
from __future__ import annotations

import csv
import datetime as _dt
import json
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from occface_core.layout import NUM_POINTS
from retarget.arkit import ARKIT_NAMES
from tracking.summary import SinkStats
from tracking.types import FaceResult, HeadPose

from .annotate import OverlayOptions, OverlayRenderer, annotate
from .atomic import AtomicFile
from .output_paths import EXPORT_SUFFIXES, VIDEO_SUFFIXES, OutputError, check_suffix, check_writable

log = logging.getLogger(__name__)


@dataclass
class VideoStats(SinkStats):
    """A failed write is counted by the pipeline among the summary's sink_errors."""

    video: str
    frames_written: int


@dataclass
class ExportStats(SinkStats):
    export: str
    frames_written: int


def recording_paths(folder: Path, export_format: str = "jsonl", now: _dt.datetime | None = None,
                    video_ext: str = "mp4") -> tuple[Path, Path]:
    """A fresh pair of file names in `folder`, e.g. occface-20260127-104500.mp4 / .jsonl."""
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(folder) / f"occface-{stamp}"
    n = 1
    video, export = base.with_suffix(f".{video_ext}"), base.with_suffix(f".{export_format}")
    while video.exists() or export.exists():
        n += 1
        video = Path(f"{base}-{n}.{video_ext}")
        export = Path(f"{base}-{n}.{export_format}")
    return video, export


class _OpenCVWriter:
    """OpenCV's writer: MJPG in .avi, and MPEG-4 Part 2 in .mp4 when no H.264 encoder is installed."""

    FOURCC = {".mp4": "mp4v", ".avi": "MJPG"}

    def __init__(self, path: Path, fps: float, frame_size: tuple[int, int], shown: Path):
        fourcc = cv2.VideoWriter_fourcc(*self.FOURCC[path.suffix.lower()])
        self._writer = cv2.VideoWriter(str(path), fourcc, fps, frame_size)
        if not self._writer.isOpened():
            raise OutputError(f"cannot write video {shown} (unsupported container? use .mp4 or .avi)")
        self.codec = self.FOURCC[path.suffix.lower()]

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(frame)

    def close(self) -> None:
        self._writer.release()


class _H264Writer:
    """H.264 (libx264, yuv420p, +faststart) through PyAV's bundled FFmpeg: the MP4 that browsers and chat
    apps play. Sizes are even (yuv420p halves the chroma planes)."""

    codec = "h264"

    def __init__(self, path: Path, fps: float, frame_size: tuple[int, int], shown: Path):
        import av

        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(30)
        try:
            self._container = av.open(str(path), mode="w", options={"movflags": "+faststart"})
            self._stream = self._container.add_stream("libx264", rate=rate)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise OutputError(f"cannot write video {shown}: {exc}") from None
        self._stream.width, self._stream.height = frame_size
        self._stream.pix_fmt = "yuv420p"
        # veryfast keeps the encoder to a few ms per 640x480 frame; two threads leave the cores to the tracker
        self._stream.options = {"preset": "veryfast", "crf": "23", "threads": "2"}
        self._av = av
        self._closed = False

    def write(self, frame: np.ndarray) -> None:
        video_frame = self._av.VideoFrame.from_ndarray(frame, format="bgr24")
        for packet in self._stream.encode(video_frame):
            self._container.mux(packet)

    def close(self) -> None:
        if self._closed:   # the pipeline closes its sinks at the end of a run, the window again when it stops
            return
        self._closed = True
        for packet in self._stream.encode():   # flush the frames the encoder still holds
            self._container.mux(packet)
        self._container.close()


def h264_available() -> bool:
    """Whether PyAV is installed with a libx264 encoder (its wheels bundle one)."""
    try:
        import av

        av.codec.Codec("libx264", "w")
        return True
    except Exception:  # noqa: BLE001 - missing package, missing codec: both mean "not available"
        return False


def open_video_writer(path: Path, fps: float, frame_size: tuple[int, int],
                      shown: Path | None = None) -> _H264Writer | _OpenCVWriter:
    """A writer of `path`; `shown` is the name its errors give (the final name of a temporary file)."""
    shown = shown or path
    if path.suffix.lower() == ".mp4":
        if h264_available():
            return _H264Writer(path, fps, frame_size, shown)
        log.warning("PyAV with libx264 is not installed: %s is written as MPEG-4 Part 2, which browsers do not play",
                    shown)
    return _OpenCVWriter(path, fps, frame_size, shown)


class _FileOutput:
    """What the video and the export share: the file is written under a temporary name (`AtomicFile`)
    and moved into place by `close()`. It is deleted instead when no frame was written (a run stopped
    before its first frame) or a write failed (disk full: the file would have a hole), so a file the
    user already had at that name survives both. Subclasses open `self._file.partial` and close it in
    `_close_writer`; `_write` counts a frame and remembers a failed write."""

    def __init__(self, path: Path):
        self.path = Path(path)
        check_writable(self.path)
        self._file = AtomicFile(self.path)
        self.frames_written = 0
        self._write_error: str | None = None

    def _open(self, opener: Callable[[], Any]) -> Any:
        """Call `opener` (which creates the temporary file); when it fails, no temporary file stays."""
        try:
            return opener()
        except BaseException:
            self._file.discard()
            raise

    def _write(self, write: Callable[[], None]) -> None:
        try:
            write()
        except Exception as exc:
            self._write_error = self._write_error or f"{type(exc).__name__}: {exc}"
            raise   # the pipeline counts it among the sink errors and tracking goes on
        self.frames_written += 1

    def _close_writer(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the file and move it into place; safe to call again (the run closes its sinks, the
        window again when it stops a recording)."""
        if self._file.settled:
            return
        try:
            self._close_writer()
        except BaseException:
            self._file.discard()
            raise
        if self.frames_written and self._write_error is None:
            self._file.commit()
            return
        self._file.discard()
        if self._write_error is not None:
            raise OutputError(f"{self.path} was not written: a write failed ({self._write_error})")
        log.info("no frame was written: %s is left as it was", self.path)


class VideoRecorder(_FileOutput):
    """Writes the annotated frames to a video: .mp4 as H.264 (see `open_video_writer`), .avi as MJPG."""

    def __init__(self, path: Path, fps: float, frame_size: tuple[int, int], overlay: OverlayOptions | None = None):
        # the suffix is checked first: OpenCV would print its own exception text before failing
        check_suffix(Path(path), VIDEO_SUFFIXES, "cannot write video")
        super().__init__(path)
        self._size = (max(2, frame_size[0] // 2 * 2), max(2, frame_size[1] // 2 * 2))
        self._writer = self._open(lambda: open_video_writer(self._file.partial, fps, self._size, shown=self.path))
        self.codec = self._writer.codec
        self._overlay = overlay
        self._renderer = OverlayRenderer()

    def send(self, result: FaceResult) -> None:
        if result.image is None:
            return
        frame = annotate(result.image, result, result.fps, self._overlay, self._renderer)
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = cv2.resize(frame, self._size)
        self._write(lambda: self._writer.write(frame))

    def _close_writer(self) -> None:
        self._writer.close()

    def stats(self) -> "VideoStats":
        return VideoStats(video=str(self.path), frames_written=self.frames_written)


def frame_record(result: FaceResult) -> dict[str, Any]:
    """The export schema of one frame (see README, "Per-frame export"). The pose and shape fields are
    there when a retarget stage ran (result.calibrated is not None)."""
    record: dict[str, Any] = {
        "frame": result.frame_index,
        "timestamp": round(result.timestamp, 6),
        "has_face": result.has_face,
        "tracked": result.has_face and not result.detected,
        "detected": result.detected,
        "face_score": round(float(result.face_score), 4),
        "roi": [round(v, 2) for v in result.roi.as_list()] if result.roi is not None else None,
        "points": np.round(result.points, 2).tolist() if result.points is not None else None,
        "visibility": np.round(result.visibility, 4).tolist() if result.visibility is not None else None,
    }
    if result.calibrated is not None:
        record["head_pose"] = result.head_pose.to_dict() if result.head_pose is not None else None
        record["pose_mirrored"] = result.pose_mirrored
        record["blendshapes"] = {k: float(v) for k, v in (result.blendshapes or {}).items()}
        record["calibrated"] = result.calibrated
    return record


def csv_columns(retarget: bool) -> list[str]:
    """The CSV header, from the schema: the record's fields flattened (see `_flatten`), pose columns
    from the HeadPose fields and one column per ARKit blendshape when a retarget stage runs."""
    columns = ["frame", "timestamp", "has_face", "tracked", "detected", "face_score",
               "roi_x0", "roi_y0", "roi_x1", "roi_y1"]
    if retarget:
        pose: dict[str, Any] = {}
        _flatten_into(pose, "head_pose", HeadPose((0.0, 0.0, 0.0, 1.0), (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)).to_dict())
        columns += [*pose, "pose_mirrored", *(f"blendshapes.{name}" for name in ARKIT_NAMES), "calibrated"]
    columns += [axis + str(i) for i in range(NUM_POINTS) for axis in ("x", "y")]
    return columns + [f"v{i}" for i in range(NUM_POINTS)]


class FrameExporter(_FileOutput):
    """One JSON object per line (.jsonl) or one CSV row per frame (.csv). `retarget`: whether the
    pipeline has a retarget stage, which decides the CSV columns before the first frame."""

    def __init__(self, path: Path, retarget: bool = True):
        check_suffix(Path(path), EXPORT_SUFFIXES, "cannot write per-frame data")
        super().__init__(path)
        self._csv = self.path.suffix.lower() == ".csv"
        self._csv_writer: csv.DictWriter | None = None
        self._handle = self._open(lambda: self._open_file(retarget))

    def _open_file(self, retarget: bool):
        try:
            handle = open(self._file.partial, "w", newline="" if self._csv else None, encoding="utf-8")
            if self._csv:
                # A field outside the schema is a bug, not something to drop silently.
                self._csv_writer = csv.DictWriter(handle, fieldnames=csv_columns(retarget), extrasaction="raise")
                self._csv_writer.writeheader()
            return handle
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def send(self, result: FaceResult) -> None:
        record = frame_record(result)
        self._write(lambda: self._write_record(record))

    def _write_record(self, record: dict[str, Any]) -> None:
        if self._csv_writer is not None:
            self._csv_writer.writerow(_flatten(record))
        else:
            self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()   # on disk as it goes: what a killed run wrote is in the temporary file

    def _close_writer(self) -> None:
        self._handle.close()

    def stats(self) -> "ExportStats":
        return ExportStats(export=str(self.path), frames_written=self.frames_written)


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    """CSV columns: scalars as they are, nested values as key.sub / key.i, points as x0..x99 / y0..y99,
    visibility as v0..v99."""
    row: dict[str, Any] = {}
    points = record.get("points") or [[None, None]] * NUM_POINTS
    visibility = record.get("visibility") or [None] * NUM_POINTS
    for key, value in record.items():
        if key in ("points", "visibility"):
            continue
        if key == "roi":
            for name, v in zip(("roi_x0", "roi_y0", "roi_x1", "roi_y1"), value or [None] * 4):
                row[name] = v
        else:
            _flatten_into(row, key, value)
    for i in range(NUM_POINTS):
        row[f"x{i}"], row[f"y{i}"] = points[i]
    for i in range(NUM_POINTS):
        row[f"v{i}"] = visibility[i]
    return row


def _flatten_into(row: dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, dict):
        for sub, v in value.items():
            _flatten_into(row, f"{key}.{sub}", v)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _flatten_into(row, f"{key}.{i}", v)
    elif value is not None:
        row[key] = value
