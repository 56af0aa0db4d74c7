"""The sale chart counts whole tickets: no axis shows a fraction of one."""

from __future__ import annotations

import datetime as dt

from core.analytics_chart import sale_figure

START = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)


def test_both_axes_tick_whole_tickets_only():
    series = [{"start": START + dt.timedelta(hours=n), "tickets_sold": sold, "check_ins": 0}
              for n, sold in enumerate([1, 2, 0])]  # fmt: skip
    figure = sale_figure({"timezone": "Europe/Paris", "title": "Gala", "interval": "hour", "series": series})
    figure.canvas.draw()

    for axes in figure.axes:
        ticks = [tick for tick in axes.get_yticks() if axes.get_ylim()[0] <= tick <= axes.get_ylim()[1]]
        assert len(ticks) >= 2 and all(float(tick).is_integer() for tick in ticks), ticks
