"""`main.py batch` (issue 24): a corpus of generated clips (two with a face, one flat grey, one of random
bytes named .mp4) annotated by one process, by two, and by Ray tasks on a local instance, which must give
the same exports as each other and as the single-video command; the corpus table; resuming; Ctrl-C;
bad arguments."""
from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from live.batch import BatchError, BatchOptions, Status, VideoJob, plan, read_table
from live.batch_run import annotate_video
from live.recording import csv_columns
from tracking.demo_clip import ClipSpec, write_clip

ROOT = Path(__file__).resolve().parents[1]
BATCH = [sys.executable, str(ROOT / "main.py"), "batch"]
FRAMES = 24
SIZE = (320, 240)


def run(args, timeout=180, **kwargs):
    return subprocess.run(BATCH + [str(a) for a in args] + ["--no-progress"], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def grey_clip(path: Path, frames: int = FRAMES) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, SIZE)
    for _ in range(frames):
        writer.write(np.full((SIZE[1], SIZE[0], 3), 128, np.uint8))
    writer.release()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "sub").mkdir()
    write_clip(folder / "face_a.mp4", spec=ClipSpec(width=SIZE[0], height=SIZE[1], frames=FRAMES))
    write_clip(folder / "sub" / "face_b.avi", spec=ClipSpec(width=SIZE[0], height=SIZE[1], frames=FRAMES, seed=3))
    grey_clip(folder / "grey.mp4")
    (folder / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(20_000))
    return folder


EXPORTS = ("face_a.jsonl", "sub/face_b.jsonl", "grey.jsonl")


@pytest.fixture(scope="module")
def one_worker(corpus, tmp_path_factory):
    """The corpus annotated by one process (the reference of the other tests)."""
    out = tmp_path_factory.mktemp("one_worker")
    return out, run([corpus, "--out", out, "--workers", 1])


def table(out: Path) -> dict[str, dict]:
    with open(out / "corpus.csv", newline="") as f:
        return {Path(row["video"]).name: row for row in csv.DictReader(f)}


def test_the_corpus_table_has_a_row_per_video_with_its_status(one_worker):
    out, proc = one_worker
    assert proc.returncode == 1, proc.stderr          # one video failed
    assert "Traceback" not in proc.stderr
    assert "failed: " in proc.stderr and "broken.mp4" in proc.stderr
    assert "4 videos annotated (3 ok, 1 failed)" in proc.stdout
    rows = table(out)
    assert set(rows) == {"face_a.mp4", "face_b.avi", "grey.mp4", "broken.mp4"}
    for name in ("face_a.mp4", "face_b.avi"):
        row = rows[name]
        assert row["status"] == "ok" and int(row["frames"]) == FRAMES
        assert int(row["face_frames"]) >= FRAMES - 2 and int(row["detector_calls"]) >= 1
        assert 0.5 < float(row["mean_visibility"]) <= 1 and float(row["seconds"]) > 0 and row["error"] == ""
    grey = rows["grey.mp4"]
    assert grey["status"] == "ok" and int(grey["frames"]) == FRAMES and int(grey["face_frames"]) == 0
    assert grey["mean_visibility"] == ""
    assert rows["broken.mp4"]["status"] == "failed" and "corrupt" in rows["broken.mp4"]["error"]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        [*EXPORTS, "corpus.csv"])                       # nothing for the broken video, no temporary files
    records = (out / "face_a.jsonl").read_text().splitlines()
    assert len(records) == FRAMES and '"blendshapes"' in records[0] and '"visibility"' in records[0]


def test_the_batch_export_is_the_single_video_commands(one_worker, corpus, tmp_path):
    out, _ = one_worker
    single = tmp_path / "single.jsonl"
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "--headless", "--video", str(corpus / "face_a.mp4"),
                           "--export", str(single)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert single.read_bytes() == (out / "face_a.jsonl").read_bytes()


def test_two_workers_give_the_same_exports(one_worker, corpus, tmp_path):
    reference, _ = one_worker
    proc = run([corpus, "--out", tmp_path, "--workers", 2])
    assert proc.returncode == 1, proc.stderr
    for name in EXPORTS:
        assert (tmp_path / name).read_bytes() == (reference / name).read_bytes(), name
    assert {k: v["status"] for k, v in table(tmp_path).items()} == {k: v["status"] for k, v in table(reference).items()}


