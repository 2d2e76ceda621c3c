"""Blinks against the eye's own recent openness (retarget/blink.py), alone and in the retarget stage."""
from __future__ import annotations

import numpy as np
import pytest

from retarget.blink import BlinkEstimator, BlinkOptions, eye_openings
from retarget.face_model import load_face_model
from retarget.stage import RetargetOptions, RetargetStage
from retarget.synthetic import close_eyes, face_result, project


@pytest.fixture(scope="module")
def model():
    return load_face_model()


def feed(estimator, points, frames, yaw=0.0, neutral=None):
    neutral = points if neutral is None else neutral
    readings = None
    for _ in range(frames):
        readings = estimator.update(points, yaw, neutral)
    return readings


def test_a_neutral_taken_with_shut_eyes_does_not_hide_the_blinks_that_follow(model):
    """An interview that opens with shut eyes: its automatic neutral is shut, yet once the eyes have
    been open a while, the open eyes read open and the next blink shut."""
    shut = close_eyes(model.points)
    est = BlinkEstimator()
    feed(est, shut, 5, neutral=shut)
    opened = feed(est, model.points, 90, neutral=shut)
    assert opened["Left"].blink == 0.0 and opened["Right"].blink == 0.0
    blink = feed(est, close_eyes(model.points, 0.8), 3, neutral=shut)
    assert blink["Left"].blink == 1.0 and blink["Right"].blink == 1.0


def test_a_blink_in_the_first_half_second_reads_against_an_open_neutral(model):
    est = BlinkEstimator()
    first = feed(est, close_eyes(model.points), 3, neutral=model.points)
    assert first["Left"].blink == 1.0 and first["Right"].blink == 1.0


def test_a_wink_closes_one_eye_only_on_a_frontal_face(model):
    est = BlinkEstimator()
    feed(est, model.points, 60)
    wink = feed(est, close_eyes(model.points, 0.9, which="left"), 2)
    assert wink["Left"].blink == 1.0 and wink["Right"].blink == 0.0


def test_a_turned_faces_far_eye_follows_the_near_one(model):
    """Yaw > 0 turns toward the subject's left: the left eye is far, its lids unreadable (here: not
    moving); it follows the right eye's blink fully beyond follow_from + follow_span degrees."""
    o = BlinkOptions()
    far_blind = close_eyes(model.points, 0.9, which="right")           # only the near (right) lids move
    for yaw, share in ((5.0, 0.0), (o.follow_from_deg + o.follow_span_deg / 2, 0.5),
                       (o.follow_from_deg + o.follow_span_deg, 1.0)):
        est = BlinkEstimator()
        feed(est, model.points, 60, yaw)
        r = feed(est, far_blind, 2, yaw)
        assert r["Right"].blink == 1.0 and r["Left"].blink == pytest.approx(share, abs=1e-6)
    # Turned the other way the right eye is the far one: it follows the open left eye (a far-eye wink
    # at 30 degrees is lost; its lids are a few shadowed pixels).
    est = BlinkEstimator()
    feed(est, model.points, 60, -30.0)
    assert feed(est, far_blind, 2, -30.0)["Right"].blink == 0.0


def test_the_reference_is_a_high_percentile_so_blinks_do_not_lower_it(model):
    """Blinking every second for ten seconds (3 shut frames in 30) leaves the reference at the open eye."""
    est = BlinkEstimator()
    shut = close_eyes(model.points, 0.9)
    for k in range(300):
        est.update(shut if k % 30 < 3 else model.points, 0.0, model.points)
    assert feed(est, model.points, 1)["Left"].openness == pytest.approx(1.0, abs=1e-9)
    assert feed(est, shut, 1)["Left"].blink == 1.0


def test_openings_are_gaps_over_widths_whatever_the_scale(model):
    a, b = eye_openings(model.points), eye_openings(model.points * 3.0)
    assert a["Left"] == pytest.approx(b["Left"]) and 0.1 < a["Left"] < 0.6


def test_in_the_stage_a_nod_alone_is_not_a_blink_and_raw_lids_beat_the_smoother(model):
    """The stage measures the lids in the head frame (pitching the head 20 degrees down is not a blink)
    and from the model's unsmoothed points: a blink the smoother flattened still reads shut."""
    stage = RetargetStage(RetargetOptions(auto_calibrate_seconds=0), model=model)
    for k in range(60):
        stage.process(face_result(project(model.points, 0, 0, 0), frame_index=k))
    for k in range(60, 70):
        nod = face_result(project(model.points, 20, 0, 0), frame_index=k)
        stage.process(nod)
        assert nod.blendshapes["eyeBlinkLeft"] == 0.0 and nod.blendshapes["eyeBlinkRight"] == 0.0
    smoothed = face_result(project(model.points, 0, 0, 0), frame_index=70)
    smoothed.raw_points = project(close_eyes(model.points, 0.9), 0, 0, 0)
    stage.process(smoothed)
    assert smoothed.blendshapes["eyeBlinkLeft"] > 0.9 and smoothed.blendshapes["eyeBlinkRight"] > 0.9
