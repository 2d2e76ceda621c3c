"""Finding the cameras that exist, without opening each one on the GUI thread where avoidable."""
from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraInfo:
    index: int
    name: str

    @property
    def label(self) -> str:
        return f"Camera {self.index}" + (f" — {self.name}" if self.name else "")


def list_cameras(max_probe: int = 4) -> list[CameraInfo]:
    """The cameras OpenCV can address by index.

    On Linux the V4L2 device nodes are listed from sysfs (no device is opened; metadata-only nodes
    are skipped). Elsewhere the first `max_probe` indices are probed with OpenCV.
    """
    if sys.platform.startswith("linux"):
        return _linux_cameras()
    return _probe_cameras(max_probe)


def _linux_cameras(root: Path = Path("/sys/class/video4linux")) -> list[CameraInfo]:
    cameras = []
    if not root.is_dir():
        return cameras
    for node in sorted(root.iterdir(), key=lambda p: _index(p.name)):
        index = _index(node.name)
        if index < 0:
            continue
        # A UVC camera registers two nodes: a capture node (index 0 in its "index" file) and a
        # metadata node (index 1); only the first delivers frames.
        try:
            if (node / "index").is_file() and (node / "index").read_text().strip() not in ("", "0"):
                continue
            name = (node / "name").read_text().strip() if (node / "name").is_file() else ""
        except OSError:
            name = ""
        cameras.append(CameraInfo(index, name))
    return cameras


def _index(name: str) -> int:
    match = re.fullmatch(r"video(\d+)", name)
    return int(match.group(1)) if match else -1


def _probe_cameras(max_probe: int) -> list[CameraInfo]:
    import cv2

    cameras = []
    for index in range(max_probe):
        cap = cv2.VideoCapture(index)
        try:
            if cap.isOpened():
                cameras.append(CameraInfo(index, ""))
        finally:
            cap.release()
    return cameras
