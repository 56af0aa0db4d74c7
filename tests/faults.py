"""Faults on real processes: a Redis and a PostgreSQL of the test's own, to freeze, kill and restart.

A fault test never touches the machine's shared servers. `private_redis` starts a redis-server
on a free port for one test; `private_postgres` starts a PostgreSQL cluster once per run (initdb
is slow) with the machine's own binaries, and `private_database_url` is a migrated database on
it. Whatever state a test leaves them in, they are thawed, restarted or stopped at the end.
`app_on` builds an API on other servers and gives the suite's settings back afterwards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from api import create_app
from api.extensions import limiter
from bench.servers import free_port, running_process
from core import runtime
from core.config import Settings

__all__ = ["PostgresCluster", "RedisServer", "app_on", "discard_postgres_cluster", "start_postgres_cluster"]


@dataclasses.dataclass
class RedisServer:
    """A redis-server of one test: `freeze` (SIGSTOP), `thaw` (SIGCONT), `kill` (SIGKILL)."""

    process: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def _redis_answers(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.fixture()
def private_redis() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: the Redis fault tests need one of their own")
    port = free_port()
    argv = ["redis-server", "--save", "", "--appendonly", "no", "--port", str(port), "--bind", "127.0.0.1"]
    with running_process(argv, ready=lambda _: _redis_answers(port)) as running:
        server = RedisServer(running.process, port)
        try:
            yield server
        finally:
            server.thaw()  # a stopped process would not act on the SIGTERM that ends it


@dataclasses.dataclass
class PostgresCluster:
    """A PostgreSQL cluster of this run on a free port; `stop` and `start` it mid-test."""

    bin_dir: Path
    data_dir: Path
    port: int
    as_postgres: tuple[str, ...]

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        log = self.data_dir.parent / "postgres.log"
        command = [*self.as_postgres, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(log),
                   "-w", *args]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data_dir} "
                   "-c fsync=off")  # fmt: skip
        self._pg_ctl("-o", options, "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")

    def is_running(self) -> bool:
        status = subprocess.run([*self.as_postgres, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir),
                                 "status"], capture_output=True)  # fmt: skip
        return status.returncode == 0


def _postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def start_postgres_cluster() -> PostgresCluster:
    """initdb and start a cluster in a new temporary directory (`discard_postgres_cluster` ends
    it). Raises LookupError, saying why, when this machine cannot run one."""
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        raise LookupError("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    as_postgres: tuple[str, ...] = ()
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise LookupError("running as root without a `postgres` account to run initdb as") from None
        as_postgres = ("runuser", "-u", "postgres", "--")
    base = Path(tempfile.mkdtemp(prefix="boxoffice-pg-"))
    if as_postgres:
        os.chown(base, account.pw_uid, account.pw_gid)
    cluster = PostgresCluster(bin_dir, base / "data", free_port(), as_postgres)
    subprocess.run([*as_postgres, str(bin_dir / "initdb"), "-D", str(cluster.data_dir), "-U", "postgres",
                    "-A", "trust", "-E", "UTF8", "--no-sync"], check=True, capture_output=True)  # fmt: skip
    cluster.start()
    return cluster


def discard_postgres_cluster(cluster: PostgresCluster) -> None:
    if cluster.is_running():
        cluster.stop()
    shutil.rmtree(cluster.data_dir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = start_postgres_cluster()
    except LookupError as reason:
        pytest.skip(str(reason))
    try:
        yield cluster
    finally:
        discard_postgres_cluster(cluster)


@pytest.fixture(scope="session")
def private_database_url(private_postgres) -> str:
    """A database on the private cluster, built by the migrations like the suite's own."""
    import sqlalchemy as sa

    from tests.conftest import migrate

    admin = sa.create_engine(private_postgres.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text('CREATE DATABASE "boxoffice"'))
    admin.dispose()
    url = private_postgres.admin_url.rsplit("/", 1)[0] + "/boxoffice"
    migrate(url)
    return url


@contextlib.contextmanager
def app_on(settings: Settings, suite_app, **overrides):
    """A test client of an API built on `settings` changed by `overrides` (other servers).

    `create_app` configures the process-wide runtime and the shared rate limiter; both are
    given back to the suite's settings and app when the block ends.
    """
    try:
        yield create_app(dataclasses.replace(settings, **overrides)).test_client()
    finally:
        runtime.configure(settings)
        limiter.init_app(suite_app)
