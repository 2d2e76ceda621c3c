"""`python main.py batch INPUT... --out DIR`: annotate a corpus of videos (issue 24).

Each video gets the single-video command's per-frame export (and with --record its annotated video) at
DIR/<its path relative to its input folder>.jsonl; DIR/corpus.csv has one row per video and is rewritten
as each one finishes. Videos whose outputs exist are skipped, so a stopped run is resumed by running it
again. Exit status: 0 every video ok, 1 some failed, 2 bad arguments, 130 stopped with Ctrl-C, 143 by
SIGTERM.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from occface_core.backends import BACKEND_NAMES, ModelName
from occface_core.errors import UserError

from .batch import EXPORT_FORMATS, BatchError, BatchOptions, Status, VideoJob, VideoResult, finished_row, plan, \
    read_table, write_table
from .batch_run import StopFlag, import_ray, run_jobs

EXAMPLES = """examples:
  python main.py batch videos/ --out annotations/                  # every video under videos/, all cores
  python main.py batch list.txt clip.mp4 --out ann/ --format csv --record --workers 2
  python main.py batch /shared/videos --out /shared/ann --ray auto   # Ray tasks on this machine's cluster
"""


@dataclass
class BatchReport:
    """What a batch run did; `frames` and `seconds` count only the videos it ran (not the skipped ones)."""

    rows: list[VideoResult] = field(default_factory=list)
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    frames: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    signal: int | None = None      # what stopped it (SIGINT, SIGTERM)

    @property
    def ran(self) -> int:
        return self.ok + self.failed

    @property
    def videos_per_hour(self) -> float:
        """Videos annotated (ok) per hour: a failed video's few milliseconds are not a throughput."""
        return 3600 * self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self, table: Path) -> str:
        rate = (f" ({self.frames_per_s:.1f} frames/s, {self.videos_per_hour:.0f} videos/hour)" if self.frames else "")
        text = (f"{self.ran} videos annotated ({self.ok} ok, {self.failed} failed), {self.skipped} skipped as done "
                f"before; {self.frames} frames in {self.seconds:.1f} s{rate}; table: {table}")
        if not self.interrupted:
            return text
        return ("stopped by SIGTERM: " if self.signal == signal.SIGTERM else "stopped with Ctrl-C: ") + text


def run_corpus(jobs: list[VideoJob], options: BatchOptions, workers: int = 1, ray_address: str | None = None,
               progress: bool = True) -> BatchReport:
    """Run the jobs whose outputs do not exist yet, keeping DIR/corpus.csv up to date as each ends."""
    try:
        options.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"cannot create {options.out}: {exc.strerror or exc}") from None
    previous = read_table(options.table)
    todo = [job for job in jobs if not job.finished()]
    report = BatchReport(skipped=len(jobs) - len(todo))
    rows: dict[str, VideoResult | None] = {}
    for job in jobs:   # the table's order: the videos as found; an earlier failure stays until redone
        old = previous.get(job.video)
        rows[job.video] = finished_row(job, previous) if job.finished() else (
            old if old is not None and old.status is Status.FAILED else None)
    earlier = [row for video, row in previous.items() if video not in rows]   # other runs into the same DIR

    def write() -> None:
        report.rows = [row for row in rows.values() if row is not None] + earlier
        write_table(options.table, report.rows)

    if report.skipped:
        print(f"skipping {report.skipped} of {len(jobs)} videos: annotated before in {options.out}", file=sys.stderr)
    write()
    ctx = multiprocessing.get_context("spawn")
    stop, frames = ctx.Event(), ctx.Value("q", 0)
    shown = progress and bool(todo)
    bar = tqdm(total=len(todo), unit="video", desc="videos", disable=not shown, file=sys.stderr, dynamic_ncols=True)
    start = time.perf_counter()
    with _ctrl_c_sets(stop, report), _FrameBar(frames if ray_address is None else None, shown) as frame_bar:
        for result in run_jobs(todo, options, workers, ray_address, stop, frames):
            frame_bar.finished(result.frames or 0)
            if result.status is Status.INTERRUPTED:
                continue
            rows[result.video] = result
            write()
            report.ok += result.status is Status.OK
            report.failed += result.status is Status.FAILED
            report.frames += result.frames or 0
            bar.update(1)
            bar.set_postfix(failed=report.failed, refresh=False)
            if result.status is Status.FAILED:
                bar.write(f"failed: {result.video}: {result.error}", file=sys.stderr)
    bar.close()
    report.seconds = time.perf_counter() - start
    return report


