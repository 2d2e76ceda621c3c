"""Benchmark: median time from frame capture to the OSC bundle leaving, and what it is made of.

Synthetic mode (default) times the retarget stage and the senders on landmark sets projected from the
mean head with a moving pose and expressions: capture time is stamped just before the landmarks are
handed over, so the figure is retarget + send (add the model and smoother from the pipeline summary).
Video mode runs the whole headless pipeline (tracker, model, smoother, retarget, OSC) on a clip fed
like a live camera (each frame stamped as captured when the pipeline takes it) and reads each sender's
own capture -> sent latency. The receivers are bound loopback sockets that nobody reads in this
process (a receiver thread here would compete for the GIL and inflate the figures); the tests check
the packets' contents with a real python-osc server instead.

Examples:
    python -m benchmarks.bench_osc_latency                       # synthetic, 600 frames, vmc + vrchat + raw
    python -m benchmarks.bench_osc_latency --frames 2000 --json runs/retarget_bench.json
    python -m benchmarks.bench_osc_latency --video assets/demo.mp4   # the full pipeline on a clip
"""
from __future__ import annotations

import argparse
import json
import logging
import socket
import statistics
import sys
import time
from pathlib import Path

import numpy as np

SCHEMES = ("vmc", "vrchat", "raw")


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _sink_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def _drain(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            sock.recv(65536)
        except (BlockingIOError, OSError):
            return count
        count += 1


def run_synthetic(frames: int, fps: float) -> dict:
    from retarget.osc import create_sender
    from retarget.stage import RetargetOptions, RetargetStage
    from retarget.synthetic import close_eyes, face_result, open_jaw, project

    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=1.0))
    model = stage.model.points
    rng = np.random.default_rng(0)
    # Bound sockets that nobody reads in this process: a receiver thread here would compete for the
    # GIL and inflate the send times (the kernel simply drops what overflows their buffers).
    receivers = [_sink_socket() for _ in SCHEMES]
    senders = [create_sender(f"{s}://127.0.0.1:{rx.getsockname()[1]}?rate=1000")
               for s, rx in zip(SCHEMES, receivers)]
    retarget_ms: list[float] = []
    send_ms: dict[str, list[float]] = {s: [] for s in SCHEMES}
    try:
        for i in range(frames):
            t = i / fps
            face = open_jaw(close_eyes(model, 0.5 + 0.5 * np.sin(3 * t)), 1.0 + np.sin(2 * t))
            pts = project(face, 10 * np.sin(t), 35 * np.sin(0.7 * t), 5 * np.sin(1.3 * t))
            pts += rng.normal(0, 0.3, pts.shape)
            result = face_result(pts, frame_index=i, fps=fps)  # captured_at stamped here
            stage.process(result)
            retarget_ms.append(result.timings_ms["retarget"])
            for scheme, sender in zip(SCHEMES, senders):
                t0 = time.perf_counter()
                sender.send(result)
                send_ms[scheme].append((time.perf_counter() - t0) * 1000)
        received = {s: _drain(rx) for s, rx in zip(SCHEMES, receivers)}
    finally:
        for sender in senders:
            sender.close()
        for rx in receivers:
            rx.close()
    return {
        "mode": "synthetic", "frames": frames,
        "retarget_ms_median": statistics.median(retarget_ms),
        "retarget_ms_p95": _percentile(retarget_ms, 95),
        "senders": {s: {**sender.stats().to_dict(), "send_ms_median": statistics.median(send_ms[s]),
                        "datagrams_in_receiver_buffer": received[s]}
                    for s, sender in zip(SCHEMES, senders)},
    }


def run_video(video: Path, max_frames: int | None) -> dict:
    """The whole pipeline on a clip, fed like a live camera: each frame is stamped as captured right
    before the pipeline takes it (a file read ahead into a queue would add queue wait, which a live
    source that drops stale frames does not have)."""
    import cv2

    from tracking.pipeline import RunSummary
    from live.session import SessionConfig, build_session  # the lead's pipeline
    from retarget.osc import make_osc_target
    from tracking.types import Frame

    receivers = [_sink_socket() for _ in SCHEMES]
    try:
        config = SessionConfig(source=video, osc=[make_osc_target(s, "127.0.0.1", rx.getsockname()[1])
                                                  for s, rx in zip(SCHEMES, receivers)])
        session = build_session(config)
        reader = cv2.VideoCapture(str(video))
        fps = reader.get(cv2.CAP_PROP_FPS) or 30.0
        try:
            index = 0
            while max_frames is None or index < max_frames:
                ok, image = reader.read()
                if not ok:
                    break
                session.pipeline.process(Frame(index=index, timestamp=index / fps, image=image,
                                               captured_at=time.perf_counter()))
                index += 1
            summary = session.pipeline.fill_summary(RunSummary(source=str(video)))
        finally:
            reader.release()
            session.close()
    finally:
        for rx in receivers:
            rx.close()
    report = summary.to_dict()
    return {"mode": "video", "video": str(video), "frames": report.get("frames_processed"),
            "stage_median_ms": report.get("stage_median_ms"), "senders": report.get("sinks")}


def format_report(report: dict) -> str:
    lines = [f"mode: {report['mode']}   frames: {report['frames']}"]
    if "retarget_ms_median" in report:
        lines.append(f"retarget stage: median {report['retarget_ms_median']:.2f} ms, "
                     f"p95 {report['retarget_ms_p95']:.2f} ms")
    if report.get("stage_median_ms"):
        lines.append("pipeline stages (median ms): " +
                     ", ".join(f"{k} {v:.2f}" for k, v in report["stage_median_ms"].items()))
    senders = report["senders"]
    for item in (senders.values() if isinstance(senders, dict) else senders):
        extra = f", send {item['send_ms_median']:.3f} ms" if "send_ms_median" in item else ""
        lat = item.get("median_latency_ms")
        lines.append(f"{item.get('target')}: capture -> sent median "
                     f"{'n/a' if lat is None else f'{lat:.2f} ms'} (p95 {item.get('p95_latency_ms') or 0:.2f} ms)"
                     f"{extra}, sent {item.get('sent')}, errors {item.get('send_errors')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=600, help="synthetic frames (default 600)")
    parser.add_argument("--fps", type=float, default=60.0, help="synthetic frame rate (default 60)")
    parser.add_argument("--video", type=Path, help="run the whole pipeline on this clip instead")
    parser.add_argument("--max-frames", type=int, default=None, help="video mode: stop after N frames")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.frames < 1 or args.fps <= 0:
        print("error: --frames must be >= 1 and --fps > 0", file=sys.stderr)
        return 2
    if args.video is not None and not args.video.is_file():
        print(f"error: video not found: {args.video}", file=sys.stderr)
        return 2
    try:
        report = run_video(args.video, args.max_frames) if args.video else run_synthetic(args.frames, args.fps)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # e.g. the session could not be built: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_report(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
