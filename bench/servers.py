"""Start and stop the real processes a benchmark measures: gunicorn, Celery workers, any command.

Each helper is a context manager, so a failed benchmark never leaves a server behind: the
process runs in its own session, gets SIGTERM for a clean stop, and its whole process group
gets SIGKILL if anything lingers. Output goes to a log file, whose tail is shown when a process
fails to start.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg2

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class GunicornConfig:
    workers: int = 2
    worker_class: str = "gevent"
    threads: int = 1  # gthread's; gevent serves each connection on a greenlet
    keep_alive: int = 5


API_GUNICORN = GunicornConfig()
"""How the API runs in the benchmarks: as `gunicorn.conf.py` serves it (gevent processes, which
every server started here also reads its hooks and request log from), with two processes; the
bare-Flask reference runs the same way, so the ratio compares our code and nothing else."""


@dataclass
class RunningProcess:
    process: subprocess.Popen
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@dataclass(frozen=True)
class Server:
    """A running HTTP server: its base URL ("http://127.0.0.1:PORT") and its process."""

    url: str
    running: RunningProcess


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_answers(url: str, timeout: float = 1.0) -> bool:
    """True when something answers HTTP at `url`, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@contextmanager
def running_process(
    argv: Sequence[str],
    *,
    ready: Callable[[RunningProcess], bool],
    env: Mapping[str, str] | None = None,
    cwd: Path = REPO_ROOT,
    start_timeout: float = 30.0,
    stop_timeout: float = 10.0,
) -> Iterator[RunningProcess]:
    """Run `argv` until the block ends, once `ready(process)` is true.

    `env` is added to this process's environment. Raises RuntimeError, with the log's tail, if
    the process exits or is not ready within `start_timeout` seconds.
    """
    with tempfile.NamedTemporaryFile(prefix="bench-", suffix=".log") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
        running = RunningProcess(process, Path(log.name))
        try:
            _wait_ready(running, ready, start_timeout, argv)
            yield running
        finally:
            stop_process(process, stop_timeout)


def _wait_ready(
    running: RunningProcess,
    ready: Callable[[RunningProcess], bool],
    timeout: float,
    argv: Sequence[str],
) -> None:
    deadline = time.monotonic() + timeout
    while not ready(running):
        if running.process.poll() is not None:
            problem = f"exited with {running.process.returncode}"
        elif time.monotonic() > deadline:
            problem = f"not ready after {timeout} s"
        else:
            time.sleep(0.05)
            continue
        raise RuntimeError(f"{shlex.join(argv)} {problem}:\n{running.log_tail()}")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its running children."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:  # it exited meanwhile
        return 0.0
    user_and_system = stat.rsplit(")", 1)[1].split()[11:13]  # fields 14 and 15, in clock ticks
    own = sum(int(ticks) for ticks in user_and_system) / os.sysconf("SC_CLK_TCK")
    return own + sum(process_tree_cpu(int(child)) for child in children)


def postgres_cpu(dsn: str) -> float | None:
    """CPU seconds used so far by PostgreSQL's processes serving the bench's database (other
    than the one asking); None when they are not this machine's (PostgreSQL runs elsewhere)."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            pids = [pid for (pid,) in cur.fetchall()]
    finally:
        conn.close()
    try:
        if not all(b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in pids):
            return None
    except OSError:
        return None
    return sum(map(process_tree_cpu, pids))


@dataclass
class DrainCpu:
    """CPU seconds spent in a block by this process (the drainer) and by PostgreSQL's processes
    serving the bench's database (None when they are not this machine's)."""

    drainer: float = 0.0
    postgres: float | None = None


@contextmanager
def drain_cpu(dsn: str) -> Iterator[DrainCpu]:
    """Measure the block's `DrainCpu`: rates move with whatever else the machine runs, CPU much less."""
    spent = DrainCpu()
    client, server = time.process_time(), postgres_cpu(dsn)
    yield spent
    spent.drainer = time.process_time() - client
    if server is not None:
        spent.postgres = postgres_cpu(dsn) - server


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM (gunicorn and Celery stop gracefully on it), then SIGKILL for the whole group."""
    if process.poll() is None:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    # The process led its own session, so its id names the group of its children.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def gunicorn(
    app: str,
    config: GunicornConfig = API_GUNICORN,
    *,
    ready_path: str = "/",
    env: Mapping[str, str] | None = None,
    start_timeout: float = 30.0,
) -> Iterator[Server]:
    """Serve `app` ("bench.reference_app:create_app()") on a free loopback port.

    Ready once `ready_path` answers anything, so a 404 or 405 will do.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(config.workers),
        "--worker-class", config.worker_class,
        "--threads", str(config.threads),
        "--keep-alive", str(config.keep_alive),
        app,
    ]  # fmt: skip
    with running_process(
        argv,
        ready=lambda _: http_answers(url + ready_path),
        env=env,
        start_timeout=start_timeout,
    ) as running:
        yield Server(url, running)


@contextmanager
def celery_worker(
    app: str,
    *,
    concurrency: int = 1,
    pool: str = "prefork",
    queues: Sequence[str] = (),
    ready: Callable[[RunningProcess], bool] | None = None,
    env: Mapping[str, str] | None = None,
    start_timeout: float = 60.0,
) -> Iterator[RunningProcess]:
    """Run `celery -A app worker`; ready when it logs that it is, unless `ready` says otherwise."""
    argv = [
        sys.executable, "-m", "celery", "-A", app, "worker",
        "--loglevel", "INFO",
        "--concurrency", str(concurrency),
        "--pool", pool,
        "--without-gossip", "--without-mingle",
        # A name of its own: on RabbitMQ two workers of one name fight over their control queue.
        "--hostname", f"bench-{uuid.uuid4().hex[:8]}@%h",
    ]  # fmt: skip
    if queues:
        argv += ["--queues", ",".join(queues)]
    with running_process(
        argv,
        ready=ready or _celery_logged_ready,
        env=env,
        start_timeout=start_timeout,
        stop_timeout=30.0,
    ) as running:
        yield running


def _celery_logged_ready(running: RunningProcess) -> bool:
    return " ready." in running.log_text()
