"""GUI vs headless frames per second on the demo clip, measured in the same run.

    python benchmarks/bench_gui.py                      # offscreen Qt, auto model, 2 rounds
    python benchmarks/bench_gui.py --model mediapipe --rounds 3
    xvfb-run -s "-screen 0 1280x800x24" python benchmarks/bench_gui.py --platform xcb   # real X11 drawing

Headless: `build_session` + `Pipeline.run` exactly as `main.py --headless` does. GUI: the desktop window
(1280×720, overlays on, newest result drawn every 15 ms) with file playback unpaced, so both process
the clip as fast as they can. Rounds alternate headless/GUI so background load hits both alike; the
figure is the median per mode. GUI fps counts frames processed by its worker over the same span as the
headless figure (first to last frame); the view's drawn frames per second are shown as well.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_headless(config) -> dict:
    from tracking.session import build_session

    session = build_session(config)
    try:
        session.capture.start()
        summary = session.pipeline.run(session.capture, threading.Event())
    finally:
        session.close()
    return {"fps": summary.fps, "frames": summary.frames_processed}


def run_gui(config, app) -> dict:
    from PyQt6.QtCore import QSettings

    from app.main_window import MainWindow
    from app.worker import WorkerOptions

    settings = QSettings(str(Path(tempfile.mkdtemp(prefix="bench-gui-")) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(config, settings, worker_options=WorkerOptions(realtime=False), cameras=[])
    window.resize(1280, 720)
    window.show()
    worker = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        app.processEvents()
        worker = window.worker or worker
        if worker is not None and worker.summary is not None:
            break
        time.sleep(0.002)
    snap = worker.snapshot()
    drawn = window.view.frames_shown
    window.close()
    app.processEvents()
    span = max(snap.frames_processed - 1, 1) / max(snap.run_fps, 1e-9) if snap.run_fps else worker.summary.wall_seconds
    return {"fps": worker.summary.fps, "frames": snap.frames_processed, "run_fps": snap.run_fps,
            "drawn": drawn, "drawn_fps": drawn / span if span else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="auto", choices=("auto", "occface", "mediapipe"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--frames", type=int, default=None, help="frames per run (default: the whole clip)")
    parser.add_argument("--platform", default=None, help="Qt platform (default: offscreen unless set)")
    args = parser.parse_args(argv)
    os.environ["QT_QPA_PLATFORM"] = args.platform or os.environ.get("QT_QPA_PLATFORM", "offscreen")

    from PyQt6.QtWidgets import QApplication

    from app.main_window import _apply_dark_theme, prepare_qt_environment
    from tracking.demo_clip import DEFAULT_CLIP
    from tracking.session import SessionConfig

    prepare_qt_environment()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    _apply_dark_theme(app)
    config = SessionConfig(source=DEFAULT_CLIP, model=args.model, max_frames=args.frames)
    headless, gui = [], []
    for r in range(args.rounds):
        h = run_headless(config)
        g = run_gui(config, app)
        headless.append(h["fps"])
        gui.append(g["fps"])
        print(f"round {r + 1}: headless {h['fps']:.1f} fps ({h['frames']} frames) | GUI {g['fps']:.1f} fps "
              f"({g['frames']} frames, {g['drawn']} drawn, {g['drawn_fps']:.1f} drawn/s)", flush=True)
    h, g = statistics.median(headless), statistics.median(gui)
    print(f"platform {app.platformName()}, model {args.model}, clip {DEFAULT_CLIP.name}, cores {os.cpu_count()}")
    print(f"headless {h:.1f} fps, GUI {g:.1f} fps, ratio GUI/headless {g / h:.3f} "
          f"({'within' if g >= 0.85 * h else 'NOT within'} 15 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
