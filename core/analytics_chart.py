"""An event's sale drawn for a report: tickets sold and check-ins per bucket, and their running
totals, on a time axis in the event's time zone.

matplotlib is imported when a chart is drawn, not before, so no other path pays for it; it
draws on its Agg canvas (no display, no pyplot state), so charts drawn at once do not mix.
"""

from __future__ import annotations

import io
from itertools import accumulate
from zoneinfo import ZoneInfo

WIDTH_INCHES, HEIGHT_INCHES, DPI = 12, 6, 100
SOLD_COLOUR, CHECK_IN_COLOUR = "#1f6fb2", "#e07b20"


def sale_chart_png(analytics: dict) -> bytes:
    """A PNG (1200 x 600) of `core.services.analytics.event_analytics`'s overall series."""
    out = io.BytesIO()
    sale_figure(analytics).savefig(out, format="png")
    return out.getvalue()


def sale_figure(analytics: dict):
    """The chart as a matplotlib `Figure`: bars per bucket, running totals on a second axis,
    both counted in whole tickets."""
    from matplotlib import dates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    zone = ZoneInfo(analytics["timezone"])
    series = analytics["series"]
    starts = [bucket["start"].astimezone(zone) for bucket in series]
    sold = [bucket["tickets_sold"] for bucket in series]
    check_ins = [bucket["check_ins"] for bucket in series]
    unit = analytics["interval"]

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(f"{analytics['title']}: tickets sold and check-ins per {unit}")
    axes.set_xlabel(f"Time ({analytics['timezone']})")
    axes.set_ylabel(f"Tickets per {unit}")
    if not series:
        axes.text(0.5, 0.5, "Nothing sold yet", ha="center", va="center", transform=axes.transAxes)
    else:
        step = 1 / 24 if unit == "hour" else 1  # a bucket, in days (matplotlib's unit of time)
        x = dates.date2num(starts)
        axes.bar(x + 0.1 * step, sold, width=0.4 * step, align="edge", color=SOLD_COLOUR,
                 label=f"Tickets sold per {unit}")  # fmt: skip
        axes.bar(x + 0.5 * step, check_ins, width=0.4 * step, align="edge", color=CHECK_IN_COLOUR,
                 label=f"Check-ins per {unit}")  # fmt: skip
        totals = axes.twinx()
        totals.set_ylabel("Running total")
        # A running total counts a whole bucket: its points are the buckets' ends, from 0.
        ends = [x[0], *x[1:], x[-1] + step]
        totals.plot(ends, [0, *accumulate(sold)], marker=".", color=SOLD_COLOUR, linestyle="--",
                    label="Tickets sold, running total")  # fmt: skip
        totals.plot(ends, [0, *accumulate(check_ins)], marker=".", color=CHECK_IN_COLOUR, linestyle="--",
                    label="Check-ins, running total")  # fmt: skip
        totals.set_ylim(bottom=0)
        totals.yaxis.set_major_locator(MaxNLocator(integer=True))
        locator = dates.AutoDateLocator(tz=zone)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator, tz=zone))
        handles = axes.get_legend_handles_labels()
        more = totals.get_legend_handles_labels()
        axes.legend(handles[0] + more[0], handles[1] + more[1], loc="upper center", ncols=4,
                    bbox_to_anchor=(0.5, -0.12), frameon=False)  # fmt: skip
    axes.set_ylim(bottom=0)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="y", alpha=0.3)
    return figure
