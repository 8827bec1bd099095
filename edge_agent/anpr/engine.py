"""The ANPR engine: OpenVINO detector + reader compiled once, frame or crop in, plates out."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_agent.anpr import ctc
from edge_agent.anpr.detector import INPUT_H, INPUT_W, decode, detector_input, letterbox
from edge_agent.anpr.normaliser import Plate, normalise
from edge_agent.anpr.preprocess import (
    TWO_LINE_RATIO,
    check_image,
    is_ambiguous,
    reader_line,
    standardise,
)
from edge_agent.anpr.region import Region
from edge_agent.anpr.second_look import looks, settle
from protocol.errors import UserError

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
READER_XML = "plate_reader.xml"
#: The reader quantized to INT8 (``models/recipes/quantize_reader.py``): its network runs 1.6
#: times as fast as the float one on a CPU with bf16, 3 to 3.6 times on one without (f32; an
#: AVX-512 and an AVX2 CPU measured), for an edge box whose CPU is slow or has no bf16
#: instructions (see ``models/README.md``).
READER_INT8_XML = "plate_reader.int8.xml"
#: What ``Anpr(precision=...)`` takes: which reader file it loads; or "auto": the float reader on
#: a CPU with bf16 instructions, else the INT8 one (the float one would run in f32 there, and
#: the INT8 reader reads as it does, in half the time or less; see ``models/README.md``).
READERS = {"float": READER_XML, "int8": READER_INT8_XML}
PRECISIONS = ("auto", *READERS)
#: How the INT8 reader is compiled: what it keeps in float (its first convolution) runs in f32,
#: as it was calibrated, not in the bf16 that OpenVINO picks on CPUs that have it (a tenth
#: faster here, and the same readings on every CPU).
INT8_CONFIG = {"INFERENCE_PRECISION_HINT": "f32"}
DETECTOR_XML = "plate_detector.xml"


#: The margin a crop gets around the detector's box (fractions of its width and height): a
#: one-line plate's box may clip its first or last character; a two-line plate's box already
#: holds the plate's frame, and more of the holder around it is misread as characters (on the
#: real VN frames, 60 % of the legible plates read exactly with this margin, 75 % without).
MARGIN = (0.08, 0.12)
MARGIN_TWO_LINE = (0.0, 0.0)
#: A reading at least this sure is not second-guessed (by reading the crop in the other layout,
#: or, unless the crop is small, by a second look at it, see ``second_look``).
SURE = 0.9
#: A crop narrower than this (a plate 15-25 m away, 4-8 px a character) is looked at again
#: however sure its reading: sure wrong readings gather there (on 2,000 renders of an unused
#: seed, 3 of the 3 readings at 0.95 or more that were wrong; none after the second look).
SMALL_CROP = 80


class ModelMissingError(UserError, FileNotFoundError):
    pass


@dataclass(frozen=True)
class PlateResult:
    raw: str  # what the reader output, before the normaliser
    plate: Plate | None  # None when it fits no known format
    lines: int
    #: the least sure character's probability; at most ``second_look.DISPUTED`` where its
    #: second looks (taken when it is unsure or its crop small) did not all read one plate
    confidence: float
    char_confidences: tuple[float, ...]
    bbox: tuple[int, int, int, int] | None = None
    detector_score: float | None = None
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)

    def as_json(self) -> dict[str, Any]:
        p = self.plate
        return {
            "text": p.text if p else self.raw,
            "display": p.display if p else None,
            "country": p.country if p else None,
            "valid": p is not None,
            "lines": self.lines,
            "confidence": round(self.confidence, 4),
            "bbox": list(self.bbox) if self.bbox else None,
        }


class Anpr:
    """Thread-safe; models compiled once at construction."""

    def __init__(
        self,
        models_dir: str | Path | None = None,
        *,
        threads: int | None = None,
        detector_threshold: float = 0.3,
        second_look: bool = True,
        precision: str = "float",
    ) -> None:
        import openvino as ov

        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: not one of {', '.join(READERS)}, auto")
        models_dir = Path(models_dir) if models_dir else MODELS_DIR
        core = ov.Core()
        if precision == "auto":  # INT8 where the float reader would run in f32: as exact, faster
            has_bf16 = "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
            int8_there = (models_dir / READER_INT8_XML).exists()
            precision = "float" if has_bf16 or not int8_there else "int8"
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        reader_xml = models_dir / READERS[precision]
        if not reader_xml.exists():
            how = (
                "python -m models.recipes.quantize_reader makes it"
                if precision == "int8"
                else "see models/README.md to train it"
            )
            raise ModelMissingError(f"{reader_xml} is missing ({how})")
        #: which reader runs: "float" (FP16 weights) or "int8" ("auto" has chosen by now)
        self.precision = precision
        self._reader = core.compile_model(
            core.read_model(reader_xml),
            "CPU",
            {**config, **INT8_CONFIG} if precision == "int8" else config,
        )
        detector_xml = models_dir / DETECTOR_XML
        self._detector = (
            core.compile_model(core.read_model(detector_xml), "CPU", config)
            if detector_xml.exists()
            else None
        )
        self.detector_threshold = detector_threshold
        #: read an unsure crop again a little tighter and tilted (``second_look``), in one batch
        self.second_look = second_look
        #: crops looked at again so far (a clear plate is read once)
        self.second_looks = 0
        self._lock = threading.Lock()
        self._reader_request = self._reader.create_infer_request()
        self._detector_request = self._detector.create_infer_request() if self._detector else None
        #: the detector's input (width, height): as its IR says, or where the IR leaves it open
        #: the size it was trained for
        self.detector_size = (INPUT_W, INPUT_H)
        if self._detector is not None and self._detector.input(0).get_partial_shape().is_static:
            shape = self._detector.input(0).shape
            self.detector_size = (int(shape[3]), int(shape[2]))

    @property
    def has_detector(self) -> bool:
        return self._detector is not None

    def read_crop(self, rgb: np.ndarray) -> PlateResult:
        """Read one plate from an image that is already the plate (RGB uint8)."""
        return self.read_crops([rgb])[0]

    def read_crops(self, crops: list[np.ndarray]) -> list[PlateResult]:
        if not crops:
            return []
        checked = [check_image(crop, "plate crop") for crop in crops]
        first = [reader_line(crop) for crop in checked]
        reads = [
            self._decode(logp, n)
            for logp, (_, n) in zip(self._infer([line for line, _ in first]), first, strict=True)
        ]
        # a crop whose shape fits either layout (a tilted one-line plate inside the detector's
        # margin is as tall as a two-line one) and was not read surely is read the other way too
        again = [
            k
            for k, crop in enumerate(checked)
            if is_ambiguous(crop) and (reads[k].plate is None or reads[k].confidence < SURE)
        ]
        if again:
            other = [reader_line(checked[k], 3 - first[k][1]) for k in again]
            for k, logp, (_, n) in zip(
                again, self._infer([x for x, _ in other]), other, strict=True
            ):
                read = self._decode(logp, n)
                if _better(read, reads[k]):
                    reads[k] = read
        if self.second_look:
            self._look_again(checked, reads)
        return reads

    def _look_again(self, crops: list[np.ndarray], reads: list[PlateResult]) -> None:
        """Replace each unsure reading, and each of a small crop, by the one its second looks
        agree on (in place), only ``DISPUTED`` sure at most where they do not all agree (see
        ``settle``)."""
        unsure = [
            k
            for k, r in enumerate(reads)
            if r.plate is None or r.confidence < SURE or crops[k].shape[1] < SMALL_CROP
        ]
        if not unsure:
            return
        with self._lock:
            self.second_looks += len(unsure)
        # every view of a checked crop is itself a crop the reader accepts (see LOOKS)
        owners, lines = [], []
        for k in unsure:
            for view in looks(crops[k]):
                owners.append(k)
                lines.append(reader_line(view, reads[k].lines)[0])
        again: dict[int, list[PlateResult]] = {k: [reads[k]] for k in unsure}
        for k, logp in zip(owners, self._infer(lines), strict=True):
            again[k].append(self._decode(logp, reads[k].lines))
        for k, group in again.items():
            pick, confidence = settle(
                [(r.plate.text if r.plate else None, r.confidence) for r in group]
            )
            reads[k] = replace(group[pick], confidence=confidence)

    def _infer(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        x = standardise(np.stack(lines))
        with self._lock:
            logp = self._reader_request.infer({0: x})[0]
        return [np.asarray(logp[i]) for i in range(len(lines))]

    @staticmethod
    def _decode(logp: np.ndarray, lines: int) -> PlateResult:
        """The greedy reading; a lookalike the format swaps becomes the reader's own next-best
        of the kind the format needs (as sure as its share among that kind); when the reading
        fits no plate format, the likeliest reading that does (its confidence is then its share
        of the alternatives, never more)."""
        raw, confs = ctc.greedy(logp)
        plate = normalise(raw, lines)
        # the format swapped a lookalike, or read a motorbike series as two letters (rare: the
        # normaliser weighs it against the reader's odds): the reader says which one it saw
        if plate is not None and (plate.fixed or _two_letter_moto_series(plate)):
            alt = ctc.alternatives(logp)
            plate = (
                normalise(
                    raw,
                    lines,
                    as_digit=alt.as_digit,
                    as_letter=alt.as_letter,
                    digit_odds=alt.digit_odds,
                )
                or plate
            )
            if len(plate.text) == len(confs):
                confs = [
                    c if new == old else _swapped_confidence(new, i, alt)
                    for i, (c, new, old) in enumerate(zip(confs, plate.text, raw, strict=True))
                ]
        if plate is None and raw:
            for text, share in ctc.candidates(logp)[1:]:
                alternative = normalise(text, lines)
                if alternative is not None:
                    return PlateResult(
                        raw=text,
                        plate=alternative,
                        lines=lines,
                        confidence=share,
                        char_confidences=tuple(round(share, 4) for _ in text),
                    )
        return PlateResult(
            raw=raw,
            plate=plate,
            lines=lines,
            confidence=min(confs) if confs else 0.0,
            char_confidences=tuple(round(c, 4) for c in confs),
        )

    def detect(self, frame: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
        if self._detector_request is None:
            raise ModelMissingError("no plate detector in the models folder")
        frame = check_image(frame, "frame")
        boxed, scale, pad = letterbox(frame, self.detector_size)
        with self._lock:
            output = self._detector_request.infer({0: detector_input(boxed[None])})[0]
        h, w = frame.shape[:2]
        return [
            (d.box, d.score)
            for d in decode(np.asarray(output[0]), scale, pad, w, h, self.detector_threshold)
        ]

    def detect_in(
        self, frame: np.ndarray, region: Region | tuple[int, int, int, int] | None
    ) -> list[tuple[tuple[int, int, int, int], float]]:
        """``detect`` over ``region`` of the frame only (None: the whole frame; a tuple: the
        rectangle x1, y1, x2, y2), boxes in the frame's coordinates."""
        if region is None:
            return self.detect(frame)
        if not isinstance(region, Region):
            region = Region.rectangle(*region)
        part, (x1, y1) = region.cut(check_image(frame, "frame"))
        found = [
            ((bx1 + x1, by1 + y1, bx2 + x1, by2 + y1), score)
            for (bx1, by1, bx2, by2), score in self.detect(part)
        ]
        return [(box, score) for box, score in found if region.holds(box)]

    def read_frame(
        self,
        frame: np.ndarray,
        keep_crops: bool = False,
        region: Region | tuple[int, int, int, int] | None = None,
    ) -> list[PlateResult]:
        """Find and read every plate in a full camera frame (RGB uint8).

        ``region`` (a ``Region``, or x1, y1, x2, y2 in frame pixels): the detector looks only
        there, at up to its full resolution (twice the scale of a whole 1280x720 frame), so a
        plate small in the whole frame is large in the region;
        boxes come back in frame coordinates and crops are cut from the full frame."""
        frame = check_image(frame, "frame")
        found = self.detect_in(frame, region)
        crops, boxes = [], []
        h, w = frame.shape[:2]
        for (x1, y1, x2, y2), score in found:
            fx, fy = MARGIN_TWO_LINE if (y2 - y1) > TWO_LINE_RATIO * (x2 - x1) else MARGIN
            mx, my = int((x2 - x1) * fx), int((y2 - y1) * fy)
            box = (max(0, x1 - mx), max(0, y1 - my), min(w, x2 + mx), min(h, y2 + my))
            crop = frame[box[1] : box[3], box[0] : box[2]]
            if crop.shape[0] >= 8 and crop.shape[1] >= 16:
                crops.append(crop)
                boxes.append((box, score))
        results = [
            replace(r, bbox=box, detector_score=round(score, 4), crop=crop if keep_crops else None)
            for r, crop, (box, score) in zip(self.read_crops(crops), crops, boxes, strict=True)
        ]
        return results


def _two_letter_moto_series(plate: Plate) -> bool:
    return plate.kind == "vn-moto" and plate.text[3].isalpha()


def _swapped_confidence(chosen: str, i: int, alt: ctc.Alternatives) -> float:
    """How sure a character the format swapped in is: the reader's share for it among the
    characters of its kind, 0 where the table, not the reader, chose it."""
    if chosen.isdigit():
        return alt.digit_share[i] if chosen == alt.as_digit[i] else 0.0
    return alt.letter_share[i] if chosen == alt.as_letter[i] else 0.0


def _better(a: PlateResult, b: PlateResult) -> bool:
    """Whether reading ``a`` beats ``b`` of the same crop: a valid plate first, then the surer."""
    return (a.plate is not None, a.confidence) > (b.plate is not None, b.confidence)


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode JPEG")
    return bytes(data)
