"""Retargeting: head pose, ARKit blendshapes and calibration from the 100 landmarks, and OSC streaming.

Public API (import from the submodules; this package imports nothing so that, e.g., target parsing
stays cheap):

- retarget.stage: RetargetOptions, RetargetStage (process(result), calibrate_neutral(),
  save_calibration(path), load_calibration(path)), CalibrationError, HeadPose
- retarget.osc: parse_osc_target(spec) -> OscTarget, create_sender(target) -> OscSender
  (send(result), close(), stats()), OscTargetError
- retarget.arkit: ARKIT_NAMES (the 52 names in ARKit order), PERFECT_SYNC_NAMES
- retarget.calibration: default_calibration_path(user)
- benchmarks/bench_osc_latency.py: ``python -m benchmarks.bench_osc_latency`` (capture -> OSC latency)

docs/STREAMING.md explains how to receive the streams in VSeeFace / VMC programs and VRChat.
"""
