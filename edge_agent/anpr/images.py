"""Loading images from outside (files, bytes) with clear errors instead of crashes."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from edge_agent.anpr.preprocess import ImageError, check_image

MAX_PIXELS = 40_000_000
MAX_BYTES = 64 * 1024 * 1024


def decode_image(data: bytes, what: str = "image") -> np.ndarray:
    """JPEG/PNG/... bytes -> RGB uint8; ImageError for anything that is not a usable picture."""
    if not data:
        raise ImageError(f"{what} is empty")
    if len(data) > MAX_BYTES:
        raise ImageError(f"{what} is {len(data)} bytes; the limit is {MAX_BYTES}")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            w, h = probe.size
    except Exception:  # PIL raises many types for garbage; all mean the same here
        raise ImageError(f"{what} is not an image PIL or OpenCV can decode") from None
    if w * h > MAX_PIXELS:
        raise ImageError(f"{what} is {w}x{h} pixels; the limit is {MAX_PIXELS} pixels")
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ImageError(f"{what} is corrupt (OpenCV could not decode it)")
    if array.dtype != np.uint8:
        array = cv2.convertScaleAbs(array, alpha=255.0 / max(1.0, float(array.max())))
    if array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGB)
    elif array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    return check_image(array, what)


def load_image(path: str | Path) -> np.ndarray:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: {exc.strerror or exc}") from None
    return decode_image(data, str(path))
