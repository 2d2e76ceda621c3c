"""Blinks: do the landmarks separate shut eyes from open ones, and does the app's eyeBlink fire?

Val faces from the frontal sources (helen, afw, ytf), each pasted into a 640x480 frame and tracked as
the app starts a track (BlazeFace, then a second pass from the model's own landmarks). Each eye is
labelled by its hand-labelled eye aspect ratio: shut below 0.12, open above 0.20 (between: left out).

- ROC-AUC of the predicted eye aspect ratio (lower = shut) over all labelled eyes;
- the app's eyeBlinkLeft/Right from the retargeting stage with no calibration (the mean head as the
  neutral face, what a new user sees before calibrating), after the face is held for 5 frames:
  share of shut eyes with eyeBlink >= 0.5 and share of open eyes with eyeBlink >= 0.5;
- the same per face, for faces whose labels shut both eyes (a blink): share with eyeBlink >= 0.5 on
  both eyes, against faces with both eyes open where either eye reads >= 0.5. The per-eye labels of
  the low-resolution YouTube-Faces frames often shut one eye of a pair that looks alike in the image
  (17 val ytf faces have exactly one eye labelled shut; in 14 of the 15 inspected by eye, both eyes
  look alike), so the per-eye shares carry that label noise;
- the same after the app's "neutral now" calibration on the same person's open-eye frames (identities
  with both shut and open eyes in the split, mostly YouTube-Faces videos): what a user sees once
  calibrated, where a blink is read against the user's own open eyes.

Not a test: a command that prints figures. Both backends see the same frames in one run.

Examples:
  python -m benchmarks.bench_blink --data ../shared/data/faces/annotations.jsonl
  python -m benchmarks.bench_blink --data ../shared/data/faces/annotations.jsonl --model occface --out runs/blink.json
  python -m benchmarks.bench_blink --data ../shared/data/faces/annotations.jsonl --sheet runs/blink_sheet.png
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.faces import face_set_parser, frontal_faces, measure_and_report
from occface_core.layout import IBUG68, eye_aspect_ratio
from occface_core.training.metrics import roc_auc
from retarget.stage import RetargetOptions, RetargetStage
from occface_core.detector import BlazeFaceDetector
from tracking.tracker import FaceTracker
from tracking.types import FaceResult

FRONTAL_SOURCES = ("helen", "afw", "ytf")
SHUT_EAR, OPEN_EAR = 0.12, 0.20
HELD_FRAMES = 5
SIDES = ("Right", "Left")   # iBUG 36-41 is the subject's right eye


def _hold(stage: RetargetStage, points: np.ndarray, visibility: np.ndarray, frame_size, frames: int) -> dict:
    """Feed the same face for `frames` frames at 30 fps; the last frame's blendshapes."""
    shapes = {}
    for k in range(frames):
        result = FaceResult(frame_index=k, timestamp=k / 30.0, captured_at=0.0, frame_size=frame_size,
                            has_face=True, detected=False, points=points, visibility=visibility)
        stage.process(result)
        shapes = result.blendshapes
    return shapes


def app_eye_blink(stage: RetargetStage, points: np.ndarray, visibility: np.ndarray, frame_size) -> np.ndarray:
    """eyeBlinkRight/Left after the same face is held for HELD_FRAMES frames at 30 fps."""
    shapes = _hold(stage, points, visibility, frame_size, HELD_FRAMES)
    return np.array([shapes[f"eyeBlink{side}"] for side in SIDES])


def calibrated_eye_blink(faces, predictions, label_ear: np.ndarray) -> dict[tuple[int, int], float]:
    """eyeBlink of every shut eye, keyed (face, side), after "neutral now" on the same person's frames
    with both eyes open."""
    by_person = defaultdict(list)
    for i, face in enumerate(faces):
        if predictions[i] is not None:
            by_person[face.record.get("identity", i)].append(i)
    values = {}
    for idx in by_person.values():
        open_frames = [i for i in idx if (label_ear[i] > OPEN_EAR).all()]
        shut_eyes = [(i, side) for i in idx for side in range(2) if label_ear[i, side] < SHUT_EAR]
        for i, side in shut_eyes if open_frames else []:
            stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=0.0))
            stage.calibrate_neutral()
            rounds = -(-stage.options.neutral_now_frames // len(open_frames))    # enough to fill it
            for j in open_frames * rounds:
                _hold(stage, *predictions[j], 1)
            values[(i, side)] = float(app_eye_blink(stage, *predictions[i])[side])
    return values


def measure(backend, faces, label_ear: np.ndarray) -> dict:
    detector = BlazeFaceDetector()
    pred_ear, blink, found, predictions = [], [], [], []
    try:
        for face in faces:
            step = FaceTracker(backend, detector).process(face.image)
            if step.prediction is None:
                pred_ear.append([np.inf, np.inf])     # no face: reads as open eyes (a missed blink)
                blink.append([0.0, 0.0])
                found.append(False)
                predictions.append(None)
                continue
            p = step.prediction
            pred_ear.append(eye_aspect_ratio(p.points[IBUG68]))
            predictions.append((p.points, p.visibility, (face.image.shape[1], face.image.shape[0])))
            stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=0.0))
            blink.append(app_eye_blink(stage, *predictions[-1]))
            found.append(True)
    finally:
        detector.close()
    return {"pred_ear": np.array(pred_ear), "blink": np.array(blink), "found": np.array(found),
            "calibrated_blink": calibrated_eye_blink(faces, predictions, label_ear)}


