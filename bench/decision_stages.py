"""Where the flash sale's slowest decisions wait: `bench.flash_sale`'s sale through the queue with
every process tracing (`core.drain_trace`), then, stage by stage, the slowest 1 % of requests
against those around the median (docs/latency-tail.md).

Each request's way is cut at the timestamps the trace gives it: sent by the customer (the load
generator), begun by the API (what came before is the client's and the server's queues),
accepted, the drain task that decided it sent, received by the worker, started, the event's lock
taken, its batch read, committed, and visible (the in-flight status dropped, the decision
readable). A moment that came before the previous one counts as that one (a drainer already
running when the request came in was sent, started and locked before it): so the stages add up
to the whole wait, and a stage is what the request waited for it.

Beside the stages, what each group's requests overlapped while they waited: beat's sweeps (hold
expiry among them), garbage-collection pauses of the drainer and of the API, and how late the
load generator's own event loop woke while the request was in flight (it shares the cores: such
time counts in the request's latency though the server never saw it); and the run as the worker
saw it: each task's wait in the broker, drains that found the lock taken, batch sizes and times.

    python -m bench.decision_stages                      # the full sale (20,000 requests)
    python -m bench.decision_stages --quick              # a tenth
    python -m bench.decision_stages --keep-trace DIR     # and keep the trace;
    python -m bench.decision_stages --analyse DIR        # analyse it again, without a sale
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import flash_sale, report, servers
from core.jobs import Periodic

STAGES = (
    "to the API: sent -> handler started",
    "API handler: -> accepted",
    "accepted -> drain task sent",
    "broker: sent -> received by the worker",
    "worker: received -> started (prefetched)",
    "drainer: started -> lock taken",
    "earlier batches: -> batch read",
    "batch: read -> committed",
    "committed -> visible",
)
SLOWEST = 1.0  # per cent
MEDIAN_BAND = (49.0, 51.0)  # percentiles: the requests "around the median"
PERIODIC_NAMES = {periodic.task_name for periodic in Periodic}
# The load generator's side of a traced sale, kept beside the processes' trace.
SALE_FILE = "sale.json"


@dataclass
class Trace:
    """The records of one traced run, indexed."""

    accepted: dict[str, tuple[float | None, float]]  # booking id -> (handler started, accepted)
    served_by: dict[str, int]  # booking id -> the web process (pid) that accepted it
    batches: dict[str, dict]  # booking id -> its batch's record
    tasks: dict[str, dict]  # task id -> its task record
    received: dict[str, float]  # task id -> received
    drains: list[dict]
    gc_pauses: list[dict]
    api_pids: set[int]
    drainer_pids: set[int]


def read_trace(directory: Path) -> Trace:
    trace = Trace({}, {}, {}, {}, {}, [], [], set(), set())
    for path in sorted(directory.glob("*.jsonl")):
        pid = int(path.stem)
        for line in path.read_text().splitlines():
            record = json.loads(line)
            kind = record["k"]
            if kind == "a":
                trace.accepted[record["b"]] = (record["h"], record["t"])
                trace.served_by[record["b"]] = pid
                trace.api_pids.add(pid)
            elif kind == "q":
                for booking_id in record["ids"]:
                    trace.batches[booking_id] = record
                trace.drainer_pids.add(pid)
            elif kind == "t":
                trace.tasks[record["i"]] = record
            elif kind == "r":
                trace.received[record["i"]] = record["t"]
            elif kind == "d":
                trace.drains.append(record)
            elif kind == "g":
                trace.gc_pauses.append(record)
    return trace


@dataclass
class Way:
    """One request's moments (time.time()), in order; None where the trace has none."""

    booking_id: str
    moments: list[float | None]
    batch: dict

    @property
    def stages(self) -> list[float]:
        """Seconds spent in each stage: each moment taken no earlier than the one before."""
        reached = self.moments[0]
        spent = []
        for moment in self.moments[1:]:
            at = reached if moment is None else max(moment, reached)
            spent.append(at - reached)
            reached = at
        return spent

    @property
    def total(self) -> float:
        return sum(self.stages)

    @property
    def accepted(self) -> float:
        return self.moments[2]

    @property
    def visible(self) -> float:
        return self.moments[0] + self.total


