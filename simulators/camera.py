"""A barrier camera for testers: an HTTP MJPEG stream of the scene a scenario asks for.

``show(plate)`` puts a truck with that plate in front of the camera (rendered once by
``simulators.plates.scene``; each frame then shakes and grains it a little, as video does),
``clear()`` empties the lane. Served as ``multipart/x-mixed-replace`` at ``/stream.mjpg``
(what IP cameras serve and OpenCV reads), plus ``/snapshot.jpg``; optionally also written to a
video file.
"""

from __future__ import annotations

import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np

from simulators.plates.scene import render_scene
from simulators.plates.texts import PlateSpec, spec_for

BOUNDARY = "cuakhauframe"


class CameraSimulator:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        fps: float = 15.0,
        size: tuple[int, int] = (1280, 720),
        seed: int = 3,
        video_path: str | None = None,
    ) -> None:
        self.fps = fps
        self.size = size
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._base = self._empty()
        self._jpeg = self._encode(self._base)
        self._frame_no = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self.current: PlateSpec | None = None
        self._writer: Any = None
        if video_path:
            fourcc = cv2.VideoWriter_fourcc(*"MJPG")  # type: ignore[attr-defined]
            self._writer = cv2.VideoWriter(video_path, fourcc, fps, size)
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/snapshot"):
                    data = outer.jpeg()
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if not self.path.startswith("/stream"):
                    self.send_error(404, "GET /stream.mjpg or /snapshot.jpg")
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                seen = -1
                try:
                    while not outer._stop.is_set():
                        seen, data = outer.wait_jpeg(seen)
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(data)}\r\n\r\n".encode()
                            + data
                            + b"\r\n"
                        )
                except (BrokenPipeError, ConnectionResetError):
                    return

        self.server = ThreadingHTTPServer((host, port), _Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://{host}:{self.port}/stream.mjpg"
        self._threads = [
            threading.Thread(target=self.server.serve_forever, daemon=True),
            threading.Thread(target=self._animate, daemon=True),
        ]

    # -- scenario control --------------------------------------------------------------------

    def show(
        self, plate: str | PlateSpec, *, two_line: bool = False, night: bool | None = None
    ) -> None:
        spec = plate if isinstance(plate, PlateSpec) else spec_for(plate, two_line=two_line)
        with self._lock:
            scene = render_scene(self._rng, self.size, spec=spec, night=night)
            self._base = scene.image
            self.current = spec

    def clear(self) -> None:
        with self._lock:
            self._base = self._empty()
            self.current = None

    def state(self) -> dict[str, object]:
        return {
            "url": self.url,
            "plate": self.current.text if self.current else None,
            "frames": self._frame_no,
        }

    # -- frames ------------------------------------------------------------------------------

    def _empty(self) -> np.ndarray:
        from simulators.plates.scene import _background

        image: np.ndarray = np.clip(_background(self.size[0], self.size[1], self._rng), 0, 255)
        return image.astype(np.uint8)

    @staticmethod
    def _encode(rgb: np.ndarray) -> bytes:
        ok, data = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
        return bytes(data) if ok else b""

    def _animate(self) -> None:
        period = 1.0 / self.fps
        nrng = np.random.default_rng(7)
        next_at = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                base = self._base
            dx, dy = (int(v) for v in nrng.integers(-2, 3, 2))
            frame = np.roll(base, (dy, dx), axis=(0, 1))
            noise = nrng.integers(0, 6, frame.shape[:2], dtype=np.uint8)[..., None]
            frame = cv2.add(frame, np.repeat(noise, 3, axis=2))
            data = self._encode(frame)
            if self._writer is not None:
                self._writer.write(frame[..., ::-1])
            with self._cond:
                self._jpeg = data
                self._frame_no += 1
                self._cond.notify_all()
            next_at += period
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def jpeg(self) -> bytes:
        with self._cond:
            return self._jpeg

    def wait_jpeg(self, seen: int) -> tuple[int, bytes]:
        with self._cond:
            while self._frame_no == seen and not self._stop.is_set():
                self._cond.wait(1.0)
            return self._frame_no, self._jpeg

    def start(self) -> CameraSimulator:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self.server.shutdown()
        self.server.server_close()
        if self._writer is not None:
            self._writer.release()
