"""Running a batch's jobs: the per-video function and where it runs, in this process, in a pool of worker
processes on this machine, or as Ray tasks on a cluster. Every one runs `annotate_video`, which builds
the single-video command's session (`live.session.run_session`); its frames stay in order in one process.
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from occface_core.errors import UserError
from tracking.summary import SinkStats
from tracking.types import FaceResult

from .atomic import AtomicFile
from .batch import BatchError, BatchOptions, Status, VideoJob, VideoResult
from .session import SessionConfig, run_session

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
RAY_PIN = "ray==2.60.0"   # as in requirements-dev.txt


class StopFlag(Protocol):
    """Set to stop: a threading.Event, or a multiprocessing one shared with the worker processes."""

    def is_set(self) -> bool: ...


def single_threaded() -> None:
    """One thread for each model and library of a worker: the workers are the parallelism. The ONNX
    sessions are built with one thread (the backends' `threads` argument); BLAS reads these variables
    when numpy loads (occface_core/blas_threads.py in the entry points, runtime_env for Ray)."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    import cv2

    cv2.setNumThreads(1)


@dataclass
class VisibilityStats(SinkStats):
    face_frames: int
    mean_visibility: float | None


class VisibilityMeter:
    """A sink that averages the 100 points' visibility over the frames with a face, and counts every
    frame in `frames` (a multiprocessing.Value shared with the progress bar), when given."""

    def __init__(self, frames=None) -> None:
        self.total, self.frames = 0.0, 0
        self._counter = frames

    def send(self, result: FaceResult) -> None:
        if self._counter is not None:
            with self._counter.get_lock():
                self._counter.value += 1
        if result.has_face and result.visibility is not None:
            self.total += float(np.mean(result.visibility))
            self.frames += 1

    @property
    def mean(self) -> float | None:
        return self.total / self.frames if self.frames else None

    def close(self) -> None:
        pass

    def stats(self) -> VisibilityStats:
        return VisibilityStats(self.frames, self.mean)


class _Discard(Exception):
    """The run did not finish: its outputs are removed instead of moved into place."""


def annotate_video(job: VideoJob, options: BatchOptions, stop: StopFlag | None = None,
                   frames=None) -> VideoResult:
    """One video, start to end, through the single-video command's session. Outputs are written under
    temporary names and moved into place only when complete; any error is the video's `failed` row.
    `frames`: a shared counter of processed frames (the progress bar's), or None."""
    single_threaded()
    if stop is not None and stop.is_set():
        return VideoResult(job.video, Status.INTERRUPTED)
    start = time.perf_counter()
    meter = VisibilityMeter(frames)
    try:
        job.export.parent.mkdir(parents=True, exist_ok=True)
        with ExitStack() as outputs:   # on leaving: the video moved into place first, the export last
            export = outputs.enter_context(AtomicFile(job.export))
            record = outputs.enter_context(AtomicFile(job.record)) if job.record is not None else None
            config = SessionConfig(source=job.source, model=options.model, weights=options.weights,
                                   eye_stage=options.eye_stage, record=record, export=export,
                                   max_frames=options.max_frames)
            summary = run_session(config, sinks=(meter,), stop=stop)
            if summary.interrupted:
                raise _Discard()
            if summary.sink_errors:
                raise _Discard(f"{summary.sink_errors} writes of its outputs failed")
            if summary.frames_lost and not options.allow_frame_loss:   # as the single-video command's exit 3
                raise _Discard(f"{summary.source_warning or f'{summary.frames_lost} frames could not be decoded'} "
                               "(--allow-frame-loss accepts that)")
    except _Discard as exc:
        if not str(exc):
            return VideoResult(job.video, Status.INTERRUPTED)
        return _failed(job, str(exc), start)
    except KeyboardInterrupt:   # Ray's cancel outside the frame loop
        return VideoResult(job.video, Status.INTERRUPTED)
    except UserError as exc:
        return _failed(job, str(exc), start)
    except Exception as exc:  # noqa: BLE001 - a bug or a library's fault on one video must not end the batch
        return _failed(job, f"{type(exc).__name__}: {exc}", start)
    return VideoResult(job.video, Status.OK, frames=summary.frames_processed, face_frames=summary.frames_with_face,
                       detector_calls=summary.detector_calls, mean_visibility=meter.mean,
                       seconds=time.perf_counter() - start, error=summary.source_warning or "")


def _failed(job: VideoJob, error: str, start: float) -> VideoResult:
    return VideoResult(job.video, Status.FAILED, seconds=time.perf_counter() - start,
                       error=" ".join(error.split()))


def run_jobs(jobs: list[VideoJob], options: BatchOptions, workers: int, ray_address: str | None,
             stop: StopFlag, frames=None) -> Iterator[VideoResult]:
    """Each job's result as it finishes: in this process (one worker), in `workers` processes, or as Ray
    tasks. Once `stop` is set every running video ends after its current frame (INTERRUPTED). `frames`
    (a multiprocessing.Value) counts the frames processed on this machine (not by Ray tasks)."""
    if ray_address is not None:
        yield from _ray_jobs(jobs, options, ray_address, workers, stop)
    elif workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            if stop.is_set():
                return
            yield annotate_video(job, options, stop, frames)
    else:
        yield from _pool_jobs(jobs, options, workers, stop, frames)


# --- worker processes on this machine -------------------------------------------------------------------
def _worker(tasks, results, options: BatchOptions, stop: StopFlag, frames) -> None:
    single_threaded()
    pid = os.getpid()
    while not stop.is_set():
        item = tasks.get()
        if item is None:
            return
        index, job = item
        results.put(("start", pid, index, None))
        results.put(("done", pid, index, annotate_video(job, options, stop, frames)))


def _pool_jobs(jobs: list[VideoJob], options: BatchOptions, workers: int, stop: StopFlag,
               frames=None) -> Iterator[VideoResult]:
    """A pool of spawned processes pulling jobs from a queue. A worker that dies (a crash in a decoder)
    fails only the video it was on, and a new worker takes its place."""
    ctx = multiprocessing.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    tasks.cancel_join_thread()   # jobs left in the queue after a stop must not hold up the exit
    for index, job in enumerate(jobs):
        tasks.put((index, job))
    workers = min(workers, len(jobs))
    for _ in range(workers):
        tasks.put(None)
    procs: dict[int, multiprocessing.process.BaseProcess] = {}
    running: dict[int, int] = {}   # worker pid -> index of its job

    def start() -> None:
        # Started with Ctrl-C ignored, which they keep: the parent sets `stop` and they finish the frame.
        on_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if on_main else None
        try:
            proc = ctx.Process(target=_worker, args=(tasks, results, options, stop, frames), name="occface-batch",
                               daemon=True)
            proc.start()
        finally:
            if on_main:
                signal.signal(signal.SIGINT, previous)
        procs[proc.pid] = proc

    def handle(message) -> VideoResult | None:
        kind, pid, index, result = message
        if kind == "start":
            running[pid] = index
            return None
        running.pop(pid, None)
        return result

    for _ in range(workers):
        start()
    left = len(jobs)
    try:
        while left and procs:
            try:
                result = handle(results.get(timeout=0.5))
            except queue.Empty:
                dead = [pid for pid, proc in procs.items() if not proc.is_alive()]
                if not dead:
                    continue
                try:   # what a worker sent before it ended is read first
                    while True:
                        finished = handle(results.get_nowait())
                        if finished is not None:
                            left -= 1
                            yield finished
                except queue.Empty:
                    pass
                for pid in dead:
                    proc = procs.pop(pid)
                    proc.join()
                    if pid in running:
                        left -= 1
                        yield VideoResult(jobs[running.pop(pid)].video, Status.FAILED,
                                          error=f"the worker process died (exit code {proc.exitcode}) on this video")
                        if not stop.is_set():
                            start()   # it did not take its end-of-queue marker: the new one will
                    elif proc.exitcode != 0 and not stop.is_set():
                        raise RuntimeError(f"a batch worker process failed to start (exit code {proc.exitcode})")
                continue
            if result is not None:
                left -= 1
                yield result
    finally:
        if left:
            stop.set()   # left early (an error, the caller stopped reading): the workers end too
        for proc in procs.values():
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()   # its temporary files stay hidden and never look finished


# --- Ray --------------------------------------------------------------------------------------------------
def import_ray():
    try:
        import ray
    except ImportError:
        raise BatchError(f"--ray needs the ray package on this machine and every node ({RAY_PIN}; it is in "
                         "requirements-dev.txt)") from None
    return ray


def _ray_jobs(jobs: list[VideoJob], options: BatchOptions, address: str, workers: int,
              stop: StopFlag) -> Iterator[VideoResult]:
    """`annotate_video` as Ray tasks of one CPU each: on a new local instance of `workers` CPUs
    (address "local") or on the cluster at `address` ("auto": the one this machine belongs to). The
    project must be at the same path on every node (it is put on their PYTHONPATH), and --out on
    storage every node sees."""
    ray = import_ray()
    env = {name: os.environ.get(name, "1") for name in THREAD_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    runtime_env = {"env_vars": env}
    try:
        if address == "local":
            ray.init(num_cpus=workers, include_dashboard=False, runtime_env=runtime_env, log_to_driver=False,
                     configure_logging=False)
        else:
            ray.init(address=address, runtime_env=runtime_env)
    except Exception as exc:  # noqa: BLE001 - Ray's connection errors have no common base
        raise BatchError(f"cannot reach the Ray cluster at {address}: {' '.join(str(exc).split())}") from None
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(annotate_video)
        pending = {task.remote(job, options): job for job in jobs}
        while pending:
            if stop.is_set():
                for ref in pending:
                    ray.cancel(ref)   # a running video ends after its frame; its outputs are removed
                ray.wait(list(pending), num_returns=len(pending), timeout=30)
                return
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in ready:
                job = pending.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - the task's process died, or the node
                    yield VideoResult(job.video, Status.FAILED, error=f"Ray task failed: {' '.join(str(exc).split())[:300]}")
    finally:
        ray.shutdown()