def ways(sent_at: dict[str, float], trace: Trace) -> list[Way]:
    drains = {drain["i"]: drain for drain in trace.drains if drain["i"] is not None}
    found = []
    for booking_id, sent in sent_at.items():
        batch = trace.batches.get(booking_id)
        if batch is None or booking_id not in trace.accepted:
            continue  # decided by nothing traced (cannot happen in a whole run: counted below)
        task = trace.tasks.get(batch["i"], {})
        drain = drains.get(batch["i"], {})
        moments = [sent, *trace.accepted[booking_id], task.get("s"), trace.received.get(batch["i"]),
                   task.get("b"), drain.get("l"), batch["r"], batch["c"], batch["v"]]  # fmt: skip
        found.append(Way(booking_id, moments, batch))
    return found


def percentile_band(ordered: Sequence[Way], low: float, high: float) -> list[Way]:
    count = len(ordered)
    return list(ordered[math.floor(low / 100 * count) : max(math.ceil(high / 100 * count), 1)])


def mean(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.fmean(values) if values else math.nan


def overlap(start: float, end: float, spans: Iterable[tuple[float, float]]) -> float:
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in spans)


def compare(group: list[Way], trace: Trace, client_late: dict[str, float]) -> dict:
    """What the requests of `group` waited for, on average (milliseconds where it is a time)."""
    periodic = [(t["b"], t["f"]) for t in trace.tasks.values() if t["n"] in PERIODIC_NAMES]
    expiry = [(t["b"], t["f"]) for t in trace.tasks.values() if t["n"] == Periodic.EXPIRE_HOLDS.task_name]
    pauses = defaultdict(list)
    for pause in trace.gc_pauses:
        pauses[pause["p"]].append((pause["t"], pause["t"] + pause["ms"] / 1000))
    drainer_gc = [span for pid in trace.drainer_pids for span in pauses[pid]]
    api_gc = [span for pid in trace.api_pids for span in pauses[pid]]
    fresh = [way for way in group if (trace.tasks.get(way.batch["i"], {}).get("s") or 0) > way.accepted]
    return {
        "requests": len(group),
        "stages_ms": [mean(way.stages[i] for way in group) * 1000 for i in range(len(STAGES))],
        "total_ms": mean(way.total for way in group) * 1000,
        "batch_size": mean(len(way.batch["ids"]) for way in group),
        "batch_ms": mean(way.batch["c"] - way.batch["r"] for way in group) * 1000,
        "waited_for_a_new_drain_task": len(fresh) / len(group) if group else math.nan,
        "beat_sweep_running_ms": mean(overlap(w.accepted, w.visible, periodic) for w in group) * 1000,
        "hold_expiry_running_ms": mean(overlap(w.accepted, w.visible, expiry) for w in group) * 1000,
        "drainer_gc_ms": mean(overlap(w.accepted, w.visible, drainer_gc) for w in group) * 1000,
        "api_gc_ms": mean(overlap(w.moments[0], w.accepted, api_gc) for w in group) * 1000,
        "load_generator_late_ms": mean(client_late[w.booking_id] for w in group) * 1000,
    }


