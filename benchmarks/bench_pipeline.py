"""Benchmark the headless pipeline on a video: per-stage median ms, end-to-end frames per second, the
share of frames that needed the detector and, with --osc, the median time from frame capture to the
OSC bundle leaving (sent to a bound loopback socket that nobody reads). `--peer` adds MediaPipe's FaceMesh alone
(its own video-mode tracking, iris refinement on, decoding included, nothing else) on the same video in
the same run, and prints each pipeline's frame rate as a ratio of it.

Not a test: figures depend on the machine; compare backends as ratios within one run.

Examples:
    python -m benchmarks.bench_pipeline --video ../shared/data/video/short_hamilton_clip.mp4
    python -m benchmarks.bench_pipeline --video assets/demo.mp4 --model mediapipe occface --osc
    python -m benchmarks.bench_pipeline --video assets/demo.mp4 --osc --realtime   # latency as from a camera
    python -m benchmarks.bench_pipeline --video ../shared/data/video/short_hamilton_clip.mp4 --model occface --osc --peer
    python -m benchmarks.bench_pipeline --video ../shared/data/video/short_hamilton_clip.mp4 --model occface --osc \\
        --peer --rounds 5                                    # peer and pipeline alternately, median ratio
"""
from __future__ import annotations

import argparse
import socket
import statistics
import sys
import time
from pathlib import Path

from tracking.demo_clip import DEFAULT_CLIP
from live.session import SessionConfig, build_session
from occface_core.errors import UserError
from retarget.osc import make_osc_target


def _loopback_port() -> socket.socket:
    """A bound loopback UDP socket that nobody reads: the kernel drops what overflows it, as it would
    for a slow avatar program. The receiving end's work is not charged to the pipeline: an in-process
    python-osc server started a thread per datagram and took the GIL from the pipeline it measured."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def bench(video: Path, model: str, osc: bool, max_frames: int | None, smoothing: bool, retarget: bool,
          realtime: bool = False, eye_stage: bool = True) -> dict:
    receiver = _loopback_port() if osc else None
    targets = [make_osc_target("vmc", "127.0.0.1", receiver.getsockname()[1], 1000)] if receiver else []
    config = SessionConfig(source=video, model=model, osc=targets, max_frames=max_frames, smoothing=smoothing,
                           retarget=retarget, realtime=realtime, eye_stage=eye_stage)
    session = build_session(config)
    try:
        summary = session.run()
    finally:
        session.close()
        if receiver is not None:
            receiver.close()
    return summary.to_dict()


def bench_face_mesh_alone(video: Path, max_frames: int | None) -> dict:
    """MediaPipe FaceMesh by itself over the decoded video: the peer a user would compare us with."""
    import cv2

    from occface_core.mesh_runner import FaceMeshRunner

    runner = FaceMeshRunner(video_mode=True)
    cap = cv2.VideoCapture(str(video))
    frames = faces = 0
    start = time.perf_counter()
    try:
        while max_frames is None or frames < max_frames:
            ok, image = cap.read()
            if not ok:
                break
            frames += 1
            faces += runner(image) is not None
    finally:
        elapsed = time.perf_counter() - start
        cap.release()
        runner.close()
    return {"frames": frames, "fps": frames / max(elapsed, 1e-9), "face_share": faces / max(frames, 1)}


def _report(r: dict, peer: dict | None) -> None:
    print(f"== {r['source']} model={r['model']}")
    print(f"frames {r['frames_processed']} (dropped {r['frames_dropped']}), with a face {100 * r['face_share']:.1f} %, "
          f"detector on {100 * r['detector_share']:.1f} % of frames ({r['detector_calls']} calls)")
    print(f"end-to-end {r['fps']:.1f} frames/s"
          + (f" = {r['fps'] / peer['fps']:.2f}x MediaPipe FaceMesh alone" if peer else ""))
    for stage, ms in r["stage_median_ms"].items():
        print(f"  {stage:<10} median {ms:7.2f} ms")
    for sink in r["sinks"]:
        if "median_latency_ms" in sink:
            print(f"  capture→OSC sent median {sink['median_latency_ms']:.1f} ms ({sink.get('sent')} bundles, "
                  f"{sink.get('send_errors')} errors) to {sink.get('target')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--model", nargs="+", default=["auto"], help="one or more of auto, occface, mediapipe")
    parser.add_argument("--osc", action="store_true", help="also stream VMC to a loopback port")
    parser.add_argument("--no-retarget", action="store_true")
    parser.add_argument("--realtime", action="store_true",
                        help="play the video at its frame rate like a camera (capture→OSC latency as live)")
    parser.add_argument("--max-frames", type=int)
    parser.add_argument("--no-eye-stage", action="store_true", help="OccFace without its eye stage")
    parser.add_argument("--peer", action="store_true", help="also run MediaPipe FaceMesh alone; print ratios to it")
    parser.add_argument("--rounds", type=int, default=1,
                        help="with --peer: repeat peer and pipelines alternately this many times and print each "
                             "round's ratio and their median (this machine's speed drifts between runs)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    ratios: dict[str, list[float]] = {model: [] for model in args.model}
    for round_ in range(args.rounds):
        if args.rounds > 1:
            print(f"-- round {round_ + 1} of {args.rounds}")
        peer = None
        if args.peer:
            peer = bench_face_mesh_alone(args.video, args.max_frames)
            print(f"== MediaPipe FaceMesh alone: {peer['fps']:.1f} frames/s over {peer['frames']} frames, "
                  f"with a face {100 * peer['face_share']:.1f} %")
        for model in args.model:
            try:
                r = bench(args.video, model, args.osc, args.max_frames, True, not args.no_retarget, args.realtime,
                          not args.no_eye_stage)
            except UserError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            _report(r, peer)
            if peer:
                ratios[model].append(r["fps"] / peer["fps"])
    if args.peer and args.rounds > 1:
        for model, values in ratios.items():
            print(f"== {model}: ratio to FaceMesh alone per round {', '.join(f'{v:.2f}' for v in values)}; "
                  f"median {statistics.median(values):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
