"""Making and checking OSC targets: from the window's form fields (`make_osc_target`) or from a spec
such as ``vmc://127.0.0.1:39540?rate=30&names=perfect_sync`` (`parse_osc_target`, the command line).

Everything that can be wrong with a target is found here, at start-up, and reported as one
`OscTargetError` line, so the CLI can print it and exit non-zero before tracking begins.
"""
from __future__ import annotations

import math
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .schemes import SCHEMES
from .target import MAX_RATE_HZ, VMC_NAME_SETS, OscTarget, OscTargetError, bracketed
from .vrchat import load_vrchat_name_map


def parse_osc_target(spec: str) -> OscTarget:
    """Parse and check `spec`; raise `OscTargetError` with a one-line reason when it is unusable."""
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
    _check_address(spec, scheme, parts.hostname or "", port)
    options = _parse_query(spec, scheme, parts.query)
    rate = _parse_rate(spec, options["rate"]) if "rate" in options else None
    map_path = Path(options["map"]).expanduser() if "map" in options else None
    return make_osc_target(scheme, parts.hostname or "", port, rate, options.get("names", "arkit"), map_path,
                           spec=spec)


def make_osc_target(scheme: str, host: str, port: int | None = None, rate_hz: float | None = None,
                    names: str = "arkit", map_path: Path | None = None, spec: str | None = None) -> OscTarget:
    """The target for these fields (the scheme's default port and rate where None), checked and its host
    resolved; `spec` is what the user wrote, for the messages."""
    if scheme not in SCHEMES:
        raise OscTargetError(f"unknown OSC scheme {scheme!r}")
    defaults = SCHEMES[scheme]
    port = defaults.default_port if port is None else port
    spec = spec or f"{scheme}://{bracketed(host)}:{port}"
    _check_address(spec, scheme, host, port)
    rate = defaults.default_rate_hz if rate_hz is None else rate_hz
    if not (0 < rate <= MAX_RATE_HZ):
        raise OscTargetError(f"bad OSC target {spec!r}: rate must be a number of Hz in (0, {MAX_RATE_HZ:g}]")
    names = names.lower().replace("-", "_")
    if names not in VMC_NAME_SETS:
        raise OscTargetError(f"bad OSC target {spec!r}: names must be one of {', '.join(VMC_NAME_SETS)}")
    name_map = load_vrchat_name_map(map_path) if map_path is not None else None
    return OscTarget(scheme=scheme, host=host, port=port, rate_hz=rate, address=_resolve(spec, host, port),
                     names=names, name_map=name_map, map_path=map_path)


def _check_address(spec: str, scheme: str, host: str, port: int | None) -> None:
    if port is not None and not 1 <= port <= 65535:
        raise OscTargetError(f"bad OSC target {spec!r}: port must be a number from 1 to 65535")
    if not host:
        raise OscTargetError(f"bad OSC target {spec!r}: missing host (e.g. {scheme}://127.0.0.1)")


def _parse_query(spec: str, scheme: str, query: str) -> dict[str, str]:
    try:
        raw = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise OscTargetError(f"bad OSC target {spec!r}: malformed options {query!r}") from None
    options: dict[str, str] = {}
    allowed = SCHEMES[scheme].options
    for key, values in raw.items():
        if key not in allowed:
            raise OscTargetError(f"bad OSC target {spec!r}: unknown option {key!r} for {scheme}:// "
                                 f"(allowed: {', '.join(sorted(allowed))})")
        if len(values) != 1 or not values[0]:
            raise OscTargetError(f"bad OSC target {spec!r}: option {key!r} needs exactly one value")
        options[key] = values[0]
    return options


def _parse_rate(spec: str, text: str) -> float:
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