def run_summary(trace: Trace) -> dict:
    """The run as the worker saw it: tasks by name, drains that found the lock taken, batches."""
    by_name = defaultdict(list)
    for task in trace.tasks.values():
        by_name[task["n"].removeprefix("boxoffice.")].append(task)
    busy = [drain for drain in trace.drains if drain["l"] is None]
    busy_ms = sum(
        (trace.tasks[d["i"]]["f"] - trace.tasks[d["i"]]["b"]) * 1000 for d in busy if d["i"] in trace.tasks
    )
    batches = {id(batch): batch for batch in trace.batches.values()}.values()
    sizes = sorted(len(batch["ids"]) for batch in batches)
    times = sorted((batch["c"] - batch["r"]) * 1000 for batch in batches)
    return {
        "tasks": {name: {"count": len(tasks),
                         "sent_to_started_ms_p50": _pct([(t["b"] - t["s"]) * 1000 for t in tasks if t["s"]], 50),
                         "sent_to_started_ms_p99": _pct([(t["b"] - t["s"]) * 1000 for t in tasks if t["s"]], 99),
                         "run_ms_total": sum((t["f"] - t["b"]) * 1000 for t in tasks)}
                  for name, tasks in sorted(by_name.items())},
        "drains": len(trace.drains),
        "drains_that_found_the_lock_taken": len(busy),
        "their_time_in_a_worker_process_ms": busy_ms,
        "batches": len(sizes),
        "batch_size_p50_p99_max": [_pct(sizes, 50), _pct(sizes, 99), sizes[-1] if sizes else math.nan],
        "batch_ms_p50_p99_max": [_pct(times, 50), _pct(times, 99), times[-1] if times else math.nan],
        "gc_pauses_ms_total": {"api": sum(p["ms"] for p in trace.gc_pauses if p["p"] in trace.api_pids),
                               "drainer": sum(p["ms"] for p in trace.gc_pauses if p["p"] in trace.drainer_pids)},
    }  # fmt: skip


def by_web_process(traced: list[Way], slowest: list[Way], served_by: dict[str, int]) -> dict:
    """Each web process's requests, their wait before its handler began (p50 and p99, ms) and
    its share of the slowest: a kept-alive connection stays with the process that accepted it,
    so processes holding unequal shares of the clients' connections make unequal waits."""
    slow = {way.booking_id for way in slowest}
    groups = defaultdict(list)
    for way in traced:
        groups[served_by[way.booking_id]].append(way)
    processes = {}
    for pid, group in sorted(groups.items()):
        waits = [way.stages[0] * 1000 for way in group]
        processes[str(pid)] = {"requests": len(group), "to_the_api_ms_p50": _pct(waits, 50),
                               "to_the_api_ms_p99": _pct(waits, 99),
                               "of_the_slowest": sum(way.booking_id in slow for way in group)}  # fmt: skip
    return processes


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)), 1) - 1] if ordered else math.nan


def analyse(sent_at: dict[str, float], client_late: dict[str, float], trace: Trace) -> dict:
    """The slowest 1 % against those around the median; `sent_at` and `client_late` are the load
    generator's (`flash_sale.SaleResult`)."""
    traced = sorted(ways(sent_at, trace), key=lambda way: way.total)
    slowest = traced[-max(math.ceil(len(traced) * SLOWEST / 100), 1) :]
    late = sorted(seconds * 1000 for seconds in client_late.values())
    return {
        "requests": len(sent_at),
        "traced": len(traced),
        "median": compare(percentile_band(traced, *MEDIAN_BAND), trace, client_late),
        "slowest": compare(slowest, trace, client_late),
        "web_processes": by_web_process(traced, slowest, trace.served_by),
        "run": {**run_summary(trace),
                "load_generator_late_ms_p50_p99_max": [_pct(late, 50), _pct(late, 99), late[-1] if late else math.nan]},
    }  # fmt: skip


