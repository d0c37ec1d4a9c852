"""Bar charts drawn on the server as inline SVG: no script, no style attribute (the CSP allows neither), only
SVG presentation attributes and the style sheet's classes, so the page prints and works without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

ROW = 26
"""Height of one bar's row, in SVG user units (px at 100 %)."""
LABEL = 150
"""Width of the label column."""
BAR = 220
"""Width of a 100 % bar."""
VALUE = 110
"""Width of the value column after the bars."""


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its share of a full bar (0..1, None: no figure, drawn as an empty row) and the
    text written after it."""

    label: str
    share: float | None
    text: str


def _clip(text: str, width: int) -> str:
    """`text` cut to about `width` px at 13 px per CJK character, 7 per other character."""
    used, out = 0, list[str]()
    for ch in text:
        used += 13 if ord(ch) > 0x2E80 else 7
        if used > width:
            return "".join(out) + "…"
        out.append(ch)
    return text


def bar_chart(title: str, bars: list[Bar], element_id: str, css_class: str = "chart") -> Markup:
    """A horizontal bar chart as an `<svg>` element (id `element_id`) with a `<title>` (read out by screen
    readers), one row per bar in the order given; the width scales to its container (viewBox). A bar whose
    share is 0 is drawn as no rectangle."""
    width = LABEL + BAR + VALUE
    height = ROW * max(len(bars), 1) + 8
    parts = [
        f'<svg id="{escape(element_id)}" class="{escape(css_class)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{LABEL}" y1="2" x2="{LABEL}" y2="{height - 4}" stroke="#9aa5b1" />',
    ]
    for i, bar in enumerate(bars):
        y = 4 + i * ROW
        share = 0.0 if bar.share is None else max(0.0, min(1.0, bar.share))
        parts.append(
            f'<text class="label" x="{LABEL - 8}" y="{y + 17}" text-anchor="end" font-size="13" '
            f'fill="#1f2933">{escape(_clip(bar.label, LABEL - 12))}</text>'
        )
        if bar.share:
            parts.append(
                f'<rect class="bar" x="{LABEL}" y="{y + 4}" width="{round(BAR * share, 1)}" height="{ROW - 8}" '
                f'fill="#1d4ed8" rx="2" />'
            )
        parts.append(
            f'<text class="value" x="{LABEL + round(BAR * share, 1) + 6}" y="{y + 17}" font-size="13" '
            f'fill="#5f6b7a">{escape(bar.text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
