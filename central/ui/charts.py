"""Charts drawn on the server as SVG (no browser-side framework): the gate picture's trucks
per hour and yard occupancy over the day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 220
LEFT = 40
BOTTOM = 24
TOP = 12


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    css: str


def _nice_max(value: float) -> float:
    if value <= 4:
        return 4
    step = 10 ** (len(str(int(value))) - 1)
    return float(((int(value) // step) + 1) * step)


def _axes(labels: Sequence[str], top: float, every: int) -> list[str]:
    plot_w = WIDTH - LEFT - 8
    plot_h = HEIGHT - BOTTOM - TOP
    parts = []
    for i in range(5):
        y = TOP + plot_h - plot_h * i / 4
        value = top * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" class="axis" text-anchor="end">{value:g}</text>'
        )
    slot = plot_w / max(1, len(labels))
    for i, label in enumerate(labels):
        if i % every == 0:
            x = LEFT + slot * i + slot / 2
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 6}" class="axis" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    return parts


def _svg(title: str, body: list[str], legend: Sequence[Series]) -> Markup:
    keys = "".join(
        f'<rect x="{LEFT + 130 * i}" y="0" width="10" height="10" class="{s.css}"/>'
        f'<text x="{LEFT + 14 + 130 * i}" y="9" class="axis">{escape(s.name)}</text>'
        for i, s in enumerate(legend)
    )
    return Markup(
        f'<svg viewBox="0 -4 {WIDTH} {HEIGHT + 4}" role="img" aria-label="{escape(title)}"'
        ' xmlns="http://www.w3.org/2000/svg"><style>'
        ".grid{stroke:#e1e6eb}.axis{font:11px sans-serif;fill:#5d6d7e}"
        ".opened{fill:#1e7b34}.held{fill:#b3261e}.byhand{fill:#c88a00}"
        ".line{fill:none;stroke:#0b5394;stroke-width:2}.cap{stroke:#b3261e;stroke-dasharray:5 4}"
        ".occ{fill:#0b5394}"
        f"</style>{keys}{''.join(body)}</svg>"
    )


def stacked_bars(title: str, labels: Sequence[str], series: Sequence[Series]) -> Markup:
    """Bars per label (hours), one segment per series, stacked."""
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w = WIDTH - LEFT - 8
    plot_h = HEIGHT - BOTTOM - TOP
    slot = plot_w / max(1, len(labels))
    body = _axes(labels, top, 3)
    for i in range(len(labels)):
        base = 0.0
        for s in series:
            v = s.values[i]
            if v <= 0:
                continue
            h = plot_h * v / top
            y = TOP + plot_h - plot_h * base / top - h
            body.append(
                f'<rect x="{LEFT + slot * i + 2:.1f}" y="{y:.1f}" width="{max(1, slot - 4):.1f}"'
                f' height="{h:.1f}" class="{s.css}"><title>{escape(labels[i])} {escape(s.name)}:'
                f" {v:g}</title></rect>"
            )
            base += v
    return _svg(title, body, series)


def step_line(
    title: str,
    labels: Sequence[str],
    points: Sequence[tuple[float, float]],
    capacity: float | None,
    names: tuple[str, str],
) -> Markup:
    """A step line over the day (x in hours 0..24, y a count), with a capacity line."""
    peak = max([y for _x, y in points] + [capacity or 0, 0])
    top = _nice_max(peak)
    plot_w = WIDTH - LEFT - 8
    plot_h = HEIGHT - BOTTOM - TOP
    body = _axes(labels, top, 3)

    def xy(x: float, y: float) -> str:
        return f"{LEFT + plot_w * x / 24:.1f},{TOP + plot_h - plot_h * y / top:.1f}"

    path: list[str] = []
    last_y = points[0][1] if points else 0.0
    for x, y in points:
        if path:
            path.append(xy(x, last_y))
        path.append(xy(x, y))
        last_y = y
    if path:
        body.append(f'<polyline points="{" ".join(path)}" class="line"/>')
    legend = [Series(names[0], [], "occ")]
    if capacity:
        y = TOP + plot_h - plot_h * capacity / top
        body.append(f'<line x1="{LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" class="cap"/>')
        legend.append(Series(names[1], [], "held"))
    return _svg(title, body, legend)
