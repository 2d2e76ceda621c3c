"""A recording OSC receiver on a real python-osc server, for the tests, the benchmark and debugging.

    with RecordingReceiver() as rx:              # ThreadingOSCUDPServer on 127.0.0.1, ephemeral port
        sender = create_sender(f"vmc://127.0.0.1:{rx.port}")
        ...
        for dgram in rx.wait_for(1):
            print([m.address for m in messages_of(dgram)])

It keeps every datagram in arrival order (so bundle boundaries and message order can be checked) and
also lets python-osc's dispatcher decode each message.
"""
from __future__ import annotations

import threading
import time

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_server import ThreadingOSCUDPServer


class RecordingReceiver(ThreadingOSCUDPServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.datagrams: list[bytes] = []
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
        with self._lock:
            self.datagrams.append(request[0])
        return super().verify_request(request, client_address)

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
