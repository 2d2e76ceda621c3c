"""Occlusion-aware output of the blendshapes: occluded regions hold, then ease toward neutral.

Each shape belongs to face regions (its eye, brow, the mouth, the chin, the cheeks' outline, the nose).
While all its regions are visible the shape shows the measured value. When one is occluded (the
visibility of a quarter of its landmarks below a threshold, with hysteresis so a flickering visibility
does not toggle it) the shape holds for `hold_s`, then decays toward 0 (neutral) with time constant
`ease_s`. What it holds is its value on the last frame its regions were clearly visible (every point
above the upper threshold), not the one on the frame occlusion was declared: a hand sliding in drags
the points it covers before their visibility falls far enough. When the region comes back, the value
glides to the measurement over `reenter_s` instead of jumping. Without a face every shape eases
toward neutral the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from occface_core.layout import GROUPS
from occface_core.visibility import CLEARLY_VISIBLE, VISIBLE

from .arkit import ARKIT_NAMES, neutral_blendshapes

# Regions built from the layout's groups: an eye with its iris, the mouth, the chin (iBUG 7-9, which
# moves with the jaw), and only the nose base (iBUG 31-35; the bridge does not move with a sneer). The
# chin is a region of its own: a hand over it hides the three points every jaw and mouth shape measures
# the jaw by, while the mouth's 24 points, mostly visible, kept the mean up and the jaw read wild.
REGIONS: MappingProxyType[str, tuple[int, ...]] = MappingProxyType({
    "eye_right": GROUPS["right_eye"] + GROUPS["right_iris"],
    "eye_left": GROUPS["left_eye"] + GROUPS["left_iris"],
    "brow_right": GROUPS["right_brow"],
    "brow_left": GROUPS["left_brow"],
    "mouth": GROUPS["mouth"],
    "chin": GROUPS["jaw"][7:10],
    "cheeks": GROUPS["jaw"][2:5] + GROUPS["jaw"][12:15],   # the jaw outline cheekPuff measures
    "nose": GROUPS["nose"][4:],
})

# Regions on the face's outline: any head turn hides the far side's (self-occlusion), so they say nothing
# about a hand or a microphone in front of the face.
OUTLINE_REGIONS = frozenset({"cheeks"})


def shape_regions(name: str) -> tuple[str, ...]:
    """The regions whose landmarks a shape is measured from."""
    if name.startswith("eye"):
        return ("eye_left",) if name.endswith("Left") else ("eye_right",)
    if name.startswith("cheekSquint"):
        side = "left" if name.endswith("Left") else "right"
        return (f"eye_{side}", "mouth", "chin")
    if name == "browInnerUp":
        return ("brow_right", "brow_left")
    if name.startswith("brow"):
        return ("brow_left",) if name.endswith("Left") else ("brow_right",)
    if name.startswith("noseSneer"):
        return ("nose",)
    if name == "cheekPuff":
        return ("mouth", "chin", "cheeks")
    return ("mouth", "chin")  # jaw*, mouth*, tongueOut: all read the jaw from the chin


@dataclass(frozen=True)
class RegionVisibility:
    """One region's landmark visibility this frame. `lower_quartile` decides occlusion: a quarter of a
    region covered already drags its shapes (a hand over the lower lip left the mouth's mean at 0.7
    while the jaw read fully sideways). `least` decides whether the region is seen clearly enough for
    its shapes to be the value an occlusion holds."""

    lower_quartile: float
    least: float


SETTLED = 2e-3  # an easing value below this is neutral


@dataclass(frozen=True)
class HoldOptions:
    occluded_below: float = VISIBLE        # region counts as occluded below this lower-quartile visibility ...
    visible_above: float = CLEARLY_VISIBLE  # ... and as visible again only above this one
    hold_s: float = 0.25
    ease_s: float = 0.5
    reenter_s: float = 0.08
    lost_ease_s: float = 0.1      # no face at all: ease every shape at once (95 % of the way in 0.3 s)


class ExpressionHold:
    """Per-shape output state; `update` once per frame with the measurement (or None without a face)."""

    def __init__(self, options: HoldOptions | None = None):
        self.options = options or HoldOptions()
        self._values = neutral_blendshapes()
        self._regions = {name: shape_regions(name) for name in ARKIT_NAMES}
        self._occluded = {region: False for region in REGIONS}
        self._clear = {region: True for region in REGIONS}   # above the upper threshold this frame
        self._last_clear = neutral_blendshapes()                # each shape's value when last seen clearly
        self._occluded_for = {region: 0.0 for region in REGIONS}
        self._visible_for = {region: math.inf for region in REGIONS}

    def region_visibility(self, visibility: np.ndarray | None) -> dict[str, RegionVisibility]:
        if visibility is None:
            return {region: RegionVisibility(1.0, 1.0) for region in REGIONS}
        vis = np.asarray(visibility, dtype=np.float64)
        out = {}
        for region, idx in REGIONS.items():
            ranked = np.sort(vis[list(idx)])          # np.quantile costs ~40x more on two dozen values
            out[region] = RegionVisibility(float(ranked[len(ranked) // 4]), float(ranked[0]))
        return out

    def occluded_regions(self, region_vis: dict[str, RegionVisibility]) -> set[str]:
        """Apply the hysteresis and return the regions that count as occluded this frame. A region is
        seen clearly only while every one of its points is: an occluder's edge drags the points it
        reaches while the region's mean is still high."""
        for region, rv in region_vis.items():
            v = rv.lower_quartile
            self._clear[region] = rv.least > self.options.visible_above
            if self._occluded[region] and v > self.options.visible_above:
                self._occluded[region] = False
            elif not self._occluded[region] and v < self.options.occluded_below:
                self._occluded[region] = True
        return {r for r, occ in self._occluded.items() if occ}

    def update(self, measured: dict[str, float] | None, occluded: set[str], dt: float) -> dict[str, float]:
        opts = self.options
        if measured is None:
            # The face is gone (not covered): no hold, ease to neutral; the regions count as hidden,
            # so a returning face glides back in.
            occluded = set(REGIONS)
            for region in REGIONS:
                self._occluded_for[region] += dt
                self._visible_for[region] = 0.0
            fade = math.exp(-dt / opts.lost_ease_s) if opts.lost_ease_s > 0 else 0.0
            for name in ARKIT_NAMES:
                self._values[name] = 0.0 if self._values[name] * fade < SETTLED else self._values[name] * fade
            self._last_clear = dict(self._values)   # a face that comes back covered holds no stale value
            return dict(self._values)
        for region in REGIONS:
            if region in occluded:
                self._occluded_for[region] += dt
                self._visible_for[region] = 0.0
            else:
                self._visible_for[region] += dt
                self._occluded_for[region] = 0.0
        decay = math.exp(-dt / opts.ease_s) if opts.ease_s > 0 else 0.0
        glide = 1.0 - math.exp(-dt / opts.reenter_s) if opts.reenter_s > 0 else 1.0
        for name in ARKIT_NAMES:
            regions = self._regions[name]
            hidden = [r for r in regions if r in occluded]
            if hidden:
                if max(self._occluded_for[r] for r in hidden) <= opts.hold_s:
                    self._values[name] += (self._last_clear[name] - self._values[name]) * glide
                else:
                    self._values[name] *= decay
                    if self._values[name] < SETTLED:  # reach neutral exactly, so senders can go quiet
                        self._values[name] = 0.0
            else:
                target = measured[name]  # type: ignore[index]
                if min(self._visible_for[r] for r in regions) < opts.reenter_s * 3:
                    self._values[name] += (target - self._values[name]) * glide
                else:
                    self._values[name] = target
                if all(self._clear[r] for r in regions):
                    self._last_clear[name] = self._values[name]
            self._values[name] = min(1.0, max(0.0, float(self._values[name])))
        return dict(self._values)

    def reset(self) -> None:
        self._values = neutral_blendshapes()
        self._last_clear = neutral_blendshapes()
