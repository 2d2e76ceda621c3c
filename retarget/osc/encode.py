"""A small, fast OSC 1.0 encoder for the per-frame packets.

python-osc's builders re-encode every address and type tag per message, about 40 us each; a VMC frame
has 57 messages, so building it took ~2 ms. Here the constant parts (address, type tags, shape names)
are encoded once and only the numbers are packed per frame. The bytes are standard OSC (the tests decode
them with python-osc's parser) and still go out through python-osc's UDPClient.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

BUNDLE_HEADER = b"#bundle\x00" + struct.pack(">Q", 1)  # time tag 1 = "immediately"


def osc_string(text: str) -> bytes:
    raw = text.encode("utf-8") + b"\x00"
    return raw + b"\x00" * (-len(raw) % 4)


def _type_tag(value: object) -> str:
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int):
        return "i"
    if isinstance(value, float):
        return "f"
    if isinstance(value, str):
        return "s"
    raise TypeError(f"unsupported OSC argument type {type(value).__name__}")


def encode_message(address: str, *args: object) -> bytes:
    """One OSC message: address, type tags, then the arguments (int32, float32, string, bool)."""
    tags = "".join(_type_tag(a) for a in args)
    out = [osc_string(address), osc_string("," + tags)]
    for a, tag in zip(args, tags):
        if tag == "i":
            out.append(struct.pack(">i", a))
        elif tag == "f":
            out.append(struct.pack(">f", a))
        elif tag == "s":
            out.append(osc_string(a))  # type: ignore[arg-type]
    return b"".join(out)


def encode_bundle(messages: list[bytes]) -> bytes:
    """An OSC bundle with the "immediately" time tag around already-encoded messages."""
    parts = [BUNDLE_HEADER]
    for msg in messages:
        parts.append(struct.pack(">i", len(msg)))
        parts.append(msg)
    return b"".join(parts)


MAX_DATAGRAM = 1200
"""Bytes per UDP datagram: under a typical path MTU, so a bundle never fragments on a real network
(VMC's own sender keeps its bundles to about this size)."""


def pack_bundles(messages: list[bytes], limit: int = MAX_DATAGRAM) -> list[bytes]:
    """Consecutive messages in as few bundles of at most `limit` bytes as fit, order kept; a message
    too large for any bundle travels alone in one."""
    bundles, current, size = [], [], len(BUNDLE_HEADER)
    for msg in messages:
        cost = 4 + len(msg)                       # the size prefix and the message
        if current and size + cost > limit:
            bundles.append(encode_bundle(current))
            current, size = [], len(BUNDLE_HEADER)
        current.append(msg)
        size += cost
    if current:
        bundles.append(encode_bundle(current))
    return bundles


class FloatMessageTemplate:
    """Pre-encoded ``address [s name] f`` messages: only the float is packed per frame."""

    def __init__(self, address: str, name: str | None = None):
        tags = ",sf" if name is not None else ",f"
        self._prefix = osc_string(address) + osc_string(tags) + (osc_string(name) if name is not None else b"")

    def encode(self, value: float) -> bytes:
        return self._prefix + struct.pack(">f", value)


@dataclass(frozen=True)
class Datagram:
    """What python-osc's UDPClient.send() needs: an object with the bytes in `.dgram`."""

    dgram: bytes
