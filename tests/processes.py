"""Real processes for end-to-end tests: start a command, wait until it serves, stop it for sure."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise KeyError(name)


def child_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}
    env.update(overrides)
    return env


@contextlib.contextmanager
def running(command: str, env: dict, ready: Callable[[], bool], timeout: float = 30, log_path: Path | None = None
            ) -> Iterator[subprocess.Popen]:  # fmt: skip
    """Run `command` in a shell of its own process group; yield once `ready()` holds."""
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        command, shell=True, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if process.poll() is not None:
                raise RuntimeError(f"{command!r} exited with {process.returncode}" + _tail(log_path))
            if time.monotonic() > deadline:
                raise TimeoutError(f"{command!r} not ready after {timeout}s" + _tail(log_path))
            time.sleep(0.2)
        yield process
    finally:
        stop(process)
        if log_path:
            log.close()


def stop(process: subprocess.Popen, grace: float = 10) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def answers(url: str, status: int = 200) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return requests.get(url, timeout=1).status_code == status
        except requests.RequestException:
            return False

    return check


def _tail(log_path: Path | None) -> str:
    if not log_path or not log_path.exists():
        return ""
    return "\n--- log ---\n" + log_path.read_text(errors="replace")[-3000:]
