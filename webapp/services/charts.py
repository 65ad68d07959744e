"""Server-side geometry for the monthly spend chart, rendered as SVG by a template.

No JavaScript library: the page stays light, works without scripts and prints. Geometry is
integer arithmetic on kobo (no float near money); the template only places the shapes. Screen
readers get a <title>/<desc> summary and the same numbers as a table.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_compact_currency

from ..templating import LOCALE, naira
from .history import UTILITY_LABELS, MonthlySpend

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 12, 44
TICKS = 4
# Colour-blind-safe hues dark enough for 3:1 against white (WCAG non-text contrast).
COLOURS = {"electricity": "#a35200", "water": "#0a62a8", "internet": "#6a3d9a", "cable_tv": "#1b7a3a"}
FALLBACK_COLOUR = "#555f5a"


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    colour: str
    month: date
    utility_type: str
    kobo: int
    label: str  # what the segment's own <title> says


@dataclass(frozen=True)
class Tick:
    y: int
    label: str


@dataclass(frozen=True)
class MonthLabel:
    x: int
    label: str
    year: str | None  # shown under the first month and every January


@dataclass(frozen=True)
class Series:
    utility_type: str
    label: str
    colour: str


@dataclass(frozen=True)
class TableRow:
    month: str
    amounts: list[int]  # kobo per series, in legend order
    total: int


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    right: int  # x of the plot's right edge
    baseline: int  # y of the zero line
    bars: list[Bar]
    ticks: list[Tick]
    month_labels: list[MonthLabel]
    legend: list[Series]
    rows: list[TableRow]
    title: str
    description: str

    @property
    def empty(self) -> bool:
        return not self.bars


def nice_step(max_kobo: int, ticks: int = TICKS) -> int:
    """A round tick step in kobo (1, 2 or 5 times a power of ten naira) so ``ticks`` steps cover the max."""
    naira_max = max(1, -(-max_kobo // 100))
    raw = -(-naira_max // ticks)
    magnitude = 10 ** (len(str(raw)) - 1)
    multiple = next(m for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return multiple * magnitude * 100


def _compact(kobo: int) -> str:
    return format_compact_currency(Decimal(kobo) / 100, "NGN", locale=LOCALE, fraction_digits=1)


def spend_chart(spend: MonthlySpend) -> BarChart:
    """Stacked bars, one per month, one segment per utility type, from ``history.monthly_spend``."""
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = HEIGHT - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) // len(spend.months)
    bar_width = slot * 2 // 3
    month_totals = [spend.month_total(i) for i in range(len(spend.months))]
    step = nice_step(max(month_totals, default=0))
    top = step * TICKS

    def y(kobo: int) -> int:
        return baseline - kobo * plot_height // top

    legend = [Series(t, UTILITY_LABELS.get(t, t.replace("_", " ").capitalize()), COLOURS.get(t, FALLBACK_COLOUR))
              for t in spend.types]
    bars, labels, rows = [], [], []
    for i, month in enumerate(spend.months):
        x = LEFT + i * slot + (slot - bar_width) // 2
        month_name = format_date(month, "MMMM yyyy", locale=LOCALE)
        below = 0
        for series in legend:
            kobo = spend.totals.get((i, series.utility_type), 0)
            if kobo <= 0:
                continue
            top_y = y(below + kobo)
            # At least one unit tall so a small amount still shows and can be hovered.
            bars.append(Bar(x, min(top_y, y(below) - 1), bar_width, max(y(below) - top_y, 1), series.colour, month,
                            series.utility_type, kobo, f"{month_name}, {series.label}: {naira(kobo)}"))
            below += kobo
        first_or_january = i == 0 or month.month == 1
        labels.append(MonthLabel(x + bar_width // 2, format_date(month, "MMM", locale=LOCALE),
                                 str(month.year) if first_or_january else None))
        rows.append(TableRow(month_name, [spend.totals.get((i, s.utility_type), 0) for s in legend], month_totals[i]))
    return BarChart(
        width=WIDTH, height=HEIGHT, left=LEFT, right=WIDTH - RIGHT, baseline=baseline,
        bars=bars,
        ticks=[Tick(y(step * n), _compact(step * n)) for n in range(TICKS + 1)],
        month_labels=labels, legend=legend, rows=rows,
        title="Monthly spend by utility type, last 12 months",
        description=_describe(spend, month_totals),
    )


def _describe(spend: MonthlySpend, month_totals: list[int]) -> str:
    first = format_date(spend.months[0], "MMMM yyyy", locale=LOCALE)
    last = format_date(spend.months[-1], "MMMM yyyy", locale=LOCALE)
    if not spend.grand_total:
        return f"No completed payments from {first} to {last}."
    peak = max(range(len(month_totals)), key=lambda i: (month_totals[i], i))
    kinds = ", ".join(UTILITY_LABELS.get(t, t) for t in spend.types)
    return (f"Stacked bars of completed payments from {first} to {last} ({kinds}), "
            f"{naira(spend.grand_total)} in total. Highest month: "
            f"{format_date(spend.months[peak], 'MMMM yyyy', locale=LOCALE)} with {naira(month_totals[peak])}.")
