"""OccFace Live: real-time face tracking with per-point visibility, head pose and blendshapes over OSC.

Examples:
  python main.py --demo --headless                     # the bundled demo clip, no window
  python main.py --camera 0                            # the desktop app on the first camera
  python main.py --video talk.mp4 --headless --record out.mp4 --export frames.jsonl --summary-json run.json
  python main.py --camera 0 --headless --osc vmc://127.0.0.1:39540     # to VSeeFace (VMC performer port)
  python main.py --camera 0 --osc vrchat://127.0.0.1:9000 --osc raw://127.0.0.1:9100
  python main.py --camera 0 --smoothing 2                          # a stiller avatar, a little slower to follow
  python main.py batch videos/ --out annotations/     # a corpus: one export per video (main.py batch --help)

Exit status (headless): 0 done; 1 the source failed while running; 2 a mistake in the input (one
"error:" line, nothing written); 3 frames of a damaged video could not be decoded and were skipped
(--allow-frame-loss makes that 0); 130 stopped by Ctrl-C, 143 by SIGTERM (the outputs complete either way).
"""
from __future__ import annotations

import occface_core.blas_threads  # noqa: F401  (first: before anything loads numpy)

import argparse
import dataclasses
import json
import logging
import math
import signal
import sys
import threading
from pathlib import Path

from live.atomic import AtomicFile
from live.output_paths import (EXPORT_SUFFIXES, SUMMARY_SUFFIXES, VIDEO_SUFFIXES, OutputError, OutputPath,
                               check_output_paths, check_writable)
from live.session import SessionConfig, build_session
from occface_core.backends import BACKEND_NAMES, ModelName
from occface_core.errors import UserError
from retarget.osc import parse_osc_target
from tracking.demo_clip import DEFAULT_CLIP
from tracking.smoother import DEFAULT_STRENGTH, STRENGTH_HELP
from tracking.summary import RunSummary

