"""Parsing and validating OSC target specs such as ``vmc://127.0.0.1:39540?rate=30&names=perfect_sync``.

Everything that can be wrong with a target is found here, at start-up, and reported as one
`OscTargetError` line, so the CLI can print it and exit non-zero before tracking begins.
"""
from __future__ import annotations

import json
import math
import socket
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import parse_qs, urlsplit

from occface_core.errors import UserError

from ..arkit import ARKIT_NAMES

SCHEMES = ("vmc", "vrchat", "raw")

DEFAULT_PORTS = MappingProxyType({"vmc": 39539, "vrchat": 9000, "raw": 9100})
"""39539: VMC renderer (marionette) port; 9000: VRChat's OSC input; 9100: this project's raw stream."""
VMC_NAME_SETS = ("arkit", "perfect_sync", "vrm")  # what vmc://…?names= may ask for

DEFAULT_RATES_HZ = MappingProxyType({"vmc": 60.0, "vrchat": 30.0, "raw": 60.0})
MAX_RATE_HZ = 1000.0

# Extra keys a VRChat name map may use besides the 52 ARKit names: head angles in degrees / 90.
VRCHAT_HEAD_KEYS = ("headPitch", "headYaw", "headRoll")

_OSC_RESERVED = frozenset(" #*,?[]{}")  # characters OSC address patterns reserve

_ALLOWED_QUERY = MappingProxyType({"vmc": frozenset({"rate", "names"}), "vrchat": frozenset({"rate", "map"}),
                                   "raw": frozenset({"rate"})})


class OscTargetError(UserError):
    """A target spec that cannot be used; the message is one line meant for the user."""


@dataclass(frozen=True)
class OscTarget:
    """One OSC destination. `address` is the resolved numeric IP the socket sends to."""

    scheme: str
    host: str
    port: int
    rate_hz: float
    address: str
    names: str = "arkit"                # vmc: arkit | perfect_sync (PascalCase clips) | vrm (VRM 0.x presets)
    name_map: dict[str, str] | None = field(default=None, compare=False)  # vrchat: ARKit -> parameter
    map_path: Path | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_osc_target(spec: str) -> OscTarget:
    """Parse and validate `spec`; raise `OscTargetError` with a one-line reason when it is unusable."""
    if not isinstance(spec, str) or "://" not in spec:
        raise OscTargetError(
            f"bad OSC target {spec!r}: expected SCHEME://HOST[:PORT][?options], e.g. vmc://127.0.0.1:39539")
    parts = urlsplit(spec.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise OscTargetError(f"bad OSC target {spec!r}: unknown scheme {parts.scheme!r} "
                             f"(use one of {', '.join(s + '://' for s in SCHEMES)})")
    if parts.path not in ("", "/") or parts.fragment or parts.username or parts.password:
        raise OscTargetError(f"bad OSC target {spec!r}: only SCHEME://HOST[:PORT][?options] is allowed")
    try:
        port = parts.port
    except ValueError:
        raise OscTargetError(f"bad OSC target {spec!r}: port must be a number from 1 to 65535") from None
    if port is None:
        port = DEFAULT_PORTS[scheme]
    if not 1 <= port <= 65535:
        raise OscTargetError(f"bad OSC target {spec!r}: port must be a number from 1 to 65535")
    host = parts.hostname or ""
    if not host:
        raise OscTargetError(f"bad OSC target {spec!r}: missing host (e.g. {scheme}://127.0.0.1)")

    options = _parse_query(spec, scheme, parts.query)
    rate = _parse_rate(spec, options.get("rate"), DEFAULT_RATES_HZ[scheme])
    names = options.get("names", "arkit").lower().replace("-", "_")
    if names not in VMC_NAME_SETS:
        raise OscTargetError(f"bad OSC target {spec!r}: names must be one of {', '.join(VMC_NAME_SETS)}")
    map_path = Path(options["map"]).expanduser() if "map" in options else None
    name_map = load_vrchat_name_map(map_path) if map_path is not None else None

    address = _resolve(spec, host, port)
    return OscTarget(scheme=scheme, host=host, port=port, rate_hz=rate, address=address,
                     names=names, name_map=name_map, map_path=map_path)


def default_vrchat_name_map() -> dict[str, str]:
    """ARKit name -> avatar parameter name; by default the parameter carries the ARKit name itself."""
    return {name: name for name in ARKIT_NAMES}


def load_vrchat_name_map(path: Path) -> dict[str, str]:
    """Read a user's JSON name map ``{"jawOpen": "JawOpen", "tongueOut": null, ...}``.

    Keys are ARKit names (or headPitch/headYaw/headRoll); a null value drops that parameter; names the
    file does not mention keep their default (the ARKit name).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OscTargetError(f"VRChat name map not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OscTargetError(f"VRChat name map {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise OscTargetError(f"VRChat name map {path} must be a JSON object of ARKit name -> parameter name")
    known = set(ARKIT_NAMES) | set(VRCHAT_HEAD_KEYS)
    mapping = default_vrchat_name_map()
    for key, value in data.items():
        if key not in known:
            raise OscTargetError(f"VRChat name map {path}: unknown key {key!r} (expected an ARKit name "
                                 f"or one of {', '.join(VRCHAT_HEAD_KEYS)})")
        if value is None:
            mapping.pop(key, None)
        elif isinstance(value, str) and value and not value.startswith("/") \
                and not any(c in _OSC_RESERVED for c in value):
            mapping[key] = value  # "/" inside is fine: face-tracking avatars use e.g. "FT/v2/JawOpen"
        else:
            raise OscTargetError(f"VRChat name map {path}: value for {key!r} must be a parameter name "
                                 f"(no leading '/', no spaces or any of #*,?[]{{}}), or null")
    return mapping


def _parse_query(spec: str, scheme: str, query: str) -> dict[str, str]:
    try:
        raw = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise OscTargetError(f"bad OSC target {spec!r}: malformed options {query!r}") from None
    options: dict[str, str] = {}
    for key, values in raw.items():
        if key not in _ALLOWED_QUERY[scheme]:
            allowed = ", ".join(sorted(_ALLOWED_QUERY[scheme]))
            raise OscTargetError(f"bad OSC target {spec!r}: unknown option {key!r} for {scheme}:// "
                                 f"(allowed: {allowed})")
        if len(values) != 1 or not values[0]:
            raise OscTargetError(f"bad OSC target {spec!r}: option {key!r} needs exactly one value")
        options[key] = values[0]
    return options


def _parse_rate(spec: str, text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        rate = float(text)
    except ValueError:
        rate = math.nan
    if not (0 < rate <= MAX_RATE_HZ):
        raise OscTargetError(f"bad OSC target {spec!r}: rate must be a number of Hz in (0, {MAX_RATE_HZ:g}]")
    return rate


def _resolve(spec: str, host: str, port: int) -> str:
    """Resolve once at start so a typo fails now and sends never block on DNS later."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise OscTargetError(f"bad OSC target {spec!r}: host {host!r} does not resolve ({exc})") from None
    # Prefer IPv4 (most avatar programs listen on 0.0.0.0 / 127.0.0.1 only).
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0])
