"""Throughput of `main.py batch` (issue 24): one generated corpus annotated by 1 and by 2 worker
processes and by Ray tasks on a new local instance, one after the other in one run; videos/hour,
frames/s and the speed-up over one worker. Each run starts from an empty output folder and its time is
the whole run (model loads per video included; Ray's row includes starting and stopping its instance,
which is also timed on its own).

The corpus: --videos clips of --frames frames at 640x480 made from the demo photo (tracking.demo_clip,
a moving head, one seed per clip).

    python -m benchmarks.bench_batch
    python -m benchmarks.bench_batch --videos 8 --frames 300 --workers 4 --no-ray

Measured on the 2-core development machine (OccFace with its eye and part stages, 12 clips x 300 frames):
1 worker 164 frames/s (1968 videos/hour), 2 workers 221 frames/s (2657 videos/hour, 1.35x), Ray on a
local 2-CPU instance 171 frames/s (1.05x; 3.5 s of it starting and stopping the instance). One worker
already keeps about 1.4 cores busy (decoding on the capture thread, refinement and outputs beside the
tracking), so two cores leave little for a second worker; the speed-up grows with the cores.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from live.batch import BatchOptions, plan
from live.batch_cli import run_corpus
from occface_core.backends import BACKEND_NAMES
from tracking.demo_clip import ClipSpec, write_clip


@dataclass
class Row:
    label: str
    videos: int
    failed: int
    frames: int
    seconds: float

    @property
    def videos_per_hour(self) -> float:
        return 3600 * self.videos / self.seconds

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds


def ray_start_seconds(cpus: int) -> float:
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.shutdown()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=150, help="frames per clip")
    parser.add_argument("--workers", type=int, default=2, help="the parallel runs' workers (and Ray's CPUs)")
    parser.add_argument("--model", choices=BACKEND_NAMES, default="auto")
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i in range(args.videos):
            write_clip(corpus / f"clip{i:02d}.mp4", spec=ClipSpec(frames=args.frames, seed=i))
        runs = [("1 worker", 1, None), (f"{args.workers} workers", args.workers, None)]
        if not args.no_ray:
            runs.append((f"Ray local, {args.workers} CPUs", args.workers, "local"))
        rows = []
        for n, (label, workers, ray) in enumerate(runs):
            options = BatchOptions(out=Path(tmp) / f"out{n}", model=args.model)
            jobs = plan([corpus], options)
            report = run_corpus(jobs, options, workers, ray, progress=False)
            rows.append(Row(label, report.ran, report.failed, report.frames, report.seconds))
            print(f"{label}: {report.line(options.table)}", flush=True)
        start = None if args.no_ray else ray_start_seconds(args.workers)
    print(f"\n{args.videos} clips x {args.frames} frames (640x480), model {args.model}")
    print(f"{'run':<22}{'videos':>7}{'failed':>7}{'frames':>8}{'seconds':>9}{'videos/h':>10}{'frames/s':>10}"
          f"{'speed-up':>10}")
    for row in rows:
        print(f"{row.label:<22}{row.videos:>7}{row.failed:>7}{row.frames:>8}{row.seconds:>9.1f}"
              f"{row.videos_per_hour:>10.0f}{row.frames_per_s:>10.1f}{rows[0].seconds / row.seconds:>9.2f}x")
    if start is not None:
        print(f"(Ray's row includes starting and stopping the local instance: {start:.1f} s on its own)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
