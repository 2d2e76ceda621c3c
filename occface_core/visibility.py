"""What a landmark's visibility means, defined once: one named threshold per meaning.

A visibility is the model's probability that a point is seen (not covered by a hand, hair, glasses or
the head itself). Every package, the model's own stages included, reads these names instead of writing
the numbers:

- `VISIBLE`: a point at or above it is *seen*. The overlay draws it yellow (below: blue), the smoother
  takes it as a measurement of the face and predicts the others with the head's motion, and a face
  region (an eye, the mouth) counts as covered once a quarter of its points fall below it.
- `CLEARLY_VISIBLE`: a covered region counts as seen again only when all but a quarter of its points
  are above this (hysteresis, so a visibility that flickers around `VISIBLE` does not flicker the
  avatar), and a region's shapes are remembered as "last clearly seen" only while its weakest point is.
- `POSE_MIN_VISIBILITY`: a point below it is left out of the head-pose fit; above it, it pulls in
  proportion to its visibility. Lower than `VISIBLE`: a half-hidden far-side jaw point still steadies
  the pose.
- `NOISE_VISIBILITY_FLOOR`: not a cut-off but a floor: the smoother divides a point's measurement noise
  by its visibility squared, and a visibility of zero would make that noise infinite.
- The model's local stages (the eye, mouth and nose stages in `occface_core.backends`) look again at a
  part only where it is seen: the median visibility of its points at or above `VISIBLE`.
"""
from __future__ import annotations

VISIBLE = 0.5
CLEARLY_VISIBLE = 0.6
POSE_MIN_VISIBILITY = 0.35
NOISE_VISIBILITY_FLOOR = 0.05
