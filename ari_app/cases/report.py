"""Writing a KPI report: a text table for the terminal, CSV for spreadsheets, a PNG chart for leaders.

The chart uses matplotlib's Agg backend (no display) and a CJK font (Debian's fonts-noto-cjk, family
"Noto Sans CJK SC") so Chinese unit names render; without the font the chart is still written.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ari_app.cases.kpi import RATES, KpiReport, KpiRow

CJK_FONT = "Noto Sans CJK SC"
COUNTED = ("redispatched", "improper_returns", "problems")
COLUMNS = ("scope", "key", "intake", "handled", "closed", *RATES, *COUNTED, "rank")
"""The figures of a row: the first nine as before the work-order KPIs, then those (ari_app.cases.kpi)."""
RAW = (
    "on_time",
    "due",
    "reached",
    "satisfied",
    "signed_on_time",
    "sign_for_due",
    "responded",
    "response_due",
    "solved",
    "solved_known",
    "first_time",
    "sent_back",
    "send_back_base",
)
"""The CSV's numerators and denominators after the figures (the first four as before)."""


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _counts(row: KpiRow) -> list[int]:
    return [getattr(row, name) for name in COUNTED]


def _cells(row: KpiRow) -> list[str]:
    return [
        row.scope,
        row.key,
        str(row.intake),
        str(row.handled),
        str(row.closed),
        *(_pct(getattr(row, rate)) for rate in RATES),
        *(str(n) for n in _counts(row)),
        "" if row.rank is None else str(row.rank),
    ]


def _width(text: str) -> int:
    """Display width: CJK characters take two terminal columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def text_table(report: KpiReport) -> str:
    rows = [list(COLUMNS)] + [_cells(r) for r in report.rows()]
    widths = [max(_width(r[i]) for r in rows) for i in range(len(COLUMNS))]
    zone = f", days in {report.timezone}" if report.timezone else ""
    lines = [f"KPI report {report.start.isoformat()} .. {report.last_day.isoformat()} (both included{zone})"]
    for n, r in enumerate(rows):
        cells = [
            c + " " * (widths[i] - _width(c)) if i < 2 else " " * (widths[i] - _width(c)) + c for i, c in enumerate(r)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    days = ", ".join(f"{d.strftime('%m-%d')}:{n}" for d, n in report.per_day)
    lines.append(f"intake per day: {days}")
    return "\n".join(lines) + "\n"


def csv_text(report: KpiReport) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([*COLUMNS, *RAW])
    for r in report.rows():
        rates = [getattr(r, rate) for rate in RATES]
        w.writerow(
            [r.scope, r.key, r.intake, r.handled, r.closed]
            + ["" if x is None else f"{x:.4f}" for x in rates]
            + [*_counts(r), "" if r.rank is None else r.rank]
            + [getattr(r, name) for name in RAW]
        )
    w.writerow([])
    w.writerow(["date", "intake"])
    for d, n in report.per_day:
        w.writerow([d.isoformat(), n])
    return out.getvalue()


def write_png(report: KpiReport, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    families = {f.name for f in font_manager.fontManager.ttflist}
    font = [CJK_FONT] if CJK_FONT in families else []
    with plt.rc_context({"font.family": [*font, "sans-serif"], "axes.unicode_minus": False}):
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 8), layout="constrained")
        days = [d.strftime("%m-%d") for d, _ in report.per_day]
        ax1.bar(days, [n for _, n in report.per_day], color="#3b6ea5")
        ax1.set_title(f"受理量 Intake per day {report.start} – {report.last_day}")
        ax1.tick_params(axis="x", rotation=60, labelsize=7)
        rows = [report.total, *report.by_hotline]
        labels = [("合计 total" if r.scope == "total" else r.key) for r in rows]
        metrics = [name for name in RATES if name != "send_back_rate"]  # lower is better: not a bar among these
        width = 0.8 / len(metrics)
        for i, name in enumerate(metrics):
            xs = [j + (i - (len(metrics) - 1) / 2) * width for j in range(len(rows))]
            ax2.bar(xs, [(getattr(r, name) or 0) * 100 for r in rows], width, label=getattr(KpiRow, name).label)
        ax2.set_xticks(range(len(rows)), labels)
        ax2.set_ylim(0, 105)
        ax2.set_ylabel("%")
        ax2.set_title("按热线 Per hotline")
        ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=8, ncols=4)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return path
