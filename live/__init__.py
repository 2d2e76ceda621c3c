"""The Qt-free runtime between the retarget layer and the window: what a headless run, the window and
the benchmarks share.

- `session`: a typed `SessionConfig` -> a `Session` (source, model, pipeline, outputs); `Session.run`.
- `outputs`: `Outputs`, the one owner of the recording and the OSC senders (start, stop, figures, errors).
- `recording`: the annotated video and the per-frame export (JSONL, CSV); `annotate`: the overlays.
- `events`: typed events the outputs and the worker report.
- `worker`: `PipelineWorker`, a session on its own thread with commands and a status snapshot (the window).
"""
