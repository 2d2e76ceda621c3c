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

The schemes, their default ports and rates and their senders are one table, `SCHEMES` (schemes.py).
A target is a typed `OscTarget`, made from form fields by `make_osc_target` or from a spec string by
`parse_osc_target`.

Example::

    targets = [parse_osc_target(s) for s in ("vmc://127.0.0.1:39540", "vrchat://127.0.0.1")]
    senders = [create_sender(t) for t in targets]
    for result in pipeline:               # after RetargetStage.process(result)
        for s in senders:
            s.send(result)                # never raises on network faults
    summary = [s.stats() for s in senders]   # OscStats: sent, send_errors, median_latency_ms, ...
"""
from __future__ import annotations

from .base import KEEPALIVE_S, OscSender, OscStats
from .parse import make_osc_target, parse_osc_target
from .raw import RAW_ADDRESSES, RawSender
from .schemes import SCHEMES, OscScheme
from .target import OscTarget, OscTargetError
from .vmc import VmcSender
from .vrchat import VrchatSender

__all__ = ["OscTarget", "OscTargetError", "OscScheme", "OscSender", "OscStats", "VmcSender", "VrchatSender",
           "RawSender", "SCHEMES", "make_osc_target", "parse_osc_target", "create_sender", "RAW_ADDRESSES",
           "KEEPALIVE_S"]


def create_sender(target: OscTarget | str, **kwargs) -> OscSender:
    """The sender for `target` (a spec string is parsed first). kwargs: e.g. clock= for tests."""
    if isinstance(target, str):
        target = parse_osc_target(target)
    try:
        cls = SCHEMES[target.scheme].sender
    except KeyError:
        raise OscTargetError(f"unknown OSC scheme {target.scheme!r}") from None
    try:
        return cls(target, **kwargs)
    except OSError as exc:  # no socket could be made (e.g. no IPv6): a start-up error, one line
        raise OscTargetError(f"cannot open a UDP socket for {target}: {exc}") from None
