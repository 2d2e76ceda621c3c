"""One way to open an ONNX model for the CPU, shared by the face model and the local stages."""
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


def open_local_stage(path: Path, what: str, threads: int) -> tuple[dict, object]:
    """A local stage's crop settings (from `<stem>_config.json` beside it) and its session; a
    `BackendError` naming `what` and the file when either cannot be read."""
    import json

    from . import BackendError

    config = path.with_name(path.stem + "_config.json")
    try:
        crop = json.loads(config.read_text())["crop"]
        return crop, onnx_session(path, threads)
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise BackendError(f"cannot load the {what} {path}: {type(e).__name__}: {e}") from None
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own types for a corrupt file
        raise BackendError(f"cannot load the {what} {path}: {e}") from None
