"""What every benchmark does with its figures: print them beside their references, and save them.

The saved JSON carries the facts of the machine and the commit measured, because a figure from
a noisy 2-core host means something only beside its reference and those facts.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import psycopg2
import redis

from core.redis_cluster import cluster_client, is_cluster_url, primaries

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Figure:
    """One measured figure, and the reference measured beside it in the same run, if any."""

    name: str
    value: float
    unit: str
    reference: float | None = None

    @property
    def ratio(self) -> float | None:
        return self.value / self.reference if self.reference else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "reference": self.reference,
            "ratio": self.ratio,
        }


def print_table(figures: Sequence[Figure], title: str = "", file: TextIO = sys.stdout) -> None:
    rows = [("name", "figure", "unit", "reference", "ratio")]
    rows += [
        (
            f.name,
            _number(f.value),
            f.unit,
            _number(f.reference),
            "" if f.ratio is None else f"{f.ratio:.2f}",
        )
        for f in figures
    ]
    print_rows(rows, title, (0, 2), file)


def print_spread(runs: Sequence[Sequence[Figure]], title: str = "", file: TextIO = sys.stdout) -> None:
    """The same figures measured in several runs: each one's minimum, median and maximum, and
    those of its reference and of its ratio (each run's ratio is against that run's reference)."""
    rows = [
        ("name", "min", "median", "max", "unit", "reference min / median / max", "ratio min / median / max")
    ]
    for figures in zip(*runs, strict=True):
        value = _spread([f.value for f in figures])
        references = [f.reference for f in figures if f.reference is not None]
        ratios = [f.ratio for f in figures if f.ratio is not None]
        rows.append((
            figures[0].name, *(_number(v) for v in value), figures[0].unit,
            " / ".join(_number(v) for v in _spread(references)) if references else "",
            " / ".join(f"{v:.2f}" for v in _spread(ratios)) if ratios else "",
        ))  # fmt: skip
    print_rows(rows, title, (0, 4), file)


def print_rows(
    rows: Sequence[Sequence[str]],
    title: str = "",
    text_columns: tuple[int, ...] = (0,),
    file: TextIO = sys.stdout,
) -> None:
    """Columns as wide as their widest cell: text columns aligned left, numbers right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    if title:
        print(title, file=file)
    for row in rows:
        cells = [
            cell.ljust(w) if i in text_columns else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip(), file=file)


def medians(runs: Sequence[Sequence[Figure]]) -> list[Figure]:
    """One figure per name: the median of its runs' values beside the median of their references."""
    merged = []
    for figures in zip(*runs, strict=True):
        references = [f.reference for f in figures if f.reference is not None]
        merged.append(Figure(figures[0].name, statistics.median(f.value for f in figures), figures[0].unit,
                             statistics.median(references) if references else None))  # fmt: skip
    return merged


def _spread(values: Sequence[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def machine_facts(*, dsn: str | None = None, redis_url: str | None = None) -> dict[str, Any]:
    """The facts a figure depends on; PostgreSQL and Redis are asked only when given."""
    facts: dict[str, Any] = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "git_commit": _git("rev-parse", "HEAD"),
        # Results written by earlier runs do not make the measured code dirty.
        "git_dirty": bool(
            _git(
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":!bench/results",
            )
        ),
    }
    if dsn:
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            # Durable commits cost a disk flush each: these settings explain a commit rate.
            cur.execute(
                "SELECT current_setting('server_version'), current_setting('fsync'),"
                " current_setting('synchronous_commit')"
            )
            version, fsync, synchronous_commit = cur.fetchone()
        conn.close()
        facts["postgresql"] = {
            "version": version,
            "fsync": fsync,
            "synchronous_commit": synchronous_commit,
        }
    if redis_url:
        client = cluster_client(redis_url) if is_cluster_url(redis_url) else redis.Redis.from_url(redis_url)
        facts["redis"] = primaries(client)[0].info("server")["redis_version"]
        client.close()
    return facts


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=RESULTS_DIR.parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def write_result(
    name: str,
    figures: Sequence[Figure],
    *,
    details: Mapping[str, Any] | None = None,
    dsn: str | None = None,
    redis_url: str | None = None,
    results_dir: Path = RESULTS_DIR,
) -> Path:
    """Write `<results_dir>/<name>.json`: the figures, the machine facts, and any details."""
    document = {
        "benchmark": name,
        "machine": machine_facts(dsn=dsn, redis_url=redis_url),
        "figures": [f.as_dict() for f in figures],
        "details": dict(details or {}),
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    partial = path.with_name(path.name + ".tmp")  # a reader never sees half a file
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(path)
    return path


def write_chart(path: Path, figures: Sequence[Figure], title: str = "") -> Path | None:
    """A PNG of each figure's ratio to its reference; None when matplotlib is not installed
    (it is not a dependency) or no figure has a reference."""
    compared = [f for f in figures if f.ratio is not None]
    if not compared:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        return None
    fig, ax = pyplot.subplots(figsize=(8, 0.5 + 0.4 * len(compared)))
    ax.barh([f.name for f in compared], [f.ratio for f in compared])
    ax.axvline(1.0, color="grey", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("ratio to reference")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot.close(fig)
    return path
