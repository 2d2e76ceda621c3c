"""Retargeting: head pose, ARKit blendshapes and calibration from the 100 landmarks, and OSC streaming.

See retarget.stage (RetargetStage) and retarget.osc (parse_osc_target, create_sender).
"""
