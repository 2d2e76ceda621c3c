"""The OSC schemes, in one table: each protocol's name, title, default port and rate, options and sender.

The parser, `create_sender` and the window's protocol list all read this table; a new protocol is one
row here and one sender module.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .base import OscSender
from .raw import RawSender
from .vmc import VmcSender
from .vrchat import VrchatSender


@dataclass(frozen=True)
class OscScheme:
    name: str                   # the spec's scheme: vmc://
    title: str                  # the window's protocol list
    default_port: int
    default_rate_hz: float
    options: frozenset[str]     # what the spec's ?query may set
    sender: type[OscSender]
    hint: str                   # one line for the window: where to send it


SCHEMES = MappingProxyType({scheme.name: scheme for scheme in (
    OscScheme("vmc", "VMC", 39539, 60.0, frozenset({"rate", "names"}), VmcSender,
              "39539 to a renderer (marionette), 39540 to a performer such as VSeeFace"),
    OscScheme("vrchat", "VRChat", 9000, 30.0, frozenset({"rate", "map"}), VrchatSender, "port 9000"),
    OscScheme("raw", "Raw points", 9100, 60.0, frozenset({"rate"}), RawSender,
              "all 100 points with visibility (port 9100, this project's own stream)"),
)})