EXIT_OK = 0
EXIT_SOURCE_FAILED = 1       # the camera or file stopped delivering frames while running
EXIT_USER_ERROR = 2          # a UserError: one "error:" line, found before anything was written
EXIT_FRAMES_LOST = 3         # a damaged file: frames that could not be decoded were skipped
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)   # exit 128 + the signal, as shells expect
FOCAL_LENGTH_RANGE_PX = (50.0, 50_000.0)         # from a tiny sensor's wide angle to a long telephoto


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="main.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, metavar="INDEX", help="camera index (0 is the first camera)")
    source.add_argument("--video", type=Path, metavar="FILE", help="a video file")
    source.add_argument("--demo", action="store_true", help=f"the bundled demo clip ({DEFAULT_CLIP.name})")
    parser.add_argument("--headless", action="store_true", help="run without a window")
    parser.add_argument("--realtime", action="store_true",
                        help="play a video file at its frame rate and drop frames that come too late, like a camera")
    parser.add_argument("--model", choices=BACKEND_NAMES, default=ModelName.AUTO.value,
                        help="landmark model (auto: OccFace when its weights are present)")
    parser.add_argument("--weights", type=Path, help="OccFace weights (.onnx or .pt) instead of the shipped ones")
    parser.add_argument("--no-eye-stage", action="store_true",
                        help="OccFace: skip the second look at each eye (saves about 0.8 ms a frame; blinks close "
                             "the avatar's eyes less often)")
    parser.add_argument("--record", type=Path, metavar="VIDEO", help="write the annotated video (.mp4 or .avi)")
    parser.add_argument("--export", type=Path, metavar="FILE", help="write per-frame data (.jsonl or .csv)")
    parser.add_argument("--summary-json", type=Path, metavar="FILE", help="write the run summary as JSON")
    parser.add_argument("--allow-frame-loss", action="store_true",
                        help="exit 0, not 3, when frames of a damaged video could not be decoded (they are "
                             "skipped and counted in the summary either way)")
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--osc", action="append", default=[], metavar="TARGET",
                        help="stream over OSC: vmc://HOST:PORT, vrchat://HOST:PORT or raw://HOST:PORT "
                             "(repeatable; options like ?rate=30, ?names=perfect_sync or ?names=vrm)")
    smoothing = parser.add_mutually_exclusive_group()
    smoothing.add_argument("--smoothing", type=float, default=DEFAULT_STRENGTH, metavar="STRENGTH",
                           help=f"how strongly the landmarks are smoothed: {STRENGTH_HELP}")
    smoothing.add_argument("--no-smoothing", action="store_true", help="send the model's raw landmarks")
    parser.add_argument("--no-retarget", action="store_true", help="skip head pose and blendshapes")
    parser.add_argument("--mirror", action="store_true",
                        help="swap left and right: for a camera that delivers a mirrored image, or for a "
                             "mirror-like avatar from a normal camera")
    parser.add_argument("--focal-length", type=float, metavar="PX",
                        help="camera focal length in pixels (%g to %g)" % FOCAL_LENGTH_RANGE_PX)
    parser.add_argument("--calibration", type=Path, metavar="FILE",
                        help="your neutral-face calibration: loaded when the file exists, otherwise "
                             "calibrated over the first seconds and saved there")
    parser.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    args = parser.parse_args(argv)
    if args.max_frames is not None and args.max_frames <= 0:
        parser.error("--max-frames must be a positive number")
    low, high = FOCAL_LENGTH_RANGE_PX
    if args.focal_length is not None and not low <= args.focal_length <= high:   # also NaN and inf
        parser.error(f"--focal-length must be a number of pixels from {low:g} to {high:g} "
                     "(leave it out for the default)")
    if not (math.isfinite(args.smoothing) and args.smoothing >= 0):
        parser.error("--smoothing must be a number from 0 (off) upward; 1 is the default")
    if args.weights is not None and args.model == ModelName.MEDIAPIPE:
        parser.error("--weights is for the OccFace model; --model mediapipe has no weights to choose")
    if args.camera is None and args.video is None and not args.demo:
        args.demo = True
    return args


def config_from_args(args: argparse.Namespace) -> SessionConfig:
    """The session the arguments ask for, but for the OSC targets: `run_headless` checks those before
    anything opens, the window shows a bad one in its list (`run_window`)."""
    source: int | Path = args.camera if args.camera is not None else (args.video or DEFAULT_CLIP)
    return SessionConfig(source=source, model=ModelName(args.model), weights=args.weights,
                         eye_stage=not args.no_eye_stage, record=args.record, export=args.export,
                         max_frames=args.max_frames,
                         realtime=args.realtime, smoothing=not args.no_smoothing, smoothing_strength=args.smoothing,
                         retarget=not args.no_retarget, mirror=args.mirror,
                         focal_length_px=args.focal_length, calibration=args.calibration)


def output_paths(config: SessionConfig, summary_path: Path | None) -> list[OutputPath]:
    """Every file the run may write, named by its option. The calibration file is written when it does
    not exist yet, and must not be another output's name either way."""
    return [OutputPath("--record", config.record, VIDEO_SUFFIXES),
            OutputPath("--export", config.export, EXPORT_SUFFIXES),
            OutputPath("--summary-json", summary_path, SUMMARY_SUFFIXES),
            OutputPath("--calibration", config.calibration if config.retarget else None)]


