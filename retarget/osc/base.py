"""The common part of every OSC sender: rate limiting, stale-frame suppression, fault counting, latency.

A sender never raises on a network fault: a receiver that is absent or goes away must not stop tracking
or recording. Faults are counted and the last one is kept for the run summary.
"""
from __future__ import annotations

import logging
import math
import statistics
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Sequence

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import UDPClient

from tracking.summary import SinkStats
from tracking.types import FaceResult

from .target import OscTarget

log = logging.getLogger(__name__)

KEEPALIVE_S = 0.2
"""Unchanged content (e.g. no face and every shape already at neutral) is repeated at most this often,
so receivers still see the stream is alive (some drop a source after 0.5 s of silence) without being
flooded with stale values at the full rate."""

_LATENCY_WINDOW = 2000

Packet = OscBundle | OscMessage | Any  # anything with the encoded bytes in `.dgram`


@dataclass
class OscStats(SinkStats):
    """One sender's counters; latencies in ms are None until a frame was sent."""

    target: str
    scheme: str
    rate_hz: float
    sent: int
    send_errors: int
    skipped_rate: int
    skipped_stale: int
    median_latency_ms: float | None
    p95_latency_ms: float | None
    median_send_ms: float | None
    last_error: str | None

    @property
    def errors(self) -> int:
        return self.send_errors


class OscSender(ABC):
    """Sends one `FaceResult` per call to one UDP target, at most `target.rate_hz` times a second."""

    def __init__(self, target: OscTarget, clock: Callable[[], float] = time.perf_counter):
        self.target = target
        self._clock = clock
        self._client = UDPClient(target.address, target.port)
        self._interval = 1.0 / target.rate_hz
        self._next_due = -math.inf
        self._last_signature: Hashable | None = None
        self._last_sent_at = -math.inf
        self._latencies_ms: deque[float] = deque(maxlen=_LATENCY_WINDOW)
        self._send_ms: deque[float] = deque(maxlen=_LATENCY_WINDOW)
        self._sent = 0
        self._send_errors = 0
        self._skipped_rate = 0
        self._skipped_stale = 0
        self._last_error: str | None = None
        self._closed = False

    # --- what each protocol provides -------------------------------------------------------------
    @abstractmethod
    def _build(self, result: FaceResult) -> Sequence[Packet]:
        """The datagrams for one frame, in sending order."""

    def _signature(self, result: FaceResult) -> Hashable:
        """Equal signatures mean equal content: a face frame is new per frame index; without a face the
        content is the (eased) shape values, so once they settle at neutral nothing new is sent."""
        if result.has_face:
            return ("face", result.frame_index)
        shapes = result.blendshapes or {}
        return ("none", tuple(round(float(v), 4) for v in shapes.values()))

    # --- public API ------------------------------------------------------------------------------
    def send(self, result: FaceResult) -> bool:
        """Send `result` if the rate allows and it is not a stale repeat; True when datagrams left."""
        if self._closed:
            return False
        now = self._clock()
        # A quarter-interval of slack: with the rate equal to the camera's frame rate, a frame that
        # arrives a few ms early must not be dropped (that would halve the rate under jitter).
        if now < self._next_due - 0.25 * self._interval:
            self._skipped_rate += 1
            return False
        signature = self._signature(result)
        if signature == self._last_signature and now - self._last_sent_at < KEEPALIVE_S:
            self._skipped_stale += 1
            return False
        # Schedule from the previous due time, not from now, so frame jitter does not lower the rate;
        # never let a long pause build up a burst.
        self._next_due = max(self._next_due + self._interval, now + 0.5 * self._interval)
        try:
            packets = self._build(result)
            if not packets:  # e.g. VRChat with no parameter changed: nothing left, nothing to count
                self._last_signature = signature
                return False
            for packet in packets:
                self._client.send(packet)
        except OSError as exc:  # unreachable host, buffer full, receiver gone: count, never raise
            self._record_error(exc)
            return False
        except Exception as exc:  # a malformed value must not stop tracking either
            if self._send_errors == 0:  # the traceback once; the count and last_error after that
                log.exception("OSC %s: could not build a packet", self.target)
            self._record_error(exc)
            return False
        done = self._clock()
        self._latencies_ms.append((done - result.captured_at) * 1000.0)
        self._send_ms.append((done - now) * 1000.0)
        self._sent += 1
        self._last_signature = signature
        self._last_sent_at = now
        return True

    def stats(self) -> "OscStats":
        """Counters for the run summary; latency is frame capture -> last datagram of the frame sent."""
        return OscStats(target=str(self.target), scheme=self.target.scheme, rate_hz=self.target.rate_hz,
                        sent=self._sent, send_errors=self._send_errors, skipped_rate=self._skipped_rate,
                        skipped_stale=self._skipped_stale, median_latency_ms=_median(self._latencies_ms),
                        p95_latency_ms=_percentile(self._latencies_ms, 95), median_send_ms=_median(self._send_ms),
                        last_error=self._last_error)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._client._sock.close()  # python-osc has no public close(); the socket is all it holds
            except OSError:
                pass

    def __enter__(self) -> "OscSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _record_error(self, exc: Exception) -> None:
        self._send_errors += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        # The first fault is worth a warning; a receiver that stays away should not flood the log.
        level = logging.WARNING if self._send_errors == 1 else logging.DEBUG
        log.log(level, "OSC %s: send failed (%s); tracking continues", self.target, self._last_error)


def _median(values: deque[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _percentile(values: deque[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(round(q / 100.0 * (len(ordered) - 1))))])
