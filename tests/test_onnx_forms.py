"""The export forms (occface_core.training.onnx_forms): the same numbers as the training layers, in a graph
onnxruntime keeps in its blocked layout (no PRelu, no Pad)."""
import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from torch import nn

from occface_core.encoder import BlazeBlock
from occface_core.training.eye_model import EyeNet
from occface_core.eye_crop import EyeCropConfig
from occface_core.training.eye_train import export_eye_onnx
from occface_core.training.iris_encoder import BottleneckBlock
from occface_core.training.onnx_forms import GroupedPReLU, IdentityWiden, export_form, optimise_for_onnxruntime


def _randomised(module: nn.Module) -> nn.Module:
    """Random PReLU slopes on both sides of 0 and 1 (the wheel's go from -1.2 to 1.5) and random
    biases, over PyTorch's initial weights."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.PReLU):
                m.weight.uniform_(-1.2, 1.5)
            elif isinstance(m, nn.Conv2d) and m.bias is not None:
                m.bias.uniform_(-0.5, 0.5)
    return module.eval()


def test_the_export_form_of_a_block_computes_what_the_block_does():
    for block, channels, size in ((BlazeBlock(16, 32, stride=2), 16, 12), (BottleneckBlock(64, 128, stride=2), 64, 8),
                                  (BlazeBlock(32, 32), 32, 6)):
        block = _randomised(block)
        x = torch.randn(2, channels, size, size)
        exported = export_form(block)
        with torch.no_grad():
            np.testing.assert_allclose(exported(x).numpy(), block(x).numpy(), rtol=1e-5, atol=1e-5)
        assert not any(isinstance(m, nn.PReLU) for m in exported.modules())
        assert any(isinstance(m, nn.PReLU) for m in block.modules())          # the original is left alone
        if block.widen is not None:
            assert isinstance(exported.widen, IdentityWiden)


def test_a_prelu_outside_feature_maps_or_with_one_slope_stays_a_prelu():
    x = torch.randn(4, 6)
    shared = nn.PReLU(1)
    with torch.no_grad():
        shared.weight.fill_(0.3)
    for prelu, inp in ((nn.PReLU(6), x), (shared, torch.randn(2, 6, 3, 3))):
        with torch.no_grad():
            np.testing.assert_allclose(GroupedPReLU(prelu)(inp).numpy(), prelu(inp).numpy(), atol=1e-6)


def test_the_same_padding_folds_into_the_convolution(tmp_path):
    class StrideTwo(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(8, 8, 3, 2, groups=8)

        def forward(self, x):
            return self.conv(F.pad(x, (0, 1, 0, 1)))      # TensorFlow's SAME for stride 2

    net = _randomised(StrideTwo())
    x = torch.randn(1, 8, 16, 16)
    path = tmp_path / "pad.onnx"
    torch.onnx.export(net, (x,), str(path), input_names=["x"], opset_version=17, dynamo=False)
    assert optimise_for_onnxruntime(path) == 1
    graph = onnx.load(str(path)).graph
    assert [n.op_type for n in graph.node] == ["Conv"]
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(got, net(x).numpy(), atol=1e-5)


def test_the_exported_eye_stage_has_no_prelu_or_pad_and_matches_pytorch(tmp_path):
    path = tmp_path / "eyes.onnx"
    assert export_eye_onnx(_randomised(EyeNet(EyeCropConfig())), path) < 1e-3
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert not ops & {"PRelu", "Pad"}
