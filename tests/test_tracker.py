import numpy as np
import pytest

from occface_core.types import Box
from tracking.demo_clip import ClipSpec, render_frames
from tracking.tracker import FaceTracker, TrackerOptions

from tests.helpers import FakeBackend, FakeDetector

FRAME = np.zeros((480, 640, 3), np.uint8)
FACE = Box(260, 180, 380, 320)


def test_detector_is_skipped_while_the_face_score_holds():
    backend, detector = FakeBackend(FACE), FakeDetector(FACE)
    tracker = FaceTracker(backend, detector)
    steps = [tracker.process(FRAME) for _ in range(50)]
    assert detector.calls == 1
    assert steps[0].detected and steps[0].new_track
    assert not any(s.detected for s in steps[1:])
    assert all(s.prediction is not None for s in steps)


def test_roi_is_the_landmark_box_enlarged_by_a_quarter_per_side():
    backend, detector = FakeBackend(FACE), FakeDetector(FACE)
    tracker = FaceTracker(backend, detector)
    tracker.process(FRAME)
    step = tracker.process(FRAME)
    expected = FACE.enlarged(0.25)
    assert step.roi == pytest.approx(expected)
    assert (step.roi.x0, step.roi.x1) == pytest.approx((230, 410))


def test_a_low_face_score_drops_the_track_and_redetects_on_the_same_frame():
    # detect frame: two passes (refine), then tracking frames; the 4th call scores 0.3 (lost).
    backend = FakeBackend(FACE, scores=[0.9, 0.9, 0.9, 0.3, 0.9, 0.9])
    detector = FakeDetector(FACE)
    tracker = FaceTracker(backend, detector, TrackerOptions(min_face_score=0.7))
    first, second, third = (tracker.process(FRAME) for _ in range(3))
    assert first.detected and not second.detected
    assert third.detected and third.new_track and third.prediction is not None
    assert detector.calls == 2


def test_no_face_means_the_detector_runs_every_frame_until_one_appears():
    backend, detector = FakeBackend(FACE), FakeDetector(None)
    tracker = FaceTracker(backend, detector)
    for _ in range(5):
        assert tracker.process(FRAME).prediction is None
    assert detector.calls == 5 and backend.rois == []
    detector.box = FACE
    assert tracker.process(FRAME).prediction is not None


def test_after_ten_frames_without_a_face_the_detector_runs_on_every_third_frame_until_one_is_found():
    backend, detector = FakeBackend(FACE), FakeDetector(None)
    tracker = FaceTracker(backend, detector, TrackerOptions(misses_before_backoff=10, detect_every=3))
    ran = []
    for _ in range(19):
        before = detector.calls
        assert tracker.process(FRAME).prediction is None
        ran.append(detector.calls > before)
    assert ran == [True] * 11 + [False, False, True] * 2 + [False, False]
    detector.box = FACE
    assert tracker.process(FRAME).prediction is not None   # back on a detector frame (the 20th)
    calls = detector.calls
    detector.box = None
    tracker.reset()                                        # lost again: the detector runs at once
    assert tracker.process(FRAME).prediction is None and detector.calls == calls + 1


def test_a_face_whose_centre_leaves_the_frame_is_lost():
    off = Box(700, 100, 820, 240)  # to the right of a 640-wide frame
    backend, detector = FakeBackend(off), FakeDetector(off)
    tracker = FaceTracker(backend, detector)
    assert tracker.process(FRAME).prediction is None


@pytest.fixture(scope="module")
def mediapipe_run():
    """The real detector and MediaPipe backend over the generated demo clip."""
    from occface_core.backends import create_backend
    from occface_core.detector import BlazeFaceDetector

    spec = ClipSpec()
    photo = __import__("cv2").imread(str(__import__("tracking.demo_clip", fromlist=["x"]).DEFAULT_PHOTO))
    tracker = FaceTracker(create_backend("mediapipe"), BlazeFaceDetector())
    steps = {}
    for i, frame in enumerate(render_frames(photo, spec)):
        steps[i] = tracker.process(frame)
    return spec, steps, tracker


def test_generated_clip_is_tracked_with_few_detector_calls(mediapipe_run):
    spec, steps, tracker = mediapipe_run
    with_face = sum(s.prediction is not None for s in steps.values())
    assert with_face / len(steps) >= 0.95
    assert tracker.detector_calls / len(steps) <= 0.05


