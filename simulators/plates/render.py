"""Rendering plates: layout by char cells, then the camera's view of them (perspective, blur,
glare, dirt, night/IR, JPEG).

Latin characters are set in the project's own stroke font (``stroke_font``, the narrow face of
real plates) or in a Debian font (``fonts-roboto-unhinted``, ``fonts-dejavu-core``,
``fonts-freefont-ttf``, ``fonts-liberation``, ``fonts-urw-base35``: condensed and narrow sans);
province characters in ``fonts-noto-cjk``. ``FontError`` says which to install.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from simulators.plates import stroke_font
from simulators.plates.texts import PlateSpec

STROKE = "stroke"  # font key of the project's own stroke font (simulators/plates/stroke_font)
#: How often a stroke-font plate draws each form of a glyph (``stroke_font.FORMS``): real plates
#: draw the ``4`` closed (many VN car plates) or open, and the ``1`` with a short or long flag.
FORM_SHARES: dict[str, dict[str, float]] = {
    "1": {"short-flag": 0.4, "long-flag": 0.6},
    "4": {"open": 0.2, "open-low": 0.2, "open-steep": 0.25, "closed": 0.35},
    "M": {"wide": 0.5, "narrow": 0.5},
}
#: Cell width of a ``1`` on plates that space it narrowly (a share of a digit's cell).
NARROW_ONE_CELL = 0.6

LATIN_FONTS = (
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Regular.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Light.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Medium.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Bold.ttf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Bold.otf",
)
#: How often a plate is set in the project's stroke font rather than a Debian font.
STROKE_SHARE = {"VN": 0.6, "CN": 0.35}
CJK_FONTS = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),  # index 2: SC
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2),
)

COLOURS = {  # background, text
    "white": ((232, 232, 226), (22, 22, 22)),
    "yellow": ((238, 196, 38), (20, 20, 20)),
    "blue": ((24, 66, 178), (240, 240, 240)),
    "green": ((120, 205, 130), (16, 16, 16)),
}
SIZES = {  # plate size in mm (w, h) by kind and line count
    ("vn", 1): (520, 110),
    ("vn", 2): (330, 165),
    ("vn-moto", 2): (190, 140),
    ("cn", 1): (440, 140),
    ("cn", 2): (440, 220),
    ("cn-green", 1): (480, 140),
}


class FontError(RuntimeError):
    pass


@cache
def _font(path: str, size: int, index: int = 0) -> ImageFont.FreeTypeFont:
    if not Path(path).exists():
        raise FontError(
            f"font {path} is missing: apt-get install fonts-roboto-unhinted fonts-dejavu-core "
            "fonts-freefont-ttf fonts-liberation fonts-urw-base35 fonts-noto-cjk"
        )
    return ImageFont.truetype(path, size, index=index)


def available_latin_fonts() -> list[str]:
    found = [f for f in LATIN_FONTS if Path(f).exists()]
    if not found:
        raise FontError("no plate font: apt-get install fonts-roboto-unhinted fonts-dejavu-core")
    return found


#: A font as the renderer keys it: path (or ``STROKE``), face index (the stroke weight's index
#: for ``STROKE``), and the stroke font's forms as (char, form) pairs.
FontKey = tuple[str, int, tuple[tuple[str, str], ...]]


def pick_forms(rng: random.Random) -> tuple[tuple[str, str], ...]:
    """One plate's forms of the stroke font's glyphs, by ``FORM_SHARES``."""
    return tuple(
        (char, rng.choices(list(shares), weights=list(shares.values()))[0])
        for char, shares in FORM_SHARES.items()
    )


@lru_cache(maxsize=4096)
def _glyph(char: str, font_key: FontKey) -> np.ndarray:
    """A tightly cropped glyph mask (uint8, 255 = ink)."""
    path, index, forms = font_key
    if path == STROKE:
        weight = stroke_font.WEIGHTS[index]
        return stroke_font.glyph_mask(char, weight, form=dict(forms).get(char))
    font = _font(path, 96, index)
    canvas = Image.new("L", (160, 160), 0)
    ImageDraw.Draw(canvas).text((20, 10), char, font=font, fill=255)
    mask = np.asarray(canvas)
    ys, xs = np.nonzero(mask > 40)
    if len(xs) == 0:
        return np.zeros((10, 10), np.uint8)
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy()


def _draw_line(
    plate: np.ndarray,
    line: str,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
    latin: FontKey,
    cjk: FontKey,
    rng: random.Random,
) -> None:
    x0, y0, x1, y1 = box
    # real faces give the 1 a narrower cell half the time: it then hugs its neighbours (59-M1)
    one = NARROW_ONE_CELL if rng.random() < 0.5 else 1.0
    weights = [0.45 if c in "-.·" else (one if c == "1" else 1.0) for c in line]
    unit = (x1 - x0) / sum(weights)
    condense = rng.uniform(0.75, 1.15)  # how narrow this plate's face is drawn
    x = float(x0)
    height = y1 - y0
    for char, w in zip(line, weights, strict=True):
        cell = unit * w
        if char == " ":
            x += cell
            continue
        font_key = cjk if ord(char) > 0x2E80 else latin
        glyph = _glyph("-" if char == "-" else char, font_key)
        if char in "-.·":
            gh = max(2, int(height * (0.1 if char == "-" else 0.12)))
            gw = max(2, int(cell * (0.6 if char == "-" else 0.35)))
            gy = y0 + (height // 2 - gh // 2 if char in "-·" else height - gh)
        else:
            gh = int(height * rng.uniform(0.9, 1.0))
            natural = glyph.shape[1] / max(1, glyph.shape[0]) * gh * condense
            gw = int(min(natural * rng.uniform(0.95, 1.05), cell * 0.94))
            gy = y0 + (height - gh) // 2
        if gw < 2 or gh < 2:
            x += cell
            continue
        g = cv2.resize(glyph, (gw, gh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        gx = int(x + (cell - gw) / 2)
        region = plate[gy : gy + gh, gx : gx + gw]
        g = g[: region.shape[0], : region.shape[1], None]
        region[:] = (region * (1 - g) + np.array(colour, np.float32) * g).astype(np.uint8)
        x += cell


def draw_plate(
    spec: PlateSpec, rng: random.Random, px_per_mm: float = 1.0, font: str | None = None
) -> np.ndarray:
    """The plate face, straight on, RGB uint8. ``font``: ``STROKE`` (the project's stroke
    font, its glyphs' forms picked by ``FORM_SHARES``) or a font file for the Latin characters;
    by default one is picked at random."""
    family = "vn" if spec.country == "VN" else "cn"
    key = (
        ("vn-moto", 2)
        if spec.kind == "vn-moto"
        else (("cn-green", 1) if spec.kind == "cn-green" else (family, len(spec.lines)))
    )
    w_mm, h_mm = SIZES[key]
    w, h = int(w_mm * px_per_mm), int(h_mm * px_per_mm)
    bg, fg = COLOURS[spec.colour]
    r0, g0, b0 = (int(np.clip(c + rng.randint(-18, 18), 0, 255)) for c in bg)
    bg = (r0, g0, b0)
    plate = np.empty((h, w, 3), np.uint8)
    plate[:] = bg
    if spec.colour == "green":  # new-energy plates fade from white to green
        ramp = np.linspace(0.25, 1.0, h, dtype=np.float32)[:, None, None]
        white = np.array([235, 245, 235], np.float32)
        plate[:] = (white * (1 - ramp) + np.array(bg, np.float32) * ramp).astype(np.uint8)
    border = max(2, int(h * 0.04))
    cv2.rectangle(
        plate, (border, border), (w - border - 1, h - border - 1), fg, max(1, border // 2)
    )
    latin = font or (
        STROKE if rng.random() < STROKE_SHARE[spec.country] else rng.choice(available_latin_fonts())
    )
    latin_key: FontKey = (
        (STROKE, rng.randrange(len(stroke_font.WEIGHTS)), pick_forms(rng))
        if latin == STROKE
        else (latin, 0, ())
    )
    found = next(((p, i) for p, i in CJK_FONTS if Path(p).exists()), None)
    if spec.country == "CN" and found is None:
        raise FontError("Chinese plates need fonts-noto-cjk (apt-get install fonts-noto-cjk)")
    cjk: FontKey = (*(found or ("", 0)), ())
    mx = int(w * rng.uniform(0.05, 0.08))
    if len(spec.lines) == 1:
        my = int(h * rng.uniform(0.13, 0.2))
        _draw_line(plate, spec.lines[0], (mx, my, w - mx, h - my), fg, latin_key, cjk, rng)
    else:
        split = rng.uniform(0.44, 0.5)
        my = int(h * 0.08)
        top_w = 0.6 if spec.kind != "vn-moto" else 0.8
        tx = int(w * (1 - top_w) / 2)
        _draw_line(
            plate,
            spec.lines[0],
            (tx, my, w - tx, int(h * split) - my // 2),
            fg,
            latin_key,
            cjk,
            rng,
        )
        _draw_line(
            plate,
            spec.lines[1],
            (mx, int(h * split) + my // 2, w - mx, h - my),
            fg,
            latin_key,
            cjk,
            rng,
        )
    if rng.random() < 0.5:  # bolts
        for bx in (int(w * 0.2), int(w * 0.8)):
            cv2.circle(
                plate, (bx, int(h * 0.08) + 2), max(2, h // 40), tuple(int(c * 0.6) for c in bg), -1
            )
    return plate


@dataclass(frozen=True)
class Look:
    """How rough the camera's view is (0 clean .. 1 hard)."""

    difficulty: float = 0.6
    night_share: float = 0.15
    #: Share of plates seen from far away: 48-72 px wide (the rest 72-320 px).
    small_share: float = 0.15


def _perspective(
    img: np.ndarray, rng: random.Random, amount: float, pad: float, surround: np.ndarray
) -> np.ndarray:
    h, w = img.shape[:2]
    px, py = int(w * pad), int(h * pad * 2.2)
    out_w, out_h = w + 2 * px, h + 2 * py
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    j = amount
    dst = np.array(
        [
            [px + rng.uniform(-j, j) * w, py + rng.uniform(-j, j) * h * 2],
            [px + w + rng.uniform(-j, j) * w, py + rng.uniform(-j, j) * h * 2],
            [px + w + rng.uniform(-j, j) * w, py + h + rng.uniform(-j, j) * h * 2],
            [px + rng.uniform(-j, j) * w, py + h + rng.uniform(-j, j) * h * 2],
        ],
        np.float32,
    )
    angle = np.deg2rad(rng.uniform(-5, 5))
    centre = dst.mean(axis=0)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    dst = (dst - centre) @ rot.T + centre
    matrix = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    background = cv2.resize(surround, (out_w, out_h))
    warped = cv2.warpPerspective(
        img, matrix, (out_w, out_h), borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0)
    )
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, (out_w, out_h))
    m = (mask.astype(np.float32) / 255)[..., None]
    return (warped * m + background * (1 - m)).astype(np.uint8)


