"""CPU share of the app at camera rate: what a streamer running a game and OBS beside us pays.

Runs the real `main.py` as a child process, as a user would, on a clip played like a camera
(`--realtime`: at its own frame rate, late frames dropped) with a VMC stream to a loopback receiver,
and reads the child's CPU time (user + system, all threads) from the kernel when it exits. The share
is CPU seconds over wall seconds, start-up included, in per cent of one core. Three runs:

- start-up alone (`--max-frames 1`): imports, model load, first detection;
- headless for the whole clip;
- the window (offscreen Qt unless --platform says otherwise) for the clip's duration, then closed.

The clip is made at --fps (default 15, a common webcam rate in dim light) from --video by taking
frames at that rate and playing the source forward and back until --seconds are filled.

    python -m benchmarks.bench_cpu
    python -m benchmarks.bench_cpu --video ../shared/data/video/short_hamilton_clip.mp4 --seconds 30 --fps 15
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2

from .faces import write_json

ROOT = Path(__file__).resolve().parents[1]
BUDGET_HEADLESS, BUDGET_WINDOW = 25.0, 35.0   # per cent of one core (issue 11)


@dataclass
class CpuRun:
    mode: str
    wall_s: float
    cpu_s: float
    exit_code: int

    @property
    def share_pct(self) -> float:
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


def make_camera_clip(source: Path, out: Path, fps: float, seconds: float) -> int:
    """`source` resampled to `fps` and played forward and back until `seconds` are filled."""
    cap = cv2.VideoCapture(str(source))
    src_fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames, index = [], 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        if index % max(1, round(src_fps / fps)) == 0:
            frames.append(image)
        index += 1
    cap.release()
    if not frames:
        raise SystemExit(f"error: no frames in {source}")
    ping_pong = frames + frames[-2:0:-1]
    count = int(seconds * fps)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for i in range(count):
        writer.write(ping_pong[i % len(ping_pong)])
    writer.release()
    return count


def _drain_udp() -> tuple[socket.socket, int]:
    """A loopback receiver that swallows the VMC stream (so no datagram is refused)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)

    def loop():
        while True:
            try:
                sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return

    threading.Thread(target=loop, daemon=True).start()
    return sock, sock.getsockname()[1]


def run_child(mode: str, args: list[str], env: dict, stop_after: float | None = None) -> CpuRun:
    """Run main.py with `args`; with `stop_after`, close it (SIGTERM) after that many seconds."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if stop_after is not None:
        try:
            proc.wait(timeout=stop_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
    if proc.returncode not in (0, -signal.SIGTERM) and err:
        print(f"{mode}: exit {proc.returncode}: {err.splitlines()[-1]}", file=sys.stderr)
    return CpuRun(mode, wall, usage.ru_utime + usage.ru_stime, proc.returncode)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_cpu", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", type=Path, default=ROOT / "assets" / "demo.mp4")
    p.add_argument("--fps", type=float, default=15.0)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--model", default="auto")
    p.add_argument("--platform", default="offscreen", help="QT_QPA_PLATFORM for the window run")
    p.add_argument("--no-window", action="store_true")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if not args.video.is_file():
        print(f"error: video not found: {args.video}", file=sys.stderr)
        return 2
    sock, port = _drain_udp()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "camera.avi"
        frames = make_camera_clip(args.video, clip, args.fps, args.seconds)
        common = ["--video", str(clip), "--realtime", "--model", args.model, "--osc", f"vmc://127.0.0.1:{port}"]
        env = {**os.environ, "QT_QPA_PLATFORM": args.platform}
        runs = [run_child("start-up (1 frame)", common + ["--headless", "--max-frames", "1"], env),
                run_child("headless", common + ["--headless"], env)]
        if not args.no_window:
            # as long as the headless run took: start-up plus the clip at camera rate
            runs.append(run_child("window", common, env, stop_after=runs[1].wall_s))
    sock.close()
    print(f"clip: {frames} frames at {args.fps:g} fps ({args.seconds:g} s) from {args.video.name}, VMC out; "
          f"model {args.model}")
    for run in runs:
        budget = {"headless": BUDGET_HEADLESS, "window": BUDGET_WINDOW}.get(run.mode)
        verdict = f"  (budget {budget:g} %: {'met' if run.share_pct <= budget else 'MISSED'})" if budget else ""
        print(f"{run.mode:20s} wall {run.wall_s:6.1f} s  cpu {run.cpu_s:6.2f} s  share {run.share_pct:5.1f} % of one core"
              f"{verdict}")
    write_json(args.out, {"video": str(args.video), "fps": args.fps, "seconds": args.seconds, "model": args.model,
                          "runs": [{**asdict(r), "share_pct": round(r.share_pct, 2)} for r in runs]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
