"""The headless command line: outputs, summary, Ctrl-C, and every bad-input case."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from tests.helpers import video_frame_count

ROOT = Path(__file__).resolve().parents[1]
BASE = [sys.executable, str(ROOT / "main.py"), "--headless", "--model", "mediapipe"]


def run(args, timeout=120):
    return subprocess.run(BASE + args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def assert_clean_error(proc, *fragments):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]



def test_demo_run_writes_video_export_and_summary(tmp_path):
    out, export, summary = tmp_path / "new" / "a.mp4", tmp_path / "f.jsonl", tmp_path / "run.json"
    proc = run(["--demo", "--record", str(out), "--export", str(export), "--summary-json", str(summary),
                "--max-frames", "40"])
    assert proc.returncode == 0, proc.stderr
    report = json.loads(summary.read_text())
    assert report["frames_read"] == report["frames_processed"] == 40
    assert report["frames_dropped"] == 0
    assert report["detector_calls"] >= 1 and report["frames_with_face"] >= 38
    assert {"detect", "landmarks", "smooth", "total"} <= set(report["stage_median_ms"])
    assert video_frame_count(out) == 40
    records = [json.loads(line) for line in export.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(40))
    first, later = records[0], records[10]
    assert first["detected"] and not first["tracked"]
    assert later["tracked"] and not later["detected"]
    for r in records:
        assert {"frame", "timestamp", "has_face", "tracked", "face_score", "points", "visibility"} <= set(r)
        if r["has_face"]:
            assert len(r["points"]) == 100 and all(len(p) == 2 for p in r["points"])
            assert len(r["visibility"]) == 100 and all(0 <= v <= 1 for v in r["visibility"])
    assert records[1]["timestamp"] == pytest.approx(1 / 30, abs=1e-3)


def test_csv_export_has_one_row_per_frame(tmp_path):
    export = tmp_path / "f.csv"
    proc = run(["--demo", "--export", str(export), "--max-frames", "12"])
    assert proc.returncode == 0, proc.stderr
    rows = export.read_text().splitlines()
    header = rows[0].split(",")
    assert len(rows) == 13
    assert {"frame", "x0", "y99", "v99", "face_score"} <= set(header)


def test_ctrl_c_leaves_a_playable_video_and_a_complete_export(tmp_path):
    out, export, summary = tmp_path / "a.mp4", tmp_path / "f.jsonl", tmp_path / "run.json"
    proc = subprocess.Popen(BASE + ["--demo", "--record", str(out), "--export", str(export),
                                    "--summary-json", str(summary)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / f".f.partial-{proc.pid}.jsonl"   # the export's name until it is complete
    deadline = time.time() + 60
    while time.time() < deadline:
        if partial.exists() and len(partial.read_text().splitlines()) >= 15:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr        # interrupted, as shells expect, with every file complete
    assert "Traceback" not in stderr
    report = json.loads(summary.read_text())
    assert report["interrupted"] is True
    n = report["frames_processed"]
    assert 15 <= n < 450
    lines = export.read_text().splitlines()
    assert len(lines) == n and json.loads(lines[-1])["frame"] == n - 1   # complete up to the last frame
    assert video_frame_count(out) == n                                   # finalised and playable


def test_missing_video(tmp_path):
    assert_clean_error(run(["--video", str(tmp_path / "nope.mp4")]), "not found")


def test_empty_video(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert_clean_error(run(["--video", str(empty)]), "empty")


def test_corrupt_video(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(20000))
    assert_clean_error(run(["--video", str(corrupt)]), str(corrupt))


def test_truncated_video_gives_one_warning_line_and_no_ffmpeg_lines(tmp_path):
    import av

    full, truncated = tmp_path / "full.wmv", tmp_path / "truncated.wmv"
    demo = cv2.VideoCapture(str(ROOT / "assets" / "demo.mp4"))
    with av.open(str(full), "w", format="asf") as container:
        stream = container.add_stream("wmv2", rate=30)
        stream.width, stream.height, stream.pix_fmt = int(demo.get(3)), int(demo.get(4)), "yuv420p"
        for _ in range(20):
            image = demo.read()[1]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode())
    demo.release()
    # cut off as a broken download; this cut lands inside a frame, so FFmpeg's wmv2 decoder complains
    truncated.write_bytes(full.read_bytes()[:30000])
    proc = run(["--video", str(truncated)])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: {truncated} ended after "), proc.stderr
    assert "the file may be truncated or damaged" in lines[0]
    assert "FFMPEG" not in proc.stdout and " @ 0x" not in proc.stdout   # nor on stdout


def test_camera_that_does_not_open():
    assert_clean_error(run(["--camera", "57"]), "camera 57")


def test_unwritable_outputs(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    assert_clean_error(run(["--demo", "--record", str(a_file / "a.mp4")]), "cannot create the folder")
    assert_clean_error(run(["--demo", "--export", str(tmp_path)]), "is a folder")
    assert_clean_error(run(["--demo", "--record", str(tmp_path / "x.txt")]), "use a .mp4 or .avi")   # one line, no OpenCV text
    assert_clean_error(run(["--demo", "--summary-json", str(tmp_path)]), "is a folder")


def test_bad_calibration_file_and_osc_target(tmp_path):
    bad = tmp_path / "me.json"
    bad.write_text("{not json")
    assert_clean_error(run(["--demo", "--calibration", str(bad)]), "not valid JSON")
    assert_clean_error(run(["--demo", "--osc", "vmc://127.0.0.1:99999"]), "port must be")


def test_missing_weights(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--headless", "--model", "occface",
                           "--weights", str(tmp_path / "nope.onnx")], cwd=ROOT, capture_output=True, text=True)
    assert_clean_error(proc, "weights not found")


def test_corrupt_weights(tmp_path):
    corrupt = tmp_path / "bad.onnx"
    corrupt.write_bytes(os.urandom(5000))
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--headless", "--demo", "--weights", str(corrupt)],
                          cwd=ROOT, capture_output=True, text=True)
    assert_clean_error(proc, "cannot load OccFace weights")


def test_corrupt_eye_stage_weights_are_named_and_no_eye_stage_runs_without_them(tmp_path):
    face = tmp_path / "occface.onnx"
    face.write_bytes((ROOT / "assets" / "occface.onnx").read_bytes())
    (tmp_path / "occface_eyes.onnx").write_bytes(os.urandom(5000))
    (tmp_path / "occface_eyes_config.json").write_text(json.dumps({"crop": {"input_size": 32, "crop_scale": 1.8}}))
    base = [sys.executable, str(ROOT / "main.py"), "--headless", "--demo", "--weights", str(face), "--max-frames", "3"]
    assert_clean_error(subprocess.run(base, cwd=ROOT, capture_output=True, text=True), "cannot load the eye stage")
    proc = subprocess.run(base + ["--no-eye-stage"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_help_has_examples():
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--help"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and "Examples:" in proc.stdout and "--osc" in proc.stdout
    text = " ".join(proc.stdout.split())
    assert "--smoothing STRENGTH" in text and "1 (the default) is the measurement noise tuned" in text   # explained


def test_smoothing_strength_zero_is_no_smoothing_and_a_strength_changes_the_points(tmp_path):
    exports = {}
    for name, args in (("off", ["--no-smoothing"]), ("zero", ["--smoothing", "0"]), ("default", []),
                       ("strong", ["--smoothing", "3"])):
        path = tmp_path / f"{name}.jsonl"
        proc = run(["--demo", "--max-frames", "12", "--no-retarget", "--export", str(path), *args])
        assert proc.returncode == 0, proc.stderr
        exports[name] = [json.loads(line)["points"] for line in path.read_text().splitlines()]
    assert exports["zero"] == exports["off"]
    assert exports["default"] != exports["off"] and exports["strong"] != exports["default"]


@pytest.mark.parametrize("args, says", [
    (["--focal-length", "-5"], "--focal-length must be a number of pixels from 50"),
    (["--focal-length", "0"], "--focal-length must be a number of pixels from 50"),
    (["--model", "mediapipe", "--weights", "w.onnx"], "--weights is for the OccFace model"),
    (["--smoothing", "-1"], "--smoothing must be a number from 0"),
    (["--smoothing", "nan"], "--smoothing must be a number from 0"),
    (["--smoothing", "2", "--no-smoothing"], "not allowed with argument"),
])
def test_meaningless_options_are_refused_with_usage_exit_2(args, says):
    proc = run(["--demo", "--max-frames", "1", *args])
    assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr
