"""A recording OSC receiver on a real python-osc server, for the tests, the benchmark and debugging.

    with RecordingReceiver() as rx:              # ThreadingOSCUDPServer on 127.0.0.1, ephemeral port
        sender = create_sender(f"vmc://127.0.0.1:{rx.port}")
        ...
        for dgram in rx.wait_for(1):
            print([m.address for m in messages_of(dgram)])

It keeps every datagram in arrival order in `raw_datagrams` (so sizes, bundle boundaries and message
order can be checked) and lets python-osc's dispatcher decode each message. `datagrams` holds one entry
per sent frame: a VMC or raw frame comes as several bundles (none over 1,200 bytes), which are joined
there into one bundle, ending with the one that carries /VMC/Ext/T (VMC) or /occface/blend (raw); VRChat's
plain messages are kept as they came.
"""
from __future__ import annotations

import threading
import time

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_server import ThreadingOSCUDPServer


FRAME_END = ("/VMC/Ext/T", "/occface/blend")   # the last message of a VMC / raw frame


class RecordingReceiver(ThreadingOSCUDPServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.datagrams: list[bytes] = []       # one per frame (VMC bundles of a frame joined)
        self.raw_datagrams: list[bytes] = []   # exactly as they arrived
        self._pending_frame: list[bytes] = []    # messages of the bundled frame being received
        self.dispatched: list[tuple[str, tuple]] = []
        self._lock = threading.Lock()
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._on_message)
        super().__init__((host, port), dispatcher)
        self.port = int(self.server_address[1])
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True, name="osc-receiver")
        self._thread.start()

    def verify_request(self, request, client_address):  # serving thread, in arrival order
        dgram = request[0]
        with self._lock:
            self.raw_datagrams.append(dgram)
            frame = self._frame_of(dgram)
            if frame is not None:
                self.datagrams.append(frame)
        return super().verify_request(request, client_address)

    def _frame_of(self, dgram: bytes) -> bytes | None:
        """The datagram itself, or for a bundled stream the frame's messages in one bundle once its last part arrived."""
        if not OscBundle.dgram_is_bundle(dgram):
            return dgram
        messages = [content.dgram for content in OscBundle(dgram)]
        self._pending_frame.extend(messages)
        if not any(OscMessage(m).address in FRAME_END for m in messages):
            return None
        parts, self._pending_frame = self._pending_frame, []
        return b"#bundle\0" + b"\0" * 7 + b"\1" + b"".join(len(m).to_bytes(4, "big") + m for m in parts)

    def _on_message(self, address, *args):
        with self._lock:
            self.dispatched.append((address, args))

    def wait_for(self, n: int, timeout: float = 2.0, settle: float = 0.05) -> list[bytes]:
        """The datagrams so far once at least `n` arrived (or `timeout` passed), after `settle` seconds
        more so that extra, unexpected datagrams show up too."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.datagrams) >= n:
                    break
            time.sleep(0.005)
        time.sleep(settle)
        with self._lock:
            return list(self.datagrams)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> "RecordingReceiver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def messages_of(dgram: bytes) -> list[OscMessage]:
    """The messages of a datagram in order, bundles flattened."""
    if OscBundle.dgram_is_bundle(dgram):
        out: list[OscMessage] = []
        for content in OscBundle(dgram):
            out.extend(messages_of(content.dgram) if isinstance(content, OscBundle) else [content])
        return out
    return [OscMessage(dgram)]