def _surround(rng: random.Random) -> np.ndarray:
    base = np.array([rng.randint(0, 255) for _ in range(3)], np.uint8)
    if rng.random() < 0.5:
        base = (base * 0.3).astype(np.uint8)
    tile = np.empty((32, 32, 3), np.uint8)
    tile[:] = base
    noise = np.random.default_rng(rng.randint(0, 2**31)).integers(
        0, 40, (32, 32, 1), dtype=np.uint8
    )
    return cv2.add(tile, np.repeat(noise, 3, axis=2))


def camera_view(plate: np.ndarray, rng: random.Random, look: Look = Look()) -> np.ndarray:
    """The plate as a barrier camera crops it: RGB uint8 of varying size and quality."""
    d = look.difficulty
    nrng = np.random.default_rng(rng.randint(0, 2**31))
    img = plate.astype(np.float32)
    # dirt and shadow on the plate face
    if rng.random() < 0.5 * d + 0.1:
        h, w = img.shape[:2]
        for _ in range(rng.randint(1, 6)):
            cx, cy = rng.randint(0, w), rng.randint(0, h)
            r = rng.randint(max(2, h // 20), max(3, h // 4))
            blob: np.ndarray = np.zeros((h, w), np.float32)
            cv2.circle(blob, (cx, cy), r, 1.0, -1)
            blob = cv2.GaussianBlur(blob, (0, 0), r / 2 + 1)[..., None]
            img = img * (1 - 0.45 * d * blob) + np.array([70, 60, 45], np.float32) * 0.45 * d * blob
    if rng.random() < 0.4:
        h, w = img.shape[:2]
        ramp = np.linspace(rng.uniform(0.45, 1.0), rng.uniform(0.8, 1.1), w, dtype=np.float32)
        img = img * (ramp[None, :, None] if rng.random() < 0.5 else ramp[::-1][None, :, None])
    if rng.random() < 0.3 * d + 0.05:  # glare
        h, w = img.shape[:2]
        glare: np.ndarray = np.zeros((h, w), np.float32)
        cv2.ellipse(
            glare,
            (rng.randint(0, w), rng.randint(0, h)),
            (rng.randint(w // 10, w // 3), rng.randint(h // 6, h // 2)),
            rng.uniform(0, 180),
            0,
            360,
            1.0,
            -1,
        )
        glare = cv2.GaussianBlur(glare, (0, 0), max(2.0, w / 30))[..., None]
        img = img + glare * 255 * rng.uniform(0.2, 0.55) * d
    img = np.clip(img, 0, 255).astype(np.uint8)
    pad = rng.uniform(0.0, 0.12)
    img = _perspective(img, rng, 0.06 * d + 0.01, pad, _surround(rng))
    # resolution: plates seen from 48 to 320 px wide
    h, w = img.shape[:2]
    far = rng.random() >= 1.0 - look.small_share
    target_w = int(rng.uniform(48, 72) if far else rng.uniform(72, 320))
    scale = target_w / w
    small = cv2.resize(
        img, (max(8, int(w * scale)), max(6, int(h * scale))), interpolation=cv2.INTER_AREA
    )
    # blur in proportion to the plate's size: a 60 px plate blurred by 5 px is unreadable to
    # anyone, and such a render would only teach the reader to guess
    if rng.random() < 0.5 * d:
        k = rng.choice([3, 5]) if target_w >= 110 else 3
        small = cv2.GaussianBlur(small, (k, k), 0)
    if rng.random() < 0.25 * d:  # motion blur
        k = rng.randint(3, max(3, min(7, target_w // 40)))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        small = cv2.filter2D(small, -1, kernel)
    out: np.ndarray = small.astype(np.float32)
    if rng.random() < look.night_share:  # night / IR: monochrome, hard contrast, noise
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
        gray = np.clip((gray - gray.mean()) * rng.uniform(1.3, 2.2) + 110, 0, 255)
        out = np.repeat(gray[..., None], 3, axis=2)
        out += nrng.normal(0, 14 * d + 3, out.shape)
    else:
        out = out * rng.uniform(0.55, 1.3) + rng.uniform(-35, 35)
        gamma = rng.uniform(0.7, 1.4)
        out = 255 * (np.clip(out, 0, 255) / 255) ** gamma
        out += nrng.normal(0, 8 * d + 1, out.shape)
    out_u8: np.ndarray = np.clip(out, 0, 255).astype(np.uint8)
    quality = rng.randint(int(35 + 40 * (1 - d)), 95)
    ok, jpeg = cv2.imencode(".jpg", out_u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if ok:
        decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        if decoded is not None:
            out_u8 = decoded[..., ::-1]
    return np.ascontiguousarray(out_u8)


def _trim(plate: np.ndarray, rng: random.Random) -> np.ndarray:
    """Cut into the plate's margins and border (never its text), as a tight detector crop does."""
    h, w = plate.shape[:2]
    top, bottom = (int(h * rng.uniform(0.0, 0.06)) for _ in range(2))
    left, right = (int(w * rng.uniform(0.0, 0.045)) for _ in range(2))
    return plate[top : h - bottom, left : w - right]


def render_crop(
    spec: PlateSpec, rng: random.Random, look: Look = Look(), font: str | None = None
) -> np.ndarray:
    plate = draw_plate(spec, rng, px_per_mm=rng.uniform(0.5, 0.9), font=font)
    if rng.random() < 0.35:
        plate = _trim(plate, rng)
    return camera_view(plate, rng, look)
