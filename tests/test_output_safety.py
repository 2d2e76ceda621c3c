"""Never lose a user's file (issue 23): every output is refused before the run when it would overwrite the
input or another output, written under a temporary name and moved into place only when complete,
finished by SIGTERM as by Ctrl-C; bad output names, focal lengths, calibration folders and weights are one
error line; a damaged video is read past its bad packets, and the frames lost are counted and exit 3."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from live.atomic import AtomicFile
from live.output_paths import EXPORT_SUFFIXES, SUMMARY_SUFFIXES, OutputError, OutputPath, check_output_paths
from live.recording import FrameExporter, VideoRecorder
from tests.helpers import video_frame_count

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "assets" / "demo.mp4"
BASE = [sys.executable, str(ROOT / "main.py"), "--headless", "--model", "mediapipe"]
CLIP_FRAMES = 90


def run(args, timeout=120, cwd=ROOT):
    return subprocess.run(BASE + [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def the_error_line(proc) -> str:
    """The one line a refused run prints (and nothing else on stderr)."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def files_in(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}



@pytest.fixture(scope="module")
def small_clip(tmp_path_factory) -> Path:
    """The demo clip's first 30 frames at 320x240 (a face in every frame)."""
    path = tmp_path_factory.mktemp("clip") / "small.mp4"
    demo = cv2.VideoCapture(str(DEMO))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (320, 240))
    for _ in range(30):
        writer.write(cv2.resize(demo.read()[1], (320, 240)))
    writer.release()
    demo.release()
    return path


# --- 1. an output that is the input video or another output -------------------------------------------
@pytest.mark.parametrize("spelling", ["same", "dotted", "hard link"])
def test_record_naming_the_input_video_is_refused_and_the_video_is_untouched(tmp_path, small_clip, spelling):
    video = tmp_path / "in.mp4"
    video.write_bytes(small_clip.read_bytes())
    (tmp_path / "sub").mkdir()
    record = {"same": video, "dotted": tmp_path / "sub" / ".." / "in.mp4", "hard link": tmp_path / "link.mp4"}[spelling]
    if spelling == "hard link":
        os.link(video, record)
    before = files_in(tmp_path)
    line = the_error_line(run(["--video", video, "--record", record, "--summary-json", tmp_path / "s.json"]))
    assert "--record" in line and "is the input video" in line
    assert files_in(tmp_path) == before          # the video as it was, and nothing else written


def test_two_outputs_naming_one_file_are_refused(tmp_path):
    assert "--record and --export both name" in the_error_line(
        run(["--demo", "--record", tmp_path / "same.avi", "--export", tmp_path / "same.avi"]))
    assert "--summary-json and --calibration both name" in the_error_line(
        run(["--demo", "--summary-json", tmp_path / "me.json", "--calibration", tmp_path / "me.json"]))
    assert files_in(tmp_path) == {}


