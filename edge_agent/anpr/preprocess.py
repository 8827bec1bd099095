"""Turning a plate crop into the reader's input (shared by training and the runtime).

Two-line plates (taller than ``TWO_LINE_RATIO`` of their width) are cut into their top and bottom
lines, which are put side by side: the reader always sees one line of 32 x 128 pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

HEIGHT, WIDTH = 32, 128
TWO_LINE_RATIO = 0.45
#: Top line: rows [0, TOP_END); bottom line: rows [BOTTOM_START, end) (fractions of the height).
TOP_END, BOTTOM_START = 0.54, 0.42


class ImageError(ValueError):
    """An image the ANPR cannot work with (empty, corrupt, wrong shape)."""


def check_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Accept HxW (gray), HxWx1, HxWx3 (RGB) or HxWx4 uint8 arrays; return HxWx3 RGB."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ImageError(f"{what} must be a uint8 array")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ImageError(f"{what} has shape {image.shape}; expected HxW, HxWx3 or HxWx4")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = image[..., :3]
    h, w = image.shape[:2]
    if h < 8 or w < 16:
        raise ImageError(f"{what} of {w}x{h} pixels is too small to hold a plate")
    if h > 10000 or w > 10000:
        raise ImageError(f"{what} of {w}x{h} pixels is larger than 10000 pixels a side")
    return image


#: Crops with a height/width ratio in this band may be either layout (a one-line plate seen
#: from above, or with the detector's margin, looks taller): they are read both ways.
AMBIGUOUS_RATIO = (0.36, 0.62)


def is_two_line(image: np.ndarray) -> bool:
    h, w = image.shape[:2]
    return bool(h / w > TWO_LINE_RATIO)


def is_ambiguous(image: np.ndarray) -> bool:
    h, w = image.shape[:2]
    return bool(AMBIGUOUS_RATIO[0] <= h / w <= AMBIGUOUS_RATIO[1])


def reader_line(rgb: np.ndarray, lines: int | None = None) -> tuple[np.ndarray, int]:
    """(32x128 uint8 gray line, number of plate lines) for one plate crop (RGB uint8); the
    layout follows the crop's shape unless ``lines`` says it."""
    two_line = is_two_line(rgb) if lines is None else lines == 2
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h = gray.shape[0]
    if two_line:
        top = gray[: max(1, int(h * TOP_END))]
        bottom = gray[int(h * BOTTOM_START) :]
        half = WIDTH // 2
        line = np.concatenate(
            [
                cv2.resize(top, (half, HEIGHT), interpolation=cv2.INTER_AREA),
                cv2.resize(bottom, (half, HEIGHT), interpolation=cv2.INTER_AREA),
            ],
            axis=1,
        )
        return line, 2
    return cv2.resize(gray, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA), 1


def standardise(lines: np.ndarray) -> np.ndarray:
    """N x 32 x 128 uint8 -> N x 1 x 32 x 128 float32, each image to zero mean, unit spread."""
    x = lines.astype(np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True)
    out: np.ndarray = ((x - mean) / (std + 8.0))[:, None]
    return out
