"""Export trained OccFace weights to ONNX (and copy the checkpoint and its config beside it).

The exported graph takes a (1, 3, S, S) float input (BGR crop scaled to [-1, 1]) and returns
points (1, 100, 2) in input-crop pixels, visibility (1, 100) and the face score (1,). Its PReLUs and
channel paddings are written in the forms onnxruntime runs fastest (`onnx_forms`); the check compares
the file with the plain PyTorch network.

The eye stage's checkpoint (`python -m occface_core.training.eye_train`) exports with --eyes: a (B, 3, S, S)
RGB eye crop in [0, 1] in, the eye's eight points in crop pixels out.

Examples:
  python -m occface_core.training.export --weights runs/occface/occface.pt --out assets/occface.onnx
  python -m occface_core.training.export --weights runs/occface/best.pt --out /tmp/occface.onnx --no-check
  python -m occface_core.training.export --eyes --weights assets/occface_eyes.pt --out assets/occface_eyes.onnx
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np


def export_onnx(weights: Path, out: Path, opset: int = 17, check: bool = True) -> dict:
    import torch

    from ..model import ExportWrapper, count_flops, count_parameters, load_model
    from .onnx_forms import export_form, optimise_for_onnxruntime

    net = load_model(weights)
    wrapper = ExportWrapper(net).eval()
    s = net.cfg.codec.input_size
    x = torch.zeros(1, 3, s, s)
    out.parent.mkdir(parents=True, exist_ok=True)
    # One crop at a time, as the app runs it: with a fixed batch onnxruntime plans the heads' reshapes
    # once (1.70 -> 1.55 ms a crop, one thread)
    torch.onnx.export(export_form(wrapper), (x,), str(out), input_names=["image"],
                      output_names=["points", "visibility", "face_score"], opset_version=opset, dynamo=False)
    optimise_for_onnxruntime(out)
    info = {"parameters": count_parameters(net), "flops": count_flops(net), "onnx_bytes": out.stat().st_size}
    if check:
        import onnxruntime as ort
        sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        xr = torch.rand(2, 3, s, s) * 2 - 1
        with torch.no_grad():
            ref = [t.numpy() for t in wrapper(xr)]
        crops = [sess.run(None, {"image": xr[i:i + 1].numpy()}) for i in range(len(xr))]
        got = [np.concatenate(parts) for parts in zip(*crops)]
        info["max_abs_diff_points"] = float(np.abs(ref[0] - got[0]).max())
        info["max_abs_diff_visibility"] = float(np.abs(ref[1] - got[1]).max())
        if info["max_abs_diff_points"] > 1e-2 or info["max_abs_diff_visibility"] > 1e-3:
            raise RuntimeError(f"ONNX output differs from PyTorch: {info}")
    cfg_src = weights.with_name(weights.stem + "_config.json")
    cfg_dst = out.with_name(out.stem + "_config.json")
    if cfg_src.is_file() and cfg_src.resolve() != cfg_dst.resolve():
        shutil.copyfile(cfg_src, cfg_dst)
    _copy_beside(weights, out)
    return info


def export_eye_stage(weights: Path, out: Path) -> dict:
    """The eye stage's checkpoint to ONNX; its config (crop, provenance) goes beside it with the new
    ONNX-vs-PyTorch difference."""
    from .eye_model import load_eye_model
    from .eye_train import export_eye_onnx

    return _export_local(export_eye_onnx, load_eye_model(weights), weights, out)


def _export_local(export, net, weights: Path, out: Path) -> dict:
    out.parent.mkdir(parents=True, exist_ok=True)
    diff = export(net, out)
    if diff > 1e-3:
        raise RuntimeError(f"ONNX output differs from PyTorch by {diff:.3g} px")
    cfg_src = weights.with_name(weights.stem + "_config.json")
    if not cfg_src.is_file():
        raise RuntimeError(f"no config beside the weights: {cfg_src}")
    config = {**json.loads(cfg_src.read_text()), "onnx_max_abs_diff": diff}
    out.with_name(out.stem + "_config.json").write_text(json.dumps(config, indent=2))
    _copy_beside(weights, out)
    return {"max_abs_diff_points": diff, "onnx_bytes": out.stat().st_size}


def export_part_stage(weights: Path, out: Path) -> dict:
    """A part stage's checkpoint to ONNX; its config (part, crop, provenance) goes beside it with the
    new ONNX-vs-PyTorch difference."""
    from .part_model import load_part_model
    from .part_train import export_part_onnx

    return _export_local(export_part_onnx, load_part_model(weights), weights, out)


def _copy_beside(weights: Path, out: Path) -> None:
    """The checkpoint goes beside its ONNX file, so the export can be repeated from there."""
    pt_dst = out.with_suffix(".pt")
    if pt_dst.resolve() != weights.resolve():
        shutil.copyfile(weights, pt_dst)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m occface_core.training.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", required=True, type=Path,
                   help="checkpoint from occface_core.training.train (.pt), with --eyes from occface_core.training.eye_train, "
                        "with --part from occface_core.training.part_train")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--eyes", action="store_true", help="the weights are the eye stage's")
    kind.add_argument("--part", action="store_true", help="the weights are a part stage's (mouth, nose)")
    p.add_argument("--out", required=True, type=Path, help="ONNX file to write; the .pt and _config.json go beside it")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-PyTorch comparison")
    args = p.parse_args(argv)
    if not args.weights.is_file():
        print(f"error: weights not found: {args.weights}", file=sys.stderr)
        return 2
    try:
        info = (export_eye_stage(args.weights, args.out) if args.eyes
                else export_part_stage(args.weights, args.out) if args.part
                else export_onnx(args.weights, args.out, args.opset, not args.no_check))
    except (RuntimeError, KeyError, ValueError) as e:
        print(f"error: export failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
