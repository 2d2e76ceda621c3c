import numpy as np
from filterpy.kalman import KalmanFilter

from tracking.smoother import LandmarkKalmanSmoother, SmootherOptions

FACE = 100.0  # the synthetic faces below are about 100 px


def face_points(n: int = 100, rng=None) -> np.ndarray:
    rng = rng or np.random.default_rng(0)
    return rng.uniform(200, 300, size=(n, 2))


def test_still_points_converge_below_the_measurement_noise():
    rng = np.random.default_rng(1)
    truth = face_points(rng=rng)
    smoother = LandmarkKalmanSmoother()
    noise = 1.0  # px
    errors_raw, errors_smooth = [], []
    for k in range(90):
        z = truth + rng.normal(0, noise, truth.shape)
        out = smoother.update(z, np.ones(100), timestamp=k / 30)
        if k >= 60:
            errors_raw.append(np.abs(z - truth).mean())
            errors_smooth.append(np.abs(out - truth).mean())
    assert np.mean(errors_smooth) < 0.6 * np.mean(errors_raw)


def test_a_still_face_has_less_than_half_the_raw_jitter():
    rng = np.random.default_rng(5)
    truth = face_points(rng=rng)
    smoother = LandmarkKalmanSmoother()
    raw, smooth = [], []
    for k in range(150):
        z = truth + rng.normal(0, 0.8, truth.shape)
        out = smoother.update(z, np.ones(100), timestamp=k / 30)
        if k >= 30:
            raw.append(z)
            smooth.append(out)
    assert np.std(smooth, axis=0).mean() < 0.5 * np.std(raw, axis=0).mean()


def test_a_still_face_whose_points_shift_together_has_less_than_half_the_raw_jitter():
    """Much of a model's jitter is common to all points (the face shifts a little with the crop): the
    head-following prediction must not pass it through as head motion."""
    rng = np.random.default_rng(7)
    truth = face_points(rng=rng)
    smoother = LandmarkKalmanSmoother()
    raw, smooth = [], []
    for k in range(150):
        z = truth + rng.normal(0, 0.3, truth.shape) + rng.normal(0, 0.4, 2)   # 0.4 % of the face in common
        out = smoother.update(z, np.ones(100), timestamp=k / 30)
        if k >= 30:
            raw.append(z)
            smooth.append(out)
    assert np.std(smooth, axis=0).mean() < 0.5 * np.std(raw, axis=0).mean()


def test_a_step_is_followed_within_two_frames():
    """The head jumps 20 px between two frames (a fast nod): within 2 frames the points are within 1 px."""
    rng = np.random.default_rng(6)
    truth = face_points(rng=rng)
    smoother = LandmarkKalmanSmoother()
    for k in range(30):
        smoother.update(truth + rng.normal(0, 0.8, truth.shape), np.ones(100), k / 30)
    errors = []
    for k in range(30, 36):
        out = smoother.update(truth + [20.0, 0.0] + rng.normal(0, 0.8, truth.shape), np.ones(100), k / 30)
        errors.append(np.abs(out - truth - [20.0, 0.0]).mean())
    assert max(errors[2:]) < 1.0


def test_occluded_points_turn_and_scale_with_the_head():
    """A head rolling 1.5° and growing 1 % per frame; a hand hides 20 points and the model puts them
    wherever it pleases (low visibility). They must follow the rotation and scale, not freeze, not drift."""
    rng = np.random.default_rng(7)
    base = face_points(rng=rng)
    centre = base.mean(axis=0)
    smoother = LandmarkKalmanSmoother()
    hidden = np.arange(20)
    vis = np.ones(100)

    def pose(k):
        angle, scale = np.radians(1.5 * k), 1.01 ** k
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return (base - centre) @ rot.T * scale + centre

    for k in range(10):
        smoother.update(pose(k) + rng.normal(0, 0.5, base.shape), vis, k / 30)
    vis_occ = vis.copy()
    vis_occ[hidden] = 0.1
    for k in range(10, 40):
        z = pose(k) + rng.normal(0, 0.5, base.shape)
        z[hidden] = rng.uniform(150, 350, (20, 2))        # the occluder: nonsense positions
        out = smoother.update(z, vis_occ, k / 30)
    truth = pose(39)
    frozen = pose(10)
    err = np.linalg.norm(out[hidden] - truth[hidden], axis=1)
    assert err.mean() < 3.0                                           # it turned and grew with the head
    assert np.linalg.norm(frozen[hidden] - truth[hidden], axis=1).mean() > 20   # (freezing would miss by far)


