"""Server-side geometry for the monthly spend chart, rendered as SVG by a template.

No JavaScript library: the page stays light, works without scripts and prints. Geometry is
integer arithmetic on kobo (no float near money); the template only places the shapes. Screen
readers get a <title>/<desc> summary and the same numbers as a table.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from babel.dates import format_date
from babel.numbers import format_compact_currency
from markupsafe import Markup, escape

from webapp.models.catalogue import UTILITY_LABELS, utility_label
from webapp.money import LOCALE, naira
from webapp.queries.dashboard import MonthlySpend
from webapp.queries.metrics import DailyVolume, type_label

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 12, 44
TICKS = 4
# Colour-blind-safe hues dark enough for 3:1 against white (WCAG non-text contrast).
COLOURS = {"electricity": "#a35200", "water": "#0a62a8", "internet": "#6a3d9a", "cable_tv": "#1b7a3a"}
FALLBACK_COLOUR = "#555f5a"


class Bar(NamedTuple):  # a tuple rather than a frozen dataclass: a chart makes dozens per view
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
    amounts: list[str]  # formatted naira per series, in legend order ("—" for none)
    total: str


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

    @property
    def svg(self) -> Markup:
        return render_svg(self)


def nice_step(max_kobo: int, ticks: int = TICKS) -> int:
    """A round tick step in kobo (1, 2 or 5 times a power of ten naira) so ``ticks`` steps cover the max."""
    naira_max = max(1, -(-max_kobo // 100))
    raw = -(-naira_max // ticks)
    magnitude = 10 ** (len(str(raw)) - 1)
    multiple = next(m for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return multiple * magnitude * 100


money = naira  # the chart's amounts read exactly like the ``naira`` filter


@functools.lru_cache(maxsize=256)
def month_name(month: date, pattern: str) -> str:
    return format_date(month, pattern, locale=LOCALE)


@functools.lru_cache(maxsize=256)
def _compact(kobo: int) -> str:
    return format_compact_currency(Decimal(kobo) / 100, "NGN", locale=LOCALE, fraction_digits=1)


def spend_chart(spend: MonthlySpend) -> BarChart:
    """Stacked bars, one per month, one segment per utility type, from ``dashboard.monthly_spend``."""
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = HEIGHT - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) // len(spend.months)
    bar_width = slot * 2 // 3
    month_totals = [spend.month_total(i) for i in range(len(spend.months))]
    step = nice_step(max(month_totals, default=0))
    top = step * TICKS

    def y(kobo: int) -> int:
        return baseline - kobo * plot_height // top

    legend = [Series(t, utility_label(t), COLOURS.get(t, FALLBACK_COLOUR)) for t in spend.types]
    bars, labels, rows = [], [], []
    for i, month in enumerate(spend.months):
        x = LEFT + i * slot + (slot - bar_width) // 2
        full_name = month_name(month, "MMMM yyyy")
        below, below_y = 0, baseline  # the stack so far, and the y where it ends (y(0) is the baseline)
        amounts = []  # the table row's cells, in legend order; each amount is formatted once for both
        for series in legend:
            kobo = spend.totals.get((i, series.utility_type), 0)
            text = money(kobo) if kobo else "—"
            amounts.append(text)
            if kobo <= 0:
                continue
            below += kobo
            top_y = y(below)
            # At least one unit tall so a small amount still shows and can be hovered.
            bars.append(Bar(x, min(top_y, below_y - 1), bar_width, max(below_y - top_y, 1), series.colour, month,
                            series.utility_type, kobo, f"{full_name}, {series.label}: {text}"))
            below_y = top_y
        first_or_january = i == 0 or month.month == 1
        labels.append(MonthLabel(x + bar_width // 2, month_name(month, "MMM"),
                                 str(month.year) if first_or_january else None))
        rows.append(TableRow(full_name, amounts, money(month_totals[i])))
    return BarChart(
        width=WIDTH, height=HEIGHT, left=LEFT, right=WIDTH - RIGHT, baseline=baseline,
        bars=bars,
        ticks=[Tick(y(step * n), _compact(step * n)) for n in range(TICKS + 1)],
        month_labels=labels, legend=legend, rows=rows,
        title="Monthly spend by utility type, last 12 months",
        description=_describe(spend, month_totals),
    )


def _describe(spend: MonthlySpend, month_totals: list[int]) -> str:
    first, last = month_name(spend.months[0], "MMMM yyyy"), month_name(spend.months[-1], "MMMM yyyy")
    if not spend.grand_total:
        return f"No completed payments from {first} to {last}."
    peak = max(range(len(month_totals)), key=lambda i: (month_totals[i], i))
    kinds = ", ".join(UTILITY_LABELS.get(t, t) for t in spend.types)
    return (f"Stacked bars of completed payments from {first} to {last} ({kinds}), "
            f"{money(spend.grand_total)} in total. Highest month: "
            f"{month_name(spend.months[peak], 'MMMM yyyy')} with {money(month_totals[peak])}.")


GRID_COLOUR, LABEL_COLOUR, TEXT_COLOUR = "#cfd6d2", "#4f5a55", "#1b1f1d"


def render_svg(chart: BarChart) -> Markup:
    """The chart as one <svg> element. Built here rather than in Jinja: a page draws up to sixty
    segments, and per-attribute template escaping cost more than the queries behind them. Numbers
    are ints; every text goes through ``escape``."""
    parts = [
        f'<svg id="spend-chart" viewBox="0 0 {chart.width} {chart.height}" width="100%" role="img" '
        'aria-labelledby="spend-chart-title spend-chart-desc" font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="spend-chart-title">{escape(chart.title)}</title>',
        f'<desc id="spend-chart-desc">{escape(chart.description)}</desc>',
        '<g class="gridlines">',
    ]
    for tick in chart.ticks:
        parts.append(f'<line x1="{chart.left}" x2="{chart.right}" y1="{tick.y}" y2="{tick.y}" '
                     f'stroke="{GRID_COLOUR}" stroke-width="1"/>'
                     f'<text x="{chart.left - 6}" y="{tick.y + 4}" text-anchor="end" '
                     f'fill="{LABEL_COLOUR}">{escape(tick.label)}</text>')
    parts.append('</g><g class="bars">')
    # Each month and type is written once and reused by its bars (strftime alone cost more than a rect).
    months = {month: f"{month:%Y-%m}" for month in {bar.month for bar in chart.bars}}
    types = {kind: escape(kind) for kind in {bar.utility_type for bar in chart.bars}}
    for bar in chart.bars:
        parts.append(f'<rect x="{bar.x}" y="{bar.y}" width="{bar.width}" height="{bar.height}" fill="{bar.colour}" '
                     f'stroke="#ffffff" stroke-width="1" data-month="{months[bar.month]}" '
                     f'data-type="{types[bar.utility_type]}" data-kobo="{bar.kobo}">'
                     f'<title>{escape(bar.label)}</title></rect>')
    parts.append(f'</g><g class="months" text-anchor="middle" fill="{TEXT_COLOUR}">')
    for label in chart.month_labels:
        parts.append(f'<text x="{label.x}" y="{chart.baseline + 16}">{escape(label.label)}</text>')
        if label.year:
            parts.append(f'<text x="{label.x}" y="{chart.baseline + 32}" fill="{LABEL_COLOUR}">{label.year}</text>')
    parts.append("</g></svg>")
    return Markup("".join(parts))  # noqa: S704 - texts escaped above; the rest are ints and constants


# --- the admin's daily volume chart -----------------------------------------------------------

@dataclass(frozen=True)
class VolumeChart:
    width: int
    height: int
    left: int
    right: int
    baseline: int
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[MonthLabel]  # day labels under the bars (every few days)
    legend: list[Series]
    title: str
    description: str

    @property
    def empty(self) -> bool:
        return not self.bars


def volume_chart(volume: DailyVolume) -> VolumeChart:
    """Stacked bars, one per day, one segment per utility type; integer geometry on kobo."""
    days = volume.days
    slot = max(2, (WIDTH - LEFT - RIGHT) // len(days))
    width = LEFT + RIGHT + slot * len(days)
    bar_width = max(1, slot * 2 // 3)
    baseline = HEIGHT - BOTTOM
    plot_height = baseline - TOP
    step = nice_step(max((volume.day_total(i) for i in range(len(days))), default=0))
    top = step * TICKS

    def y(kobo: int) -> int:
        return baseline - kobo * plot_height // top

    legend = [Series(t, type_label(t), COLOURS.get(t, FALLBACK_COLOUR)) for t in volume.types]
    every = math.ceil(len(days) / 10)
    bars, labels = [], []
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar_width) // 2
        below = 0
        for series in legend:
            kobo = volume.amounts.get((i, series.utility_type), 0)
            if kobo <= 0:
                continue
            top_y = y(below + kobo)
            count = volume.counts.get((i, series.utility_type), 0)
            bars.append(Bar(x, min(top_y, y(below) - 1), bar_width, max(y(below) - top_y, 1), series.colour,
                                   day, series.utility_type, kobo,
                                   f"{format_date(day, 'd MMM yyyy', locale=LOCALE)}, {series.label}: "
                                   f"{naira(kobo)} in {count} payment{'' if count == 1 else 's'}"))
            below += kobo
        if i % every == 0:
            labels.append(MonthLabel(x + bar_width // 2, format_date(day, "d MMM", locale=LOCALE), None))
    first, last = (format_date(d, "d MMMM yyyy", locale=LOCALE) for d in (days[0], days[-1]))
    description = (f"No succeeded payments from {first} to {last}." if not volume.total_kobo else
                   f"Stacked bars of succeeded payments per day from {first} to {last} "
                   f"({', '.join(s.label for s in legend)}): {volume.total_count} payments, "
                   f"{naira(volume.total_kobo)} in total.")
    return VolumeChart(
        width=width, height=HEIGHT, left=LEFT, right=width - RIGHT, baseline=baseline,
        bars=bars, ticks=[Tick(y(step * n), _compact(step * n)) for n in range(TICKS + 1)],
        labels=labels, legend=legend, title="Payment volume per utility type per day", description=description,
    )
