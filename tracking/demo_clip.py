"""Make the demo clip from a public-domain photo: synthetic head motion, scale change, a passing hand
and a short exit from the frame (to show re-detection).

The photo is assets/demo_face.jpg: NASA astronaut Eileen Collins (NASA photo, public domain; the copy
distributed with scikit-image as `skimage.data.astronaut`).

Example:
    python -m tracking.demo_clip --out assets/demo.mp4
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_PHOTO = ASSETS / "demo_face.jpg"
DEFAULT_CLIP = ASSETS / "demo.mp4"

FACE_CENTRE = (226.0, 122.0)   # the face centre in the photo, pixels
PATCH_HALF = (150, 170)        # half width/height of the head-and-shoulders patch cut from the photo


@dataclass(frozen=True)
class ClipSpec:
    width: int = 640
    height: int = 480
    fps: float = 30.0
    frames: int = 450
    occluder_frames: tuple[int, int] = (130, 200)   # a hand passes over the lower face
    exit_frames: tuple[int, int] = (300, 330)       # the head slides out to the right and back
    seed: int = 7


def head_motion(i: int, spec: ClipSpec) -> tuple[float, float, float, float]:
    """(centre x, centre y, rotation degrees, scale) of the face at frame i."""
    t = i / spec.fps
    cx = spec.width / 2 + 110 * math.sin(2 * math.pi * t / 6.0)
    cy = spec.height / 2 + 35 * math.sin(2 * math.pi * t / 4.0)
    angle = 15 * math.sin(2 * math.pi * t / 5.0)
    scale = 1.15 + 0.3 * math.sin(2 * math.pi * t / 7.0)
    a, b = spec.exit_frames
    if a <= i < b:
        # Out to the right over the first third, out of view for the middle, back over the last third.
        u = (i - a) / (b - a)
        out = min(1.0, 3 * u) if u < 0.5 else min(1.0, 3 * (1 - u))
        cx += out * (spec.width * 0.5 + 260)
    return cx, cy, angle, scale


def _background(spec: ClipSpec) -> np.ndarray:
    rng = np.random.default_rng(spec.seed)
    y, x = np.mgrid[0:spec.height, 0:spec.width].astype(np.float32)
    bg = np.stack([90 + 60 * x / spec.width, 110 + 40 * y / spec.height, 130 - 30 * x / spec.width], axis=-1)
    for _ in range(12):  # soft blobs, like an out-of-focus room
        cx, cy, r = rng.uniform(0, spec.width), rng.uniform(0, spec.height), rng.uniform(30, 120)
        colour = rng.uniform(40, 200, size=3)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None]
        bg = bg * (1 - 0.6 * blob) + colour * 0.6 * blob
    return np.clip(bg, 0, 255).astype(np.uint8)


def _head_patch(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The head-and-shoulders patch and a feathered elliptical alpha mask for it."""
    fx, fy = FACE_CENTRE
    hw, hh = PATCH_HALF
    patch = cv2.getRectSubPix(photo, (2 * hw, 2 * hh), (fx, fy + 30))
    y, x = np.mgrid[0:2 * hh, 0:2 * hw].astype(np.float32)
    ellipse = ((x - hw) / (hw * 0.95)) ** 2 + ((y - hh) / (hh * 0.98)) ** 2
    alpha = np.clip((1.0 - ellipse) * 6.0, 0.0, 1.0)
    return patch, cv2.GaussianBlur(alpha, (0, 0), 3)


def _draw_hand(frame: np.ndarray, i: int, spec: ClipSpec, face_xy: tuple[float, float], scale: float) -> None:
    a, b = spec.occluder_frames
    if not a <= i < b:
        return
    u = (i - a) / (b - a)
    cx = face_xy[0] - 220 * scale + 440 * scale * u
    cy = face_xy[1] + 80 * scale  # palm over mouth and chin, fingers up to the nose
    skin = (120, 150, 205)
    palm = (int(cx), int(cy))
    cv2.ellipse(frame, palm, (int(48 * scale), int(58 * scale)), 10, 0, 360, skin, -1, cv2.LINE_AA)
    for k in range(4):  # fingers pointing up and to the side
        fx = int(cx - 36 * scale + k * 24 * scale)
        cv2.ellipse(frame, (fx, int(cy - 62 * scale)), (int(10 * scale), int(32 * scale)), -8, 0, 360, skin, -1,
                    cv2.LINE_AA)
    cv2.ellipse(frame, (int(cx + 52 * scale), int(cy + 4 * scale)), (int(12 * scale), int(28 * scale)), -50, 0, 360,
                skin, -1, cv2.LINE_AA)


def render_frames(photo: np.ndarray, spec: ClipSpec = ClipSpec()):
    """Yield the clip's frames (BGR, uint8)."""
    background = _background(spec)
    patch, alpha = _head_patch(photo)
    hw, hh = PATCH_HALF
    for i in range(spec.frames):
        cx, cy, angle, scale = head_motion(i, spec)
        # Map the patch so the face centre (patch point (hw, hh - 30)) lands on (cx, cy).
        m = cv2.getRotationMatrix2D((hw, hh - 30), angle, scale)
        m[:, 2] += (cx - hw, cy - (hh - 30))
        size = (spec.width, spec.height)
        warped = cv2.warpAffine(patch, m, size, flags=cv2.INTER_LINEAR, borderValue=0).astype(np.float32)
        a = cv2.warpAffine(alpha, m, size, flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
        frame = (background * (1 - a) + warped * a).astype(np.uint8)
        _draw_hand(frame, i, spec, (cx, cy), scale)
        yield frame


def write_clip(out: Path, photo_path: Path = DEFAULT_PHOTO, spec: ClipSpec = ClipSpec()) -> int:
    photo = cv2.imread(str(photo_path))
    if photo is None:
        raise FileNotFoundError(f"photo not found or unreadable: {photo_path}")
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), spec.fps, (spec.width, spec.height))
    if not writer.isOpened():
        raise OSError(f"cannot write {out}")
    count = 0
    for frame in render_frames(photo, spec):
        writer.write(frame)
        count += 1
    writer.release()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_CLIP, help="output video (default: assets/demo.mp4)")
    parser.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    parser.add_argument("--frames", type=int, default=ClipSpec.frames)
    args = parser.parse_args(argv)
    try:
        n = write_clip(args.out, args.photo, ClipSpec(frames=args.frames))
    except (OSError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {n} frames to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
