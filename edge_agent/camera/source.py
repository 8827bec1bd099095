"""A camera as a stream of timestamped frames, always the newest.

A thread reads the source (OpenCV ``VideoCapture`` for RTSP, HTTP MJPEG and video files; a
folder of images in name order) and keeps only the latest frame: a slow consumer skips frames
instead of falling behind. When the source fails it reconnects with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger("cuakhau.agent.camera")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # RGB uint8
    at: float  # time.monotonic() when it arrived
    index: int


class FrameSource:
    def __init__(
        self,
        url: str,
        *,
        fps_limit: float = 0.0,
        reconnect_max_s: float = 5.0,
        loop_files: bool = False,
    ) -> None:
        self.url = url
        self.fps_limit = fps_limit
        self.reconnect_max_s = reconnect_max_s
        self.loop_files = loop_files
        self.connected = False
        self.frames = 0
        self.dropped = 0
        self.failures = 0
        self._latest: Frame | None = None
        self._taken = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> FrameSource:
        self._thread = threading.Thread(target=self._run, name="camera", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def latest(self) -> Frame | None:
        with self._cond:
            return self._latest

    def next_frame(self, after_index: int, timeout: float) -> Frame | None:
        """The newest frame with an index above ``after_index``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._latest is None or self._latest.index <= after_index:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            self._taken = self._latest.index
            return self._latest

    def _publish(self, image: np.ndarray) -> None:
        with self._cond:
            if self._latest is not None and self._taken < self._latest.index:
                self.dropped += 1  # replaced before anyone took it: a slow reader skips frames
            self.frames += 1
            self._latest = Frame(image, time.monotonic(), self.frames)
            self._cond.notify_all()

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                delivered = self._read_folder() if Path(self.url).is_dir() else self._read_capture()
            except Exception as exc:  # OpenCV raises cv2.error and friends; keep trying
                log.warning("camera %s failed: %s", self.url, exc)
                delivered = False
            self.connected = False
            if self._stop.is_set():
                return
            if not delivered:
                self.failures += 1
                if self.failures == 1 or self.failures % 20 == 0:
                    log.warning("camera %s unavailable (try %d); retrying", self.url, self.failures)
                self._stop.wait(backoff)
                backoff = min(self.reconnect_max_s, backoff * 2)
            else:
                backoff = 0.2

    def _pace(self, last: float) -> float:
        if self.fps_limit > 0:
            wait = 1.0 / self.fps_limit - (time.monotonic() - last)
            if wait > 0:
                self._stop.wait(wait)
        return time.monotonic()

    def _read_capture(self) -> bool:
        capture = cv2.VideoCapture(self.url)
        if not capture.isOpened():
            return False
        delivered = False
        last = 0.0
        try:
            while not self._stop.is_set():
                ok, bgr = capture.read()
                if not ok or bgr is None:
                    if self.loop_files and delivered and not self.url.startswith(("rtsp", "http")):
                        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                        continue
                    return delivered
                self.connected = True
                delivered = True
                self._publish(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                last = self._pace(last)
        finally:
            capture.release()
        return delivered

    def _read_folder(self) -> bool:
        files = sorted(p for p in Path(self.url).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        delivered = False
        last = 0.0
        while not self._stop.is_set():
            for path in files:
                if self._stop.is_set():
                    return delivered
                bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if bgr is None:
                    log.warning("camera folder: %s is not an image", path)
                    continue
                self.connected = True
                delivered = True
                self._publish(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                last = self._pace(last or time.monotonic())
            if not self.loop_files:
                self._stop.wait()
        return delivered
