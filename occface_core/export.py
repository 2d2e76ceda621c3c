"""Export trained OccFace weights to ONNX (and copy the checkpoint and its config beside it).

The exported graph takes a (B, 3, S, S) float input (BGR crop scaled to [-1, 1]) and returns
points (B, 100, 2) in input-crop pixels, visibility (B, 100) and the face score (B,).

Examples:
  python -m occface_core.export --weights runs/occface/occface.pt --out assets/occface.onnx
  python -m occface_core.export --weights runs/occface/best.pt --out /tmp/occface.onnx --no-check
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

    from .model import ExportWrapper, count_flops, count_parameters, load_model

    net = load_model(weights)
    wrapper = ExportWrapper(net).eval()
    s = net.cfg.codec.input_size
    x = torch.zeros(1, 3, s, s)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(wrapper, (x,), str(out), input_names=["image"], output_names=["points", "visibility", "face_score"],
                      dynamic_axes={"image": {0: "batch"}, "points": {0: "batch"}, "visibility": {0: "batch"},
                                    "face_score": {0: "batch"}}, opset_version=opset, dynamo=False)
    info = {"parameters": count_parameters(net), "flops": count_flops(net), "onnx_bytes": out.stat().st_size}
    if check:
        import onnxruntime as ort
        sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        xr = torch.rand(2, 3, s, s) * 2 - 1
        with torch.no_grad():
            ref = [t.numpy() for t in wrapper(xr)]
        got = sess.run(None, {"image": xr.numpy()})
        info["max_abs_diff_points"] = float(np.abs(ref[0] - got[0]).max())
        info["max_abs_diff_visibility"] = float(np.abs(ref[1] - got[1]).max())
        if info["max_abs_diff_points"] > 1e-2 or info["max_abs_diff_visibility"] > 1e-3:
            raise RuntimeError(f"ONNX output differs from PyTorch: {info}")
    cfg_src = weights.with_name(weights.stem + "_config.json")
    cfg_dst = out.with_name(out.stem + "_config.json")
    if cfg_src.is_file() and cfg_src.resolve() != cfg_dst.resolve():
        shutil.copyfile(cfg_src, cfg_dst)
    pt_dst = out.with_suffix(".pt")
    if pt_dst.resolve() != weights.resolve():
        shutil.copyfile(weights, pt_dst)
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m occface_core.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", required=True, type=Path, help="checkpoint from occface_core.train (.pt)")
    p.add_argument("--out", required=True, type=Path, help="ONNX file to write; the .pt and _config.json go beside it")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-PyTorch comparison")
    args = p.parse_args(argv)
    if not args.weights.is_file():
        print(f"error: weights not found: {args.weights}", file=sys.stderr)
        return 2
    try:
        info = export_onnx(args.weights, args.out, args.opset, not args.no_check)
    except (RuntimeError, KeyError, ValueError) as e:
        print(f"error: export failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
