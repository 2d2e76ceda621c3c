"""Blinks and winks from the lids, measured against the eye's own recent openness.

Why not against the neutral face: on real video (the shared labelled clips) the neutral was taken while
the person blinked (an interview that opens with shut eyes), a three-quarter speaker's far eye is small
and shadowed, and the Kalman smoother, tuned to still a face's jitter, keeps about half of a 2-4 frame
blink's depth. Against the neutral and on smoothed points the app caught 0 of 17 labelled blinks.

What this does instead, per eye:
- the opening is the mean lid gap over the eye's corner distance, from the model's *unsmoothed* points
  lifted into the head frame (a blink is the one expression faster than the smoother; the dead band
  below keeps open-eye jitter out; the head frame keeps a nod or a turn from reading as lids moving);
- its reference is a high percentile of the same eye's opening over the last few seconds: eyes are
  open most of the time, so a blink, a shut-eyed start or a slow drift of the model do not move it.
  For the first `warmup_frames` the neutral face's opening is a floor under it (the calibrated one, or
  the user's first frames while the automatic calibration runs: not the reference head's, or a
  hooded-eyed face would read half shut from its first frame). A video that opens mid-blink shows
  that first blink only if its neutral was open (on the shared clips: one of 17 blinks lost);
- the blink is 0 at or above `open_at` of the reference and 1 at or below `shut_at`, linear between;
- a turned face's far eye follows the near eye, the more the further the head is turned: its lids are
  a few pixels of shadow behind the nose. A frontal face's eyes stay independent, so a wink is a wink.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .blendshapes import EYES


@dataclass(frozen=True)
class BlinkOptions:
    # On the four shared labelled clips (both backends), catching 12-16 of 17 blinks with 96-100 % of
    # the open frames quiet, the events moved by at most one for any of: window 60-300 frames,
    # open_at 0.80-0.90, shut_at 0.45-0.55 (see benchmarks/bench_clips.py).
    window_frames: int = 150           # the reference's history: 5 s at 30 fps
    warmup_frames: int = 15            # history shorter than this leans on the neutral face's opening
    reference_percentile: float = 75.0
    open_at: float = 0.85              # opening over the reference at or above which the eye reads open
    shut_at: float = 0.50              # ... at or below which it reads shut
    follow_from_deg: float = 12.0      # |yaw| beyond which the far eye starts to follow the near one
    follow_span_deg: float = 18.0      # ... and fully follows this many degrees further


@dataclass(frozen=True)
class EyeReading:
    blink: float            # 0 open .. 1 shut
    openness: float         # opening over the reference: 1 as usual, above 1 wider


def eye_openings(points: np.ndarray) -> dict[str, float]:
    """Per eye, the mean lid gap over the corner distance, from (100, 2 or 3) points (x, y used)."""
    out = {}
    for side, eye in EYES.items():
        outer, inner, pairs = eye["outer"], eye["inner"], eye["pairs"]
        width = float(np.hypot(*(points[outer, :2] - points[inner, :2])))
        gap = sum(float(np.hypot(*(points[lo, :2] - points[up, :2]))) for up, lo in pairs) / len(pairs)
        out[side] = gap / width if width > 1e-6 else float("nan")
    return out


class BlinkEstimator:
    """Feed every face frame. The reference is a ratio, whatever the face's size, so it outlives a lost
    track; `reset()` forgets it (another person)."""

    def __init__(self, options: BlinkOptions | None = None):
        self.options = options or BlinkOptions()
        self._history = {side: deque(maxlen=self.options.window_frames) for side in EYES}

    def reset(self) -> None:
        for h in self._history.values():
            h.clear()

    def update(self, head_points: np.ndarray, yaw_deg: float, neutral: np.ndarray) -> dict[str, EyeReading]:
        """`head_points`: this frame's unsmoothed landmarks in the head frame; `yaw_deg` > 0: turned
        toward the subject's left (the left eye is then the far one); `neutral`: the neutral face in the
        same frame (the warm-up's floor)."""
        o = self.options
        readings = {}
        warming_up = min(len(h) for h in self._history.values()) < o.warmup_frames
        prior = eye_openings(neutral) if warming_up else {}
        for side, opening in eye_openings(head_points).items():
            history = self._history[side]
            if np.isfinite(opening):
                history.append(opening)
            if not history:
                readings[side] = EyeReading(0.0, 1.0)
                continue
            reference = float(np.percentile(history, o.reference_percentile))
            if len(history) < o.warmup_frames and np.isfinite(prior.get(side, np.nan)):
                reference = max(reference, prior[side])
            ratio = opening / reference if reference > 1e-6 and np.isfinite(opening) else 1.0
            blink = min(1.0, max(0.0, (o.open_at - ratio) / (o.open_at - o.shut_at)))
            readings[side] = EyeReading(blink, ratio)
        return self._far_eye_follows(readings, yaw_deg)

    def _far_eye_follows(self, readings: dict[str, EyeReading], yaw_deg: float) -> dict[str, EyeReading]:
        far, near = ("Left", "Right") if yaw_deg > 0 else ("Right", "Left")
        follow = min(1.0, max(0.0, (abs(yaw_deg) - self.options.follow_from_deg) / self.options.follow_span_deg))
        if follow > 0.0:
            own, seen = readings[far], readings[near]
            readings[far] = EyeReading((1 - follow) * own.blink + follow * seen.blink,
                                       (1 - follow) * own.openness + follow * seen.openness)
        return readings