def test_matches_filterpy_for_visible_points():
    """The batch filter is filterpy's constant-velocity filter, run for every point at once."""
    rng = np.random.default_rng(2)
    # no inflation and one process-noise level: plain Kalman equations
    opts = SmootherOptions(innovation_gate=1e9, acceleration_std_motion=SmootherOptions().acceleration_std_rest,
                           follow_head=False)
    smoother = LandmarkKalmanSmoother(opts)
    z0 = np.array([[0.0, 0.0], [50.0, 50.0], [FACE, FACE]])  # corners fix the face size at 100 px
    smoother.update(z0, np.ones(3), 0.0)
    dt = 1 / 30
    kf = KalmanFilter(dim_x=2, dim_z=1)
    kf.x = np.array([[z0[1, 0]], [0.0]])
    kf.P = np.diag([(opts.measurement_std * FACE) ** 2, (0.5 * FACE) ** 2])
    kf.F = np.array([[1, dt], [0, 1]])
    kf.H = np.array([[1.0, 0.0]])
    kf.Q = smoother.Q(dt, FACE)
    kf.R = np.array([[(opts.measurement_std * FACE) ** 2]])
    for k in range(1, 20):
        z = z0.copy()
        z[1] += rng.normal(0, 1.0, 2) + [k * 0.5, 0]
        out = smoother.update(z, np.ones(3), k * dt)
        kf.predict()
        kf.update(np.array([[z[1, 0]]]))
        assert abs(out[1, 0] - kf.x[0, 0]) < 1e-6


def test_occluded_point_ignores_an_outlier_and_moves_with_the_face():
    rng = np.random.default_rng(3)
    truth = face_points(rng=rng)
    smoother = LandmarkKalmanSmoother()
    velocity = np.array([60.0, 0.0])  # px/s, the whole face moves right
    vis = np.ones(100)
    for k in range(30):
        smoother.update(truth + velocity * k / 30 + rng.normal(0, 0.5, truth.shape), vis, k / 30)
    # A hand covers point 5: the model reports it 40 px away, with low visibility.
    for k in range(30, 40):
        z = truth + velocity * k / 30 + rng.normal(0, 0.5, truth.shape)
        z[5] += [0.0, 40.0]
        vis_occ = vis.copy()
        vis_occ[5] = 0.1
        out = smoother.update(z, vis_occ, k / 30)
    expected = truth[5] + velocity * 39 / 30
    assert np.linalg.norm(out[5] - expected) < 3.0          # not dragged towards the occluder
    assert out[5, 0] > truth[5, 0] + velocity[0] * 35 / 30  # and not frozen: it kept moving with the face


def test_low_visibility_points_trust_measurements_less():
    base = face_points()
    a, b = LandmarkKalmanSmoother(), LandmarkKalmanSmoother()
    vis_high, vis_low = np.ones(100), np.full(100, 0.55)
    a.update(base, vis_high, 0.0)
    b.update(base, vis_low, 0.0)
    for k in range(1, 10):
        a.update(base, vis_high, k / 30)
        b.update(base, vis_low, k / 30)
    jump = base.copy()
    jump[:10] += [5.0, 0.0]          # a local change (the head as a whole stays: that moves every point alike)
    moved_high = a.update(jump, vis_high, 10 / 30)[:10, 0] - base[:10, 0]
    moved_low = b.update(jump, vis_low, 10 / 30)[:10, 0] - base[:10, 0]
    assert moved_low.mean() < moved_high.mean()


