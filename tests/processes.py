"""The Procfile's processes, started for real by end-to-end tests (on the benchmarks' process
helpers, so a test never leaves a server behind)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.servers import RunningProcess, free_port, http_answers, running_process

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

__all__ = ["answers", "child_env", "free_port", "procfile_command", "running", "running_logged"]


def procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise KeyError(name)


def child_env(**overrides: str) -> dict[str, str]:
    """This environment with the project's tools first on PATH, as `make run` has it."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1",
            **overrides}  # fmt: skip


def answers(url: str) -> Callable[[], bool]:
    return lambda: http_answers(url)


@contextlib.contextmanager
def running(
    command: str, env: dict, ready: Callable[[], bool], timeout: float = 30, cwd: Path = ROOT
) -> Iterator[subprocess.Popen]:
    """Run a Procfile-style command line (shell expansions and all) until the block ends."""
    with running_logged(command, env, ready, timeout, cwd) as process:
        yield process.process


@contextlib.contextmanager
def running_logged(
    command: str, env: dict, ready: Callable[[], bool], timeout: float = 30, cwd: Path = ROOT
) -> Iterator[RunningProcess]:
    """`running`, for a test that reads what the process wrote (`log_text()`)."""
    with running_process(["bash", "-c", f"exec {command}"], ready=lambda _: ready(), env=env,
                         start_timeout=timeout, cwd=cwd) as process:  # fmt: skip
        yield process
