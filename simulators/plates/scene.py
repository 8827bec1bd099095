"""Truck-front scenes as a barrier camera sees them, with the plate's box known.

Used to train the plate detector and by the camera simulator. Scenes: sky, road, gate poles
and barrier arm, a truck cab (windscreen, grille, bumper, lamps, painted lettering that is not
a plate), the plate on the bumper, seen under a perspective, by day or at night.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np

from simulators.plates.render import _font, available_latin_fonts, draw_plate
from simulators.plates.texts import PlateSpec, random_plate

CAB_COLOURS = [
    (235, 235, 235),
    (200, 30, 30),
    (30, 70, 170),
    (30, 120, 60),
    (230, 180, 30),
    (120, 120, 125),
    (40, 40, 45),
    (240, 120, 20),
    (180, 200, 210),
]


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # RGB uint8
    boxes: list[tuple[int, int, int, int]]  # plate boxes x1, y1, x2, y2
    specs: list[PlateSpec]


def _shade(colour: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(c * f, 0, 255)) for c in colour)  # type: ignore[return-value]


def _background(w: int, h: int, rng: random.Random) -> np.ndarray:
    img = np.zeros((h, w, 3), np.float32)
    horizon = int(h * rng.uniform(0.25, 0.55))
    sky_top = np.array([rng.randint(120, 200), rng.randint(150, 210), rng.randint(190, 250)])
    img[:horizon] = np.linspace(sky_top, sky_top * 0.8 + 40, horizon)[:, None, :]
    road = np.array([rng.randint(70, 130)] * 3) + rng.randint(-10, 10)
    img[horizon:] = np.linspace(road * 0.9, road * 1.1, h - horizon)[:, None, :]
    for _ in range(rng.randint(2, 7)):  # buildings, booths, signs
        x = rng.randint(-50, w)
        bw, bh = rng.randint(40, w // 3), rng.randint(30, horizon + 40)
        colour = [rng.randint(60, 230) for _ in range(3)]
        cv2.rectangle(img, (x, horizon - bh), (x + bw, horizon + 10), colour, -1)
    for _ in range(rng.randint(0, 3)):  # lane markings
        y = rng.randint(horizon, h)
        cv2.line(
            img,
            (rng.randint(0, w), y),
            (rng.randint(0, w), min(h - 1, y + 40)),
            (230, 230, 230),
            rng.randint(2, 8),
        )
    return img


def _barrier_parts(img: np.ndarray, rng: random.Random) -> None:
    h, w = img.shape[:2]
    x = rng.choice([rng.randint(0, w // 6), rng.randint(w * 5 // 6, w - 1)])
    cv2.rectangle(img, (x - 12, int(h * 0.35)), (x + 12, h), (200, 200, 50), -1)
    if rng.random() < 0.7:  # the barrier arm, red and white
        y = int(h * rng.uniform(0.3, 0.5))
        x2 = w - x
        n = 12
        for i in range(n):
            xa = x + (x2 - x) * i // n
            xb = x + (x2 - x) * (i + 1) // n
            cv2.line(img, (xa, y), (xb, y), (220, 30, 30) if i % 2 else (240, 240, 240), 10)


def _painted_text(img: np.ndarray, box: tuple[int, int, int, int], rng: random.Random) -> None:
    """Lettering on the cab that is not a plate (company names, 'VAN TAI', numbers)."""
    from PIL import Image, ImageDraw

    x1, y1, x2, y2 = box
    if x2 - x1 < 20 or y2 - y1 < 8:
        return
    words = [
        "VAN TAI",
        "HUU NGHI",
        "LOGISTICS",
        "HINO",
        "HOWO",
        "DONGFENG",
        "0912 345 678",
        "TRANSPORT",
        "CONTAINER",
        "FAW",
        "ISUZU",
        "THACO",
        "XE TAI",
    ]
    text = rng.choice(words)
    font = _font(rng.choice(available_latin_fonts()), max(8, (y2 - y1)))
    canvas = Image.fromarray(np.clip(img[y1:y2, x1:x2], 0, 255).astype(np.uint8))
    colour = tuple(rng.randint(0, 255) for _ in range(3))
    ImageDraw.Draw(canvas).text((2, -int((y2 - y1) * 0.15)), text, font=font, fill=colour)
    img[y1:y2, x1:x2] = np.asarray(canvas, np.float32)


def render_scene(
    rng: random.Random,
    size: tuple[int, int] = (1280, 720),
    spec: PlateSpec | None = None,
    night: bool | None = None,
) -> Scene:
    w, h = size
    img = _background(w, h, rng)
    _barrier_parts(img, rng)
    spec = spec or random_plate(rng)
    # the cab, drawn on its own layer then warped (the camera looks down and from the side)
    layer: np.ndarray = np.zeros((h, w, 3), np.float32)
    mask: np.ndarray = np.zeros((h, w), np.float32)
    cab_w = int(w * rng.uniform(0.42, 0.8))
    cab_h = int(cab_w * rng.uniform(0.75, 1.05))
    cx = w // 2 + rng.randint(-w // 8, w // 8)
    bottom = int(h * rng.uniform(0.92, 1.15))
    x1, x2 = cx - cab_w // 2, cx + cab_w // 2
    y1 = bottom - cab_h
    colour = rng.choice(CAB_COLOURS)
    cv2.rectangle(layer, (x1, y1), (x2, bottom), colour, -1)
    cv2.rectangle(mask, (x1, y1), (x2, bottom), 1.0, -1)
    ws_y2 = y1 + int(cab_h * rng.uniform(0.35, 0.45))
    cv2.rectangle(
        layer,
        (x1 + cab_w // 14, y1 + cab_h // 14),
        (x2 - cab_w // 14, ws_y2),
        _shade((60, 75, 90), rng.uniform(0.5, 1.3)),
        -1,
    )
    grille_y1 = ws_y2 + cab_h // 12
    grille_y2 = bottom - int(cab_h * rng.uniform(0.22, 0.3))
    gx1, gx2 = x1 + cab_w // 5, x2 - cab_w // 5
    cv2.rectangle(layer, (gx1, grille_y1), (gx2, grille_y2), _shade(colour, 0.45), -1)
    for y in range(grille_y1, grille_y2, max(4, cab_h // 40)):
        cv2.line(layer, (gx1, y), (gx2, y), _shade(colour, 0.25), max(1, cab_h // 120))
    bumper_y1 = grille_y2 + cab_h // 40
    cv2.rectangle(
        layer, (x1, bumper_y1), (x2, bottom), _shade((90, 90, 95), rng.uniform(0.5, 1.5)), -1
    )
    lamp_w, lamp_h = cab_w // 7, max(6, cab_h // 14)
    for lx in (x1 + cab_w // 20, x2 - cab_w // 20 - lamp_w):
        cv2.rectangle(
            layer, (lx, grille_y1), (lx + lamp_w, grille_y1 + lamp_h), (250, 250, 220), -1
        )
    if rng.random() < 0.7:
        _painted_text(
            layer, (x1 + cab_w // 6, ws_y2 + 2, x2 - cab_w // 6, ws_y2 + cab_h // 12), rng
        )
    # the plate, centred on the bumper (or a little aside)
    face = draw_plate(spec, rng, px_per_mm=2.0)
    ph_w = cab_w * (rng.uniform(0.2, 0.3) if not spec.two_line else rng.uniform(0.14, 0.2))
    ph_h = ph_w * face.shape[0] / face.shape[1]
    pcx = cx + rng.uniform(-0.15, 0.15) * cab_w
    pcy = (bumper_y1 + bottom) / 2 if not spec.two_line else (grille_y2 + bottom) / 2
    pcy = min(pcy, h - ph_h * 0.7)  # the plate's bottom edge stays in the frame
    quad = np.array(
        [
            [pcx - ph_w / 2, pcy - ph_h / 2],
            [pcx + ph_w / 2, pcy - ph_h / 2],
            [pcx + ph_w / 2, pcy + ph_h / 2],
            [pcx - ph_w / 2, pcy + ph_h / 2],
        ],
        np.float32,
    )
    src = np.array(
        [[0, 0], [face.shape[1], 0], [face.shape[1], face.shape[0]], [0, face.shape[0]]], np.float32
    )
    m = cv2.getPerspectiveTransform(src, quad)
    face_warp = cv2.warpPerspective(face, m, (w, h)).astype(np.float32)
    face_mask = cv2.warpPerspective(np.ones(face.shape[:2], np.float32), m, (w, h))
    layer = layer * (1 - face_mask[..., None]) + face_warp * face_mask[..., None]
    mask = np.maximum(mask, face_mask)
    # the camera's perspective on the cab and plate; a barrier camera is aimed so that the
    # whole plate is in the frame, so a view that would cut it off is drawn again
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    margin = max(4.0, ph_h * 0.15)
    view: np.ndarray = np.eye(3)
    for _ in range(8):
        j = rng.uniform(0.0, 0.12)
        dst = src + np.array(
            [[rng.uniform(-j, j) * w, rng.uniform(-j, j) * h] for _ in range(4)], np.float32
        )
        candidate = cv2.getPerspectiveTransform(src, dst)
        corners = cv2.perspectiveTransform(quad[None], candidate)[0]
        if (corners.min(axis=0) >= margin).all() and (
            corners.max(axis=0) <= (w - margin, h - margin)
        ).all():
            view = candidate
            break
    layer = cv2.warpPerspective(layer, view, (w, h))
    mask = cv2.warpPerspective(mask, view, (w, h))[..., None]
    img = img * (1 - mask) + layer * mask
    pts = cv2.perspectiveTransform(quad[None], view)[0]
    bx1, by1 = np.floor(pts.min(axis=0)).astype(int)
    bx2, by2 = np.ceil(pts.max(axis=0)).astype(int)
    box = (max(0, int(bx1)), max(0, int(by1)), min(w - 1, int(bx2)), min(h - 1, int(by2)))
    # light
    night = rng.random() < 0.2 if night is None else night
    nrng = np.random.default_rng(rng.randint(0, 2**31))
    if night:
        img = img * rng.uniform(0.2, 0.45)
        x1b, y1b, x2b, y2b = box
        glow: np.ndarray = np.zeros((h, w), np.float32)
        cv2.rectangle(glow, (x1b, y1b), (x2b, y2b), 1.0, -1)
        glow = cv2.GaussianBlur(glow, (0, 0), max(3.0, (x2b - x1b) / 4))[..., None]
        img = img + glow * 140  # IR illuminator on the plate
        img = img + nrng.normal(0, 9, img.shape)
    else:
        img = img * rng.uniform(0.7, 1.25) + rng.uniform(-25, 25)
        img = img + nrng.normal(0, 4, img.shape)
    img_u8: np.ndarray = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        img_u8 = cv2.GaussianBlur(img_u8, (3, 3), 0)
    return Scene(img_u8, [box], [spec])