def test_ray_tasks_on_a_local_instance_give_the_same_exports(one_worker, corpus, tmp_path):
    pytest.importorskip("ray")
    reference, _ = one_worker
    proc = run([corpus, "--out", tmp_path, "--workers", 2, "--ray", "local"])
    assert proc.returncode == 1, proc.stderr
    for name in EXPORTS:
        assert (tmp_path / name).read_bytes() == (reference / name).read_bytes(), name
    assert table(tmp_path)["broken.mp4"]["status"] == "failed"


def test_a_second_run_skips_the_finished_videos(one_worker, tmp_path):
    reference, _ = one_worker
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    (out / "grey.jsonl").unlink()                       # as if the first run had stopped before it
    kept = {name: (out / name).stat().st_mtime_ns for name in ("face_a.jsonl", "sub/face_b.jsonl")}
    corpus_dir = Path(next(iter(read_table(out / "corpus.csv")))).parent
    proc = run([corpus_dir, "--out", out, "--workers", 1])
    assert proc.returncode == 1, proc.stderr            # the broken video is tried again, and fails again
    assert "skipping 2 of 4 videos" in proc.stderr
    assert "2 videos annotated (1 ok, 1 failed), 2 skipped" in proc.stdout
    assert {name: (out / name).stat().st_mtime_ns for name in kept} == kept
    assert (out / "grey.jsonl").read_bytes() == (reference / "grey.jsonl").read_bytes()
    rows = table(out)
    assert rows["face_a.mp4"] == table(reference)["face_a.mp4"]    # the earlier run's figures are kept
    assert [rows[n]["status"] for n in ("face_a.mp4", "face_b.avi", "grey.mp4", "broken.mp4")] == [
        "ok", "ok", "ok", "failed"]


def test_csv_format_and_recorded_video(corpus, tmp_path):
    proc = run([corpus / "face_a.mp4", "--out", tmp_path, "--format", "csv", "--record", "--max-frames", 5,
                "--workers", 1])
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "face_a.csv", newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == csv_columns(retarget=True)
        assert len(list(reader)) == 5
    cap = cv2.VideoCapture(str(tmp_path / "face_a.mp4"))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    cap.release()


class StopAfter:
    """A stop event that is set once it has been asked `calls` times (a Ctrl-C mid-video)."""

    def __init__(self, calls: int):
        self.calls = calls

    def is_set(self) -> bool:
        self.calls -= 1
        return self.calls < 0


def test_a_video_stopped_midway_leaves_no_file(corpus, tmp_path):
    options = BatchOptions(out=tmp_path)
    job = VideoJob("face_a.mp4", corpus / "face_a.mp4", tmp_path / "face_a.jsonl", tmp_path / "face_a.mp4")
    result = annotate_video(job, options, StopAfter(8))
    assert result.status is Status.INTERRUPTED
    assert list(tmp_path.iterdir()) == []               # neither the outputs nor their temporary files


@pytest.mark.parametrize("signum, status, said", [(signal.SIGINT, 130, "stopped with Ctrl-C"),
                                                 (signal.SIGTERM, 143, "stopped by SIGTERM")])
