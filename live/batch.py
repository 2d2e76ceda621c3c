"""Annotating a corpus of videos (issue 24): which videos, where their outputs go, which are done already,
and the corpus table. Running the jobs is `batch_run`, the command line `batch_cli`.

A video's outputs are `DIR/<its path relative to its input folder, suffix replaced>` (.jsonl or .csv,
and .mp4 with --record). They appear under that name only when complete (written under a temporary name,
then moved into place: `live.atomic.AtomicFile`), so a video whose outputs exist is finished and a later run skips it.
"""
from __future__ import annotations

import csv
import enum
from dataclasses import dataclass, fields
from pathlib import Path

from occface_core.backends import ModelName
from occface_core.errors import UserError

from .atomic import AtomicFile

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".wmv", ".webm", ".m4v")
EXPORT_FORMATS = ("jsonl", "csv")
TABLE_NAME = "corpus.csv"


class BatchError(UserError):
    """A bad batch argument (an input that is not there, outputs that would clash); one line for the user."""


class Status(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    INTERRUPTED = "interrupted"   # stopped by Ctrl-C: outputs discarded, no row in the table


@dataclass(frozen=True)
class BatchOptions:
    """What every video of a batch is run with (the single-video command's options that apply)."""

    out: Path
    export_format: str = "jsonl"
    record: bool = False
    model: ModelName | str = ModelName.AUTO
    weights: Path | None = None
    eye_stage: bool = True
    max_frames: int | None = None
    allow_frame_loss: bool = False   # a damaged video whose lost frames were skipped is ok, not failed

    @property
    def table(self) -> Path:
        return self.out / TABLE_NAME


@dataclass(frozen=True)
class VideoJob:
    """One video and its outputs (absolute paths, so a job means the same on every node of a cluster)."""

    video: str              # the video as found (the table's key)
    source: Path
    export: Path
    record: Path | None = None

    def finished(self) -> bool:
        """Its outputs exist under their final names, which they get only when complete."""
        return self.export.is_file() and (self.record is None or self.record.is_file())


@dataclass
class VideoResult:
    """One row of the corpus table."""

    video: str
    status: Status
    frames: int | None = None
    face_frames: int | None = None
    detector_calls: int | None = None
    mean_visibility: float | None = None
    seconds: float | None = None
    error: str = ""


TABLE_COLUMNS = [f.name for f in fields(VideoResult)]


# --- which videos -------------------------------------------------------------------------------------
def discover(inputs: list[Path], exclude: Path | None = None) -> list[tuple[str, Path, Path]]:
    """(as found, absolute path, name relative to its input folder) for every video the inputs name:
    video files, folders searched recursively by suffix, .txt lists (one path a line, relative ones
    against the list's folder, # comments). A folder's search leaves out hidden files and anything under
    `exclude` (the output folder: its recordings are not inputs); a video named twice counts once."""
    found: list[tuple[str, Path, Path]] = []
    seen: set[Path] = set()
    skip = exclude.resolve() if exclude is not None else None

    def add(path: Path, folder: Path) -> None:
        source = path.resolve()
        if source in seen:
            return
        seen.add(source)
        base = folder.resolve()
        found.append((str(path), source, source.relative_to(base) if source.is_relative_to(base) else Path(path.name)))

    for item in inputs:
        if item.is_dir():
            if skip is not None and item.resolve().is_relative_to(skip):
                raise BatchError(f"the input folder {item} is inside the output folder {exclude}; choose another --out")
            videos = [p for p in item.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
                      and not any(part.startswith(".") for part in p.relative_to(item).parts)
                      and not (skip is not None and p.resolve().is_relative_to(skip))]
            for path in sorted(videos):
                add(path, item)
        elif not item.exists():
            raise BatchError(f"input not found: {item}")
        elif item.suffix.lower() == ".txt":
            for path in _read_list(item):
                add(path, item.parent)
        elif item.suffix.lower() in VIDEO_SUFFIXES:
            add(item, item.parent)
        else:
            raise BatchError(f"{item} is neither a video ({' '.join(VIDEO_SUFFIXES)}), a folder nor a .txt list")
    return found


def _read_list(path: Path) -> list[Path]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"cannot read the list {path}: {exc}") from None
    entries = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return [p if p.is_absolute() else path.parent / p for p in map(Path, entries)]


def plan(inputs: list[Path], options: BatchOptions) -> list[VideoJob]:
    """The jobs for the inputs, or a BatchError: no videos, or two videos (or a video and the table) that
    would write the same file, or an output that would overwrite an input."""
    out = options.out.resolve()
    found = discover(inputs, exclude=out)
    if not found:
        raise BatchError(f"no videos found in {' '.join(map(str, inputs))} (looked for {' '.join(VIDEO_SUFFIXES)})")
    owners: dict[Path, str] = {out / TABLE_NAME: "the corpus table"}
    sources = {source for _, source, _ in found}
    jobs = []
    for video, source, name in found:
        export = out / name.with_suffix(f".{options.export_format}")
        record = out / name.with_suffix(".mp4") if options.record else None
        for path in filter(None, (export, record)):
            if path in owners:
                raise BatchError(f"{video} and {owners[path]} would both write {path}; rename one or annotate "
                                 "them in separate runs")
            if path in sources:
                raise BatchError(f"annotating {video} would overwrite the video {path}; choose another --out")
            owners[path] = video
        jobs.append(VideoJob(video, source, export, record))
    return jobs


# --- the corpus table ------------------------------------------------------------------------------------
def read_table(path: Path) -> dict[str, VideoResult]:
    """The rows of an earlier run (none when there is no readable table)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    table = {}
    for row in rows:
        try:
            table[row["video"]] = VideoResult(
                video=row["video"], status=Status(row["status"]), frames=_number(row["frames"], int),
                face_frames=_number(row["face_frames"], int), detector_calls=_number(row["detector_calls"], int),
                mean_visibility=_number(row["mean_visibility"], float), seconds=_number(row["seconds"], float),
                error=row.get("error") or "")
        except (KeyError, ValueError):
            continue   # a row this version cannot read is redone, not fatal
    return table


def write_table(path: Path, rows: list[VideoResult]) -> None:
    """The whole table, replaced atomically: a reader never sees half of it."""
    with AtomicFile(path) as temp:
        with open(temp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=TABLE_COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({
                    "video": row.video, "status": row.status.value, "frames": _text(row.frames),
                    "face_frames": _text(row.face_frames), "detector_calls": _text(row.detector_calls),
                    "mean_visibility": _text(row.mean_visibility, 4), "seconds": _text(row.seconds, 2),
                    "error": row.error})


def _number(text: str, kind: type):
    return kind(text) if text not in ("", None) else None


def _text(value, digits: int | None = None) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}f}" if digits is not None else str(value)


def finished_row(job: VideoJob, previous: dict[str, VideoResult]) -> VideoResult:
    """The table row of a video skipped as finished: the earlier run's, or (a run stopped between moving
    the outputs into place and writing the table) an ok row without figures."""
    row = previous.get(job.video)
    if row is not None and row.status is Status.OK:
        return row
    return VideoResult(job.video, Status.OK, error="finished by an earlier run (figures not recorded)")
