"""The typed OSC target: where one sender sends, in which form. It travels as this value from the
command line or the window's form to the sender; a spec string (``vmc://127.0.0.1:39540?rate=30``) is
only the command line's and the settings file's way of writing it (`retarget.osc.parse`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import quote

from occface_core.errors import UserError

# what vmc://…?names= may ask for: the names of the avatar's clips (retarget.osc.vmc), with the window's titles
VMC_NAME_SETS = MappingProxyType({"arkit": "ARKit (52 shapes)", "perfect_sync": "Perfect sync (52 clips)",
                                  "vrm": "VRM presets (Blink, A…O, Joy…)"})
MAX_RATE_HZ = 1000.0


class OscTargetError(UserError):
    """A target that cannot be used; the message is one line meant for the user."""


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
        return f"{self.scheme}://{bracketed(self.host)}:{self.port}"

    @property
    def spec(self) -> str:
        """The target written as a spec with its options (the settings file's and the window's form)."""
        spec = f"{self}?rate={self.rate_hz:g}"
        if self.names != "arkit":
            spec += f"&names={self.names}"
        if self.map_path is not None:
            spec += f"&map={quote(str(self.map_path), safe='/:~')}"
        return spec


def bracketed(host: str) -> str:
    """An IPv6 address in brackets, as a URL writes it."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
