"""Charts as server-rendered SVG: the geometry here (pure), the drawing in templates/_charts.html.

No JavaScript and no library: a chart is a handful of rectangles or a polyline with its axis
labels, readable in print (each series has a pattern as well as a colour, and every bar or point
carries its value in a <title>), labelled in the reader's language by the caller, which passes
the words and a function that writes a value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import ceil, log10

# Colour, and a dash pattern for print: series tell apart without colour too.
PALETTE = (("#1f5fbf", ""), ("#1e7b34", "4 2"), ("#b3261e", "1 2"), ("#a15c00", "6 3"))


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def nice_top(largest: float) -> float:
    """The axis top: 1, 2, 2.5 or 5 times a power of ten, at or above ``largest`` (1 for nothing)."""
    if largest <= 0:
        return 1.0
    power = 10 ** int(log10(largest) // 1)
    for step in (1, 2, 2.5, 5, 10):
        if largest <= step * power:
            return step * power
    return 10 * power  # pragma: no cover  (the loop ends at 10 * power >= largest)


def tick_count(top: float) -> int:
    """Gridlines at round steps: a top of 1 or 5 (times a power of ten) in fifths, 2 in quarters,
    2.5 in fifths (0.5 each)."""
    lead = top / 10 ** int(log10(top) // 1)
    return 4 if abs(lead - 2) < 1e-9 else 5


def _ticks(top: float, y: Callable[[float], float], write: Callable[[float], str]) -> list[dict]:
    count = tick_count(top)
    return [{"y": y(top * i / count), "label": write(top * i / count)} for i in range(count + 1)]


def bar_chart(
    groups: Sequence[str],
    series: Sequence[Series],
    write: Callable[[float], str],
    *,
    width: int = 720,
    height: int = 260,
    axis: Callable[[float], str] | None = None,
) -> dict:
    """Grouped bars: one group per label (a month), one bar per series in each group. `write`
    words a bar's value (its title); `axis` the gridlines' (default: `write`)."""
    left, right, top, bottom = 72, 16, 12, 40
    inner_w, inner_h = width - left - right, height - top - bottom
    largest = max((v for s in series for v in s.values if v is not None), default=0)
    axis_top = nice_top(largest)

    def y(value: float) -> float:
        return round(top + inner_h * (1 - value / axis_top), 1)

    slot = inner_w / max(len(groups), 1)
    bar_w = max(round(slot * 0.8 / max(len(series), 1), 1), 1.0)
    bars = []
    for g, group in enumerate(groups):
        for s, one in enumerate(series):
            value = one.values[g] if g < len(one.values) else None
            if value is None:
                continue
            x = round(left + g * slot + slot * 0.1 + s * bar_w, 1)
            bars.append({"x": x, "y": y(max(value, 0)), "w": bar_w, "h": round(y(0) - y(max(value, 0)), 1),
                         "series": s, "title": f"{group} · {one.name}: {write(value)}"})
    every = max(1, ceil(len(groups) / 12))
    labels = [{"x": round(left + (g + 0.5) * slot, 1), "label": group}
              for g, group in enumerate(groups) if g % every == 0]
    return {
        "width": width, "height": height, "left": left, "right": width - right, "top": top,
        "bottom": height - bottom, "bars": bars, "ticks": _ticks(axis_top, y, axis or write), "labels": labels,
        "legend": [{"name": s.name, "color": PALETTE[i % len(PALETTE)][0], "dash": PALETTE[i % len(PALETTE)][1]}
                   for i, s in enumerate(series)],
    }


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    write: Callable[[float], str],
    *,
    width: int = 720,
    height: int = 240,
) -> dict:
    """Lines over time: one point per label, a gap where a value is None."""
    left, right, top, bottom = 64, 32, 12, 40
    inner_w, inner_h = width - left - right, height - top - bottom
    largest = max((v for s in series for v in s.values if v is not None), default=0)
    axis_top = nice_top(largest)
    step = inner_w / max(len(labels) - 1, 1)

    def y(value: float) -> float:
        return round(top + inner_h * (1 - value / axis_top), 1)

    drawn = []
    for i, one in enumerate(series):
        points = [{"x": round(left + n * step, 1), "y": y(v), "title": f"{labels[n]} · {one.name}: {write(v)}"}
                  for n, v in enumerate(one.values) if v is not None]
        color, dash = PALETTE[i % len(PALETTE)]
        drawn.append({"name": one.name, "color": color, "dash": dash, "points": points,
                      "path": " ".join(f"{p['x']},{p['y']}" for p in points)})
    every = max(1, ceil(len(labels) / 12))
    axis = [{"x": round(left + n * step, 1), "label": label} for n, label in enumerate(labels) if n % every == 0]
    return {
        "width": width, "height": height, "left": left, "right": width - right, "top": top,
        "bottom": height - bottom, "series": drawn, "ticks": _ticks(axis_top, y, write), "labels": axis,
    }
