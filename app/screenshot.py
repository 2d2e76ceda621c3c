"""Take a screenshot of the running window (for the README): python -m app.screenshot docs/screenshot.png

Runs the demo clip in a 1280×720 window, streams to a loopback OSC target, waits until the face has
been tracked for a while, then grabs the window. Needs a display (e.g. Xvfb: xvfb-run -s
"-screen 0 1280x800x24" python -m app.screenshot docs/screenshot.png).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("--model", default="auto", help="landmark model (auto: OccFace when its weights are present)")
    parser.add_argument("--frames", type=int, default=150, help="frames to run before the grab")
    parser.add_argument("--tab", default="Expression", help="side tab to show")
    parser.add_argument("--record", action="store_true", help="record while grabbing")
    args = parser.parse_args(argv)

    from PyQt6.QtWidgets import QApplication

    from live.session import SessionConfig
    from retarget.osc import parse_osc_target
    from tracking.demo_clip import DEFAULT_CLIP

    from .application import apply_dark_theme, prepare_qt_environment
    from .main_window import MainWindow
    from .settings import make_settings

    prepare_qt_environment()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_dark_theme(app)
    tmp = Path(tempfile.mkdtemp(prefix="occface-shot-"))
    settings = make_settings(tmp / "settings.ini")
    window = MainWindow(SessionConfig(source=DEFAULT_CLIP, model=args.model,
                                      osc=[parse_osc_target("vmc://127.0.0.1:39540?rate=60")]), settings)
    window.recording.folder.setText(str(tmp))
    window.resize(1280, 720)
    window.show()
    for i in range(window.tabs.count()):
        if window.tabs.tabText(i) == args.tab:
            window.tabs.setCurrentIndex(i)
    deadline = time.monotonic() + 120
    recording = False
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
        snap = window.worker.snapshot() if window.worker else None
        if snap and args.record and not recording and snap.run.frames_processed > 10:
            window.recording.button.setChecked(True)
            recording = True
        if snap and snap.run.frames_processed >= args.frames:
            break
    for _ in range(40):
        app.processEvents()
        time.sleep(0.01)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    ok = window.grab().save(str(args.output))
    window.close()
    print(f"{'saved' if ok else 'FAILED'} {args.output} ({window.width()}×{window.height()})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
