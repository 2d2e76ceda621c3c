"""Occlusion-aware output of the blendshapes: occluded regions hold, then ease toward neutral.

Each shape belongs to face regions (its eye, brow, the mouth, the nose). While all its regions are
visible the shape shows the measured value. When one is occluded (mean landmark visibility below a
threshold, with hysteresis so a flickering visibility does not toggle it) the shape keeps its last
value for `hold_s`, then decays toward 0 (neutral) with time constant `ease_s`. When the region comes
back, the value glides to the measurement over `reenter_s` instead of jumping. Without a face every
shape eases toward neutral the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from occface_core.layout import GROUPS

from .arkit import ARKIT_NAMES, neutral_blendshapes

# Regions built from the layout's groups: an eye with its iris, the mouth with the chin (iBUG 7-9, which
# moves with the jaw), and only the nose base (iBUG 31-35; the bridge does not move with a sneer).
REGIONS: MappingProxyType[str, tuple[int, ...]] = MappingProxyType({
    "eye_right": GROUPS["right_eye"] + GROUPS["right_iris"],
    "eye_left": GROUPS["left_eye"] + GROUPS["left_iris"],
    "brow_right": GROUPS["right_brow"],
    "brow_left": GROUPS["left_brow"],
    "mouth": GROUPS["mouth"] + GROUPS["jaw"][7:10],
    "nose": GROUPS["nose"][4:],
})


def shape_regions(name: str) -> tuple[str, ...]:
    """The regions whose landmarks a shape is measured from."""
    if name.startswith("eye"):
        return ("eye_left",) if name.endswith("Left") else ("eye_right",)
    if name.startswith("cheekSquint"):
        side = "left" if name.endswith("Left") else "right"
        return (f"eye_{side}", "mouth")
    if name == "browInnerUp":
        return ("brow_right", "brow_left")
    if name.startswith("brow"):
        return ("brow_left",) if name.endswith("Left") else ("brow_right",)
    if name.startswith("noseSneer"):
        return ("nose",)
    return ("mouth",)  # jaw*, mouth*, cheekPuff, tongueOut


SETTLED = 2e-3  # an easing value below this is neutral


@dataclass(frozen=True)
class HoldOptions:
    occluded_below: float = 0.5   # region counts as occluded below this mean visibility ...
    visible_above: float = 0.6    # ... and as visible again only above this one
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
        self._occluded_for = {region: 0.0 for region in REGIONS}
        self._visible_for = {region: math.inf for region in REGIONS}

    def region_visibility(self, visibility: np.ndarray | None) -> dict[str, float]:
        if visibility is None:
            return {region: 1.0 for region in REGIONS}
        vis = np.asarray(visibility, dtype=np.float64)
        return {region: float(np.mean(vis[list(idx)])) for region, idx in REGIONS.items()}

    def occluded_regions(self, region_vis: dict[str, float]) -> set[str]:
        """Apply the hysteresis and return the regions that count as occluded this frame."""
        for region, v in region_vis.items():
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
                if max(self._occluded_for[r] for r in hidden) > opts.hold_s:
                    self._values[name] *= decay
                    if self._values[name] < SETTLED:  # reach neutral exactly, so senders can go quiet
                        self._values[name] = 0.0
            else:
                target = measured[name]  # type: ignore[index]
                if min(self._visible_for[r] for r in regions) < opts.reenter_s * 3:
                    self._values[name] += (target - self._values[name]) * glide
                else:
                    self._values[name] = target
            self._values[name] = min(1.0, max(0.0, float(self._values[name])))
        return dict(self._values)

    def reset(self) -> None:
        self._values = neutral_blendshapes()
