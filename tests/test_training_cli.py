"""The training command end to end on a tiny synthetic set: train, then fine-tune with --init; the dataset's
face-score negatives; the evaluation's per-source visibility metrics."""
import json
from pathlib import Path

import cv2
import numpy as np
import torch

torch.set_num_threads(1)

from occface_core.training import evaluate, train
from occface_core.training.dataset import AugmentConfig, FaceDataset, build_labels
from occface_core.training.metrics import visibility_metrics
from occface_core.model import load_model
from occface_core.types import LandmarkPrediction


def _face_points(rng: np.random.Generator) -> np.ndarray:
    """A rough 68-point face (jaw arc, brows, nose, eyes, mouth) jittered a little, in a 160 px crop."""
    t = np.linspace(-1.2, 1.2, 17)
    jaw = np.stack([80 + 45 * np.sin(t), 70 + 45 * np.cos(t) * 0.9], 1)
    inner = np.stack([np.linspace(50, 110, 51), 55 + 40 * np.abs(np.sin(np.linspace(0, 6, 51)))], 1)
    return np.vstack([jaw, inner]) + rng.normal(0, 1.0, (68, 2))


def _tiny_dataset(root, n=12):
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    lines = []
    for i in range(n):
        img = rng.integers(0, 255, (160, 160, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "images" / f"{i}.jpg"), img)
        lines.append(json.dumps({"image": f"images/{i}.jpg", "source": "helen" if i % 2 else "ytf",
                                 "split": "val" if i < 4 else "train",
                                 "points68": np.round(_face_points(rng), 2).tolist()}))
    (root / "annotations.jsonl").write_text("\n".join(lines) + "\n")
    return root / "annotations.jsonl"


def test_train_then_fine_tune_records_where_the_weights_came_from(tmp_path):
    data = _tiny_dataset(tmp_path / "data")
    tiny = ["--channels", "8", "--batch-size", "4", "--workers", "0",
            "--threads", "1", "--warmup-epochs", "0"]
    assert train.main(["--data", str(data), "--out", str(tmp_path / "a"), "--epochs", "1", *tiny]) == 0
    first = json.loads((tmp_path / "a" / "occface_config.json").read_text())
    assert first["model"]["channels"] == 8 and len(first["history"]) == 1
    assert np.isfinite(first["history"][0]["val_nme68"])

    # the size flags are left at their defaults: the architecture must come from the initial weights
    assert train.main(["--data", str(data), "--out", str(tmp_path / "b"), "--epochs", "1", "--batch-size", "4",
                       "--workers", "0", "--threads", "1", "--warmup-epochs", "0",
                       "--init", str(tmp_path / "a" / "occface.pt")]) == 0
    second = json.loads((tmp_path / "b" / "occface_config.json").read_text())
    assert second["model"] == first["model"]
    assert second["init"]["weights"].endswith("occface.pt") and second["init"]["epochs"] == 1
    assert "--init" in second["command"] and second["init"]["command"] == first["command"]
    net = load_model(tmp_path / "b" / "occface.pt")
    assert net.cfg.channels == 8


