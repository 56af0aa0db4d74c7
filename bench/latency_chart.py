"""A picture of the flash sale: how long each customer waited for a decision, over the sale.

Each dot is one request, placed at the moment it was sent; the lines are each second's p50
and p99. The queue and the synchronous baseline share the axes, so the chart shows what the
table's two numbers cannot: whether waits grow as the sale goes on, and how long it lasts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: benchmarks run without a screen
import matplotlib.pyplot as plt

from bench.loadgen import percentile

# (seconds since the sale began, milliseconds to the decision), one pair per request
Waits = Sequence[tuple[float, float]]


def draw(series: dict[str, Waits], path: Path, title: str) -> Path:
    figure, axes = plt.subplots(figsize=(10, 5), dpi=100)
    for (name, waits), color in zip(series.items(), ("tab:blue", "tab:orange"), strict=False):
        axes.scatter([t for t, _ in waits], [ms for _, ms in waits], s=1, alpha=0.15, color=color)
        seconds, p50, p99 = _per_second(waits)
        axes.plot(seconds, p50, color=color, linewidth=1.5, label=f"{name}: p50 per second")
        axes.plot(seconds, p99, color=color, linewidth=1.5, linestyle="--", label=f"{name}: p99 per second")
    axes.set_yscale("log")
    axes.set_xlabel("seconds since the sale began (when the request was sent)")
    axes.set_ylabel("request to decision, ms (log scale)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def _per_second(waits: Waits) -> tuple[list[float], list[float], list[float]]:
    by_second: dict[int, list[float]] = {}
    for t, ms in waits:
        by_second.setdefault(int(t), []).append(ms)
    seconds = sorted(by_second)
    ordered = [sorted(by_second[s]) for s in seconds]
    centres = [second + 0.5 for second in seconds]
    return centres, [percentile(v, 50) for v in ordered], [percentile(v, 99) for v in ordered]