def test_generated_clip_redetects_after_the_face_leaves_and_returns(mediapipe_run):
    spec, steps, _ = mediapipe_run
    a, b = spec.exit_frames
    middle = (a + b) // 2
    assert steps[middle].prediction is None                      # the face is out of view
    back = [i for i in sorted(steps) if i > middle and steps[i].prediction is not None]
    assert back and back[0] < b + 4                               # found again as soon as it returns
    assert steps[back[0]].detected and steps[back[0]].new_track
    assert all(not steps[i].detected for i in sorted(steps) if i > back[0])  # then tracked again


def test_generated_clip_keeps_the_track_through_the_passing_hand(mediapipe_run):
    spec, steps, _ = mediapipe_run
    a, b = spec.occluder_frames
    assert all(steps[i].prediction is not None for i in steps if a <= i < b)


class NoisyBackend(FakeBackend):
    """The scripted face plus per-call landmark noise of `noise` pixels."""

    def __init__(self, face_box: Box, noise: float):
        super().__init__(face_box)
        self.rng, self.noise = np.random.default_rng(0), noise

    def predict(self, frame, roi):
        p = super().predict(frame, roi)
        p.points = p.points + self.rng.normal(0, self.noise, p.points.shape).astype(np.float32)
        return p


def test_a_still_face_keeps_its_crop_and_a_moved_one_is_followed_without_a_jump():
    backend = NoisyBackend(FACE, noise=0.5)      # smoothed-point noise, 0.4 % of this face: well inside the band
    # Axis-aligned here: these scripted points fill a rectangle, whose turned box changes size with
    # every tenth of a degree of noisy eye line (a face's outline does not); turning has its own test.
    # a band wider than the default: these raw points are noisier than the smoothed ones the app follows
    tracker = FaceTracker(backend, FakeDetector(FACE), TrackerOptions(upright_crop=False, roi_dead_band=0.03))
    tracker.process(FRAME)
    rois = [tracker.process(FRAME).roi for _ in range(20)]
    drift = max(abs(a - b) for r in rois for a, b in zip(r.as_list(), rois[0].as_list()))
    assert drift < 0.05                                                       # pixels, over 20 frames
    centres = []
    for step in range(1, 16):                                                 # the head glides 2 px a frame
        backend.face_box = Box(FACE.x0 + 2 * step, FACE.y0, FACE.x1 + 2 * step, FACE.y1)
        centres.append(tracker.process(FRAME).roi.center[0])
    moves = np.diff(centres)
    # followed without jumps: a hard band jumped by its width (5.4 px here); the rope moves the region by
    # the face's 2 px, give or take the velocity these noisy raw points predict
    assert moves.max() < 5.0 and abs(moves.mean() - 2.0) < 0.3
    assert centres[-1] == pytest.approx(rois[0].center[0] + 30, abs=0.03 * rois[0].width)  # within the band
    backend.face_box = Box(FACE.x0 + 80, FACE.y0, FACE.x1 + 80, FACE.y1)      # a big step: followed at once,
    tracker.process(FRAME)                                                    # overshot by the capped velocity
    cap = TrackerOptions().max_predicted_step * rois[0].width
    assert tracker.process(FRAME).roi.center[0] == pytest.approx(rois[0].center[0] + 80 + cap, abs=3)
    assert tracker.process(FRAME).roi.center[0] == pytest.approx(rois[0].center[0] + 80, abs=3)  # and settles


def test_the_region_follows_the_points_it_is_given():
    backend, detector = FakeBackend(FACE), FakeDetector(FACE)
    tracker = FaceTracker(backend, detector, TrackerOptions(predict_motion=False))
    tracker.process(FRAME)
    shifted = backend.predict(FRAME, FACE).points + np.float32([40.0, 0.0])
    tracker.follow(shifted)                       # e.g. the smoothed points, not the raw ones
    roi = FACE.enlarged(0.25)
    half_band = 0.5 * TrackerOptions().roi_dead_band * roi.width   # the region is dragged to the band's edge
    assert tracker.process(FRAME).roi.center[0] == pytest.approx(roi.center[0] + 40 - half_band, abs=1)