def test_fine_tune_from_missing_weights_is_one_error_line(tmp_path, capsys):
    data = _tiny_dataset(tmp_path / "data", n=4)
    assert train.main(["--data", str(data), "--out", str(tmp_path / "o"), "--init", str(tmp_path / "none.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "initial weights" in err and "\n" not in err


def test_negatives_have_no_face_and_no_landmark_loss(tmp_path):
    data = _tiny_dataset(tmp_path / "data", n=6)
    labels = build_labels(data, None)
    every_negative = FaceDataset(labels, data.parent, AugmentConfig(negative=1.0, dim_blur=1.0), train=True)
    never = FaceDataset(labels, data.parent, AugmentConfig(negative=0.0), train=True)
    for i in range(len(labels.images)):
        neg, pos = every_negative[i], never[i]
        assert float(neg["face"]) == 0.0 and float(neg["weights"].sum()) == 0.0
        assert float(neg["vis_mask"].sum()) == 0.0
        assert float(pos["face"]) == 1.0 and float(pos["weights"][:68].sum()) > 0


class _FixedBackend:
    """Predicts the labelled points and a visibility that is right on 'helen' and inverted on 'ytf'."""
    name = "fixed"

    def __init__(self, records):
        self.records = records
        self.calls = 0

    def predict(self, image, roi):
        rec = self.records[self.calls]
        self.calls += 1
        pts = np.zeros((100, 2))
        pts[:68] = rec["points68"]
        v = np.ones(100)
        v[:68] = np.asarray(rec["visible68"], float)
        if rec["source"] == "ytf":
            v[:68] = 1.0 - v[:68]
        return LandmarkPrediction(points=pts, visibility=v, face_score=0.9)


def test_visibility_metrics_are_also_reported_per_source(tmp_path):
    data = _tiny_dataset(tmp_path / "data", n=6)
    rng = np.random.default_rng(1)
    records = []
    for line in data.read_text().splitlines():
        rec = json.loads(line)
        rec["visible68"] = (rng.random(68) > 0.3).astype(int).tolist()
        records.append(rec)
    result, _, _, _ = evaluate.evaluate(records, data.parent, _FixedBackend(records), "gt", 0.5, None)
    per = result.per_source_visibility
    assert set(per) == {"helen", "ytf"}
    assert per["helen"].roc_auc == 1.0 and per["ytf"].roc_auc == 0.0
    helen = [r for r in records if r["source"] == "helen"]
    expect = visibility_metrics([np.asarray(r["visible68"], float) for r in helen],
                                [np.asarray(r["visible68"], float) for r in helen])
    assert per["helen"].occ_ap == expect.occ_ap
    assert result.visibility.points == 6 * 68


def test_far_side_inner_points_of_a_300w_lp_face_turned_past_60_degrees_are_not_scored_for_visibility():
    # 300W-LP's visible68 marks the jaw only: at 70 degrees the far eye says visible though it is hidden
    # an occluded copy's record: five hidden jaw points, and an occluder painted over points 40-42
    painted = np.zeros(68, int)
    painted[40:43] = 1
    visible = np.ones(68, int)
    visible[:5] = 0
    visible[40:43] = 0
    turned = {"source": "300w_lp_afw", "visible68": visible.tolist(), "occluded68": painted.tolist(),
              "pose_pitch_yaw_roll_deg": [0.0, -70.0, 0.0]}
    labels = evaluate.visibility_labels(turned)
    assert np.array_equal(labels[:17], visible[:17])                        # the jaw keeps its label
    assert np.array_equal(np.flatnonzero(np.isfinite(labels[17:])) + 17, [40, 41, 42])   # painted over
    assert np.all(labels[40:43] == 0)
    frontal = dict(turned, pose_pitch_yaw_roll_deg=[0.0, 20.0, 0.0])
    assert np.array_equal(evaluate.visibility_labels(frontal), visible)
    assert evaluate.visibility_labels({"source": "helen"}) is None
    # unknown labels are left out of the metrics, not counted as visible
    pred = np.ones(68)
    pred[visible == 0] = 0.0
    pred[20] = 0.0          # the far brow called hidden: no label, no penalty
    vm = visibility_metrics([pred], [labels])
    assert vm.points == 17 + 3 and vm.occluded_points == 8 and vm.roc_auc == 1.0


def test_resume_continues_the_run_where_it_stopped(tmp_path):
    data = _tiny_dataset(tmp_path / "data")
    run = ["--data", str(data), "--out", str(tmp_path / "r"), "--channels", "8", "--batch-size", "4",
           "--workers", "0", "--threads", "1", "--warmup-epochs", "0"]
    assert train.main(run + ["--epochs", "1"]) == 0
    assert train.main(run + ["--epochs", "2", "--resume"]) == 0
    history = json.loads((tmp_path / "r" / "occface_config.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[1]["step"] == 2 * history[0]["step"]         # the second epoch's steps came on top
    assert history[1]["minutes"] >= history[0]["minutes"]        # and the trained minutes carried over


def _with_wide_eyes(annotations):
    """The tiny set with two 20 px eyes in the usual iBUG order (its own eyes are a few pixels wide)."""
    lines = []
    for line in annotations.read_text().splitlines():
        rec = json.loads(line)
        pts = np.array(rec["points68"])
        for first, x0 in ((36, 45), (42, 95)):
            pts[first:first + 6] = [[x0, 60], [x0 + 6, 56], [x0 + 14, 56], [x0 + 20, 60], [x0 + 14, 64], [x0 + 6, 64]]
        rec["points68"] = pts.tolist()
        lines.append(json.dumps(rec))
    annotations.write_text("\n".join(lines) + "\n")
    return annotations


def test_eye_training_writes_weights_the_backend_picks_up(tmp_path):
    from occface_core.training import eye_train
    from occface_core.backends.occface_backend import OccFaceBackend

    data = _with_wide_eyes(_tiny_dataset(tmp_path / "data"))
    out = tmp_path / "eyes"
    assert eye_train.main(["--data", str(data), "--out", str(out), "--epochs", "1", "--batch-size", "4",
                           "--threads", "1"]) == 0
    config = json.loads((out / "occface_eyes_config.json").read_text())
    assert config["iris"]["file"].endswith("iris_landmark.tflite") and len(config["history"]) == 1
    assert config["onnx_max_abs_diff"] < 1e-3 and config["crop"]["input_size"] == 32
    tuned = tmp_path / "eyes_tuned"                               # a fine-tune records what it started from
    assert eye_train.main(["--data", str(data), "--out", str(tuned), "--epochs", "1", "--batch-size", "4",
                           "--threads", "1", "--init", str(out / "occface_eyes.pt")]) == 0
    chain = json.loads((tuned / "occface_eyes_config.json").read_text())["iris"]
    assert chain["init"].endswith("occface_eyes.pt") and chain["iris"]["file"].endswith("iris_landmark.tflite")
    face = tmp_path / "model" / "occface.onnx"                    # the shipped face model, with these eyes beside it
    face.parent.mkdir()
    face.write_bytes((Path(__file__).resolve().parents[1] / "assets" / "occface.onnx").read_bytes())
    for name in ("occface_eyes.onnx", "occface_eyes_config.json"):
        (face.parent / name).write_bytes((out / name).read_bytes())
    assert OccFaceBackend(face).eyes is not None
    assert OccFaceBackend(face, eye_stage=False).eyes is None


def test_eye_training_refuses_missing_inputs(tmp_path, capsys):
    from occface_core.training import eye_train

    assert eye_train.main(["--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "annotations file not found" in capsys.readouterr().err