def run_headless(config: SessionConfig, summary_path: Path | None, osc_specs: list[str],
                 allow_frame_loss: bool = False) -> int:
    # What the user can get wrong in the outputs is refused here, before a file is opened or written.
    check_output_paths(config.source, output_paths(config, summary_path))
    if summary_path is not None:
        check_writable(summary_path)
    osc = [parse_osc_target(spec) for spec in osc_specs]   # an OscTargetError before any socket opens
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum, frame):
        # The first Ctrl-C or SIGTERM (a service manager, a closing terminal): finish the current frame,
        # close every output, write the summary. A second one stops at once; the pipeline still closes
        # the outputs on the KeyboardInterrupt.
        if received:
            raise KeyboardInterrupt
        received.append(signum)
        stop.set()

    # Set before the session is built: a signal while the model loads ends the run before its first
    # frame instead of killing the process with its outputs open.
    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        session = build_session(dataclasses.replace(config, osc=osc))
        try:
            summary = session.run(stop)
        finally:
            session.close()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    report = summary.to_dict()
    if summary_path is not None:
        write_summary(summary_path, report)
    print(format_summary(report))
    return exit_status(summary, received[0] if received else None, allow_frame_loss)


def write_summary(path: Path, report: dict) -> None:
    try:
        with AtomicFile(path) as partial:   # moved into place complete, or not at all
            partial.write_text(json.dumps(report, indent=2), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def exit_status(summary: RunSummary, signum: int | None, allow_frame_loss: bool) -> int:
    """The run's exit status, after one line on stderr when the source went wrong."""
    if summary.source_error:
        print(f"error: {summary.source_error}", file=sys.stderr)
        return EXIT_SOURCE_FAILED
    frames_lost = summary.frames_lost > 0 and not allow_frame_loss and not summary.interrupted
    if frames_lost:
        print(f"error: {summary.source_warning} (--allow-frame-loss accepts that)", file=sys.stderr)
    elif summary.source_warning:
        print(f"warning: {summary.source_warning}", file=sys.stderr)
    if summary.interrupted:
        return 128 + (signum or signal.SIGINT)   # a KeyboardInterrupt raised without our handler: Ctrl-C
    return EXIT_FRAMES_LOST if frames_lost else EXIT_OK


def format_summary(report: dict) -> str:
    stages = ", ".join(f"{k} {v:.2f} ms" for k, v in report["stage_median_ms"].items())
    lines = [
        f"source: {report['source']}   model: {report['model']}",
        f"frames read {report['frames_read']}, processed {report['frames_processed']}, "
        f"dropped {report['frames_dropped']}, with a face {report['frames_with_face']} "
        f"({100 * report['face_share']:.1f} %)",
        f"detector calls {report['detector_calls']} ({100 * report['detector_share']:.1f} % of frames)",
        f"{report['fps']:.1f} frames/s; median per stage: {stages}",
    ]
    for sink in report["sinks"]:
        if "sent" in sink:
            latency = sink.get("median_latency_ms")
            latency_text = f", capture→sent median {latency:.1f} ms" if latency is not None else ""
            lines.append(f"OSC {sink.get('target')}: sent {sink['sent']}, send errors {sink.get('send_errors', 0)}"
                         f"{latency_text}")
    if report["frames_lost"]:
        lines.append(f"frames lost: {report['frames_lost']} could not be decoded (a damaged file) and were skipped")
    if report["sink_errors"]:
        lines.append(f"output errors: {report['sink_errors']}")
    if report["interrupted"]:
        lines.append("interrupted: outputs were closed after the last processed frame")
    return "\n".join(lines)


def run_window(config: SessionConfig, osc_specs: list[str]) -> int:
    """The desktop window over the same session. The only place main.py reaches into app/, and only
    when called: the headless path never imports the window's package (or Qt). The window adds the
    command line's OSC targets to its list, and shows a bad one there as it does a bad one typed in."""
    from app.application import run_app

    return run_app(config, osc_specs=osc_specs)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["batch"]:   # annotate a corpus: its own arguments, the same session per video (live/batch_cli.py)
        from live.batch_cli import main as batch_main

        return batch_main(argv[1:])
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_args(args)
        if args.headless:
            return run_headless(config, args.summary_json, args.osc, args.allow_frame_loss)
        return run_window(config, args.osc)
    except UserError as exc:  # every user mistake, wherever found: one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