def test_blazeface_falls_back_to_the_full_range_model_for_a_face_the_short_range_one_misses():
    import cv2

    from occface_core.detector import BlazeFaceDetector
    from tracking.demo_clip import DEFAULT_PHOTO

    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[100:300, 100:300] = cv2.resize(cv2.imread(str(DEFAULT_PHOTO)), (200, 200))   # a face about 100 px wide
    short_only, both = BlazeFaceDetector(models=("short",)), BlazeFaceDetector()
    try:
        assert short_only.detect(frame) == []
        found = both.detect(frame)
        assert len(found) == 1 and 100 <= found[0].box.center[0] <= 300
    finally:
        short_only.close()
        both.close()
    with pytest.raises(ValueError, match="short"):
        BlazeFaceDetector(models=("medium",))


def test_blazeface_tries_the_frame_inside_a_black_border_when_both_models_miss_and_maps_the_box_back():
    from types import SimpleNamespace

    from occface_core.detector import BlazeFaceDetector

    class Graph:   # stands in for a BlazeFace graph that finds a face only at the smaller scale
        def __init__(self):
            self.sizes = []

        def process(self, rgb):
            h, w = rgb.shape[:2]
            self.sizes.append((w, h))
            if (w, h) == (640, 480):
                return SimpleNamespace(detections=None)
            # the border is half the longer side: 320 px each way
            rel = SimpleNamespace(xmin=(320 + 100) / w, ymin=(320 + 50) / h, width=300 / w, height=320 / h)
            return SimpleNamespace(detections=[SimpleNamespace(
                location_data=SimpleNamespace(relative_bounding_box=rel), score=[0.8])])

    detector = BlazeFaceDetector(models=("short",))
    detector.close()
    short, full = Graph(), Graph()
    detector._detectors = [short, full]
    found = detector.detect(np.zeros((480, 640, 3), np.uint8))
    assert short.sizes == [(640, 480), (1280, 1120)] and full.sizes == [(640, 480)]   # the short model, framed
    assert len(found) == 1 and found[0].score == pytest.approx(0.8)
    box = found[0].box
    assert (box.x0, box.y0, box.x1, box.y1) == pytest.approx((100, 50, 400, 370), abs=1e-6)
    detector.border = 0
    assert detector.detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_a_moving_face_is_cropped_ahead_where_it_will_be():
    """A face gliding 3 px a frame: the region is moved on by that velocity, so
    the face sits in the crop where a still one would instead of a frame behind."""
    backend = FakeBackend(FACE)
    tracker = FaceTracker(backend, FakeDetector(FACE))
    tracker.process(FRAME)
    lag = []
    for k in range(1, 20):
        backend.face_box = Box(FACE.x0 + 3 * k, FACE.y0, FACE.x1 + 3 * k, FACE.y1)
        lag.append(backend.face_box.center[0] - tracker.process(FRAME).roi.center[0])
    band = TrackerOptions().roi_dead_band * FACE.enlarged(0.25).width
    assert max(map(abs, lag[3:])) <= 0.5 * band + 0.1     # within the dead band's rope, not 3 px behind it
    plain = FaceTracker(FakeBackend(FACE), FakeDetector(FACE), TrackerOptions(predict_motion=False))
    plain.process(FRAME)
    for k in range(1, 20):
        plain.backend.face_box = Box(FACE.x0 + 3 * k, FACE.y0, FACE.x1 + 3 * k, FACE.y1)
        behind = plain.backend.face_box.center[0] - plain.process(FRAME).roi.center[0]
    assert behind >= 3.0                                  # without prediction: a frame behind


def test_a_rolled_face_is_cropped_upright_and_the_crop_holds_every_landmark():
    from occface_core.crop import crop_square
    from tests.helpers import face_points_in

    upright = face_points_in(FACE).astype(np.float64)
    centre = np.array(FACE.center)
    a = np.radians(20.0)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    rolled = (upright - centre) @ rot.T + centre                     # the head rolled 20° (eye line down-right)
    tracker = FaceTracker(FakeBackend(FACE), FakeDetector(FACE))
    roi = tracker.roi_from_points(rolled)
    assert roi.angle_deg == pytest.approx(20.0)
    _, transform = crop_square(FRAME, roi, 128)
    M = transform.matrix()
    in_crop = rolled @ M[:, :2].T + M[:, 2]
    eyes = in_crop[36:42].mean(axis=0), in_crop[42:48].mean(axis=0)
    assert abs(eyes[0][1] - eyes[1][1]) < 1e-6                     # the eye line is level in the crop
    assert (in_crop[:68] > 0).all() and (in_crop[:68] < 128).all()
    np.testing.assert_allclose(transform.to_frame(in_crop), rolled, atol=1e-6)   # and maps back exactly
