"""OSC streaming: parse ``--osc`` targets and create one sender per target.

Schemes (see docs/STREAMING.md for receiving programs):

- ``vmc://HOST[:PORT][?rate=HZ&names=arkit|perfect_sync|vrm]`` -- VMC protocol bundles (retarget.osc.vmc);
  default port 39539 (a VMC renderer/marionette), use 39540 to drive a performer such as VSeeFace.
- ``vrchat://HOST[:PORT][?rate=HZ&map=names.json]`` -- ``/avatar/parameters/<Name>`` floats
  (retarget.osc.vrchat); default port 9000.
- ``raw://HOST[:PORT][?rate=HZ]`` -- all 100 points with visibility, head pose, face score and shapes
  (retarget.osc.raw, whose docstring lists every address); default port 9100.

Raw addresses (detailed in retarget.osc.raw): /occface/frame, /occface/face, /occface/points,
/occface/visibility, /occface/head/quat, /occface/head/euler, /occface/head/pos, /occface/blend.

Example::

    targets = [parse_osc_target(s) for s in ("vmc://127.0.0.1:39540", "vrchat://127.0.0.1")]
    senders = [create_sender(t) for t in targets]
    for result in pipeline:               # after RetargetStage.process(result)
        for s in senders:
            s.send(result)                # never raises on network faults
    summary = [s.stats() for s in senders]   # OscStats: sent, send_errors, median_latency_ms, ...
"""
from __future__ import annotations

from types import MappingProxyType

from .base import KEEPALIVE_S, OscSender, OscStats
from .raw import RAW_ADDRESSES, RawSender
from .target import DEFAULT_PORTS, DEFAULT_RATES_HZ, OscTarget, OscTargetError, parse_osc_target
from .vmc import VmcSender
from .vrchat import VrchatSender

__all__ = ["OscTarget", "OscTargetError", "OscSender", "OscStats", "VmcSender", "VrchatSender", "RawSender",
           "parse_osc_target", "create_sender", "DEFAULT_PORTS", "DEFAULT_RATES_HZ", "RAW_ADDRESSES",
           "KEEPALIVE_S"]

_SENDERS = MappingProxyType({"vmc": VmcSender, "vrchat": VrchatSender, "raw": RawSender})


def create_sender(target: OscTarget | str, **kwargs) -> OscSender:
    """The sender for `target` (a parsed target or a spec string). kwargs: e.g. clock= for tests."""
    if isinstance(target, str):
        target = parse_osc_target(target)
    try:
        cls = _SENDERS[target.scheme]
    except KeyError:
        raise OscTargetError(f"unknown OSC scheme {target.scheme!r}") from None
    try:
        return cls(target, **kwargs)
    except OSError as exc:  # no socket could be made (e.g. no IPv6): a start-up error, one line
        raise OscTargetError(f"cannot open a UDP socket for {target}: {exc}") from None
