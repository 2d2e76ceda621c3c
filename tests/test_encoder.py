"""The face-mesh body rebuilt in PyTorch gives the original network's landmarks (checked in LiteRT)."""
from pathlib import Path

import cv2
import numpy as np
import torch
from ai_edge_litert.interpreter import Interpreter

from occface_core.encoder import FaceMeshNet, face_mesh_path, pretrained_encoder, read_tflite_weights

torch.set_num_threads(1)

DEMO_FACE = Path(__file__).resolve().parents[1] / "assets" / "demo_face.jpg"


def _crops() -> list[np.ndarray]:
    """Three 192x192 RGB crops: the demo portrait's face, the whole portrait, and noise."""
    rgb = cv2.imread(str(DEMO_FACE))[:, :, ::-1]
    noise = np.random.default_rng(0).integers(0, 255, (192, 192, 3), dtype=np.uint8)
    return [cv2.resize(rgb[20:300, 110:390], (192, 192)), cv2.resize(rgb, (192, 192)), noise]


def test_rebuilt_network_matches_the_original_within_a_thousandth_of_a_pixel():
    path = face_mesh_path()
    weights = read_tflite_weights(path)
    net = FaceMeshNet()
    net.load_tflite(weights)
    net.eval()
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    outputs = {o["name"]: o["index"] for o in interpreter.get_output_details()}
    for crop in _crops():
        x = (crop.astype(np.float32) / 255.0)[None]
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        mesh_ref = interpreter.get_tensor(outputs["conv2d_21"]).reshape(-1)
        flag_ref = float(interpreter.get_tensor(outputs["conv2d_31"]).reshape(-1)[0])
        with torch.no_grad():
            mesh, flag = net(torch.from_numpy(x).permute(0, 3, 1, 2))
        assert np.abs(mesh.numpy()[0] - mesh_ref).max() < 1e-3       # 468 x (x, y, z) in 192-px input pixels
        assert abs(float(flag[0]) - flag_ref) < 1e-3
    # the face crop lands its mesh inside the crop (not a degenerate all-equal output)
    first = mesh_ref.reshape(468, 3)
    assert first[:, :2].std() > 5


def test_every_weight_in_the_file_is_used_once():
    weights = read_tflite_weights(face_mesh_path())
    weight_elements = sum(w.size for name, w in weights.items() if name.endswith(("/Kernel", "/Bias", "/Alpha")))
    net = FaceMeshNet()
    assert sum(p.numel() for p in net.parameters()) == weight_elements


def test_pretrained_encoder_records_the_wheel_file_it_came_from():
    encoder, provenance = pretrained_encoder()
    assert provenance["file"].endswith("face_landmark.tflite") and len(provenance["sha256"]) == 64
    feats = encoder(torch.rand(1, 3, 128, 128))
    assert feats.s4.shape == (1, 32, 32, 32) and feats.s8.shape == (1, 64, 16, 16)
    assert feats.s16.shape == (1, 128, 8, 8) and feats.s32.shape == (1, 128, 4, 4)
