"""Images from outside: garbage gives a clear ImageError, never a crash."""

from __future__ import annotations

import contextlib
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from edge_agent.anpr.images import decode_image
from edge_agent.anpr.preprocess import ImageError, check_image, reader_line


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_good_jpeg_decodes_to_rgb() -> None:
    bgr = np.zeros((40, 120, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR
    _ok, data = cv2.imencode(".jpg", bgr)
    rgb = decode_image(bytes(data))
    assert rgb.shape == (40, 120, 3) and rgb[20, 60, 0] > 200 and rgb[20, 60, 2] < 50


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xff\xd8\xff\xe0garbage" * 10, "not an image"),
        (b"GIF89a", "not an image"),
        (png(np.zeros((1, 1, 3), np.uint8)), "too small"),
        (png(np.zeros((4, 4), np.uint8)), "too small"),
    ],
)
def test_garbage_images_give_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        decode_image(data)


def test_a_truncated_jpeg_is_refused_or_read_never_a_crash() -> None:
    _ok, data = cv2.imencode(".jpg", np.full((200, 400, 3), 128, np.uint8))
    cut = bytes(data)[: len(data) // 3]
    with contextlib.suppress(ImageError):
        decode_image(cut)


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    huge = Image.new("L", (9000, 9000))
    buffer = io.BytesIO()
    huge.save(buffer, format="PNG", optimize=False)
    with pytest.raises(ImageError, match="limit"):
        decode_image(buffer.getvalue())


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((40, 120), np.float32),
        np.zeros((40, 120, 2), np.uint8),
        np.zeros((40, 120, 3, 1), np.uint8),
        np.zeros((12000, 20, 3), np.uint8),
    ],
)
def test_arrays_of_the_wrong_type_or_shape_are_refused(array: np.ndarray) -> None:
    with pytest.raises(ImageError):
        check_image(array)


def test_gray_and_rgba_crops_are_accepted() -> None:
    assert check_image(np.zeros((30, 100), np.uint8)).shape == (30, 100, 3)
    assert check_image(np.zeros((30, 100, 4), np.uint8)).shape == (30, 100, 3)


def test_two_line_plates_are_cut_and_put_side_by_side() -> None:
    plate = np.full((100, 140, 3), 255, np.uint8)
    plate[10:40, 40:100] = 0  # top line ink
    plate[60:90, 10:130] = 0  # bottom line ink
    line, lines = reader_line(plate)
    assert lines == 2 and line.shape == (32, 128)
    assert line[:, :64].mean() > line[:, 64:].mean()  # the top line has less ink
    assert reader_line(np.full((30, 140, 3), 255, np.uint8))[1] == 1
