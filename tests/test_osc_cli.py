"""The CLI's OSC options: bad targets fail at start with one line; an absent receiver never stops a run."""
from __future__ import annotations

import json
import socket

import pytest

import main as main_module


@pytest.mark.parametrize("target, words", [
    ("bogus://127.0.0.1:9000", "unknown scheme"),
    ("vmc://127.0.0.1:99999", "port must be"),
    ("vmc://no-such-host.invalid", "does not resolve"),
    ("vmc:/127.0.0.1", "expected SCHEME://"),
])
def test_bad_target_is_one_line_and_non_zero_exit(capsys, target, words):
    rc = main_module.main(["--headless", "--demo", "--max-frames", "1", "--osc", "vmc://127.0.0.1:39539",
                           "--osc", target])
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert words in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_absent_receiver_does_not_stop_the_run(tmp_path, capsys):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens on this port
    summary = tmp_path / "summary.json"
    rc = main_module.main(["--headless", "--demo", "--max-frames", "4", "--osc", f"vmc://127.0.0.1:{port}",
                           "--osc", f"raw://127.0.0.1:{port}", "--summary-json", str(summary)])
    assert rc == 0
    report = json.loads(summary.read_text())
    assert report["frames_processed"] == 4
    osc = [s for s in report["sinks"] if str(s.get("target", "")).startswith(("vmc://", "raw://"))]
    assert len(osc) == 2
    for stats in osc:
        assert stats["sent"] + stats["send_errors"] >= 1
        assert "median_latency_ms" in stats
