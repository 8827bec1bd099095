"""Yardstick: PP-OCRv4 recogniser (from the Apache-2.0 ``rapidocr-onnxruntime`` wheel) on the same
real crops as ``bench/anpr.py``, run through OpenVINO. Measurement only: the product never loads
it. One JSON line.

    pip download rapidocr-onnxruntime --no-deps -d /tmp/w && unzip /tmp/w/*.whl -d /tmp/w
    python bench/anpr_baseline.py /tmp/w/rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from edge_agent.anpr.images import load_image
from edge_agent.anpr.normaliser import normalise
from edge_agent.anpr.preprocess import is_two_line
from models.recipes.reader_data import ccpd_split, vn_items


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7


def character_list(onnx_path: Path) -> list[str]:
    """The dictionary PaddleOCR stores in the ONNX metadata entry ``character``."""
    data = onnx_path.read_bytes()
    key = b"\x0a\x09character\x12"
    at = data.find(key)
    if at < 0:
        raise SystemExit("no 'character' metadata in the model")
    length, start = _varint(data, at + len(key))
    return data[start : start + length].decode("utf-8").splitlines()


def main() -> int:
    import openvino as ov

    path = Path(sys.argv[1])
    chars = ["blank", *character_list(path), " "]
    compiled = ov.Core().compile_model(str(path), "CPU")
    request = compiled.create_infer_request()

    def read(rgb: np.ndarray) -> str:
        bgr = rgb[..., ::-1]
        h = bgr.shape[0]
        lines = [bgr]
        if is_two_line(rgb):  # PP-OCR reads lines: give it the two lines as one
            top, bottom = bgr[: int(h * 0.54)], bgr[int(h * 0.42) :]
            lines = [top, bottom]
        text = ""
        for line in lines:
            lh, lw = line.shape[:2]
            width = min(320, math.ceil(48 * lw / lh))
            img = cv2.resize(line, (width, 48)).astype(np.float32) / 255
            img = (img - 0.5) / 0.5
            x = np.zeros((1, 3, 48, 320), np.float32)
            x[0, :, :, :width] = img.transpose(2, 0, 1)
            probs = request.infer({0: x})[0][0]
            prev = 0
            for k in probs.argmax(axis=1):
                if k != prev and k != 0:
                    text += chars[k]
                prev = k
        raw = "".join(c for c in text.upper() if c.isalnum())
        plate = normalise(raw, 2 if len(lines) == 2 else 1)
        return plate.text if plate else raw

    result: dict[str, object] = {}
    for part in ("eval", "all"):
        items = ccpd_split(part)
        hits = sum(read(load_image(p)) == plate for p, plate in items)
        result[f"ccpd_{part}"] = round(hits / len(items), 4)
    one, two, times = [0, 0], [0, 0], []
    for p, label, _ in vn_items():
        image = load_image(p)
        truth = "".join(c for c in label.upper() if c.isalnum())
        started = time.perf_counter()
        got = read(image)
        times.append((time.perf_counter() - started) * 1000)
        bucket = two if is_two_line(image) else one
        bucket[0] += got == truth
        bucket[1] += 1
    result["vn_one_line_agreement"] = round(one[0] / one[1], 4)
    result["vn_two_line_agreement"] = round(two[0] / two[1], 4)
    result["ms_per_crop_p50"] = round(float(np.median(times)), 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