def print_analysis(analysis: dict) -> None:
    median, slowest = analysis["median"], analysis["slowest"]
    print(f"{analysis['traced']} of {analysis['requests']} requests traced; "
          f"around the median: {median['requests']} (49th-51st percentile), slowest 1 %: {slowest['requests']}")  # fmt: skip
    rows = [("stage", "median (ms)", "slowest 1 % (ms)")]
    rows += [(stage, f"{m:,.1f}", f"{s:,.1f}") for stage, m, s in
             zip(STAGES, median["stages_ms"], slowest["stages_ms"], strict=True)]  # fmt: skip
    rows.append(("sent -> visible, in all", f"{median['total_ms']:,.1f}", f"{slowest['total_ms']:,.1f}"))
    rows.append(("", "", ""))
    for key in ("batch_size", "batch_ms", "waited_for_a_new_drain_task", "beat_sweep_running_ms",
                "hold_expiry_running_ms", "drainer_gc_ms", "api_gc_ms", "load_generator_late_ms"):  # fmt: skip
        rows.append((key.replace("_", " "), f"{median[key]:,.2f}", f"{slowest[key]:,.2f}"))
    report.print_rows(rows, "Request to decision, stage by stage (means over each group)")
    rows = [("web process", "requests", "to the API p50 (ms)", "p99 (ms)", "of the slowest 1 %")]
    rows += [(pid, f"{p['requests']:,}", f"{p['to_the_api_ms_p50']:,.0f}", f"{p['to_the_api_ms_p99']:,.0f}",
              f"{p['of_the_slowest']:,}") for pid, p in analysis["web_processes"].items()]  # fmt: skip
    report.print_rows(rows, "By web process")
    print(json.dumps(analysis["run"], indent=2))


def run_sale(args, scale: flash_sale.Scale, trace_dir: Path) -> dict:
    """The sale through the queue with every process writing its trace into `trace_dir`, where
    the customers' side goes too (`sale.json`)."""
    bench = flash_sale.Bench(args.dsn, args.redis_url, drain_trace=str(trace_dir.resolve()))
    try:
        sale = flash_sale.sale_through_queue(bench, scale, bench.customers(scale.sale_requests))
    finally:
        bench.close()
    customers = {"sent_at": sale.sent_at, "client_late": sale.client_late, "summary": sale.summary()}
    (trace_dir / SALE_FILE).write_text(json.dumps(customers))
    return customers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.decision_stages", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dsn", default=os.environ.get("BENCH_DATABASE_URL", flash_sale.DEFAULT_DSN))
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", flash_sale.DEFAULT_REDIS_URL)
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the load")
    parser.add_argument("--sale-requests", type=int, help="the sale's requests (its tickets: a tenth)")
    parser.add_argument("--name", default="decision_stages", help="the result file's name")
    parser.add_argument("--keep-trace", type=Path, metavar="DIR", help="write the trace into DIR and keep it")
    parser.add_argument(
        "--analyse", type=Path, metavar="DIR", help="run no sale: analyse the trace kept in DIR"
    )
    args = parser.parse_args(argv)
    scale = flash_sale.Scale().tenth() if args.quick else flash_sale.Scale()
    if args.sale_requests:
        scale = flash_sale.Scale(sale_requests=args.sale_requests, sale_tickets=args.sale_requests // 10)
    with tempfile.TemporaryDirectory(prefix="boxoffice-drain-trace-") as directory:
        trace_dir = args.analyse or args.keep_trace or Path(directory)
        if args.analyse:
            customers = json.loads((trace_dir / SALE_FILE).read_text())
        else:
            trace_dir.mkdir(parents=True, exist_ok=True)
            customers = run_sale(args, scale, trace_dir)
        analysis = analyse(customers["sent_at"], customers["client_late"], read_trace(trace_dir))
    analysis["sale"] = customers["summary"]
    print(f"sale: p50 {analysis['sale']['p50_ms']:,.0f} ms, p99 {analysis['sale']['p99_ms']:,.0f} ms "
          "(request to decision committed)")  # fmt: skip
    print_analysis(analysis)
    path = report.write_result(args.name, [], details=analysis, dsn=flash_sale.server_dsn(args.dsn),
                               redis_url=args.redis_url)  # fmt: skip
    print(f"wrote {path.relative_to(servers.REPO_ROOT)}")


if __name__ == "__main__":
    main()
