"""The OccFace model behind the landmark-backend interface.

Weights: an ONNX file (run with onnxruntime, the fast CPU path) or a PyTorch checkpoint (.pt) from
`python -m occface_core.training.train`. When the ONNX file cannot be used (onnxruntime missing, a corrupt
file) a .pt with the same stem beside it is the fallback. The model config (input size) comes from
the `<stem>_config.json` beside the weights, else from the checkpoint, else the defaults.
"""
from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..crop import crop_square
from ..layout import NUM_POINTS
from ..part_crop import PARTS
from ..types import Box, LandmarkPrediction
from . import BackendError
from .eye_stage import EyeStage, eye_weights_for
from .part_stage import PartStage, part_weights_for
from .onnx_session import onnx_session

log = logging.getLogger(__name__)


def _input_size(path: Path) -> int | None:
    cfg = path.with_name(path.stem + "_config.json")
    if cfg.is_file():
        try:
            return int(json.loads(cfg.read_text())["model"]["codec"]["input_size"])
        except (KeyError, ValueError, TypeError, json.JSONDecodeError):
            return None
    return None


def _shapes(args) -> str:
    return ", ".join(f"{a.name} [{', '.join(str(d) for d in a.shape)}]" for a in args)


def check_face_model(session, path: Path) -> None:
    """A BackendError naming the file when the ONNX model is not the face model (the eye, mouth or nose
    stage's file, say), which takes one image [1, 3, S, S] and gives 100 points, their visibility and
    the face score: found at load, not as a traceback at the first frame."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    face_model = (len(inputs) == 1 and len(inputs[0].shape) == 4 and inputs[0].shape[1] == 3
                  and len(outputs) == 3 and list(outputs[0].shape[-2:]) == [NUM_POINTS, 2]
                  and outputs[1].shape[-1] == NUM_POINTS)
    if not face_model:
        raise BackendError(f"{path} holds another model ({_shapes(inputs)} -> {_shapes(outputs)}), not the OccFace "
                           f"face model (image [1, 3, S, S] -> points [1, {NUM_POINTS}, 2], visibility "
                           f"[1, {NUM_POINTS}], face_score [1])")


class _OnnxRunner:
    def __init__(self, path: Path, threads: int):
        self.session = onnx_session(path, threads)
        check_face_model(self.session, path)
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = int(self.session.get_inputs()[0].shape[-1])

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pts, vis, score = self.session.run(None, {self.input_name: x})
        return pts, vis, score


ABLATIONS = ("no-context", "no-reweight")


class _TorchRunner:
    def __init__(self, path: Path, threads: int, ablate: tuple[str, ...] = ()):
        import torch

        from ..model import ExportWrapper, load_model

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        net = load_model(path)
        with torch.no_grad():   # inference-time knock-outs of a trained model (not retrained ablations)
            if "no-context" in ablate:
                net.vis.alpha.zero_()
            if "no-reweight" in ablate:
                net.reweight.weight.zero_()
                net.reweight.bias.zero_()
        self.model = ExportWrapper(net).eval()
        self.input_size = net.cfg.codec.input_size

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with self.torch.inference_mode():
            pts, vis, score = self.model(self.torch.from_numpy(x))
        return pts.numpy(), vis.numpy(), score.numpy()


class OccFaceBackend:
    """predict(frame, roi): crops the square around `roi`, runs the model, returns frame pixels.

    With `eye_stage` (default) and the eye stage's weights beside the face model's, each visible eye's
    lids are placed again from a crop around that eye (`eye_stage`); with `part_stages` and their
    weights, a visible mouth's lips and nose from a crop around each (`part_stage`).
    """

    name = "occface"

    def __init__(self, weights: Path | str, threads: int = 1, runtime: str = "auto", ablate: tuple[str, ...] = (),
                 eye_stage: bool = True, part_stages: bool = True):
        path = Path(weights)
        if not path.is_file():
            raise BackendError(f"model weights not found: {path}")
        self.runner = None
        errors = []
        candidates = [path] if path.suffix != ".onnx" else [path, path.with_suffix(".pt")]
        if ablate:
            runtime = "torch"
            candidates = [c for c in candidates if c.suffix != ".onnx"] or [path.with_suffix(".pt")]
        for cand in candidates:
            if not cand.is_file():
                continue
            try:
                if cand.suffix == ".onnx" and runtime in ("auto", "onnx"):
                    self.runner = _OnnxRunner(cand, threads)
                elif cand.suffix != ".onnx" and runtime in ("auto", "torch"):
                    self.runner = _TorchRunner(cand, threads, tuple(ablate))
                else:
                    continue
                self.runtime = "onnxruntime" if cand.suffix == ".onnx" else "torch"
                self.weights = cand
                break
            except BackendError:   # the file loads but holds another model: its .pt beside it would too
                raise
            except Exception as e:  # noqa: BLE001 - any load failure falls back, and is reported below
                errors.append(f"{cand.name}: {type(e).__name__}: {e}")
                if any(c.is_file() for c in candidates[candidates.index(cand) + 1:]):
                    log.warning("could not load %s (%s); trying the fallback", cand, e)
        if self.runner is None:
            raise BackendError(f"cannot load OccFace weights {path}: {'; '.join(errors) or 'unsupported runtime'}")
        self.input_size = _input_size(self.weights) or self.runner.input_size
        self.eyes = None
        eyes = eye_weights_for(path)
        if eye_stage and eyes.is_file():
            self.eyes = EyeStage(eyes, threads)
        elif eye_stage:
            log.info("no eye stage beside %s (%s): the face model's own eye points are used", path, eyes.name)
        self.parts = []
        for part in PARTS if part_stages else ():
            file = part_weights_for(path, part)
            if file.is_file():
                self.parts.append(PartStage(file, part, threads))
            else:
                log.info("no %s stage beside %s (%s): the face model's own points are used", part, path, file.name)
        self.stages = ([self.eyes] if self.eyes is not None else []) + self.parts

    def preprocess(self, frame: np.ndarray, roi: Box):
        crop, transform = crop_square(frame, roi, self.input_size)
        x = crop.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0
        return np.ascontiguousarray(x), transform

    @property
    def refines(self) -> bool:
        """Whether `refine` does anything: a local stage is loaded."""
        return bool(self.stages)

    def predict(self, frame: np.ndarray, roi: Box) -> LandmarkPrediction:
        return self.refine(frame, self.locate(frame, roi))

    def locate(self, frame: np.ndarray, roi: Box) -> LandmarkPrediction:
        """The face model alone: all 100 points, visibility and the face score."""
        x, transform = self.preprocess(frame, roi)
        pts, vis, score = self.runner(x)
        points = transform.to_frame(pts[0]).astype(np.float32)
        return LandmarkPrediction(points, vis[0].astype(np.float32), float(np.reshape(score, -1)[0]))

    def refine(self, frame: np.ndarray, prediction: LandmarkPrediction) -> LandmarkPrediction:
        """The local stages' lids, lips and nose in place of the face model's; unchanged without them.
        Each stage cuts its crop from the face model's own points (the eye corners, the mouth corners)."""
        points = prediction.points
        for stage in self.stages:
            points = stage.refine(frame, points, prediction.visibility)
        return prediction if points is prediction.points else replace(prediction, points=points.astype(np.float32))

    def close(self) -> None:
        self.runner = None
        self.eyes = None
        self.parts = []
        self.stages = []