# --- 2. complete or absent ------------------------------------------------------------------------------
def test_outputs_appear_only_complete_and_an_existing_file_survives_until_then(tmp_path):
    record, export, summary = tmp_path / "out.mp4", tmp_path / "out.jsonl", tmp_path / "run.json"
    export.write_text("the user's earlier export\n")
    proc = subprocess.Popen(BASE + ["--demo", "--realtime", "--max-frames", "60", "--record", str(record),
                                    "--export", str(export), "--summary-json", str(summary)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / f".out.partial-{proc.pid}.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (partial.exists() and partial.read_text().count("\n") >= 5):
        time.sleep(0.05)
    mid_run = {p.name for p in tmp_path.iterdir()}
    assert export.read_text() == "the user's earlier export\n"    # untouched while the run goes on
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert partial.name in mid_run and "out.mp4" not in mid_run and "run.json" not in mid_run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.mp4", "run.json"]   # no .partial left
    n = json.loads(summary.read_text())["frames_processed"]   # played in real time: a busy machine drops some
    assert n >= 10 and len(export.read_text().splitlines()) == n and video_frame_count(record) == n


def test_the_temporary_name_keeps_the_suffix_and_a_failed_block_leaves_nothing(tmp_path):
    target = tmp_path / "run.json"
    target.write_text("old")
    file = AtomicFile(target)
    assert file.partial.parent == tmp_path and file.partial.name == f".run.partial-{os.getpid()}.json"
    with pytest.raises(RuntimeError):
        with AtomicFile(target) as partial:
            partial.write_text("half")
            raise RuntimeError("the writer failed")
    assert files_in(tmp_path) == {"run.json": b"old"}
    with AtomicFile(target) as partial:
        partial.write_text("new")
    assert files_in(tmp_path) == {"run.json": b"new"}


def test_a_failed_write_or_open_deletes_the_temporary_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    from tracking.types import FaceResult

    export = tmp_path / "d.jsonl"
    export.write_text("old\n")
    exporter = FrameExporter(export, retarget=False)
    result = FaceResult(frame_index=0, timestamp=0.0, captured_at=0.0, frame_size=(64, 48), has_face=False,
                        detected=False)
    exporter.send(result)
    exporter._handle.close()   # the disk goes away: the next write fails
    with pytest.raises(ValueError):
        exporter.send(result)
    with pytest.raises(OutputError, match="was not written: a write failed"):
        exporter.close()
    assert files_in(tmp_path) == {"d.jsonl": b"old\n"}

    def fails_after_creating(path, *args, **kwargs):
        Path(path).write_bytes(b"half a header")
        raise OutputError(f"cannot write video {kwargs.get('shown')}: no encoder")

    monkeypatch.setattr("live.recording.open_video_writer", fails_after_creating)
    with pytest.raises(OutputError, match="no encoder"):
        VideoRecorder(tmp_path / "v.mp4", 30.0, (64, 48))
    assert files_in(tmp_path) == {"d.jsonl": b"old\n"}


# --- 3. SIGTERM finishes like Ctrl-C -------------------------------------------------------------------
def test_sigterm_finalises_every_output_and_exits_143(tmp_path, small_clip):
    record, export, summary = tmp_path / "out.mp4", tmp_path / "out.jsonl", tmp_path / "s.json"
    proc = subprocess.Popen(BASE + ["--video", str(small_clip), "--record", str(record), "--export", str(export),
                                    "--summary-json", str(summary), "--realtime"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / f".out.partial-{proc.pid}.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (partial.exists() and partial.read_text().count("\n") >= 5):
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr            # 128 + SIGTERM
    assert "Traceback" not in stderr
    report = json.loads(summary.read_text())
    n = report["frames_processed"]
    assert report["interrupted"] is True and 5 <= n < 30
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert [r["frame"] for r in lines] == list(range(n))
    assert video_frame_count(record) == n                  # finalised: the mp4 opens and has every frame
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.mp4", "s.json"]


# --- 4. early errors leave nothing behind ---------------------------------------------------------------
def test_an_early_error_leaves_no_file_and_an_existing_summary_untouched(tmp_path):
    outputs = ["--summary-json", tmp_path / "s.json", "--record", tmp_path / "r.mp4", "--export", tmp_path / "e.csv"]
    assert "not found" in the_error_line(run(["--video", tmp_path / "nope.mp4", *outputs]))
    assert files_in(tmp_path) == {}
    (tmp_path / "s.json").write_text('{"the user": "s earlier summary"}')
    assert "port must be" in the_error_line(run(["--demo", *outputs, "--osc", "vmc://127.0.0.1:99999"]))
    assert files_in(tmp_path) == {"s.json": b'{"the user": "s earlier summary"}'}


# --- 5. names the writers cannot write -------------------------------------------------------------------
@pytest.mark.parametrize("option, name, says", [
    ("--export", "x.txt", "use a .jsonl or .csv file name"),
    ("--export", "folder", "is a folder"),
    ("--record", "x.mkv", "use a .mp4 or .avi file name"),
    ("--record", "folder", "is a folder"),
    ("--summary-json", "x.txt", "use a .json file name"),
    ("--summary-json", "folder", "is a folder"),
])
def test_an_output_with_the_wrong_suffix_or_a_folder_is_refused(tmp_path, option, name, says):
    (tmp_path / "folder").mkdir()
    line = the_error_line(run(["--demo", option, tmp_path / name]))
    assert line.startswith(f"error: {option} ") and says in line
    assert files_in(tmp_path) == {}


def test_suffixes_are_read_whatever_their_case():
    check_output_paths(None, [OutputPath("--export", Path("a.JSONL"), EXPORT_SUFFIXES),
                              OutputPath("--summary-json", Path("b.Json"), SUMMARY_SUFFIXES)])


# --- 6. meaningless focal lengths, a folder as the video --------------------------------------------------
@pytest.mark.parametrize("value", ["inf", "1e-300", "nan", "-inf", "49", "50001"])
def test_a_focal_length_outside_50_to_50000_px_is_refused(value):
    proc = run(["--demo", "--max-frames", "1", f"--focal-length={value}"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--focal-length must be a number of pixels from 50 to 50000" in proc.stderr


def test_a_plausible_focal_length_runs():
    assert run(["--demo", "--max-frames", "2", "--focal-length", "800"]).returncode == 0


def test_a_folder_given_as_the_video_is_called_a_folder(tmp_path):
    assert the_error_line(run(["--video", tmp_path])) == f"error: {tmp_path} is a folder, not a video file"


# --- 7. a calibration that could not be saved -------------------------------------------------------------
def test_an_unwritable_calibration_is_refused_before_the_run(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    line = the_error_line(run(["--demo", "--calibration", tmp_path / "a_file" / "me.json",
                               "--record", tmp_path / "r.mp4", "--summary-json", tmp_path / "s.json"]))
    assert "calibration file" in line and str(tmp_path / "a_file" / "me.json") in line
    assert files_in(tmp_path) == {"a_file": b"not a folder"}          # nothing ran


# --- 8. weights of another model ------------------------------------------------------------------------
@pytest.mark.parametrize("stage", ["eyes", "mouth"])
def test_weights_of_a_local_stage_are_named_in_one_line(stage):
    weights = ROOT / "assets" / f"occface_{stage}.onnx"
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--headless", "--demo", "--max-frames", "2",
                           "--weights", str(weights)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    line = the_error_line(proc)      # one line: no warning about the .pt beside it, no traceback
    assert f"{weights} holds another model ({stage} [" in line and "not the OccFace face model" in line
    assert ".pt" not in line


# --- 9. a damaged video ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def damaged_clip(tmp_path_factory) -> Path:
    """A 90-frame MPEG-4 clip (a key frame every 15) with a tenth of its bytes, in the middle, overwritten."""
    import av

    folder = tmp_path_factory.mktemp("damaged")
    whole, damaged = folder / "whole.mp4", folder / "damaged.mp4"
    demo = cv2.VideoCapture(str(DEMO))
    with av.open(str(whole), "w") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"g": "15"}
        for _ in range(CLIP_FRAMES):
            image = cv2.resize(demo.read()[1], (320, 240))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode())
    demo.release()
    data = bytearray(whole.read_bytes())
    start, end = int(len(data) * 0.45), int(len(data) * 0.55)
    data[start:end] = np.random.default_rng(0).integers(0, 256, end - start, dtype=np.uint8).tobytes()
    damaged.write_bytes(bytes(data))
    return damaged


def test_a_damaged_video_is_read_past_its_bad_packets_and_exits_3(tmp_path, damaged_clip):
    summary, export = tmp_path / "s.json", tmp_path / "e.jsonl"
    proc = run(["--video", damaged_clip, "--summary-json", summary, "--export", export])
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {damaged_clip}: ") and "could not be decoded" in lines[0]
    assert "--allow-frame-loss" in lines[0]
    report = json.loads(summary.read_text())
    lost, read = report["frames_lost"], report["frames_read"]
    assert lost > 0 and read + lost == CLIP_FRAMES
    assert read > video_frame_count(damaged_clip)   # a plain read loop, as the capture was: 31 here (75 now, 15 lost)
    assert f"frames lost: {lost}" in proc.stdout
    frames = [json.loads(line)["frame"] for line in export.read_text().splitlines()]
    assert len(frames) == read and frames[-1] == CLIP_FRAMES - 1            # the end of the clip is there
    assert any(b - a > 1 for a, b in zip(frames, frames[1:]))              # the lost ones keep their place


def test_allow_frame_loss_exits_0_with_a_warning(damaged_clip):
    proc = run(["--video", damaged_clip, "--allow-frame-loss"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "could not be decoded" in lines[0]


def test_an_undamaged_clip_loses_nothing(small_clip, tmp_path):
    proc = run(["--video", small_clip, "--summary-json", tmp_path / "s.json"])
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads((tmp_path / "s.json").read_text())["frames_lost"] == 0