class _FrameBar:
    """A second bar of frames processed, with its rate: read every half second from the counter the
    local workers share, or (Ray tasks) advanced as each video finishes."""

    def __init__(self, counter, shown: bool):
        self._counter = counter
        self._bar = tqdm(unit="frame", desc="frames", position=1, disable=not shown, file=sys.stderr,
                         dynamic_ncols=True)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="frame-progress", daemon=True)

    def __enter__(self) -> "_FrameBar":
        if self._counter is not None and not self._bar.disable:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        self._bar.close()

    def finished(self, frames: int) -> None:
        if self._counter is None:
            self._bar.update(frames)

    def _tick(self) -> None:
        while not self._done.wait(0.5):
            self._bar.update(self._counter.value - self._bar.n)
        self._bar.update(self._counter.value - self._bar.n)


@contextmanager
def _ctrl_c_sets(stop: StopFlag, report: BatchReport):
    """The first Ctrl-C (or a SIGTERM, as the single-video command takes it) ends each running video
    after its current frame (its outputs are removed, no row is written); a second Ctrl-C stops at once.
    Only on the main thread (where signals arrive)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum, frame):
        report.interrupted, report.signal = True, report.signal or signum
        stop.set()
        print("\nstopping after the current frame of each video (Ctrl-C again to quit now)", file=sys.stderr)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):   # one `error:` line and exit 2 through main(), not argparse's usage
        raise BatchError(message)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="main.py batch", description=__doc__, epilog=EXAMPLES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                        help="video files, folders (searched recursively by suffix) or .txt lists of paths")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the outputs and corpus.csv go")
    parser.add_argument("--format", choices=EXPORT_FORMATS, default="jsonl", help="per-frame export format")
    parser.add_argument("--record", action="store_true", help="also write each annotated video (.mp4) beside it")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), metavar="N",
                        help="videos annotated at once, one process each (default: the number of cores; with "
                             "--ray local: the local instance's CPUs)")
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="run the videos as Ray tasks: 'auto' (the cluster this machine belongs to), a "
                             "cluster address (HOST:6379 or ray://HOST:10001), or 'local' (a new instance here)")
    parser.add_argument("--model", choices=BACKEND_NAMES, default=ModelName.AUTO.value,
                        help="landmark model (auto: OccFace when its weights are present)")
    parser.add_argument("--weights", type=Path, help="OccFace weights (.onnx or .pt) instead of the shipped ones")
    parser.add_argument("--no-eye-stage", action="store_true", help="OccFace: skip the second look at each eye")
    parser.add_argument("--max-frames", type=int, metavar="N", help="annotate only the first N frames of each video")
    parser.add_argument("--allow-frame-loss", action="store_true",
                        help="a damaged video whose undecodable frames were skipped is ok (its row says how many), "
                             "not failed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    if args.max_frames is not None and args.max_frames <= 0:
        parser.error("--max-frames must be a positive number")
    if args.weights is not None and args.model == ModelName.MEDIAPIPE:
        parser.error("--weights is for the OccFace model; --model mediapipe has no weights to choose")
    if args.weights is not None and not args.weights.is_file():
        parser.error(f"model weights not found: {args.weights}")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file, not a folder")
    return args


def main(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
        options = BatchOptions(out=args.out.resolve(), export_format=args.format, record=args.record,
                               model=ModelName(args.model), weights=args.weights.resolve() if args.weights else None,
                               eye_stage=not args.no_eye_stage, max_frames=args.max_frames,
                               allow_frame_loss=args.allow_frame_loss)
        jobs = plan(args.inputs, options)
        if args.ray is not None:
            import_ray()   # missing: an error line before anything runs
        report = run_corpus(jobs, options, args.workers, args.ray, progress=not args.no_progress)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(report.line(options.table))
    if report.interrupted:
        return 128 + (report.signal or signal.SIGINT)   # 130 Ctrl-C, 143 SIGTERM, as shells expect
    return 1 if report.failed else 0