def test_ctrl_c_stops_the_workers_without_finished_looking_files(tmp_path, signum, status, said):
    long = tmp_path / "in"
    long.mkdir()
    for name in ("long_a.mp4", "long_b.mp4"):
        write_clip(long / name, spec=ClipSpec(width=SIZE[0], height=SIZE[1], frames=300))
    out = tmp_path / "out"
    proc = subprocess.Popen(BATCH + [str(long), "--out", str(out), "--workers", "2", "--no-progress"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(out.glob(".*partial*")) and time.monotonic() < deadline:   # both workers writing
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == status, stderr
    assert "Traceback" not in stderr and said in stdout
    assert [p.name for p in out.iterdir()] == ["corpus.csv"]   # no export, finished or temporary
    assert read_table(out / "corpus.csv") == {}


def test_inputs_from_a_list_and_names_relative_to_their_folder(corpus, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"# my corpus\n{corpus / 'sub' / 'face_b.avi'}\n\n{corpus / 'face_a.mp4'}\n")
    (tmp_path / "clip.mkv").write_bytes(b"")
    (tmp_path / ".hidden.mp4").write_bytes(b"")
    out = tmp_path / "ann"
    out.mkdir()
    (out / "old.mp4").write_bytes(b"")                  # outputs inside an input folder are not inputs
    jobs = plan([listing, tmp_path, corpus / "face_a.mp4"], BatchOptions(out=out))
    assert [(Path(j.video).name, j.export.relative_to(out.resolve()).as_posix()) for j in jobs] == [
        ("face_b.avi", "face_b.jsonl"), ("face_a.mp4", "face_a.jsonl"), ("clip.mkv", "clip.jsonl")]


def test_outputs_that_would_clash_are_refused(corpus, tmp_path):
    twin = tmp_path / "twin"
    twin.mkdir()
    shutil.copy(corpus / "face_a.mp4", twin / "face_a.avi")
    with pytest.raises(BatchError, match="would both write"):
        plan([corpus / "face_a.mp4", twin / "face_a.avi"], BatchOptions(out=tmp_path / "o"))
    with pytest.raises(BatchError, match="overwrite the video"):
        plan([corpus / "face_a.mp4"], BatchOptions(out=corpus, record=True))
    with pytest.raises(BatchError, match="inside the output folder"):
        plan([corpus / "sub"], BatchOptions(out=corpus))


@pytest.mark.parametrize("args, fragment", [
    (["missing_folder", "--out", "o"], "input not found"),
    (["{corpus}", "--out", "o", "--workers", "0"], "--workers"),
    (["{corpus}", "--out", "o", "--format", "xml"], "--format"),
    (["{corpus}"], "--out"),
    (["{corpus}/broken.mp4", "--out", "o", "--model", "mediapipe", "--weights", "w.onnx"], "--weights"),
    (["{empty}", "--out", "o"], "no videos found"),
])
def test_bad_arguments_are_one_error_line_and_exit_2(corpus, tmp_path, args, fragment):
    (tmp_path / "empty").mkdir()
    args = [a.format(corpus=corpus, empty=tmp_path / "empty") for a in args]
    proc = subprocess.run(BATCH + args, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], proc.stderr
    assert not (tmp_path / "o").exists()


def test_ray_missing_is_a_clear_error(corpus, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    (tmp_path / "ray.py").write_text("raise ImportError('no ray here')\n")   # shadows the installed package
    proc = subprocess.run(BATCH + [str(corpus / "face_a.mp4"), "--out", str(tmp_path / "o"), "--ray", "auto"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --ray needs the ray package"), proc.stderr


def damaged_clip(path: Path, frames: int = 60) -> None:
    """An MPEG-4 clip (a key frame every 15) with a tenth of its bytes, in the middle, overwritten."""
    import av

    from tracking.demo_clip import DEFAULT_PHOTO, render_frames

    whole = path.with_name("whole.tmp")
    with av.open(str(whole), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.options = {"g": "15"}
        spec = ClipSpec(width=SIZE[0], height=SIZE[1], frames=frames)
        for image in render_frames(cv2.imread(str(DEFAULT_PHOTO)), spec):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode())
    data = bytearray(whole.read_bytes())
    whole.unlink()
    start, end = int(len(data) * 0.45), int(len(data) * 0.55)
    data[start:end] = np.random.default_rng(0).integers(0, 256, end - start, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def test_a_damaged_video_fails_unless_frame_loss_is_allowed(tmp_path):
    """As the single-video command exits 3 for it: lost frames are a failed row (and no output, so it is
    tried again) unless --allow-frame-loss, which makes it ok with the warning in its row."""
    videos = tmp_path / "in"
    videos.mkdir()
    damaged_clip(videos / "damaged.mp4")
    proc = run([videos, "--out", tmp_path / "strict", "--workers", 1])
    assert proc.returncode == 1, proc.stderr
    row = table(tmp_path / "strict")["damaged.mp4"]
    assert row["status"] == "failed" and "could not be decoded" in row["error"] and "--allow-frame-loss" in row["error"]
    assert not (tmp_path / "strict" / "damaged.jsonl").exists()
    proc = run([videos, "--out", tmp_path / "lenient", "--workers", 1, "--allow-frame-loss"])
    assert proc.returncode == 0, proc.stderr
    row = table(tmp_path / "lenient")["damaged.mp4"]
    assert row["status"] == "ok" and "could not be decoded" in row["error"] and 0 < int(row["frames"]) < 60
    assert len((tmp_path / "lenient" / "damaged.jsonl").read_text().splitlines()) == int(row["frames"])
