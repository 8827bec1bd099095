"""Where in a fixed camera's frame the detector looks: a lane's rectangle, or a polygon where
the lane is not square to the camera (its bounding rectangle is cut out, what lies outside the
polygon blanked, and a plate whose centre is outside it dropped: the next lane's trucks stay
the next lane's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]
Point = tuple[int, int]
#: the smallest part of a frame worth a detector pass
MIN_W, MIN_H = 32, 16


@dataclass(frozen=True)
class Region:
    box: Box  # x1, y1, x2, y2 in frame pixels
    polygon: tuple[Point, ...] | None = None  # its corners, in frame pixels, in order

    @classmethod
    def rectangle(cls, x1: int, y1: int, x2: int, y2: int) -> Region:
        if x2 - x1 < MIN_W or y2 - y1 < MIN_H:
            raise ValueError(
                f"region {x1},{y1},{x2},{y2}: x1, y1, x2, y2 with x2 - x1 >= {MIN_W},"
                f" y2 - y1 >= {MIN_H}"
            )
        return cls((x1, y1, x2, y2))

    @classmethod
    def of_polygon(cls, points: Sequence[Sequence[int]]) -> Region:
        if len(points) < 3 or any(len(p) != 2 for p in points):
            raise ValueError("region polygon: at least 3 corners, each x, y")
        corners = tuple((int(p[0]), int(p[1])) for p in points)
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        box = (min(xs), min(ys), max(xs), max(ys))
        area = abs(cv2.contourArea(np.array(corners, np.float32)))
        if box[2] - box[0] < MIN_W or box[3] - box[1] < MIN_H or area < MIN_W * MIN_H:
            raise ValueError(f"region polygon {list(corners)}: it encloses less than 32x16 pixels")
        return cls(box, corners)

    def cut(self, frame: np.ndarray) -> tuple[np.ndarray, Point]:
        """The part of ``frame`` to look at (outside the polygon black) and its top-left corner."""
        h, w = frame.shape[:2]
        x1, y1 = max(0, min(w, self.box[0])), max(0, min(h, self.box[1]))
        x2, y2 = max(x1, min(w, self.box[2])), max(y1, min(h, self.box[3]))
        if x2 - x1 < MIN_W or y2 - y1 < MIN_H:
            raise ValueError(f"region {self.box} leaves less than 32x16 of a {w}x{h} frame")
        part = frame[y1:y2, x1:x2].copy()  # the caller's frame stays as it is
        if self.polygon is not None:
            mask = np.zeros(part.shape[:2], np.uint8)
            corners = np.array([(x - x1, y - y1) for x, y in self.polygon], np.int32)
            cv2.fillPoly(mask, [corners], 255)
            part[mask == 0] = 0
        return part, (x1, y1)

    def holds(self, box: Box) -> bool:
        """Whether a plate's box has its centre inside the region."""
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        if self.polygon is None:
            return self.box[0] <= cx <= self.box[2] and self.box[1] <= cy <= self.box[3]
        return cv2.pointPolygonTest(np.array(self.polygon, np.float32), (cx, cy), False) >= 0

    def draw(self, image: np.ndarray, colour: tuple[int, int, int], thickness: int) -> None:
        """The region's outline on ``image`` (in place)."""
        if self.polygon is None:
            cv2.rectangle(image, self.box[:2], self.box[2:], colour, thickness)
        else:
            cv2.polylines(image, [np.array(self.polygon, np.int32)], True, colour, thickness)
