"""One way to open an ONNX model for the CPU, shared by the face model and the eye stage."""
from __future__ import annotations

from pathlib import Path


def onnx_session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # tiny activations of the trained heads land in denormals, which the CPU handles slowly (5 % here)
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