def test_fast_head_turn_does_not_lag():
    """A still head that suddenly turns at 1.5 face widths per second: the filter lags by less than
    half a frame's motion at the start and not at all once it has caught the velocity."""
    rng = np.random.default_rng(4)
    base = face_points(rng=rng)
    smoother = LandmarkKalmanSmoother()
    vis = np.ones(100)
    for k in range(15):
        smoother.update(base + rng.normal(0, 1.0, base.shape), vis, k / 30)
    speed = 150.0  # px/s, 5 px per frame
    lags = []
    for k in range(15, 45):
        z = base + [speed * (k - 14) / 30, 0.0]
        out = smoother.update(z + rng.normal(0, 1.0, base.shape), vis, k / 30)
        lags.append((z - out)[:, 0].mean())
    assert max(lags) < 0.5 * speed / 30
    assert abs(np.mean(lags[-10:])) < 0.5


def test_reset_starts_a_new_track_at_the_measurement():
    smoother = LandmarkKalmanSmoother()
    smoother.update(face_points(), np.ones(100), 0.0)
    smoother.reset()
    elsewhere = face_points() + 300
    np.testing.assert_allclose(smoother.update(elsewhere, np.ones(100), 0.1), elsewhere)


def test_a_face_seen_only_by_points_outside_the_68_still_has_a_size():
    """Hands over the whole face can leave only ear points (68-99) visible: the filter must go on."""
    truth = face_points()
    smoother = LandmarkKalmanSmoother()
    smoother.update(truth, np.ones(100), timestamp=0.0)
    vis = np.zeros(100)
    vis[90:] = 1.0
    out = smoother.update(truth + 1.0, vis, timestamp=1 / 30)
    assert np.isfinite(out).all()


def _blink_depth_kept(options: SmootherOptions, closing=(2, 3, 2), seed=0) -> float:
    """A still 150 px face with camera-like noise blinks: the upper lids drop 5 % of the face over
    `closing` frames (down, shut, up). The deepest smoothed lid drop over the deepest raw one."""
    rng = np.random.default_rng(seed)
    face = 150.0
    truth = rng.uniform(200, 200 + face, (100, 2))
    lids = [37, 38, 43, 44, 78, 80]                      # upper lids of the 100-point layout
    down, shut, up = closing
    depth = [0.0] * 40 + [i / down for i in range(1, down + 1)] + [1.0] * shut + [1 - i / up for i in range(1, up + 1)] + [0.0] * 10
    smoother = LandmarkKalmanSmoother(options)
    deepest = 0.0
    for k, d in enumerate(depth):
        seen = truth.copy()
        seen[lids, 1] += 0.05 * face * d
        z = seen + rng.normal(0, 0.003 * face, seen.shape) + rng.normal(0, 0.002 * face, 2)
        out = smoother.update(z, np.ones(100), k / 30)
        deepest = max(deepest, float((out[lids, 1] - truth[lids, 1]).mean()))
    return deepest / (0.05 * face)


def test_a_blink_on_a_still_face_keeps_its_depth():
    """The face barely moves, so the whole face's innovation gate never opens; the eye's own does. The
    measurement noise is set high to calm a still face, which without that gate swallowed blinks."""
    kept = [_blink_depth_kept(SmootherOptions(), seed=s) for s in range(5)]
    fast = [_blink_depth_kept(SmootherOptions(), closing=(1, 1, 1), seed=s) for s in range(5)]
    assert min(kept) > 0.75 and np.mean(kept) > 0.85 and min(fast) > 0.75
    no_feature_gate = SmootherOptions(feature_gate=1e9)
    assert np.mean([_blink_depth_kept(no_feature_gate, seed=s) for s in range(5)]) < 0.5   # what it was


def test_the_written_out_predict_step_is_F_P_Ft_plus_Q():
    rng = np.random.default_rng(3)
    smoother = LandmarkKalmanSmoother()
    smoother.update(rng.uniform(0, 200, (100, 2)), np.ones(100), 0.0)
    a = rng.normal(size=(100, 2, 2))
    smoother.P = a @ a.transpose(0, 2, 1)                      # any symmetric positive covariances
    smoother.x = rng.normal(size=(100, 2, 2))
    dt, Q = 0.04, smoother.Q(0.04, 150.0, speed=0.3)
    F = smoother.F(dt)
    want_x, want_P = smoother.x @ F.T, F @ smoother.P @ F.T + Q
    smoother._predict(dt, Q)
    np.testing.assert_allclose(smoother.x, want_x, atol=1e-12)
    np.testing.assert_allclose(smoother.P, want_P, atol=1e-12)
