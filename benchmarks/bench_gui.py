"""GUI vs headless frames per second on the demo clip, measured in the same run.

    python benchmarks/bench_gui.py                      # offscreen Qt, auto model, 4 rounds
    python benchmarks/bench_gui.py --model mediapipe --rounds 6 --frames 300
    xvfb-run -s "-screen 0 1280x800x24" python benchmarks/bench_gui.py --platform xcb   # real X11 drawing

Headless: `build_session` + `Session.run` exactly as `main.py --headless` does. GUI: the desktop window
(1280×720, default overlays, newest result drawn at up to 30 Hz) run by Qt's own event loop, with file
playback unpaced, so both process the clip as fast as they can. Rounds alternate the order
(headless first, then GUI first) so a change in background load hits both alike; the figure is the
median of the per-round ratios. Frames per second are frames processed over the pipeline's running
time in both modes; the GUI line also shows how many of them the view drew, and both lines show the
whole process's CPU time per frame (all threads), which is what the GUI adds on a busy machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from occface_core.backends import BACKEND_NAMES  # noqa: E402  (after the path set-up above)


def run_headless(config) -> dict:
    from live.session import build_session

    session = build_session(config)
    try:
        cpu = time.process_time()
        summary = session.run()
        cpu = time.process_time() - cpu
    finally:
        session.close()
    return {"fps": summary.fps, "frames": summary.frames_processed,
            "cpu_ms": 1000 * cpu / max(summary.frames_processed, 1)}


def run_gui(config) -> dict:
    from PyQt6.QtCore import QEventLoop, QSettings, QTimer

    from app.main_window import MainWindow
    from live.worker import WorkerOptions

    settings = QSettings(str(Path(tempfile.mkdtemp(prefix="bench-gui-")) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(config, settings, worker_options=WorkerOptions(realtime=False), cameras=[])
    window.resize(1280, 720)
    window.show()
    # Qt's own event loop, as in the app (a Python polling loop would add overhead of its own).
    loop = QEventLoop()
    state: dict = {"worker": None, "cpu_start": None}

    def check() -> None:
        worker = window.worker or state["worker"]
        state["worker"] = worker
        if worker is not None and state["cpu_start"] is None and worker.latest()[0] > 0:
            # from the first processed frame, as headless counts from after building the session
            state["cpu_start"], state["seq_start"] = time.process_time(), worker.latest()[0]
        if worker is not None and worker.summary is not None:
            loop.quit()

    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(20)
    loop.exec()
    timer.stop()
    cpu = time.process_time() - state["cpu_start"]
    worker = state["worker"]
    snap = worker.snapshot()
    drawn = window.view_panel.view.frames_shown
    window.close()
    summary = worker.summary
    return {"fps": summary.fps, "frames": summary.frames_processed, "drawn": drawn,
            "drawn_fps": drawn / summary.wall_seconds if summary.wall_seconds else 0.0,
            "cpu_ms": 1000 * cpu / max(snap.run.frames_processed - state["seq_start"], 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="auto", choices=BACKEND_NAMES)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--frames", type=int, default=None, help="frames per run (default: the whole clip)")
    parser.add_argument("--platform", default=None, help="Qt platform (default: offscreen unless set)")
    args = parser.parse_args(argv)
    os.environ["QT_QPA_PLATFORM"] = args.platform or os.environ.get("QT_QPA_PLATFORM", "offscreen")

    from PyQt6.QtWidgets import QApplication

    from app.application import apply_dark_theme, prepare_qt_environment
    from tracking.demo_clip import DEFAULT_CLIP
    from live.session import SessionConfig

    prepare_qt_environment()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_dark_theme(app)
    config = SessionConfig(source=DEFAULT_CLIP, model=args.model, max_frames=args.frames)
    headless, gui, ratios, cpu_h, cpu_g = [], [], [], [], []
    for r in range(args.rounds):
        if r % 2 == 0:
            h = run_headless(config)
            g = run_gui(config)
        else:
            g = run_gui(config)
            h = run_headless(config)
        headless.append(h["fps"])
        gui.append(g["fps"])
        ratios.append(g["fps"] / h["fps"])
        cpu_h.append(h["cpu_ms"])
        cpu_g.append(g["cpu_ms"])
        print(f"round {r + 1}: headless {h['fps']:.1f} fps ({h['frames']} frames, {h['cpu_ms']:.1f} CPU ms/frame) | "
              f"GUI {g['fps']:.1f} fps ({g['frames']} frames, {g['drawn']} drawn = {g['drawn_fps']:.1f}/s, "
              f"{g['cpu_ms']:.1f} CPU ms/frame) | ratio {ratios[-1]:.3f}", flush=True)
    h, g, ratio = statistics.median(headless), statistics.median(gui), statistics.median(ratios)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"platform {app.platformName()}, model {args.model}, clip {DEFAULT_CLIP.name}, "
          f"{os.cpu_count()} cores, load average {load:.1f}")
    print(f"median: headless {h:.1f} fps, GUI {g:.1f} fps; median per-round ratio GUI/headless {ratio:.3f} "
          f"({'within' if ratio >= 0.85 else 'NOT within'} 15 %); CPU per frame: headless "
          f"{statistics.median(cpu_h):.1f} ms, GUI {statistics.median(cpu_g):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
