"""The whole headless pipeline on the bundled demo clip gives the same per-frame export as the reference
recorded before the live/ runtime was split out of app/ (issue 21): a refactor must not change what
users get.

The reference (tests/data/demo_export_mediapipe.jsonl.gz) is `main.py --headless --demo --model
mediapipe --export F.jsonl` with every float rounded to 3 decimals. MediaPipe's face mesh is the
backend because it is the one whose weights never change with training; the tracker, both smoothers,
retargeting, calibration and the export are the same code as with OccFace. Tolerances: a few
thousandths (the rounding of the reference, and float noise between runs); a change in behaviour
moves points by tenths of a pixel and shapes by hundredths or more.

Re-record only for an intended change in behaviour, and say so in the commit:
    python tests/test_demo_export.py --write
"""
from __future__ import annotations

import gzip
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "demo_export_mediapipe.jsonl.gz"
COMMAND = [sys.executable, str(ROOT / "main.py"), "--headless", "--demo", "--model", "mediapipe"]
DECIMALS = 3
# per field: the largest difference that is float noise or the reference's rounding
TOLERANCE = {"points": 0.012, "roi": 0.012, "timestamp": 1e-3}
DEFAULT_TOLERANCE = 2e-3


def rounded(value):
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def export_demo(path: Path) -> list[dict]:
    proc = subprocess.run(COMMAND + ["--export", str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in path.read_text().splitlines()]


def differences(expected, actual, tolerance: float, where: str) -> list[str]:
    """Where `actual` differs from `expected`: structure and bools exactly, numbers within `tolerance`."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            return [f"{where}: keys {sorted(expected)} != {sorted(actual) if isinstance(actual, dict) else actual}"]
        return [d for k in expected for d in differences(expected[k], actual[k], TOLERANCE.get(k, tolerance),
                                                         f"{where}.{k}")]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: {expected!r:.60} != {actual!r:.60}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in differences(e, a, tolerance, f"{where}[{i}]")]
    if isinstance(expected, float) or (isinstance(expected, int) and not isinstance(expected, bool)
                                       and isinstance(actual, float)):
        ok = isinstance(actual, (int, float)) and not isinstance(actual, bool) and math.isclose(
            expected, actual, rel_tol=0.0, abs_tol=tolerance)
        return [] if ok else [f"{where}: {expected} != {actual}"]
    return [] if expected == actual and type(expected) is type(actual) else [f"{where}: {expected!r} != {actual!r}"]


def test_the_demo_clip_export_matches_the_reference(tmp_path):
    with gzip.open(REFERENCE, "rt", encoding="utf-8") as f:
        reference = [json.loads(line) for line in f]
    actual = export_demo(tmp_path / "demo.jsonl")
    assert len(actual) == len(reference) == 450
    found = [d for i, (e, a) in enumerate(zip(reference, actual))
             for d in differences(e, a, DEFAULT_TOLERANCE, f"frame {i}")]
    assert not found, f"{len(found)} differences, the first: " + "; ".join(found[:5])


def test_the_comparison_sees_a_change_in_behaviour():
    """A point moved by a twentieth of a pixel, or a shape by 0.01, is a difference; rounding is not."""
    record = {"points": [[10.0, 20.0]], "blendshapes": {"jawOpen": 0.25}, "has_face": True}
    assert not differences(record, {"points": [[10.004, 19.996]], "blendshapes": {"jawOpen": 0.2504},
                                    "has_face": True}, DEFAULT_TOLERANCE, "r")
    assert differences(record, {"points": [[10.05, 20.0]], "blendshapes": {"jawOpen": 0.25}, "has_face": True},
                       DEFAULT_TOLERANCE, "r")
    assert differences(record, {"points": [[10.0, 20.0]], "blendshapes": {"jawOpen": 0.26}, "has_face": True},
                       DEFAULT_TOLERANCE, "r")
    assert differences(record, {"points": [[10.0, 20.0]], "blendshapes": {"jawOpen": 0.25}, "has_face": False},
                       DEFAULT_TOLERANCE, "r")


def write_reference() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        records = export_demo(Path(tmp) / "demo.jsonl")
    text = "".join(json.dumps(rounded(r), separators=(",", ":")) + "\n" for r in records)
    with gzip.GzipFile(REFERENCE, "wb", mtime=0) as f:
        f.write(text.encode("utf-8"))
    print(f"wrote {REFERENCE} ({len(records)} frames)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_reference()
    else:
        sys.exit("usage: python tests/test_demo_export.py --write   (re-records the reference)")
