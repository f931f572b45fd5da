"""A real HTTP server on 127.0.0.1 that plays a merchant's webhook receiver in tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """``statuses`` scripts the answers (then 200); ``delay_seconds`` slows every answer."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight_per_event: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            event_id = self.headers.get("Tongka-Event-Id", "")
            with receiver.lock:
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                receiver.in_flight[event_id] = receiver.in_flight.get(event_id, 0) + 1
                receiver.max_in_flight_per_event = max(
                    receiver.max_in_flight_per_event, receiver.in_flight[event_id]
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            time.sleep(receiver.delay_seconds)
            with receiver.lock:
                receiver.in_flight[event_id] -= 1
            answer = f"answer {status} ".encode() * 200
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the worker gave up waiting (timeout tests)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the workers open many connections at once
    daemon_threads = True


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = _Server(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