def summarise(m: dict, label_ear: np.ndarray) -> dict:
    shut, open_ = label_ear < SHUT_EAR, label_ear > OPEN_EAR
    keep = shut | open_
    both_shut, both_open = shut.all(axis=1), open_.all(axis=1)
    fired = m["blink"] >= 0.5
    calibrated = np.array(list(m["calibrated_blink"].values()))
    scores = -np.nan_to_num(m["pred_ear"], posinf=1e3)
    return {"shut_eyes": int(shut.sum()), "open_eyes": int(open_.sum()), "faces_found": int(m["found"].sum()),
            "faces": len(m["found"]),
            "roc_auc_ear": roc_auc(shut[keep], scores[keep]),
            "app_blink_on_shut": float((m["blink"][shut] >= 0.5).mean()),
            "app_blink_on_open": float((m["blink"][open_] >= 0.5).mean()),
            "app_blink_median_shut": float(np.median(m["blink"][shut])),
            "faces_both_shut": int(both_shut.sum()), "faces_both_open": int(both_open.sum()),
            "app_blink_both_on_both_shut": (float(fired[both_shut].all(axis=1).mean()) if both_shut.any()
                                            else float("nan")),
            "app_blink_any_on_both_open": float(fired[both_open].any(axis=1).mean()),
            "calibrated_shut_eyes": int(len(calibrated)),
            "calibrated_blink_on_shut": float((calibrated >= 0.5).mean()) if len(calibrated) else float("nan"),
            "calibrated_blink_median_shut": float(np.median(calibrated)) if len(calibrated) else float("nan"),
            "pred_ear_median_shut": float(np.median(m["pred_ear"][shut])),
            "pred_ear_median_open": float(np.median(m["pred_ear"][open_]))}


def main(argv: list[str] | None = None) -> int:
    parser = face_set_parser("python -m benchmarks.bench_blink", __doc__)
    parser.add_argument("--sheet", type=Path, default=None,
                        help="also write a contact sheet (.png) of the calibrated shut eyes with each "
                             "backend's eyeBlink")
    args = parser.parse_args(argv)
    faces = frontal_faces(args, FRONTAL_SOURCES)
    if faces is None:
        return 2
    label_ear = eye_aspect_ratio(np.array([f.points68 for f in faces]))
    calibrated: dict[str, dict] = {}

    def measure_backend(backend) -> dict:
        m = measure(backend, faces, label_ear)
        calibrated[backend.name] = m["calibrated_blink"]
        return summarise(m, label_ear)

    status = measure_and_report(args, measure_backend, describe)
    if status == 0 and args.sheet is not None:
        write_sheet(args.sheet, faces, label_ear, calibrated)
    return status


def write_sheet(path: Path, faces, label_ear: np.ndarray, calibrated: dict[str, dict]) -> None:
    """One tile per calibrated shut eye: both eyes of the face (the labelled-shut one dotted), the two
    eyes' labelled aspect ratios and each backend's calibrated eyeBlink, so the labels can be checked
    by eye against the image."""
    import cv2

    keys = sorted({key for values in calibrated.values() for key in values})
    tiles = []
    for i, side in keys:
        p = faces[i].points68
        eye, both = p[36:42] if side == 0 else p[42:48], p[36:48]
        centre, half = both.mean(axis=0), max(float(np.ptp(both[:, 0])) * 0.8, 8.0)
        x0, y0 = int(max(centre[0] - half, 0)), int(max(centre[1] - half / 2, 0))
        crop = faces[i].image[y0:int(centre[1] + half / 2), x0:int(centre[0] + half)]
        scale = 320 / crop.shape[1]
        tile = cv2.resize(crop, (320, 160), interpolation=cv2.INTER_CUBIC)
        cx, cy = eye.mean(axis=0)
        cv2.circle(tile, (int((cx - x0) * scale), int((cy - y0) * 160 / crop.shape[0])), 4, (0, 0, 255), -1)
        cv2.putText(tile, f"{faces[i].record.get('source', '?')} labels {label_ear[i, side]:.2f} / other eye "
                    f"{label_ear[i, 1 - side]:.2f}", (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1)
        shown = "  ".join(f"{name} {values[(i, side)]:.2f}" for name, values in calibrated.items()
                          if (i, side) in values)
        cv2.putText(tile, shown, (3, 152), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 0), 1)
        tiles.append(tile)
    if not tiles:
        return
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack([np.hstack(tiles[k:k + 3]) for k in range(0, len(tiles), 3)]))


def describe(r: dict) -> str:
    return (f"{r['shut_eyes']} shut / {r['open_eyes']} open eyes ({r['faces_found']}/{r['faces']} faces found): "
            f"ROC-AUC of the eye aspect ratio {r['roc_auc_ear']:.3f}; predicted EAR median shut "
            f"{r['pred_ear_median_shut']:.3f} / open {r['pred_ear_median_open']:.3f}; app eyeBlink >= 0.5 on "
            f"{100 * r['app_blink_on_shut']:.0f} % of shut eyes (median {r['app_blink_median_shut']:.2f}), "
            f"{100 * r['app_blink_on_open']:.1f} % of open eyes; on both eyes of "
            f"{100 * r['app_blink_both_on_both_shut']:.0f} % of {r['faces_both_shut']} faces with both eyes shut, "
            f"on either eye of "
            f"{100 * r['app_blink_any_on_both_open']:.1f} % of {r['faces_both_open']} with both open; calibrated on the same person's open eyes: "
            f"eyeBlink >= 0.5 on {100 * r['calibrated_blink_on_shut']:.0f} % of {r['calibrated_shut_eyes']} shut eyes "
            f"(median {r['calibrated_blink_median_shut']:.2f})")

if __name__ == "__main__":
    sys.exit(main())
