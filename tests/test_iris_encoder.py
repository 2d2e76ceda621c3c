"""MediaPipe's iris network rebuilt in PyTorch gives the original's points (checked in LiteRT)."""
import numpy as np
import torch
from ai_edge_litert.interpreter import Interpreter

from occface_core.training.iris_encoder import IrisNet, iris_model_path, pretrained_iris, read_tflite_weights

torch.set_num_threads(1)


def test_rebuilt_iris_network_matches_the_original_within_a_thousandth_of_a_pixel():
    net, _ = pretrained_iris()
    net.eval()
    interpreter = Interpreter(model_path=str(iris_model_path()))
    interpreter.allocate_tensors()
    outputs = {o["name"]: o["index"] for o in interpreter.get_output_details()}
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.random((1, 8, 8, 3)), np.ones((1, 8, 8, 1))).astype(np.float32)   # blocks, like an image
    for x in (rng.random((1, 64, 64, 3), dtype=np.float32), smooth):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        contours_ref = interpreter.get_tensor(outputs["output_eyes_contours_and_brows"])
        iris_ref = interpreter.get_tensor(outputs["output_iris"])
        with torch.no_grad():
            contours, iris = net(torch.from_numpy(x).permute(0, 3, 1, 2))
        assert np.abs(contours.numpy() - contours_ref).max() < 1e-3    # 71 x (x, y, z) in 64-px input pixels
        assert np.abs(iris.numpy() - iris_ref).max() < 1e-3
        assert contours_ref.reshape(71, 3)[:, :2].std() > 1             # not a degenerate output


def test_every_weight_in_the_iris_file_is_used_once():
    weights = read_tflite_weights(iris_model_path())
    assert sum(p.numel() for p in IrisNet().parameters()) == sum(w.size for w in weights.values())


def test_pretrained_iris_records_the_wheel_file_and_its_trunk_takes_a_32_px_eye_to_4x4():
    net, provenance = pretrained_iris()
    assert provenance["file"].endswith("iris_landmark.tflite") and len(provenance["sha256"]) == 64
    assert net.trunk(torch.rand(2, 3, 32, 32)).shape == (2, 128, 4, 4)
