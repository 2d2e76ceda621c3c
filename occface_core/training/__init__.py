"""Training, export and evaluation of the OccFace models: the face model (`train`), the eye and part
stages on one loop (`local_train`), the MediaPipe teacher, the ONNX export, `evaluate` and the model
card. The app never imports this package (`tests/test_layers.py` follows every runtime import); it
needs torch, which the runtime does not."""
