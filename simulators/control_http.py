"""A tiny JSON-over-HTTP control port for simulators (for testers driving them by hand)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[dict[str, Any]], Any]


class ControlServer:
    """``GET /state`` and ``POST /<action>`` with a JSON body, each mapped to a callable."""

    def __init__(
        self, host: str, port: int, state: Callable[[], Any], actions: dict[str, Handler]
    ) -> None:
        outer = self

        class _Request(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/state":
                    self._reply(200, outer.state())
                else:
                    self._reply(404, {"error": f"no {self.path}; GET /state"})

            def do_POST(self) -> None:
                action = outer.actions.get(self.path.strip("/"))
                if action is None:
                    self._reply(404, {"error": f"unknown action; one of {sorted(outer.actions)}"})
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = json.loads(self.rfile.read(min(length, 65536)) or b"{}")
                    if not isinstance(body, dict):
                        raise ValueError("body must be a JSON object")
                    self._reply(200, {"ok": True, "result": action(body)})
                except (ValueError, TypeError, KeyError) as exc:
                    self._reply(400, {"error": str(exc)})

        self.state = state
        self.actions = actions
        self.server = ThreadingHTTPServer((host, port), _Request)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
